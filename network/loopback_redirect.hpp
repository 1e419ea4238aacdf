// Published TCP ports reached from the host itself (127.0.0.1:8080) without NAT: a cgroup
// connect4 program rewrites such a connect(2) to the container's own address, and a
// getpeername4 program gives the socket back the address it asked for. The connection is
// then exactly one to the container's address: no DNAT, no masquerade of 127.0.0.1, no
// re-routing of every packet (which cost 5-12% of keep-alive throughput). Cilium calls this
// socket-level load balancing. The nftables DNAT stays for everything else (other hosts,
// UDP, the host's other addresses, and when the kernel refuses the programs).
//
// The programs are attached to the root of the unified cgroup tree, so they see every
// process, and act only in the network namespace they were made for (compared by netns
// cookie) and for the owner they were made for (the nftables table's name, so tests with
// their own table keep apart). They hold their maps; nothing is pinned. They are found
// again by asking the cgroup which programs it runs and reading their config map, and
// detached when no redirect is left. Internal to network/.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "network/network.hpp"

namespace skiff::network {

struct LoopbackRedirect {
    uint32_t host_ip = 0;  // host byte order; 0 = the port is published on every address
    uint16_t host_port = 0;
    uint32_t container_ip = 0;  // host byte order
    uint16_t container_port = 0;
    auto operator<=>(const LoopbackRedirect&) const = default;
};

// The TCP ports of non-internal networks published on 0.0.0.0 or a 127.0.0.0/8 address:
// those a connection from the host's loopback can reach (pure, unit-tested). Sorted.
std::vector<LoopbackRedirect> loopback_redirects(const std::vector<NetworkConfig>& networks,
                                                 const std::vector<Endpoint>& endpoints);

// Make the kernel redirect exactly these for `owner` in the calling thread's network
// namespace: programs loaded and attached while there is any, detached when there is none.
// Needs CAP_BPF/CAP_NET_ADMIN and cgroup2; the caller treats an error as "NAT only".
Status sync_loopback_redirects(const std::vector<LoopbackRedirect>& redirects, std::string_view owner);

// How many redirects the kernel holds for `owner` in this namespace; -1 when no program of
// ours is attached (tests check both).
Result<int> loopback_redirects_loaded(std::string_view owner);

}  // namespace skiff::network
