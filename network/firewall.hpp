// Loading rules into nftables and the sysctls a bridge network needs. Internal to network/.
#pragma once

#include <string>

#include "common/result.hpp"

namespace skiff::network {

// Run nft commands (one transaction per call) through libnftables, opened on first use;
// returns what nft printed (e.g. for `list table`). Errors carry nft's own message.
Result<std::string> nft_run(const std::string& commands);

// Write `value` to /proc/sys/<key> ("net/ipv4/ip_forward").
Status set_sysctl(const std::string& key, const std::string& value);
// Forwarding on (a non-internal bridge routes through the host); written only when off.
Status ensure_ip_forward();

}  // namespace skiff::network
