// Loopback connections to published ports without NAT (loopback_redirect.hpp says why).
#include "network/loopback_redirect.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "cgroups/cgroups.hpp"
#include "common/fd.hpp"
#include "network/bpf.hpp"
#include "network/firewall.hpp"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace skiff::network {

namespace {

// The hooks, in the order they are attached: the name hooks before connect, so a socket
// is never redirected without its names being mended too. Detached in reverse.
struct Hook {
    bpf_attach_type type;
    std::string_view program_name;
};
constexpr Hook hooks[] = {
    {BPF_CGROUP_INET4_GETSOCKNAME, "skiff_sockname4"},
    {BPF_CGROUP_INET4_GETPEERNAME, "skiff_peername4"},
    {BPF_CGROUP_INET4_CONNECT, "skiff_connect4"},
};
constexpr size_t connect_hook = 2;
static_assert(hooks[connect_hook].type == BPF_CGROUP_INET4_CONNECT);
constexpr std::string_view config_map_name = "skiff_config";
constexpr std::string_view ports_map_name = "skiff_ports";
constexpr std::string_view peers_map_name = "skiff_peers";

// Map layouts, shared with the programs below. Addresses and ports are in network byte
// order, as connect(2) gave them (a port zero-extended to 32 bits, as in bpf_sock_addr).
struct Config {
    uint64_t netns_cookie;  // the namespace the programs act in
    uint64_t owner_tag;     // FNV-1a of the owner (the nftables table's name)
};
struct Address {
    uint32_t ip;
    uint32_t port;
};
static_assert(sizeof(Config) == 16 && sizeof(Address) == 8);

constexpr uint32_t max_published = 65536;
// Sockets redirected and not yet asked their peer: least recently used go first. A socket
// cookie is never reused in a boot, so an old entry can only be missing, never wrong.
constexpr uint32_t max_remembered_peers = 16384;

constexpr int16_t ctx_user_ip4 = offsetof(bpf_sock_addr, user_ip4);
constexpr int16_t ctx_user_port = offsetof(bpf_sock_addr, user_port);
constexpr int16_t ctx_type = offsetof(bpf_sock_addr, type);

uint64_t owner_tag(std::string_view owner) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : owner) hash = (hash ^ c) * 0x100000001b3ULL;
    return hash;
}

Result<uint64_t> own_netns_cookie() {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("socket");
    uint64_t cookie = 0;
    socklen_t size = sizeof cookie;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &size) < 0)
        return sys_error("read the network namespace's cookie");
    return cookie;
}

Address to_address(uint32_t ip_host_order, uint16_t port) {
    return Address{htonl(ip_host_order), htons(port)};
}

// Every program starts alike: go on only in our namespace (r6 = ctx, r7 clobbered).
void emit_namespace_check(bpf::Assembler& a, int config_map, const std::string& skip) {
    a.store(BPF_W, bpf::FP, -4, 0);  // key 0 of the config array
    a.lookup(config_map, -4);
    a.jump_if(BPF_JEQ, bpf::R0, 0, skip);
    a.load(BPF_DW, bpf::R7, bpf::R0, offsetof(Config, netns_cookie));
    a.mov(bpf::R1, bpf::R6);
    a.call(BPF_FUNC_get_netns_cookie);
    a.jump_if(BPF_JNE, bpf::R0, bpf::R7, skip);
}

// connect(2) of a TCP socket to 127.x.x.x:PORT in our namespace, PORT published on that
// address or on all: the destination becomes the container's address, and the socket's
// cookie remembers the original one for getpeername.
Result<std::vector<bpf_insn>> connect_program(int config_map, int ports_map, int peers_map) {
    bpf::Assembler a;
    a.mov(bpf::R6, bpf::R1);
    a.load(BPF_W, bpf::R2, bpf::R6, ctx_type);
    a.jump_if(BPF_JNE, bpf::R2, SOCK_STREAM, "allow");
    a.load(BPF_W, bpf::R8, bpf::R6, ctx_user_ip4);
    a.mov(bpf::R2, bpf::R8);
    a.and_(bpf::R2, 0xff);  // the first octet: the address is in network byte order
    a.jump_if(BPF_JNE, bpf::R2, 127, "allow");
    a.load(BPF_W, bpf::R9, bpf::R6, ctx_user_port);
    emit_namespace_check(a, config_map, "allow");

    // Published on this very address, else on every address (key ip 0).
    a.store(BPF_W, bpf::FP, -16, bpf::R8);
    a.store(BPF_W, bpf::FP, -12, bpf::R9);
    a.lookup(ports_map, -16);
    a.jump_if(BPF_JNE, bpf::R0, 0, "found");
    a.store(BPF_W, bpf::FP, -16, 0);
    a.lookup(ports_map, -16);
    a.jump_if(BPF_JEQ, bpf::R0, 0, "allow");

    a.label("found");
    a.mov(bpf::R7, bpf::R0);
    a.mov(bpf::R1, bpf::R6);
    a.call(BPF_FUNC_get_socket_cookie);
    a.store(BPF_DW, bpf::FP, -24, bpf::R0);
    a.store(BPF_W, bpf::FP, -32, bpf::R8);
    a.store(BPF_W, bpf::FP, -28, bpf::R9);
    a.load_map(bpf::R1, peers_map);
    a.mov(bpf::R2, bpf::FP);
    a.add(bpf::R2, -24);
    a.mov(bpf::R3, bpf::FP);
    a.add(bpf::R3, -32);
    a.mov(bpf::R4, BPF_ANY);
    a.call(BPF_FUNC_map_update_elem);
    a.load(BPF_W, bpf::R2, bpf::R7, offsetof(Address, ip));
    a.store(BPF_W, bpf::R6, ctx_user_ip4, bpf::R2);
    a.load(BPF_W, bpf::R2, bpf::R7, offsetof(Address, port));
    a.store(BPF_W, bpf::R6, ctx_user_port, bpf::R2);

    a.label("allow");
    a.mov(bpf::R0, 1);
    a.exit();
    return a.finish();
}

