// OCI linux.resources on cgroup v2, converted the way runc's fs2 driver does it.
//
//   memory.limit / reservation / swap      -> memory.max / memory.low / memory.swap.max
//                                             (-1 is "max"; swap is memory+swap in OCI, so
//                                             memory.swap.max = swap - limit)
//   cpu.shares                              -> cpu.weight (1 + (shares-2)*9999/262142)
//   cpu.quota / period                      -> cpu.max "QUOTA PERIOD" or "max PERIOD"
//   cpu.burst / idle / cpus / mems          -> cpu.max.burst / cpu.idle / cpuset.cpus / .mems
//   pids.limit                              -> pids.max (0 or -1 is "max")
//   blockIO.weight / weightDevice           -> io.bfq.weight, else io.weight (converted)
//   blockIO.throttle*Device                 -> io.max "MAJ:MIN rbps=.. wbps=.. riops=.. wiops=.."
//   hugepageLimits                          -> hugetlb.<size>.max (and .rsvd.max when present)
//   rdma                                    -> rdma.max
//   unified                                 -> each key written as is, after validation
//
// Knobs v2 does not have (disableOOMKiller, swappiness, kernel memory, realtime cpu,
// blkio leaf weights, network classes) and controllers the group cannot use are warnings,
// never errors: the container still runs, as with Docker. `devices` is not handled here
// (on v2 it is an eBPF program, not a file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cgroups/cgroups.hpp"
#include "common/result.hpp"

namespace skiff::cgroups {

// Check every field of a linux.resources object (null or absent parts are fine) without
// touching any file: call it before anything is created. Errors name the field:
// "linux.resources.memory.limit: must be -1 (unlimited) or >= 0, got -5".
Status validate_resources(const nlohmann::json& linux_resources);

// Validate, enable the needed controllers in every ancestor's cgroup.subtree_control (root
// down to the group's parent, only those each ancestor offers), then write the limits
// into the existing `group`. Also serves `update`: only the fields present are written.
// Each controller the group still lacks afterwards adds one warning and is skipped.
Status apply_resources(const Group& group, const nlohmann::json& linux_resources,
                       std::vector<std::string>& warnings);

// The conversions, exposed for tests and for callers that report effective values.
// runc's (<= 1.3.1) linear map of v1 shares [2, 262144] onto cpu.weight [1, 10000];
// 0 stays 0 ("unset").
uint64_t cpu_shares_to_weight(uint64_t shares);
// OCI memory.swap is memory+swap; v2's memory.swap.max is swap alone. -1 means "max",
// 0 "leave unset". Errors as runc's ConvertMemorySwapToCgroupV2Value.
Result<int64_t> memory_swap_to_v2(int64_t memory_swap, int64_t memory);
// blkio weight [10, 1000] onto io.weight [1, 10000]; 0 stays 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);
// The cpu.max line: "max 100000", "50000 100000"; period 0 uses the kernel's 100000.
std::string cpu_max_value(int64_t quota, uint64_t period);

}  // namespace skiff::cgroups
