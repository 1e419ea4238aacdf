// Capability names <-> numbers, and applying the five sets of process.capabilities.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

// "CAP_CHOWN" -> 0. Case-insensitive; the "CAP_" prefix is required (as in the OCI spec).
// Names the library knows but the running kernel does not are still mapped (numbers above
// cap_last_cap are skipped when applying, as runc does).
std::optional<int> capability_from_name(std::string_view name);
// 0 -> "CAP_CHOWN"; numbers libcap does not name give "CAP_<n>".
std::string capability_name(int cap);
// Every capability name known to this build, in number order (for `features`).
std::vector<std::string> all_capability_names();
// Highest capability the running kernel supports (/proc/sys/kernel/cap_last_cap).
int last_kernel_capability();

// Drop every capability not in `bounding` from the bounding set (needs CAP_SETPCAP).
Status drop_bounding_set(const std::vector<int>& bounding);
// Set effective/permitted/inheritable and raise ambient. Call after setuid with
// PR_SET_KEEPCAPS set, so permitted survived the uid change.
Status apply_process_capabilities(const Capabilities& caps);

}  // namespace skiff::runtime
