#include "cgroups/stats.hpp"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>

#include "common/fs.hpp"

namespace skiff::cgroups {

namespace {

using nlohmann::json;

// Interface files are small; anything bigger is not what the kernel wrote.
constexpr size_t kMaxFile = 1 << 20;

Result<uint64_t> parse_u64(const std::string& text, const std::string& file) {
    std::string s = text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s == "max") return kUnlimited;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty())
        return fail(file + ": not a number: \"" + s + "\"");
    return v;
}

// The file's contents, or nullopt when the group has no such file (controller not enabled,
// older kernel).
Result<std::optional<std::string>> read_optional(const Group& group, const std::string& name) {
    std::string path = path_join(group.path(), name);
    auto text = read_file_limited(path, kMaxFile);
    if (!text) {
        if (text.error().code == ENOENT) return std::nullopt;
        return std::unexpected(text.error());
    }
    return std::optional<std::string>(std::move(*text));
}

Result<std::optional<uint64_t>> read_u64(const Group& group, const std::string& name) {
    SKIFF_TRY(text, read_optional(group, name));
    if (!text) return std::nullopt;
    SKIFF_TRY(v, parse_u64(*text, path_join(group.path(), name)));
    return std::optional<uint64_t>(v);
}

// "key value" lines (memory.stat, memory.events, cpu.stat, hugetlb.*.events).
Result<std::map<std::string, uint64_t>> parse_flat_keyed(const std::string& text, const std::string& file) {
    std::map<std::string, uint64_t> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        std::istringstream fields(line);
        std::string key, value, extra;
        if (!(fields >> key >> value) || (fields >> extra)) return fail(file + ": bad line \"" + line + "\"");
        SKIFF_TRY(v, parse_u64(value, file));
        out[key] = v;
    }
    return out;
}

Result<std::optional<std::map<std::string, uint64_t>>> read_keyed(const Group& group, const std::string& name) {
    SKIFF_TRY(text, read_optional(group, name));
    if (!text) return std::nullopt;
    SKIFF_TRY(map, parse_flat_keyed(*text, path_join(group.path(), name)));
    return std::optional(std::move(map));
}

uint64_t value_or_zero(const std::map<std::string, uint64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
}

Result<std::optional<MemoryStats>> read_memory(const Group& group) {
    SKIFF_TRY(current, read_u64(group, "memory.current"));
    if (!current) return std::nullopt;
    MemoryStats m;
    m.current = *current;
    SKIFF_TRY(peak, read_u64(group, "memory.peak"));
    m.peak = peak;
    SKIFF_TRY(max, read_u64(group, "memory.max"));
    m.max = max.value_or(kUnlimited);
    SKIFF_TRY(swap_current, read_u64(group, "memory.swap.current"));
    m.swap_current = swap_current;
    SKIFF_TRY(swap_max, read_u64(group, "memory.swap.max"));
    m.swap_max = swap_max.value_or(kUnlimited);
    SKIFF_TRY(events, read_keyed(group, "memory.events"));
    if (events) {
        m.oom = value_or_zero(*events, "oom");
        m.oom_kill = value_or_zero(*events, "oom_kill");
    }
    SKIFF_TRY(stat, read_keyed(group, "memory.stat"));
    if (stat) m.stat = std::move(*stat);
    return std::optional(std::move(m));
}

Result<CpuStats> read_cpu(const Group& group) {
    CpuStats c;
    SKIFF_TRY(stat, read_keyed(group, "cpu.stat"));
    if (!stat) return c;
    c.usage_usec = value_or_zero(*stat, "usage_usec");
    c.user_usec = value_or_zero(*stat, "user_usec");
    c.system_usec = value_or_zero(*stat, "system_usec");
    c.nr_periods = value_or_zero(*stat, "nr_periods");
    c.nr_throttled = value_or_zero(*stat, "nr_throttled");
    c.throttled_usec = value_or_zero(*stat, "throttled_usec");
    return c;
}