// getpeername(2) of a socket connect_program redirected: the address it connected to.
// getsockname(2) of one: 127.0.0.1 with its own port, the address NAT would have left it
// (the kernel picked the bridge's, a route to the container goes that way).
Result<std::vector<bpf_insn>> name_program(int config_map, int peers_map, bool peer) {
    bpf::Assembler a;
    a.mov(bpf::R6, bpf::R1);
    emit_namespace_check(a, config_map, "out");
    a.mov(bpf::R1, bpf::R6);
    a.call(BPF_FUNC_get_socket_cookie);
    a.store(BPF_DW, bpf::FP, -16, bpf::R0);
    a.lookup(peers_map, -16);
    a.jump_if(BPF_JEQ, bpf::R0, 0, "out");
    if (peer) {
        a.load(BPF_W, bpf::R2, bpf::R0, offsetof(Address, ip));
        a.store(BPF_W, bpf::R6, ctx_user_ip4, bpf::R2);
        a.load(BPF_W, bpf::R2, bpf::R0, offsetof(Address, port));
        a.store(BPF_W, bpf::R6, ctx_user_port, bpf::R2);
    } else {
        a.mov(bpf::R2, static_cast<int32_t>(htonl(INADDR_LOOPBACK)));
        a.store(BPF_W, bpf::R6, ctx_user_ip4, bpf::R2);
    }
    a.label("out");
    a.mov(bpf::R0, 1);
    a.exit();
    return a.finish();
}

// A program of ours on the cgroup, with the maps it holds.
struct Attached {
    UniqueFd program;
    UniqueFd ports_map;  // connect program only
};

// Our programs of this name attached for `type`: those whose config map names this
// namespace and owner. A program detached meanwhile (another skiff) is skipped.
Result<std::vector<Attached>> find_attached(int cgroup_fd, bpf_attach_type type, std::string_view name,
                                            const Config& want) {
    std::vector<Attached> found;
    SKIFF_TRY(ids, bpf::attached_programs(cgroup_fd, type));
    for (uint32_t id : ids) {
        auto program = bpf::program_by_id(id);
        if (!program) continue;
        auto info = bpf::program_info(program->get());
        if (!info || info->name != name) continue;
        bool ours = false;
        UniqueFd ports;
        for (uint32_t map_id : info->map_ids) {
            auto map = bpf::map_by_id(map_id);
            if (!map) continue;
            auto map_name = bpf::map_name(map->get());
            if (!map_name) continue;
            if (*map_name == config_map_name) {
                Config config{};
                const uint32_t key = 0;
                auto present = bpf::map_lookup(map->get(), &key, &config);
                ours = present && *present && config.netns_cookie == want.netns_cookie &&
                       config.owner_tag == want.owner_tag;
            } else if (*map_name == ports_map_name) {
                ports = std::move(*map);
            }
        }
        if (ours) found.push_back(Attached{std::move(*program), std::move(ports)});
    }
    return found;
}

Status fill_ports(int ports_map, const std::vector<LoopbackRedirect>& redirects) {
    std::vector<std::pair<Address, Address>> wanted;
    for (const auto& r : redirects)
        wanted.emplace_back(to_address(r.host_ip, r.host_port), to_address(r.container_ip, r.container_port));
    SKIFF_TRY(keys, bpf::map_keys(ports_map, sizeof(Address)));
    for (const auto& raw : keys) {
        Address key{};
        std::memcpy(&key, raw.data(), sizeof key);
        bool keep = std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) {
            return w.first.ip == key.ip && w.first.port == key.port;
        });
        if (!keep) SKIFF_CHECK(bpf::map_delete(ports_map, &key));
    }
    for (const auto& [key, value] : wanted) SKIFF_CHECK(bpf::map_update(ports_map, &key, &value));
    return ok();
}

