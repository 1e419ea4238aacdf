// Loading rules into nftables and the sysctls a bridge network needs. Internal to network/.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "network/network.hpp"

namespace skiff::network {

// A port published into a network the outside reaches: what a DNAT rule serves.
struct PublishedPort {
    const Endpoint* endpoint;
    const PortMapping* port;
};
// The ports of the endpoints on the non-internal networks given, by network name, container
// id, then in the order published (render_ruleset's DNAT lines, loopback_redirects).
std::vector<PublishedPort> published_ports(const std::vector<NetworkConfig>& networks,
                                           const std::vector<Endpoint>& endpoints);

// Run nft commands (one transaction per call) through libnftables, opened on first use;
// returns what nft printed (e.g. for `list table`). Errors carry nft's own message.
Result<std::string> nft_run(const std::string& commands);

// Write `value` to /proc/sys/<key> ("net/ipv4/ip_forward").
Status set_sysctl(const std::string& key, const std::string& value);
// Forwarding on (a non-internal bridge routes through the host); written only when off.
Status ensure_ip_forward();

}  // namespace skiff::network
