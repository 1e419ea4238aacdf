// Networks: the network and endpoint files, the bridges and veths behind them, and the
// nftables table rebuilt from them after every change. Every change holds <dir>/lock from
// its first read to its last write, so two commands never lease one address or port.
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/digest.hpp"
#include "common/clock.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/path.hpp"
#include "network/firewall.hpp"
#include "network/ipam.hpp"
#include "network/loopback_redirect.hpp"
#include "network/netlink.hpp"
#include "network/netns.hpp"
#include "network/network.hpp"
#include "network/ports.hpp"
#include "network/store.hpp"

namespace skiff::network {

namespace {

constexpr std::string_view kDefaultNetwork = "bridge";
// User networks without --subnet take the next free /24 of 10.89.0.0/16 (podman's pool).
constexpr Subnet kUserPool{0x0a590000, 16};
constexpr int kUserPrefix = 24;
constexpr int kMaxEndpointsPerContainer = 10;  // one digit of the host interface name

Result<std::string> random_hex64() { return with_context(random_hex(32), "a network id"); }

Status check_paths(const NetworkPaths& paths) {
    if (paths.dir.empty()) return fail("network state directory not set");
    if (!valid_table_name(paths.table)) return fail("invalid nftables table name \"" + paths.table + "\"");
    if (!valid_interface_name(paths.default_bridge))
        return fail("invalid bridge interface name \"" + paths.default_bridge + "\"");
    return ok();
}

bool valid_container_id(std::string_view id) {
    return id.size() >= 10 && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
           });
}