Result<PidsStats> read_pids(const Group& group) {
    PidsStats p;
    SKIFF_TRY(current, read_u64(group, "pids.current"));
    if (current) {
        p.current = *current;
        SKIFF_TRY(max, read_u64(group, "pids.max"));
        p.max = max.value_or(kUnlimited);
        return p;
    }
    // No pids controller: count the members, as runc does.
    SKIFF_TRY(procs, group.processes());
    p.current = procs.size();
    return p;
}

// "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per line; unknown keys (cost.*)
// are skipped.
Result<std::vector<IoDeviceStats>> parse_io_stat(const std::string& text, const std::string& file) {
    std::vector<IoDeviceStats> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string device;
        if (!(fields >> device)) continue;
        IoDeviceStats d;
        auto colon = device.find(':');
        if (colon == std::string::npos) return fail(file + ": bad device \"" + device + "\"");
        SKIFF_TRY(major, parse_u64(device.substr(0, colon), file));
        SKIFF_TRY(minor, parse_u64(device.substr(colon + 1), file));
        d.major = major;
        d.minor = minor;
        for (std::string item; fields >> item;) {
            auto eq = item.find('=');
            if (eq == std::string::npos) continue;
            std::string key = item.substr(0, eq);
            uint64_t* dest = key == "rbytes" ? &d.rbytes
                             : key == "wbytes" ? &d.wbytes
                             : key == "rios"   ? &d.rios
                             : key == "wios"   ? &d.wios
                             : key == "dbytes" ? &d.dbytes
                             : key == "dios"   ? &d.dios
                                               : nullptr;
            if (!dest) continue;
            SKIFF_TRY(v, parse_u64(item.substr(eq + 1), file));
            *dest = v;
        }
        out.push_back(d);
    }
    return out;
}

