// network/: what a container's network is made of, for the engine.
//
// Networks are host-wide (one bridge, one nftables table, one address space per host), so
// their state is not kept per --root store but in one directory per user (NetworkPaths):
//
//   <dir>/networks/<name>.json       one NetworkConfig each ("bridge" is the default network)
//   <dir>/endpoints/<id>-<name>.json one Endpoint per container per network: the IP lease, the
//                                    host veth, the published ports
//   <dir>/lock                       flock around every read-modify-write of the above
//
// The kernel side (all as root): a Linux bridge per network (the default "skiff0", user
// networks "sk-<12 hex of id>"), one veth pair per endpoint (host side "sv<10 hex of container
// id><index>", container side eth0, eth1, ...), and the nftables table `inet skiff` — the
// only table skiff touches — regenerated whole from the files above in one transaction
// (masquerade leaving each non-internal subnet, DNAT of published ports in prerouting and
// output, isolation between networks, internal networks cut off), plus, while a TCP port is
// published, three cgroup BPF programs that turn a connect(2) from this host to
// 127.0.0.1:PORT into one to the container's address (loopback_redirect.hpp).
//
// A container's network namespace is made before its PID 1 (create_netns), bind-mounted at
// <runroot>/netns/<id>, configured from outside, and handed to the runtime as a namespace
// path; `container:<x>` joins the same file; removing the file ends the namespace and with it
// the container side of every veth.
//
// Rootless: the kernel side needs CAP_NET_ADMIN in the host's namespace, which a user
// does not have; there pasta (Debian's passt) gives the namespace its outside access and
// forwards published ports (start_pasta).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace skiff::network {

// ---- pure parsing (unit-tested) --------------------------------------------------------

struct PortMapping {
    std::string host_ip;         // "" = every address (0.0.0.0)
    uint16_t host_port = 0;      // 0 = pick a free one when connecting
    uint16_t container_port = 0;
    std::string protocol = "tcp";  // "tcp" | "udp"
    // "8000-8010:80": any free host port of host_port..host_port_end (0 = just host_port);
    // connect resolves it, so an Endpoint never has one.
    uint16_t host_port_end = 0;
    bool operator==(const PortMapping&) const = default;
};

// -p / --publish: [ip:][hostPort:]containerPort[/proto], with ranges on either side
// ("8000-8002:80-82", "127.0.0.1::80", "[::1]:80:80" refused: IPv4 only). One mapping per
// port of a range. Errors name the spec: `invalid port specification: "80:abc"`.
Result<std::vector<PortMapping>> parse_publish(std::string_view spec);
// -P: every EXPOSEd port ("80/tcp", "53/udp", "8080") to a random host port.
Result<std::vector<PortMapping>> publish_all(const std::vector<std::string>& exposed);
// Docker's PORTS column / `port` lines: "0.0.0.0:8080->80/tcp", ranges folded
// ("0.0.0.0:8000-8002->80-82/tcp"), unpublished exposed ports as "80/tcp".
std::string format_ports(const std::vector<PortMapping>& ports);

struct Subnet {
    uint32_t address = 0;  // host byte order, the network address (host bits zero)
    int prefix = 0;        // 8..30
    std::string text() const;                  // "10.89.0.0/24"
    bool contains(uint32_t ip) const;
    bool overlaps(const Subnet& other) const;
};
// "10.89.0.0/24": host bits set ("10.89.0.1/24") are refused as Docker does ("invalid subnet").
Result<Subnet> parse_subnet(std::string_view text);
Result<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t ip);

// ---- where the state lives -------------------------------------------------------------

struct NetworkPaths {
    std::string dir;      // root: /var/lib/skiff-network; else <store root>/network
    std::string runroot;  // the engine's runroot: netns files under <runroot>/netns/
    std::string table = "skiff";            // nftables table (family inet)
    std::string default_bridge = "skiff0";  // interface of the default network
    std::string default_subnet = "10.88.0.0/16";  // of the default network, when first written
};
// SKIFF_NETWORK_DIR, SKIFF_NFT_TABLE, SKIFF_BRIDGE and SKIFF_BRIDGE_SUBNET override dir,
// table, default_bridge and default_subnet, so tests can keep apart from a user's networks
// (and from each other).
NetworkPaths default_network_paths(const std::string& store_root, const std::string& runroot);

// ---- networks ----------------------------------------------------------------------------

struct NetworkConfig {
    std::string name;            // "bridge" for the default
    std::string id;              // 64 hex
    std::string driver = "bridge";
    std::string interface;       // "skiff0" / "sk-<12 hex>"
    std::string subnet;          // "10.88.0.0/16"
    std::string gateway;         // "10.88.0.1" (the bridge's address)
    bool internal = false;       // no route out, no published ports from outside
    bool is_default = false;     // the network `run` uses without --network
    std::map<std::string, std::string> labels;
    std::string created;         // RFC 3339
};

struct CreateNetworkRequest {
    std::string name;
    std::string subnet;   // "" = the next free /24 from 10.89.0.0/16
    std::string gateway;  // "" = first host address of the subnet
    bool internal = false;
    std::map<std::string, std::string> labels;
};