// The networks, the default one written first when missing. Under the lock.
Result<std::vector<NetworkConfig>> load_networks(const NetworkPaths& paths, const StateDir& dir) {
    SKIFF_TRY(networks, dir.networks());
    if (std::any_of(networks.begin(), networks.end(), [](const auto& n) { return n.name == kDefaultNetwork; }))
        return networks;
    SKIFF_TRY(subnet, with_context(parse_subnet(paths.default_subnet), "default network (SKIFF_BRIDGE_SUBNET)"));
    SKIFF_TRY(id, random_hex64());
    NetworkConfig n;
    n.name = std::string(kDefaultNetwork);
    n.id = id;
    n.interface = paths.default_bridge;
    n.subnet = subnet.text();
    n.gateway = format_ipv4(first_host(subnet));
    n.is_default = true;
    n.created = rfc3339_now();
    SKIFF_CHECK(dir.write(n));
    networks.push_back(n);
    std::sort(networks.begin(), networks.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return networks;
}

// By name, full id, or unique id prefix.
Result<NetworkConfig> lookup(const std::vector<NetworkConfig>& networks, std::string_view key) {
    for (const auto& n : networks)
        if (n.name == key || n.id == key) return n;
    const NetworkConfig* match = nullptr;
    int matches = 0;
    if (!key.empty())
        for (const auto& n : networks)
            if (n.id.starts_with(key)) {
                match = &n;
                ++matches;
            }
    if (matches == 1) return *match;
    if (matches > 1)
        return fail("network " + std::string(key) + " is ambiguous (" + std::to_string(matches) +
                                     " matches found based on ID prefix)");
    return sys_error(ENOENT, "network " + std::string(key) + " not found");
}

// Load the table for these files; forwarding on while a routed network has endpoints.
// Rules cover every network whose bridge exists, not only those with endpoints, so a
// container without published ports leaves the ruleset as it was: then nothing is loaded
// (the text last loaded in this boot is kept in <dir>/ruleset.loaded), which keeps
// libnftables and a kernel transaction out of most starts and stops.
Status sync_locked(const NetworkPaths& paths, const std::vector<NetworkConfig>& networks,
                   const std::vector<Endpoint>& endpoints) {
    bool routed = std::any_of(endpoints.begin(), endpoints.end(), [&](const Endpoint& e) {
        return std::any_of(networks.begin(), networks.end(),
                           [&](const NetworkConfig& n) { return n.name == e.network && !n.internal; });
    });
    if (routed) SKIFF_CHECK(ensure_ip_forward());
    std::vector<NetworkConfig> with_bridge;
    {
        SKIFF_TRY(nl, netlink::Socket::open());
        for (const auto& n : networks) {
            bool used = std::any_of(endpoints.begin(), endpoints.end(),
                                    [&](const Endpoint& e) { return e.network == n.name; });
            SKIFF_TRY(index, nl.link_index(n.interface));
            if (used || index > 0) with_bridge.push_back(n);
        }
    }
    const std::string ruleset = render_ruleset(with_bridge, endpoints, paths.table);
    // The boot id: a marker from before a restart must not stand for a table that is gone.
    const std::string boot = read_file_limited("/proc/sys/kernel/random/boot_id", 64).value_or("");
    const std::string marker = path_join(paths.dir, "ruleset.loaded");
    const std::string loaded = boot + ruleset;
    if (!boot.empty() && read_file_limited(marker, 1 << 22).value_or("") == loaded) return ok();
    (void)::unlink(marker.c_str());  // loading may fail half-way: never claim the old text
    SKIFF_TRY(output, nft_run(ruleset));
    (void)output;
    // Published ports changed with the text. The DNAT just loaded serves 127.0.0.1 too, so a
    // kernel that refuses the programs costs speed, not reachability.
    auto redirected = sync_loopback_redirects(loopback_redirects(with_bridge, endpoints), paths.table);
    if (!redirected)
        log::debug("published ports reached through 127.0.0.1 go through NAT: " + redirected.error().message());
    (void)write_file_atomic(marker, loaded, 0600, Durability::atomic);
    return ok();
}

// Host side of the endpoint deleted (the container side goes with it), file removed.
// Pieces already gone are fine: this also cleans up after crashes.
Status release(const StateDir& dir, netlink::Socket* nl, const Endpoint& e) {
    if (nl && !e.host_interface.empty()) {
        SKIFF_TRY(index, nl->link_index(e.host_interface));
        if (index > 0) {
            auto st = nl->delete_link(index);
            if (!st && st.error().code != ENODEV) return st;
        }
    }
    return dir.remove_endpoint(e.container_id, e.network);
}

// The network's bridge, made when missing: address = gateway, up, and 127.0.0.1 may be
// routed to it (route_localnet, for published ports reached through loopback; set on
// skiff's own bridges only). Returns its index and whether this call made it.
Result<std::pair<int, bool>> ensure_bridge(netlink::Socket& nl, const NetworkConfig& n) {
    SKIFF_TRY(subnet, parse_subnet(n.subnet));
    SKIFF_TRY(gateway, parse_ipv4(n.gateway));
    SKIFF_TRY(index, nl.link_index(n.interface));
    bool created = false;
    if (index == 0) {
        SKIFF_CHECK(nl.create_bridge(n.interface));
        created = true;
        auto found = nl.link_index(n.interface);
        if (!found || *found == 0) return fail("bridge " + n.interface + " vanished after its creation");
        index = *found;
    }
    auto configure = [&]() -> Status {
        SKIFF_CHECK(nl.add_address(index, gateway, subnet.prefix));
        SKIFF_CHECK(nl.set_up(index));
        if (!n.internal) SKIFF_CHECK(set_sysctl("net/ipv4/conf/" + n.interface + "/route_localnet", "1"));
        return ok();
    };
    if (auto st = configure(); !st) {
        if (created) (void)nl.delete_link(index);
        return std::unexpected(st.error());
    }
    return std::pair{index, created};
}

}  // namespace

NetworkPaths default_network_paths(const std::string& store_root, const std::string& runroot) {
    NetworkPaths paths;
    paths.dir = ::geteuid() == 0 ? "/var/lib/skiff-network" : store_root + "/network";
    paths.runroot = runroot;
    auto env = [](const char* name) -> const char* {
        const char* v = std::getenv(name);
        return v && *v ? v : nullptr;
    };
    if (auto v = env("SKIFF_NETWORK_DIR")) paths.dir = v;
    if (auto v = env("SKIFF_NFT_TABLE")) paths.table = v;
    if (auto v = env("SKIFF_BRIDGE")) paths.default_bridge = v;
    if (auto v = env("SKIFF_BRIDGE_SUBNET")) paths.default_subnet = v;
    return paths;
}

