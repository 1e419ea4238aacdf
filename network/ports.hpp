// Host ports for published container ports: conflicts with other endpoints and with the
// host's own sockets. Internal to network/ (and its tests).
#pragma once

#include <vector>

#include "common/result.hpp"
#include "network/network.hpp"

namespace skiff::network {

// Whether the resolved mapping `m` collides with one of `taken`: same protocol and host
// port, and addresses that overlap (either is every address, or they are equal).
bool port_taken(const PortMapping& m, const std::vector<PortMapping>& taken);

// Whether a process of the host holds the port: bind a socket of the mapping's protocol to
// host_ip:host_port without SO_REUSEADDR, then close it. EADDRINUSE: `Bind for
// 0.0.0.0:8080 failed: port is already allocated`.
Status probe_port(const PortMapping& m);

// Every mapping with its host port decided: fixed ports checked against `taken` (the other
// endpoints' ports), each other and probe_port; 0 replaced by a free port the kernel picks;
// host ranges by their first free port. Nothing is held afterwards: the caller publishes
// them (DNAT) under the network lock.
Result<std::vector<PortMapping>> resolve_ports(const std::vector<PortMapping>& requested,
                                               const std::vector<PortMapping>& taken);

}  // namespace skiff::network
