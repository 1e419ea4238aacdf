#include "cgroups/resources.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "common/fs.hpp"
#include "common/json_fields.hpp"

namespace skiff::cgroups {

namespace {

using nlohmann::json;

constexpr const char* kPrefix = "linux.resources";

// ---- reading the JSON: every accessor names the field it rejects ------------------------

// "field: why". Absent and null both mean "not set" (json_fields::find_member), as in the
// Go structs runc decodes into.
constexpr auto bad = json_fields::field_error;
constexpr auto member = json_fields::find_member;

Result<std::optional<int64_t>> get_int(const json& obj, const char* key, const std::string& field) {
    const json* v = member(obj, key);
    if (!v) return std::nullopt;
    if (v->is_number_unsigned()) {
        if (v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            return bad(field, "too large");
        return static_cast<int64_t>(v->get<uint64_t>());
    }
    if (!v->is_number_integer()) return bad(field, "must be an integer, got " + v->dump());
    return v->get<int64_t>();
}

Result<std::optional<uint64_t>> get_uint(const json& obj, const char* key, const std::string& field) {
    const json* v = member(obj, key);
    if (!v) return std::nullopt;
    if (v->is_number_unsigned()) return v->get<uint64_t>();
    // A document built in memory (not parsed from text) holds non-negative numbers as signed.
    if (v->is_number_integer() && v->get<int64_t>() >= 0) return static_cast<uint64_t>(v->get<int64_t>());
    if (v->is_number_integer()) return bad(field, "must be >= 0, got " + v->dump());
    return bad(field, "must be a non-negative integer, got " + v->dump());
}

Result<std::string> get_string(const json& obj, const char* key, const std::string& field) {
    const json* v = member(obj, key);
    if (!v) return std::string();
    if (!v->is_string()) return bad(field, "must be a string, got " + v->dump());
    return v->get<std::string>();
}

Result<bool> get_bool(const json& obj, const char* key, const std::string& field) {
    const json* v = member(obj, key);
    if (!v) return false;
    if (!v->is_boolean()) return bad(field, "must be true or false, got " + v->dump());
    return v->get<bool>();
}

// The object at obj[key], or nullptr when absent/null; an error when it is something else.
Result<const json*> get_object(const json& obj, const char* key, const std::string& field) {
    const json* v = member(obj, key);
    if (v && !v->is_object()) return bad(field, "must be an object");
    return v;
}

Result<const json*> get_array(const json& obj, const char* key, const std::string& field) {
    const json* v = member(obj, key);
    if (v && !v->is_array()) return bad(field, "must be an array");
    return v;
}

// "0-3,5,7-8" as cpuset.cpus / cpuset.mems take it.
bool valid_cpu_list(const std::string& s) {
    size_t i = 0;
    auto number = [&] {
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i > start;
    };
    for (;;) {
        if (!number()) return false;
        if (i < s.size() && s[i] == '-') {
            ++i;
            if (!number()) return false;
        }
        if (i == s.size()) return true;
        if (s[i++] != ',') return false;
    }
}

// "2MB", "1GB", "64KB": the suffix of hugetlb.<size>.max.
bool valid_page_size(const std::string& s) {
    if (s.size() < 3 || !s.ends_with("B")) return false;
    char unit = s[s.size() - 2];
    if (unit != 'K' && unit != 'M' && unit != 'G') return false;
    return std::all_of(s.begin(), s.end() - 2, [](char c) { return c >= '0' && c <= '9'; });
}

// Controllers (and the core "cgroup." files) a unified key may name.
const std::set<std::string> kUnifiedControllers = {"cgroup", "cpu",     "cpuset", "io",  "memory",
                                                   "pids",   "hugetlb", "rdma",   "misc"};
// The only core files a container's limits may set; cgroup.procs, .threads, .kill, .freeze,
// .subtree_control and .type would move, kill or reshape the container behind our back.
const std::set<std::string> kUnifiedCoreFiles = {"cgroup.max.descendants", "cgroup.max.depth"};

// ---- the parsed form: what validate checks and apply writes -----------------------------

struct DeviceWeight {
    std::string device;  // "MAJ:MIN"
    uint64_t weight = 0;  // 0: unset
    std::string field;
};

struct DeviceLimit {
    std::string device;  // "MAJ:MIN"
    std::vector<std::pair<std::string, uint64_t>> limits;  // ("rbps", rate) ...
    std::string field;
};

struct Parsed {
    struct Memory {
        int64_t limit = 0, reservation = 0, swap = 0;  // 0: unset (runc)
        bool swap_given = false;
        bool kernel = false;
        bool swappiness = false;
        bool disable_oom_killer = false;
        bool check_before_update = false;
    };
    struct Cpu {
        uint64_t shares = 0;  // 0: unset
        int64_t quota = 0;    // 0: unset
        uint64_t period = 0;  // 0: unset
        std::optional<uint64_t> burst;
        std::optional<int64_t> idle;
        std::string cpus, mems;
        bool realtime = false;
    };
    struct Io {
        uint64_t weight = 0;  // 0: unset
        bool leaf_weight = false;
        std::vector<DeviceWeight> device_weights;
        std::vector<DeviceLimit> device_limits;
    };
    std::optional<Memory> memory;
    std::optional<Cpu> cpu;
    std::optional<int64_t> pids;
    std::optional<Io> io;
    std::vector<std::pair<std::string, uint64_t>> hugepages;  // page size, limit
    std::vector<std::pair<std::string, std::string>> rdma;     // rdma.max lines: device, limits
    bool network = false;
    std::vector<std::pair<std::string, std::string>> unified;
};

Result<Parsed::Memory> parse_memory(const json& m, const std::string& f) {
    Parsed::Memory out;
    for (auto [key, dest] : {std::pair{"limit", &out.limit}, {"reservation", &out.reservation}, {"swap", &out.swap}}) {
        std::string field = f + "." + key;
        SKIFF_TRY(v, get_int(m, key, field));
        if (!v) continue;
        if (*v < -1) return bad(field, "must be -1 (unlimited) or a byte count >= 0, got " + std::to_string(*v));
        *dest = *v;
        if (dest == &out.swap) out.swap_given = true;
    }
    if (out.swap_given) {
        if (auto r = memory_swap_to_v2(out.swap, out.limit); !r) return bad(f + ".swap", r.error().what);
    }
    SKIFF_TRY(kernel, get_int(m, "kernel", f + ".kernel"));
    SKIFF_TRY(kernel_tcp, get_int(m, "kernelTCP", f + ".kernelTCP"));
    out.kernel = kernel.has_value() || kernel_tcp.has_value();
    SKIFF_TRY(swappiness, get_uint(m, "swappiness", f + ".swappiness"));
    if (swappiness && *swappiness > 100)
        return bad(f + ".swappiness", "must be between 0 and 100, got " + std::to_string(*swappiness));
    out.swappiness = swappiness.has_value();
    SKIFF_TRY(disable_oom, get_bool(m, "disableOOMKiller", f + ".disableOOMKiller"));
    out.disable_oom_killer = disable_oom;
    SKIFF_TRY(check, get_bool(m, "checkBeforeUpdate", f + ".checkBeforeUpdate"));
    out.check_before_update = check;
    SKIFF_CHECK(get_bool(m, "useHierarchy", f + ".useHierarchy"));  // v2 is always hierarchical
    return out;
}

Result<Parsed::Cpu> parse_cpu(const json& c, const std::string& f) {
    Parsed::Cpu out;
    SKIFF_TRY(shares, get_uint(c, "shares", f + ".shares"));
    if (shares && *shares != 0 && (*shares < 2 || *shares > 262144))
        return bad(f + ".shares", "must be between 2 and 262144, got " + std::to_string(*shares));
    out.shares = shares.value_or(0);
    SKIFF_TRY(quota, get_int(c, "quota", f + ".quota"));
    if (quota && (*quota < -1 || (*quota > 0 && *quota < 1000)))
        return bad(f + ".quota", "must be -1 (unlimited) or at least 1000 microseconds, got " + std::to_string(*quota));
    out.quota = quota.value_or(0);
    SKIFF_TRY(period, get_uint(c, "period", f + ".period"));
    // The kernel's bounds for a CFS period: 1 ms to 1 s.
    if (period && (*period < 1000 || *period > 1000000))
        return bad(f + ".period", "must be between 1000 and 1000000 microseconds, got " + std::to_string(*period));
    out.period = period.value_or(0);
    SKIFF_TRY(burst, get_uint(c, "burst", f + ".burst"));
    out.burst = burst;
    SKIFF_TRY(idle, get_int(c, "idle", f + ".idle"));
    if (idle && *idle != 0 && *idle != 1) return bad(f + ".idle", "must be 0 or 1, got " + std::to_string(*idle));
    out.idle = idle;
    for (auto [key, dest] : {std::pair{"cpus", &out.cpus}, {"mems", &out.mems}}) {
        std::string field = f + "." + key;
        SKIFF_TRY(list, get_string(c, key, field));
        if (!list.empty() && !valid_cpu_list(list))
            return bad(field, "must be a list such as \"0-3,5\", got \"" + list + "\"");
        *dest = list;
    }
    SKIFF_TRY(rt_runtime, get_int(c, "realtimeRuntime", f + ".realtimeRuntime"));
    SKIFF_TRY(rt_period, get_uint(c, "realtimePeriod", f + ".realtimePeriod"));
    out.realtime = rt_runtime.has_value() || rt_period.has_value();
    return out;
}

Result<uint64_t> parse_blkio_weight(const json& obj, const char* key, const std::string& field) {
    SKIFF_TRY(w, get_uint(obj, key, field));
    if (w && *w != 0 && (*w < 10 || *w > 1000))
        return bad(field, "must be between 10 and 1000, got " + std::to_string(*w));
    return w.value_or(0);
}

Result<std::string> parse_device(const json& d, const std::string& f) {
    if (!d.is_object()) return bad(f, "must be an object");
    SKIFF_TRY(major, get_int(d, "major", f + ".major"));
    SKIFF_TRY(minor, get_int(d, "minor", f + ".minor"));
    if (!major) return bad(f + ".major", "required");
    if (!minor) return bad(f + ".minor", "required");
    if (*major < 0) return bad(f + ".major", "must be >= 0");
    if (*minor < 0) return bad(f + ".minor", "must be >= 0");
    return std::to_string(*major) + ":" + std::to_string(*minor);
}

Result<Parsed::Io> parse_io(const json& b, const std::string& f) {
    Parsed::Io out;
    SKIFF_TRY(weight, parse_blkio_weight(b, "weight", f + ".weight"));
    out.weight = weight;
    SKIFF_TRY(leaf, parse_blkio_weight(b, "leafWeight", f + ".leafWeight"));
    out.leaf_weight = leaf != 0;
    SKIFF_TRY(devices, get_array(b, "weightDevice", f + ".weightDevice"));
    if (devices) {
        for (size_t i = 0; i < devices->size(); ++i) {
            std::string field = f + ".weightDevice[" + std::to_string(i) + "]";
            const json& d = (*devices)[i];
            SKIFF_TRY(device, parse_device(d, field));
            SKIFF_TRY(w, parse_blkio_weight(d, "weight", field + ".weight"));
            DeviceWeight dw{device, w, field};
            SKIFF_TRY(lw, parse_blkio_weight(d, "leafWeight", field + ".leafWeight"));
            out.leaf_weight = out.leaf_weight || lw != 0;
            out.device_weights.push_back(dw);
        }
    }
    // io.max takes every limit of one device on one line; group them in spec order.
    const std::pair<const char*, const char*> throttles[] = {{"throttleReadBpsDevice", "rbps"},
                                                             {"throttleWriteBpsDevice", "wbps"},
                                                             {"throttleReadIOPSDevice", "riops"},
                                                             {"throttleWriteIOPSDevice", "wiops"}};
    for (auto [key, io_key] : throttles) {
        std::string list_field = f + "." + key;
        SKIFF_TRY(list, get_array(b, key, list_field));
        if (!list) continue;
        for (size_t i = 0; i < list->size(); ++i) {
            std::string field = list_field + "[" + std::to_string(i) + "]";
            SKIFF_TRY(device, parse_device((*list)[i], field));
            SKIFF_TRY(rate, get_uint((*list)[i], "rate", field + ".rate"));
            if (!rate) return bad(field + ".rate", "required");
            auto it = std::find_if(out.device_limits.begin(), out.device_limits.end(),
                                   [&](const DeviceLimit& l) { return l.device == device; });
            if (it == out.device_limits.end()) {
                out.device_limits.push_back(DeviceLimit{device, {}, field});
                it = out.device_limits.end() - 1;
            }
            it->limits.emplace_back(io_key, *rate);
        }
    }
    return out;
}

Status parse_hugepages(const json& list, const std::string& f, Parsed& out) {
    for (size_t i = 0; i < list.size(); ++i) {
        std::string field = f + "[" + std::to_string(i) + "]";
        const json& h = list[i];
        if (!h.is_object()) return bad(field, "must be an object");
        SKIFF_TRY(size, get_string(h, "pageSize", field + ".pageSize"));
        if (!valid_page_size(size))
            return bad(field + ".pageSize", "must be a size such as \"2MB\" or \"1GB\", got \"" + size + "\"");
        SKIFF_TRY(limit, get_uint(h, "limit", field + ".limit"));
        if (!limit) return bad(field + ".limit", "required");
        out.hugepages.emplace_back(size, *limit);
    }
    return ok();
}

Status parse_rdma(const json& rdma, const std::string& f, Parsed& out) {
    for (const auto& [device, limits] : rdma.items()) {
        std::string field = f + "." + device;
        if (device.empty() || device.find_first_of(" \t\n=") != std::string::npos)
            return bad(field, "not a valid rdma device name");
        if (!limits.is_object()) return bad(field, "must be an object");
        std::string line;
        for (auto [key, file_key] : {std::pair{"hcaHandles", "hca_handle"}, {"hcaObjects", "hca_object"}}) {
            SKIFF_TRY(v, get_uint(limits, key, field + "." + key));
            if (v && *v > std::numeric_limits<uint32_t>::max()) return bad(field + "." + key, "too large");
            if (v) line += std::string(line.empty() ? "" : " ") + file_key + "=" + std::to_string(*v);
        }
        if (!line.empty()) out.rdma.emplace_back(device, line);
    }
    return ok();
}

Status parse_unified(const json& unified, const std::string& f, Parsed& out) {
    for (const auto& [key, value] : unified.items()) {
        std::string field = f + ".\"" + key + "\"";
        if (key.find('/') != std::string::npos || key.find("..") != std::string::npos || key.find('\0') != std::string::npos)
            return bad(field, "must be a file name of the container's cgroup (no '/' or \"..\")");
        auto dot = key.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
            return bad(field, "must be of the form CONTROLLER.PARAMETER");
        std::string controller = key.substr(0, dot);
        if (!kUnifiedControllers.contains(controller)) return bad(field, "unknown controller \"" + controller + "\"");
        if (controller == "cgroup" && !kUnifiedCoreFiles.contains(key))
            return bad(field, "not a limit; only cgroup.max.descendants and cgroup.max.depth may be set");
        if (!value.is_string()) return bad(field, "must be a string, got " + value.dump());
        out.unified.emplace_back(key, value.get<std::string>());
    }
    return ok();
}

Result<Parsed> parse(const json& r) {
    Parsed out;
    if (r.is_null()) return out;
    if (!r.is_object()) return bad(kPrefix, "must be an object");
    const std::string p = kPrefix;
    SKIFF_TRY(memory, get_object(r, "memory", p + ".memory"));
    if (memory) {
        SKIFF_TRY(m, parse_memory(*memory, p + ".memory"));
        out.memory = m;
    }
    SKIFF_TRY(cpu, get_object(r, "cpu", p + ".cpu"));
    if (cpu) {
        SKIFF_TRY(c, parse_cpu(*cpu, p + ".cpu"));
        out.cpu = c;
    }
    SKIFF_TRY(pids, get_object(r, "pids", p + ".pids"));
    if (pids) {
        SKIFF_TRY(limit, get_int(*pids, "limit", p + ".pids.limit"));
        if (limit && *limit < -1)
            return bad(p + ".pids.limit", "must be -1 or 0 (unlimited) or a count > 0, got " + std::to_string(*limit));
        out.pids = limit;
    }
    SKIFF_TRY(blkio, get_object(r, "blockIO", p + ".blockIO"));
    if (blkio) {
        SKIFF_TRY(io, parse_io(*blkio, p + ".blockIO"));
        out.io = io;
    }
    SKIFF_TRY(huge, get_array(r, "hugepageLimits", p + ".hugepageLimits"));
    if (huge) SKIFF_CHECK(parse_hugepages(*huge, p + ".hugepageLimits", out));
    SKIFF_TRY(rdma, get_object(r, "rdma", p + ".rdma"));
    if (rdma) SKIFF_CHECK(parse_rdma(*rdma, p + ".rdma", out));
    SKIFF_TRY(network, get_object(r, "network", p + ".network"));
    out.network = network && !network->empty();
    SKIFF_TRY(unified, get_object(r, "unified", p + ".unified"));
    if (unified) SKIFF_CHECK(parse_unified(*unified, p + ".unified", out));
    SKIFF_CHECK(get_array(r, "devices", p + ".devices"));  // applied by the runtime, not here
    return out;
}

// ---- writing the group ------------------------------------------------------------------

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// A controller list file ("cpu io memory"); empty when the file is missing.
std::vector<std::string> read_list(const std::string& path) {
    auto text = read_file_limited(path, 4096);
    return text ? words(*text) : std::vector<std::string>{};
}

// Turn on `wanted` controllers in the subtree_control of the root and of every group between
// it and `group`, so `group` can use them. Only what each level offers is asked for, and
// what is on already is left alone (no write at all to a level that needs nothing). A level
// that refuses (EBUSY: it holds processes; EPERM: not delegated) is not an error here: the
// caller warns about each controller the group still lacks.
void enable_controllers(const Group& group, const std::vector<std::string>& wanted) {
    std::vector<std::string> levels{group.root()};
    std::string rel = group.relative();
    for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1))
        levels.push_back(path_join(group.root(), rel.substr(0, slash)));
    for (const auto& dir : levels) {
        auto offered = read_list(path_join(dir, "cgroup.controllers"));
        auto enabled = read_list(path_join(dir, "cgroup.subtree_control"));
        std::vector<std::string> add;
        for (const auto& c : wanted)
            if (contains(offered, c) && !contains(enabled, c)) add.push_back("+" + c);
        if (add.empty()) continue;
        std::string file = path_join(dir, "cgroup.subtree_control");
        std::string all;
        for (const auto& a : add) all += (all.empty() ? "" : " ") + a;
        // All at once is one write; the kernel applies it all or nothing, so on failure
        // retry one by one to get whatever can be had (runc does the same).
        if (!write_file(file, all))
            for (const auto& a : add) (void)write_file(file, a);
    }
}

class Writer {
public:
    Writer(const Group& group, std::vector<std::string>& warnings, std::vector<std::string> usable)
        : group_(group), warnings_(warnings), usable_(std::move(usable)) {}

