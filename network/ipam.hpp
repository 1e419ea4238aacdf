// Address management as pure functions over the existing leases (the endpoint files), so
// the choices are unit-tested without a kernel. Internal to network/ (and its tests).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "network/network.hpp"

namespace skiff::network {

uint32_t subnet_mask(int prefix);
uint32_t broadcast_of(const Subnet& subnet);
// The first host address: the default gateway.
uint32_t first_host(const Subnet& subnet);

// An address for a new endpoint: `requested` when given (inside the subnet, not the network,
// broadcast or gateway address, not leased: "Address already in use"), else the lowest free
// host address. `used` holds the leased addresses.
Result<uint32_t> allocate_address(const Subnet& subnet, uint32_t gateway,
                                  const std::set<uint32_t>& used,
                                  std::optional<uint32_t> requested);

// The first subnet of `prefix` bits inside `pool` that overlaps none of `taken` (existing
// networks and the host's routes).
Result<Subnet> next_free_subnet(const Subnet& pool, int prefix, const std::vector<Subnet>& taken);

// 02:42 and the four bytes of the address, as Docker derives it.
std::array<uint8_t, 6> mac_for(uint32_t ip);
std::string format_mac(const std::array<uint8_t, 6>& mac);

// "sv" + first 10 hex of the container id + the endpoint's index (0..9).
Result<std::string> host_interface_name(std::string_view container_id, int index);

// Docker's rule for network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool valid_network_name(std::string_view name);
// Interface names skiff may be told to use (SKIFF_BRIDGE): 1..15 of [a-zA-Z0-9_.-].
bool valid_interface_name(std::string_view name);
// nftables table names skiff may be told to use (SKIFF_NFT_TABLE): [a-zA-Z_][a-zA-Z0-9_]*.
bool valid_table_name(std::string_view name);

}  // namespace skiff::network