// Page sizes the group has hugetlb files for ("hugetlb.2MB.current" -> "2MB").
Result<std::vector<std::string>> hugetlb_sizes(const Group& group) {
    std::vector<std::string> out;
    DIR* d = ::opendir(group.path().c_str());
    if (!d) return sys_error("open cgroup " + group.path());
    while (auto* ent = ::readdir(d)) {
        std::string name = ent->d_name;
        const std::string prefix = "hugetlb.", suffix = ".current";
        if (!name.starts_with(prefix) || !name.ends_with(suffix) || name.ends_with(".rsvd.current")) continue;
        out.push_back(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::map<std::string, HugetlbStats>> read_hugetlb(const Group& group) {
    std::map<std::string, HugetlbStats> out;
    SKIFF_TRY(sizes, hugetlb_sizes(group));
    for (const auto& size : sizes) {
        std::string prefix = "hugetlb." + size;
        HugetlbStats h;
        // Reservations count what a mapping may still fault in, so runc prefers them.
        SKIFF_TRY(rsvd, read_u64(group, prefix + ".rsvd.current"));
        SKIFF_TRY(usage, read_u64(group, prefix + ".current"));
        h.usage = rsvd ? *rsvd : usage.value_or(0);
        SKIFF_TRY(events, read_keyed(group, prefix + ".events"));
        if (events) h.failcnt = value_or_zero(*events, "max");
        out[size] = h;
    }
    return out;
}

// Go's `omitempty` on a number: leave zero out.
void put_nonzero(json& obj, const char* key, uint64_t v) {
    if (v != 0) obj[key] = v;
}

json blkio_entries(const std::vector<IoDeviceStats>& io, uint64_t IoDeviceStats::*read,
                   uint64_t IoDeviceStats::*write) {
    json list = json::array();
    for (const auto& d : io) {
        for (auto [op, field] : {std::pair{"Read", read}, {"Write", write}}) {
            json e = json::object();
            put_nonzero(e, "major", d.major);
            put_nonzero(e, "minor", d.minor);
            e["op"] = op;
            put_nonzero(e, "value", d.*field);
            list.push_back(e);
        }
    }
    return list;
}

}  // namespace

Result<Stats> read_stats(const Group& group) {
    if (!group.exists()) return sys_error(ENOENT, "read stats of cgroup " + group.path());
    Stats s;
    SKIFF_TRY(memory, read_memory(group));
    s.memory = std::move(memory);
    SKIFF_TRY(cpu, read_cpu(group));
    s.cpu = cpu;
    SKIFF_TRY(pids, read_pids(group));
    s.pids = pids;
    SKIFF_TRY(io_text, read_optional(group, "io.stat"));
    if (io_text) {
        SKIFF_TRY(io, parse_io_stat(*io_text, path_join(group.path(), "io.stat")));
        s.io = std::move(io);
    }
    SKIFF_TRY(hugetlb, read_hugetlb(group));
    s.hugetlb = std::move(hugetlb);
    return s;
}

json stats_data(const Stats& s) {
    json data;

    // cpu: runc reports nanoseconds; cgroup v2 counts microseconds.
    json cpu = json::object();
    if (s.cpu.usage_usec || s.cpu.user_usec || s.cpu.system_usec) {
        json usage = json::object();
        put_nonzero(usage, "total", s.cpu.usage_usec * 1000);
        usage["kernel"] = s.cpu.system_usec * 1000;
        usage["user"] = s.cpu.user_usec * 1000;
        cpu["usage"] = usage;
    }
    if (s.cpu.nr_periods || s.cpu.nr_throttled || s.cpu.throttled_usec) {
        json throttling = json::object();
        put_nonzero(throttling, "periods", s.cpu.nr_periods);
        put_nonzero(throttling, "throttledPeriods", s.cpu.nr_throttled);
        put_nonzero(throttling, "throttledTime", s.cpu.throttled_usec * 1000);
        cpu["throttling"] = throttling;
    }
    data["cpu"] = cpu;

    // cgroup v2 has none of v1's cpuset figures; runc still prints them, zero.
    data["cpuset"] = {{"cpu_exclusive", 0},      {"mem_hardwall", 0},       {"mem_exclusive", 0},
                      {"memory_migrate", 0},     {"memory_spread_page", 0}, {"memory_spread_slab", 0},
                      {"memory_pressure", 0},    {"sched_load_balance", 0}, {"sched_relax_domain_level", 0}};

    json memory = json::object();
    if (s.memory) {
        const auto& m = *s.memory;
        auto file = m.stat.find("file");
        if (file != m.stat.end()) put_nonzero(memory, "cache", file->second);
        json usage = {{"limit", m.max}, {"failcnt", 0}};
        put_nonzero(usage, "usage", m.current);
        put_nonzero(usage, "max", m.peak.value_or(0));
        memory["usage"] = usage;
        // runc keeps v1's meaning for swap: memory+swap together, limit likewise unless
        // swap is unlimited.
        uint64_t swap_limit = m.swap_current ? m.swap_max : 0;
        if (swap_limit != kUnlimited) swap_limit = m.max > kUnlimited - swap_limit ? kUnlimited : swap_limit + m.max;
        json swap = {{"limit", swap_limit}, {"failcnt", 0}};
        put_nonzero(swap, "usage", m.swap_current.value_or(0) + m.current);
        memory["swap"] = swap;
        if (!m.stat.empty()) memory["raw"] = m.stat;
    }
    data["memory"] = memory;

    json pids = json::object();
    put_nonzero(pids, "current", s.pids.current);
    // runc writes "no limit" as 0.
    put_nonzero(pids, "limit", s.pids.max == kUnlimited ? 0 : s.pids.max);
    data["pids"] = pids;

    json blkio = json::object();
    if (!s.io.empty()) {
        blkio["ioServiceBytesRecursive"] = blkio_entries(s.io, &IoDeviceStats::rbytes, &IoDeviceStats::wbytes);
        blkio["ioServicedRecursive"] = blkio_entries(s.io, &IoDeviceStats::rios, &IoDeviceStats::wios);
    }
    data["blkio"] = blkio;

    json hugetlb = json::object();
    for (const auto& [size, h] : s.hugetlb) {
        json entry = {{"failcnt", h.failcnt}};
        put_nonzero(entry, "usage", h.usage);
        hugetlb[size] = entry;
    }
    data["hugetlb"] = hugetlb;
    data["intel_rdt"] = json::object();
    data["network_interfaces"] = nullptr;
    return data;
}

std::string stats_json(const std::string& id, const Stats& stats) {
    json event = {{"type", "stats"}, {"id", id}, {"data", stats_data(stats)}};
    return event.dump();
}

}  // namespace skiff::cgroups