    bool usable(const std::string& controller) const { return contains(usable_, controller); }
    bool has_file(const std::string& file) const { return path_exists(path(file)); }
    std::string path(const std::string& file) const { return path_join(group_.path(), file); }
    void warn(const std::string& message) { warnings_.push_back(message); }

    // Write `value` to `file`; the error names the spec field it came from.
    Status set(const std::string& field, const std::string& file, const std::string& value) const {
        if (auto r = write_file(path(file), value); !r)
            return std::unexpected(Error{r.error().code, field + ": set " + file + " to \"" + value + "\" in " + group_.path()});
        return ok();
    }

    const Group& group() const { return group_; }

private:
    const Group& group_;
    std::vector<std::string>& warnings_;
    std::vector<std::string> usable_;
};

// runc's numToStr: -1 is "max", 0 "leave alone".
std::string limit_string(int64_t v) { return v == -1 ? "max" : v == 0 ? "" : std::to_string(v); }

Status apply_pids(Writer& w, const Parsed& p) {
    if (!p.pids || !w.usable("pids")) return ok();
    // runc <= 1.3: 0 and -1 both lift the limit. (runc 1.4 follows runtime-spec 1.2.1's
    // newer reading and makes 0 a limit of 1.)
    std::string value = *p.pids > 0 ? std::to_string(*p.pids) : "max";
    return w.set(std::string(kPrefix) + ".pids.limit", "pids.max", value);
}

Status apply_memory(Writer& w, const Parsed& p) {
    if (!p.memory) return ok();
    const auto& m = *p.memory;
    const std::string f = std::string(kPrefix) + ".memory";
    // No v2 equivalents. memory.oom.group is not one: it makes the OOM killer take the
    // whole group, where disableOOMKiller asked for no killing at all.
    if (m.disable_oom_killer)
        w.warn("Your kernel does not support OomKillDisable (cgroup v2 has no such knob). OomKillDisable discarded.");
    if (m.kernel) w.warn("Kernel memory limits are not supported on cgroup v2. Limitation discarded.");
    if (m.swappiness) w.warn("Memory swappiness is not supported on cgroup v2. Limitation discarded.");
    if ((m.limit == 0 && m.reservation == 0 && m.swap == 0) || !w.usable("memory")) return ok();

    if (m.check_before_update && m.limit > 0) {
        // runc's CheckMemoryUsage: refuse a limit the container is already above.
        uint64_t current = 0;
        auto text = read_file_limited(w.path("memory.current"), 64);
        if (text && std::from_chars(text->data(), text->data() + text->size(), current).ec == std::errc()) {
            if (current >= static_cast<uint64_t>(m.limit))
                return bad(f + ".limit", "rejecting memory limit " + std::to_string(m.limit) +
                                             " below the current usage " + std::to_string(current));
        }
    }

    SKIFF_TRY(swap, memory_swap_to_v2(m.swap, m.limit));
    std::string swap_value = limit_string(swap);
    // swap == limit: no swap at all.
    if (swap_value.empty() && swap == 0 && m.swap > 0) swap_value = "0";
    if (!swap_value.empty()) {
        if (!w.has_file("memory.swap.max")) {
            // No swap accounting in this kernel. Lifting or disabling swap is moot then.
            if (swap_value != "max" && swap_value != "0")
                w.warn("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
        } else {
            SKIFF_CHECK(w.set(f + ".swap", "memory.swap.max", swap_value));
        }
    }
    if (auto v = limit_string(m.limit); !v.empty()) SKIFF_CHECK(w.set(f + ".limit", "memory.max", v));
    if (auto v = limit_string(m.reservation); !v.empty()) SKIFF_CHECK(w.set(f + ".reservation", "memory.low", v));
    return ok();
}

// io.bfq.weight takes per-device weights too from kernel 5.4; older ones read back a
// single number (runc's bfqDeviceWeightSupported).
bool bfq_per_device(const Writer& w) {
    auto text = read_file_limited(w.path("io.bfq.weight"), 4096);
    if (!text) return false;
    auto ws = words(*text);
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    return !(ws.size() == 1 && std::all_of(ws[0].begin(), ws[0].end(), digit));
}

Status apply_io(Writer& w, const Parsed& p) {
    if (!p.io) return ok();
    const auto& io = *p.io;
    const std::string f = std::string(kPrefix) + ".blockIO";
    if (io.leaf_weight) w.warn("Block I/O leaf weights are not supported on cgroup v2. Limitation discarded.");
    if (!w.usable("io")) return ok();
    // The BFQ scheduler's weight has blkio's own range; io.weight (iocost) needs converting.
    bool bfq = w.has_file("io.bfq.weight");
    if (io.weight != 0) {
        if (bfq)
            SKIFF_CHECK(w.set(f + ".weight", "io.bfq.weight", std::to_string(io.weight)));
        else
            SKIFF_CHECK(w.set(f + ".weight", "io.weight", "default " + std::to_string(blkio_weight_to_io_weight(io.weight))));
    }
    bool bfq_devices = bfq && bfq_per_device(w);
    for (const auto& d : io.device_weights) {
        if (d.weight == 0) continue;
        // runc drops per-device weights without BFQ; iocost's io.weight takes them too.
        if (bfq_devices)
            SKIFF_CHECK(w.set(d.field + ".weight", "io.bfq.weight", d.device + " " + std::to_string(d.weight)));
        else
            SKIFF_CHECK(w.set(d.field + ".weight", "io.weight",
                              d.device + " " + std::to_string(blkio_weight_to_io_weight(d.weight))));
    }
    for (const auto& d : io.device_limits) {
        std::string line = d.device;
        for (const auto& [key, rate] : d.limits) line += " " + key + "=" + std::to_string(rate);
        SKIFF_CHECK(w.set(d.field, "io.max", line));
    }
    return ok();
}

Status apply_cpu(Writer& w, const Parsed& p) {
    if (!p.cpu) return ok();
    const auto& c = *p.cpu;
    const std::string f = std::string(kPrefix) + ".cpu";
    if (c.realtime) w.warn("Realtime CPU scheduling is not supported on cgroup v2. Limitation discarded.");
    if (!w.usable("cpu")) return ok();
    if (c.idle) SKIFF_CHECK(w.set(f + ".idle", "cpu.idle", std::to_string(*c.idle)));
    if (c.shares != 0) SKIFF_CHECK(w.set(f + ".shares", "cpu.weight", std::to_string(cpu_shares_to_weight(c.shares))));
    bool set_max = c.quota != 0 || c.period != 0;
    std::string burst_retry;
    if (c.burst) {
        std::string burst = std::to_string(*c.burst);
        // A burst above the current quota is EINVAL until the new quota is in: retry after.
        auto r = w.set(f + ".burst", "cpu.max.burst", burst);
        if (!r && !(r.error().code == EINVAL && set_max)) return r;
        if (!r) burst_retry = burst;
    }
    if (set_max) {
        SKIFF_CHECK(w.set(c.quota != 0 ? f + ".quota" : f + ".period", "cpu.max", cpu_max_value(c.quota, c.period)));
        if (!burst_retry.empty()) SKIFF_CHECK(w.set(f + ".burst", "cpu.max.burst", burst_retry));
    }
    return ok();
}

Status apply_cpuset(Writer& w, const Parsed& p) {
    if (!p.cpu || !w.usable("cpuset")) return ok();
    const std::string f = std::string(kPrefix) + ".cpu";
    if (!p.cpu->cpus.empty()) SKIFF_CHECK(w.set(f + ".cpus", "cpuset.cpus", p.cpu->cpus));
    if (!p.cpu->mems.empty()) SKIFF_CHECK(w.set(f + ".mems", "cpuset.mems", p.cpu->mems));
    return ok();
}

Status apply_hugetlb(Writer& w, const Parsed& p) {
    if (p.hugepages.empty() || !w.usable("hugetlb")) return ok();
    for (size_t i = 0; i < p.hugepages.size(); ++i) {
        const auto& [size, limit] = p.hugepages[i];
        std::string field = std::string(kPrefix) + ".hugepageLimits[" + std::to_string(i) + "]";
        std::string prefix = "hugetlb." + size;
        if (!w.has_file(prefix + ".max"))
            return bad(field + ".pageSize", "huge page size " + size + " is not supported by this kernel");
        SKIFF_CHECK(w.set(field + ".limit", prefix + ".max", std::to_string(limit)));
        // Reservations (5.7+) are limited alike, so a mapping cannot reserve past the limit.
        if (w.has_file(prefix + ".rsvd.max")) SKIFF_CHECK(w.set(field + ".limit", prefix + ".rsvd.max", std::to_string(limit)));
    }
    return ok();
}

Status apply_rdma(Writer& w, const Parsed& p) {
    if (p.rdma.empty() || !w.usable("rdma")) return ok();
    for (const auto& [device, limits] : p.rdma)
        SKIFF_CHECK(w.set(std::string(kPrefix) + ".rdma." + device, "rdma.max", device + " " + limits));
    return ok();
}

Status apply_unified(Writer& w, const Parsed& p) {
    for (const auto& [key, value] : p.unified) {
        std::string field = std::string(kPrefix) + ".unified.\"" + key + "\"";
        std::string controller = key.substr(0, key.find('.'));
        if (controller != "cgroup" && !w.usable(controller)) continue;  // warned already
        if (!w.has_file(key)) return bad(field, "no such file in cgroup " + w.group().path());
        // Several lines (io.max for two devices) are several writes, as runc does it.
        std::istringstream lines(value);
        bool wrote = false;
        for (std::string line; std::getline(lines, line);) {
            if (line.empty()) continue;
            SKIFF_CHECK(w.set(field, key, line));
            wrote = true;
        }
        if (!wrote) SKIFF_CHECK(w.set(field, key, value));
    }
    return ok();
}

}  // namespace

// runc <= 1.3.1's formula, kept for now; runc 1.3.2+ fits a quadratic through the
// defaults instead (1024 -> 100, cgroup v2's own default).
uint64_t cpu_shares_to_weight(uint64_t shares) {
    if (shares == 0) return 0;
    if (shares <= 2) return 1;
    if (shares >= 262144) return 10000;
    return 1 + ((shares - 2) * 9999) / 262142;
}

Result<int64_t> memory_swap_to_v2(int64_t memory_swap, int64_t memory) {
    // Unlimited memory with swap unset means both unlimited, as cgroup v1 behaved.
    if (memory == -1 && memory_swap == 0) return -1;
    if (memory_swap == -1 || memory_swap == 0) return memory_swap;
    if (memory == -1) return memory_swap;
    if (memory == 0) return fail("unable to set swap limit without memory limit");
    if (memory < 0) return fail("invalid memory value: " + std::to_string(memory));
    if (memory_swap < memory) return fail("memory+swap limit should be >= memory limit");
    return memory_swap - memory;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
    if (weight == 0) return 0;
    return 1 + (weight - 10) * 9999 / 990;
}

std::string cpu_max_value(int64_t quota, uint64_t period) {
    // The kernel's default period (Documentation/admin-guide/cgroup-v2.rst).
    if (period == 0) period = 100000;
    return (quota > 0 ? std::to_string(quota) : std::string("max")) + " " + std::to_string(period);
}

Status validate_resources(const nlohmann::json& linux_resources) {
    SKIFF_CHECK(parse(linux_resources));
    return ok();
}

Status apply_resources(const Group& group, const nlohmann::json& linux_resources,
                       std::vector<std::string>& warnings) {
    SKIFF_TRY(parsed, parse(linux_resources));
    if (parsed.network)
        warnings.push_back("Network classes and priorities (net_cls, net_prio) do not exist on cgroup v2. Limitation discarded.");
    auto wanted = requested_controllers(linux_resources);
    if (wanted.empty()) return ok();
    if (!group.exists()) return sys_error(ENOENT, "apply linux.resources: cgroup " + group.path());

    enable_controllers(group, wanted);
    // The group's own cgroup.controllers is what it may use now, whatever the reason for a
    // gap (kernel without it, not delegated to us, an ancestor refusing).
    auto usable = read_list(path_join(group.path(), "cgroup.controllers"));
    for (const auto& c : wanted)
        if (!contains(usable, c))
            warnings.push_back("Your kernel does not support " + c +
                               " limit capabilities or the cgroup is not mounted. Limitation discarded.");

    Writer w(group, warnings, usable);
    // runc's order: pids first (cheap, and stops a fork bomb soonest), unified last so its
    // raw values win over the converted ones.
    SKIFF_CHECK(apply_pids(w, parsed));
    SKIFF_CHECK(apply_memory(w, parsed));
    SKIFF_CHECK(apply_io(w, parsed));
    SKIFF_CHECK(apply_cpu(w, parsed));
    SKIFF_CHECK(apply_cpuset(w, parsed));
    SKIFF_CHECK(apply_hugetlb(w, parsed));
    SKIFF_CHECK(apply_rdma(w, parsed));
    SKIFF_CHECK(apply_unified(w, parsed));
    return ok();
}

}  // namespace skiff::cgroups
