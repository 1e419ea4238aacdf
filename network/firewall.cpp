// The nftables table of skiff: rendered whole from the networks and endpoints, loaded in one
// transaction (firewall.hpp, render_ruleset).
#include "network/firewall.hpp"

#include <nftables/libnftables.h>

#include <algorithm>
#include <memory>

#include "common/fs.hpp"
#include "network/network.hpp"

namespace skiff::network {

bool nftables_missing();  // nftables_lazy.cpp

namespace {

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

std::string name_set(const std::vector<std::string>& names) {
    if (names.size() == 1) return quoted(names[0]);
    std::string out = "{ ";
    for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + quoted(names[i]);
    return out + " }";
}

}  // namespace

std::vector<PublishedPort> published_ports(const std::vector<NetworkConfig>& networks,
                                           const std::vector<Endpoint>& endpoints) {
    std::vector<const NetworkConfig*> routed;
    for (const auto& n : networks)
        if (!n.internal) routed.push_back(&n);  // nothing reaches an internal network from outside
    std::sort(routed.begin(), routed.end(), [](auto* a, auto* b) { return a->name < b->name; });
    std::vector<PublishedPort> out;
    for (const auto* n : routed) {
        std::vector<const Endpoint*> on;
        for (const auto& e : endpoints)
            if (e.network == n->name) on.push_back(&e);
        std::sort(on.begin(), on.end(), [](auto* a, auto* b) { return a->container_id < b->container_id; });
        for (const auto* e : on)
            for (const auto& p : e->ports) out.push_back(PublishedPort{e, &p});
    }
    return out;
}

// The table exists exactly while some network is given (sync passes those whose bridge
// exists or that have endpoints): with none, the transaction only deletes it. Either way it
// starts with "create if missing, delete", which makes the load idempotent and atomic.
std::string render_ruleset(const std::vector<NetworkConfig>& networks, const std::vector<Endpoint>& endpoints,
                           std::string_view table) {
    const std::string t = "inet " + std::string(table);
    std::string out = "table " + t + " {}\ndelete table " + t + "\n";

    // Every network given gets its rules (the caller passes those whose bridge exists).
    std::vector<const NetworkConfig*> active;
    for (const auto& n : networks) active.push_back(&n);
    if (active.empty()) return out;
    std::sort(active.begin(), active.end(), [](auto* a, auto* b) { return a->name < b->name; });

    std::string dnat;
    for (const auto& [e, p] : published_ports(networks, endpoints)) {
        dnat += "\t\tmeta nfproto ipv4 fib daddr type local ";
        if (!p->host_ip.empty()) dnat += "ip daddr " + p->host_ip + " ";
        dnat += p->protocol + " dport " + std::to_string(p->host_port) + " dnat ip to " + e->ip + ":" +
                std::to_string(p->container_port) + "\n";
    }

    out += "table " + t + " {\n";
    out += "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n" + dnat + "\t}\n";
    // Locally generated connections to a published port (127.0.0.1:8080 included).
    out += "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n" + dnat + "\t}\n";

    out += "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
    std::vector<std::string> routed_bridges;
    for (const auto* n : active) {
        if (n->internal) continue;
        routed_bridges.push_back(n->interface);
        // Leaving the subnet for anywhere else takes the host's address.
        out += "\t\tip saddr " + n->subnet + " oifname != " + quoted(n->interface) + " masquerade\n";
        // A container reaching a published port of its own network through the host (hairpin):
        // without this the answer would come straight from the peer and be dropped.
        out += "\t\tip saddr " + n->subnet + " oifname " + quoted(n->interface) + " ct status dnat masquerade\n";
    }
    // 127.0.0.1:PORT DNATed into a bridge (route_localnet=1 on it): the container must answer
    // an address it can reach.
    if (!routed_bridges.empty())
        out += "\t\tip saddr 127.0.0.0/8 oifname " + name_set(routed_bridges) + " masquerade\n";
    out += "\t}\n";

    out += "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n";
    std::string forward;
    // Networks do not reach each other through the host (Docker's isolation).
    if (active.size() > 1)
        for (const auto* n : active) {
            std::vector<std::string> others;
            for (const auto* o : active)
                if (o != n) others.push_back(o->interface);
            forward += "\t\tiifname " + quoted(n->interface) + " oifname " + name_set(others) + " drop\n";
        }
    for (const auto* n : active) {
        if (!n->internal) continue;
        // An internal network reaches only itself.
        forward += "\t\tiifname " + quoted(n->interface) + " oifname != " + quoted(n->interface) + " drop\n";
        forward += "\t\toifname " + quoted(n->interface) + " iifname != " + quoted(n->interface) + " drop\n";
    }
    out += "\t\tct state established,related accept\n" + forward;
    out += "\t}\n}\n";
    return out;
}

Result<std::string> nft_run(const std::string& commands) {
    if (nftables_missing()) return fail("nftables: libnftables.so.1 not found (install nftables)");
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    if (!ctx) return fail("nftables: cannot create a context");
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
        std::string message = nft_ctx_get_error_buffer(ctx.get());
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
        return fail("nftables: " + (message.empty() ? std::string("the rules were refused") : message));
    }
    return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

Status set_sysctl(const std::string& key, const std::string& value) {
    return write_file("/proc/sys/" + key, value);
}

Status ensure_ip_forward() {
    SKIFF_TRY(current, read_file_limited("/proc/sys/net/ipv4/ip_forward", 64));
    if (!current.empty() && current[0] == '1') return ok();
    return set_sysctl("net/ipv4/ip_forward", "1");
}

}  // namespace skiff::network