struct Endpoint {
    std::string container_id;
    std::string container_name;
    std::vector<std::string> aliases;  // --network-alias, also resolvable by name on the network
    std::string network;               // network name
    std::string netns_path;            // the namespace file it lives in
    std::string interface;             // "eth0" inside
    std::string host_interface;        // "sv0123456789a0" on the host
    std::string ip;                    // "10.88.0.2"
    int prefix = 0;
    std::string gateway;
    std::string mac;                   // "02:42:0a:58:00:02"-style, derived from the ip
    std::vector<PortMapping> ports;    // host ports resolved (never 0 here)
};

struct ConnectRequest {
    std::string container_id, container_name;
    std::vector<std::string> aliases;
    std::string network;              // name or id
    std::string netns_path;           // from create_netns
    std::string ip;                   // --ip, "" = next free
    std::vector<PortMapping> ports;   // from parse_publish / publish_all
};

class Networks {
public:
    explicit Networks(NetworkPaths paths);

    // The default network ("bridge", paths.default_bridge, paths.default_subnet) is written
    // the first time anything asks for the list or for it.
    Result<NetworkConfig> create(const CreateNetworkRequest& request);  // err: name taken, overlap
    Result<std::vector<NetworkConfig>> list() const;
    // By name, full id or unique id prefix. ENOENT: `network NAME not found`.
    Result<NetworkConfig> find(std::string_view name_or_id) const;
    // Refused while endpoints use it (`error while removing network: network NAME has active
    // endpoints`) and for the default network. Deletes the bridge and the nft rules.
    Status remove(std::string_view name_or_id);

    // Lease an address, make the veth pair, configure eth<N> in the namespace (address, MAC,
    // default route via the gateway unless internal, lo up), attach the host side to the
    // bridge (bridge made on first use), publish the ports (a host port in use by a process
    // or another endpoint: `Bind for 0.0.0.0:8080 failed: port is already allocated`). All
    // or nothing: on failure nothing of it is left.
    Result<Endpoint> connect(const ConnectRequest& request);
    // Undo connect: veth, lease, ports. Missing pieces are not errors (crash clean-up).
    Status disconnect(std::string_view container_id, std::string_view network);
    // namespace_going: the caller removes the endpoints' namespace right after (remove_netns),
    // so the veths are left to die with it instead of being deleted one by one; the host
    // side may then stay listed for a few milliseconds after this returns.
    Status disconnect_all(std::string_view container_id, bool namespace_going = false);

    Result<std::vector<Endpoint>> endpoints_of(std::string_view container_id) const;
    Result<std::vector<Endpoint>> endpoints_on(std::string_view network) const;

    // Endpoints whose namespace file is gone (host restart, runroot lost) are released;
    // then the nft table is rebuilt. Returns how many were released.
    Result<int> collect_stale();
    // Regenerate `inet skiff` from the files (idempotent).
    Status sync_firewall();

    const NetworkPaths& paths() const { return paths_; }

private:
    NetworkPaths paths_;
};

// ---- network namespaces ----------------------------------------------------------------

// A new network namespace bind-mounted at <runroot>/netns/<container_id>, loopback up,
// `sysctls` ("net.ipv4.x" -> value) written in it. Made on a short-lived thread, so the
// caller never leaves its own namespace. It belongs to the caller's user namespace.
Result<std::string> create_netns(const NetworkPaths& paths, std::string_view container_id,
                                 const std::map<std::string, std::string>& sysctls = {});
// Unmount and remove; missing is fine.
Status remove_netns(const std::string& netns_path);
// The nftables ruleset text for the given networks and endpoints (pure, unit-tested): what
// sync_firewall loads, in one transaction, for table `inet <table>`. It replaces the table
// whole with rules for every network given (sync_firewall gives those whose bridge exists
// or that have endpoints); with no network it only deletes it.
std::string render_ruleset(const std::vector<NetworkConfig>& networks, const std::vector<Endpoint>& endpoints,
                           std::string_view table = "skiff");

// ---- rootless --------------------------------------------------------------------------

// pasta attached to the namespace (its own copy of the host's addresses and routes, outside
// access through the user's sockets), forwarding `ports`. Returns pasta's pid once the
// namespace is configured; it ends by itself when the namespace file is removed. Host ports
// must be decided (resolve_host_ports): pasta binds them itself.
Result<pid_t> start_pasta(const std::string& netns_path, const std::vector<PortMapping>& ports);
// Ends a pasta started by start_pasta (SIGTERM, SIGKILL after 2 s) and waits until it has
// exited, if `pid` still is a pasta process.
void stop_pasta(pid_t pid);
// The host's IPv4 default gateway (/proc/net/route): inside pasta's namespace the same
// address, which pasta maps to the host's loopback (Docker's host-gateway there).
Result<std::string> host_default_gateway();
// Host ports without endpoint files (rootless): 0 and ranges replaced by free ports, fixed
// ones checked with a bind (`Bind for 0.0.0.0:8080 failed: port is already allocated`).
Result<std::vector<PortMapping>> resolve_host_ports(const std::vector<PortMapping>& ports);

}  // namespace skiff::network