// Fresh maps and one program per hook (indexed like `hooks`), the ports map filled, not
// attached yet.
Result<std::vector<UniqueFd>> load_programs(const Config& config, const std::vector<LoopbackRedirect>& redirects) {
    SKIFF_TRY(config_map, bpf::create_map(BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), sizeof(Config), 1, 0,
                                          config_map_name));
    const uint32_t key = 0;
    SKIFF_CHECK(bpf::map_update(config_map.get(), &key, &config));
    SKIFF_TRY(ports_map, bpf::create_map(BPF_MAP_TYPE_HASH, sizeof(Address), sizeof(Address), max_published,
                                         BPF_F_NO_PREALLOC, ports_map_name));
    SKIFF_TRY(peers_map, bpf::create_map(BPF_MAP_TYPE_LRU_HASH, sizeof(uint64_t), sizeof(Address),
                                         max_remembered_peers, 0, peers_map_name));
    SKIFF_CHECK(fill_ports(ports_map.get(), redirects));
    std::vector<UniqueFd> programs;
    for (const auto& hook : hooks) {
        auto code = hook.type == BPF_CGROUP_INET4_CONNECT
                        ? connect_program(config_map.get(), ports_map.get(), peers_map.get())
                        : name_program(config_map.get(), peers_map.get(), hook.type == BPF_CGROUP_INET4_GETPEERNAME);
        if (!code) return std::unexpected(code.error());
        SKIFF_TRY(program, bpf::load_sock_addr_program(*code, hook.type, hook.program_name));
        programs.push_back(std::move(program));
    }
    // The programs hold the maps from here on.
    return programs;
}

Result<UniqueFd> open_cgroup_root() {
    SKIFF_TRY(root, cgroups::find_unified_root());
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sys_error("open " + root);
    return fd;
}

Result<Config> own_config(std::string_view owner) {
    SKIFF_TRY(cookie, own_netns_cookie());
    return Config{cookie, owner_tag(owner)};
}

}  // namespace

std::vector<LoopbackRedirect> loopback_redirects(const std::vector<NetworkConfig>& networks,
                                                 const std::vector<Endpoint>& endpoints) {
    std::vector<LoopbackRedirect> out;
    for (const auto& [e, p] : published_ports(networks, endpoints)) {
        if (p->protocol != "tcp") continue;  // UDP keeps the DNAT: replies would need recvmsg4 too
        auto container_ip = parse_ipv4(e->ip);
        if (!container_ip) continue;
        uint32_t host_ip = 0;
        if (!p->host_ip.empty()) {
            auto parsed = parse_ipv4(p->host_ip);
            if (!parsed) continue;
            if (*parsed != 0 && (*parsed >> 24) != 127) continue;  // not reachable through lo
            host_ip = *parsed;
        }
        out.push_back(LoopbackRedirect{host_ip, p->host_port, *container_ip, p->container_port});
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

Status sync_loopback_redirects(const std::vector<LoopbackRedirect>& redirects, std::string_view owner) {
    SKIFF_TRY(cgroup, open_cgroup_root());
    SKIFF_TRY(config, own_config(owner));
    std::vector<std::vector<Attached>> found;
    for (const auto& hook : hooks) {
        SKIFF_TRY(attached, find_attached(cgroup.get(), hook.type, hook.program_name, config));
        found.push_back(std::move(attached));
    }

    // One program per hook is a set made together (attached all or none, in one locked
    // sync): its ports map is brought up to date. Anything else (more, a set half-attached
    // by a killed skiff, or everything when no redirect is left) is detached, connect first,
    // and a fresh set made.
    bool keep = !redirects.empty() && found[connect_hook].size() == 1 && found[connect_hook][0].ports_map;
    for (const auto& attached : found) keep = keep && attached.size() == 1;
    if (keep) return fill_ports(found[connect_hook][0].ports_map.get(), redirects);
    for (size_t h = std::size(hooks); h-- > 0;)
        for (const auto& attached : found[h])
            SKIFF_CHECK(bpf::detach(cgroup.get(), attached.program.get(), hooks[h].type));
    if (redirects.empty()) return ok();

    SKIFF_TRY(programs, load_programs(config, redirects));
    for (size_t h = 0; h < std::size(hooks); ++h) {
        auto attached = bpf::attach(cgroup.get(), programs[h].get(), hooks[h].type);
        if (!attached) {
            while (h-- > 0) (void)bpf::detach(cgroup.get(), programs[h].get(), hooks[h].type);
            return attached;
        }
    }
    return ok();
}

Result<int> loopback_redirects_loaded(std::string_view owner) {
    SKIFF_TRY(cgroup, open_cgroup_root());
    SKIFF_TRY(config, own_config(owner));
    const Hook& hook = hooks[connect_hook];
    SKIFF_TRY(connects, find_attached(cgroup.get(), hook.type, hook.program_name, config));
    if (connects.empty() || !connects[0].ports_map) return -1;
    SKIFF_TRY(keys, bpf::map_keys(connects[0].ports_map.get(), sizeof(Address)));
    return static_cast<int>(keys.size());
}

}  // namespace skiff::network