Networks::Networks(NetworkPaths paths) : paths_(std::move(paths)) {}

Result<NetworkConfig> Networks::create(const CreateNetworkRequest& request) {
    SKIFF_CHECK(check_paths(paths_));
    if (!valid_network_name(request.name))
        return fail("invalid network name \"" + request.name +
                                     "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    if (request.name == "bridge" || request.name == "host" || request.name == "none")
        return fail(request.name + " is a pre-defined network and cannot be created");
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(networks, load_networks(paths_, dir));
    for (const auto& n : networks)
        if (n.name == request.name) return fail("network with name " + request.name + " already exists");

    Subnet subnet;
    if (!request.subnet.empty()) {
        SKIFF_TRY(parsed, parse_subnet(request.subnet));
        subnet = parsed;
        for (const auto& n : networks) {
            auto other = parse_subnet(n.subnet);
            if (other && other->overlaps(subnet))
                return fail("Pool overlaps with other one on this address space");
        }
    } else {
        if (!request.gateway.empty()) return fail("a gateway needs a subnet (--subnet)");
        std::vector<Subnet> taken;
        for (const auto& n : networks)
            if (auto s = parse_subnet(n.subnet)) taken.push_back(*s);
        // The host's own routes too (read only): a container subnet must not hide them.
        SKIFF_TRY(nl, netlink::Socket::open());
        SKIFF_TRY(routes, nl.ipv4_routes());
        taken.insert(taken.end(), routes.begin(), routes.end());
        SKIFF_TRY(free, next_free_subnet(kUserPool, kUserPrefix, taken));
        subnet = free;
    }
    uint32_t gateway = first_host(subnet);
    if (!request.gateway.empty()) {
        SKIFF_TRY(parsed, parse_ipv4(request.gateway));
        if (!subnet.contains(parsed) || parsed == subnet.address || parsed == broadcast_of(subnet))
            return fail("invalid gateway " + request.gateway + ": not a host address of " + subnet.text());
        gateway = parsed;
    }

    NetworkConfig n;
    n.name = request.name;
    SKIFF_TRY(id, random_hex64());
    n.id = id;
    n.interface = "sk-" + id.substr(0, 12);
    n.subnet = subnet.text();
    n.gateway = format_ipv4(gateway);
    n.internal = request.internal;
    n.labels = request.labels;
    n.created = rfc3339_now();
    SKIFF_CHECK(dir.write(n));
    return n;
}

Result<std::vector<NetworkConfig>> Networks::list() const {
    SKIFF_CHECK(check_paths(paths_));
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    return load_networks(paths_, dir);
}

Result<NetworkConfig> Networks::find(std::string_view name_or_id) const {
    SKIFF_TRY(networks, list());
    return lookup(networks, name_or_id);
}

Status Networks::remove(std::string_view name_or_id) {
    SKIFF_CHECK(check_paths(paths_));
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(networks, load_networks(paths_, dir));
    SKIFF_TRY(n, lookup(networks, name_or_id));
    if (n.is_default || n.name == kDefaultNetwork)
        return fail(n.name + " is a pre-defined network and cannot be removed");
    SKIFF_TRY(endpoints, dir.endpoints());
    if (std::any_of(endpoints.begin(), endpoints.end(), [&](const Endpoint& e) { return e.network == n.name; }))
        return fail("error while removing network: network " + n.name + " has active endpoints");
    SKIFF_TRY(nl, netlink::Socket::open());
    SKIFF_TRY(index, nl.link_index(n.interface));
    if (index > 0) SKIFF_CHECK(nl.delete_link(index));
    SKIFF_CHECK(dir.remove_network(n.name));
    std::erase_if(networks, [&](const NetworkConfig& x) { return x.name == n.name; });
    return sync_locked(paths_, networks, endpoints);
}

Result<Endpoint> Networks::connect(const ConnectRequest& request) {
    SKIFF_CHECK(check_paths(paths_));
    if (!valid_container_id(request.container_id))
        return fail("invalid container id \"" + request.container_id + "\"");
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(networks, load_networks(paths_, dir));
    SKIFF_TRY(net, lookup(networks, request.network));
    SKIFF_TRY(endpoints, dir.endpoints());

    // 1. The lease: address, interface index, host ports, all decided before any change.
    std::set<uint32_t> used;
    std::set<std::string> container_interfaces;
    std::vector<PortMapping> taken_ports;
    for (const auto& e : endpoints) {
        if (e.container_id == request.container_id) {
            if (e.network == net.name)
                return fail("endpoint with name " +
                                             (request.container_name.empty() ? request.container_id
                                                                             : request.container_name) +
                                             " already exists in network " + net.name);
            container_interfaces.insert(e.interface);
        }
        if (e.network == net.name)
            if (auto ip = parse_ipv4(e.ip)) used.insert(*ip);
        taken_ports.insert(taken_ports.end(), e.ports.begin(), e.ports.end());
    }
    SKIFF_TRY(subnet, parse_subnet(net.subnet));
    SKIFF_TRY(gateway, parse_ipv4(net.gateway));
    std::optional<uint32_t> wanted;
    if (!request.ip.empty()) {
        SKIFF_TRY(parsed, parse_ipv4(request.ip));
        wanted = parsed;
    }
    SKIFF_TRY(ip, allocate_address(subnet, gateway, used, wanted));
    int index = 0;
    while (index < kMaxEndpointsPerContainer && container_interfaces.contains("eth" + std::to_string(index))) ++index;
    if (index == kMaxEndpointsPerContainer)
        return fail("container " + request.container_id.substr(0, 12) + " is already on " +
                    std::to_string(kMaxEndpointsPerContainer) + " networks");
    SKIFF_TRY(host_if, host_interface_name(request.container_id, index));
    SKIFF_TRY(ports, resolve_ports(request.ports, taken_ports));

    Endpoint e;
    e.container_id = request.container_id;
    e.container_name = request.container_name;
    e.aliases = request.aliases;
    e.network = net.name;
    e.netns_path = request.netns_path;
    e.interface = "eth" + std::to_string(index);
    e.host_interface = host_if;
    e.ip = format_ipv4(ip);
    e.prefix = subnet.prefix;
    e.gateway = net.gateway;
    const auto mac = mac_for(ip);
    e.mac = format_mac(mac);
    e.ports = ports;

    // 2. The kernel side. Undone by the guard unless everything below succeeds.
    SKIFF_TRY(netns, open_netns(request.netns_path));
    SKIFF_TRY(nl, netlink::Socket::open());
    SKIFF_TRY(ns_nl, netlink::Socket::open_in(netns.get()));
    SKIFF_TRY(bridge, ensure_bridge(nl, net));
    struct Undo {
        netlink::Socket& nl;
        const StateDir& dir;
        const Endpoint& e;
        int bridge_index;
        bool bridge_created, armed = true;
        ~Undo() {
            if (!armed) return;
            (void)release(dir, &nl, e);
            if (bridge_created) (void)nl.delete_link(bridge_index);
        }
    } undo{nl, dir, e, bridge.first, bridge.second};

    // A leftover of a crashed run of this same container (no endpoint file names it), or of
    // the run just ended, whose namespace the kernel is still taking down with its veths.
    SKIFF_TRY(stale, nl.link_index(host_if));
    if (stale > 0)
        if (auto st = nl.delete_link(stale); !st && st.error().code != ENODEV) return std::unexpected(st.error());
    SKIFF_CHECK(nl.create_veth(host_if, e.interface, netns.get()));
    SKIFF_TRY(host_index, nl.link_index(host_if));
    if (host_index == 0) return fail("veth " + host_if + " vanished after its creation");
    SKIFF_CHECK(nl.set_master(host_index, bridge.first));
    SKIFF_CHECK(nl.set_up(host_index));

    SKIFF_TRY(peer, ns_nl.link_index(e.interface));
    if (peer == 0) return fail(e.interface + " missing in the container's network namespace");
    SKIFF_CHECK(ns_nl.set_mac(peer, mac));
    SKIFF_CHECK(ns_nl.add_address(peer, ip, subnet.prefix));
    SKIFF_CHECK(ns_nl.set_up(peer));
    if (!net.internal) {
        // The first routed network keeps the default route, as in Docker.
        auto st = ns_nl.add_default_route(gateway, peer);
        if (!st && st.error().code != EEXIST) return std::unexpected(st.error());
    }
    SKIFF_TRY(lo, ns_nl.link_index("lo"));
    if (lo > 0) SKIFF_CHECK(ns_nl.set_up(lo));

    // 3. The lease on disk, then the rules (one transaction: on failure the old table stays).
    SKIFF_CHECK(dir.write(e));
    endpoints.push_back(e);
    SKIFF_CHECK(sync_locked(paths_, networks, endpoints));
    undo.armed = false;
    return e;
}

Status Networks::disconnect(std::string_view container_id, std::string_view network) {
    SKIFF_CHECK(check_paths(paths_));
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(networks, load_networks(paths_, dir));
    std::string name(network);
    if (auto n = lookup(networks, network)) name = n->name;
    SKIFF_TRY(endpoints, dir.endpoints());
    auto it = std::find_if(endpoints.begin(), endpoints.end(),
                           [&](const Endpoint& e) { return e.container_id == container_id && e.network == name; });
    if (it == endpoints.end())
        return sys_error(ENOENT, "container " + std::string(container_id) + " is not connected to network " + name);
    SKIFF_TRY(nl, netlink::Socket::open());
    SKIFF_CHECK(release(dir, &nl, *it));
    endpoints.erase(it);
    return sync_locked(paths_, networks, endpoints);
}

Status Networks::disconnect_all(std::string_view container_id, bool namespace_going) {
    SKIFF_CHECK(check_paths(paths_));
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(endpoints, dir.endpoints());
    auto mine = [&](const Endpoint& e) { return e.container_id == container_id; };
    if (std::none_of(endpoints.begin(), endpoints.end(), mine)) return ok();
    SKIFF_TRY(networks, load_networks(paths_, dir));
    SKIFF_TRY(nl, netlink::Socket::open());
    Status first_error = ok();
    for (const auto& e : endpoints) {
        if (!mine(e)) continue;
        // Deleting a veth waits for an RCU grace period (15 ms here); a namespace that is
        // about to go takes its veths with it, in the kernel's own time.
        const bool dies_with_namespace = namespace_going && is_netns_mount(e.netns_path);
        if (auto st = release(dir, dies_with_namespace ? nullptr : &nl, e); !st && first_error) first_error = st;
    }
    std::erase_if(endpoints, mine);
    auto synced = sync_locked(paths_, networks, endpoints);
    if (!first_error) return first_error;
    return synced;
}

Result<std::vector<Endpoint>> Networks::endpoints_of(std::string_view container_id) const {
    SKIFF_TRY(endpoints, StateDir(paths_).endpoints());
    std::erase_if(endpoints, [&](const Endpoint& e) { return e.container_id != container_id; });
    return endpoints;
}

Result<std::vector<Endpoint>> Networks::endpoints_on(std::string_view network) const {
    SKIFF_TRY(n, find(network));
    SKIFF_TRY(endpoints, StateDir(paths_).endpoints());
    std::erase_if(endpoints, [&](const Endpoint& e) { return e.network != n.name; });
    return endpoints;
}

Result<int> Networks::collect_stale() {
    SKIFF_CHECK(check_paths(paths_));
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(networks, load_networks(paths_, dir));
    SKIFF_TRY(endpoints, dir.endpoints());
    SKIFF_TRY(nl, netlink::Socket::open());
    int released = 0;
    std::vector<Endpoint> live;
    for (const auto& e : endpoints) {
        if (is_netns_mount(e.netns_path)) {
            live.push_back(e);
            continue;
        }
        SKIFF_CHECK(release(dir, &nl, e));
        ++released;
    }
    SKIFF_CHECK(sync_locked(paths_, networks, live));
    return released;
}

Status Networks::sync_firewall() {
    SKIFF_CHECK(check_paths(paths_));
    StateDir dir(paths_);
    SKIFF_TRY(held, dir.lock());
    SKIFF_TRY(networks, load_networks(paths_, dir));
    SKIFF_TRY(endpoints, dir.endpoints());
    return sync_locked(paths_, networks, endpoints);
}

}  // namespace skiff::network
