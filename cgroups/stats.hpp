// Usage figures of one container's cgroup v2 group, and their JSON in the shape of
// `runc events --stats` (runc's types/events.go), so tools reading runc's output read ours.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cgroups/cgroups.hpp"
#include "common/result.hpp"

namespace skiff::cgroups {

// A limit file reading "max".
inline constexpr uint64_t kUnlimited = UINT64_MAX;

struct MemoryStats {
    uint64_t current = 0;                // memory.current, bytes
    std::optional<uint64_t> peak;        // memory.peak (kernel 5.19+)
    uint64_t max = kUnlimited;           // memory.max
    std::optional<uint64_t> swap_current;  // memory.swap.current (swap accounting on)
    uint64_t swap_max = kUnlimited;      // memory.swap.max
    uint64_t oom = 0;                    // memory.events: times the limit made the kernel OOM
    uint64_t oom_kill = 0;               //   ... and processes it killed for it
    std::map<std::string, uint64_t> stat;  // memory.stat, as is
};

struct CpuStats {
    uint64_t usage_usec = 0, user_usec = 0, system_usec = 0;  // always there (core cgroup)
    uint64_t nr_periods = 0, nr_throttled = 0, throttled_usec = 0;  // with the cpu controller
};

struct PidsStats {
    uint64_t current = 0;
    uint64_t max = kUnlimited;
};

struct IoDeviceStats {
    uint64_t major = 0, minor = 0;
    uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0, dbytes = 0, dios = 0;
};

struct HugetlbStats {
    uint64_t usage = 0;    // hugetlb.<size>.current (.rsvd.current when the kernel has it)
    uint64_t failcnt = 0;  // hugetlb.<size>.events "max"
};

// A part is empty when its controller is not enabled for the group (its files absent).
struct Stats {
    std::optional<MemoryStats> memory;
    CpuStats cpu;
    PidsStats pids;  // without the pids controller: cgroup.procs counted, max unlimited
    std::vector<IoDeviceStats> io;                // io.stat, in file order
    std::map<std::string, HugetlbStats> hugetlb;  // by page size ("2MB")
};

// Read the group's figures. Missing files of a controller the group lacks are not errors;
// a missing group or a malformed file is (naming the file).
Result<Stats> read_stats(const Group& group);

// {"type":"stats","id":ID,"data":{"cpu":{"usage":{"total":NS,"kernel":NS,"user":NS},
//  "throttling":{...}},"memory":{"usage":{"limit":..,"usage":..,"max":..,"failcnt":0},...},
//  "pids":{"current":..,"limit":..},"blkio":{...},"hugetlb":{},...}} — times in nanoseconds,
// zero fields left out where runc's `omitempty` leaves them out, "max" limits as 2^64-1
// for memory and 0 for pids (runc's conventions).
std::string stats_json(const std::string& id, const Stats& stats);
// Just the "data" object of the above.
nlohmann::json stats_data(const Stats& stats);

}  // namespace skiff::cgroups
