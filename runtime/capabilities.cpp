#include "runtime/capabilities.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <memory>

#include "common/fs.hpp"

namespace skiff::runtime {

namespace {

// Our own table (index = capability number) so every name up to CAP_CHECKPOINT_RESTORE is
// known even when the installed libcap predates it.
constexpr std::array<std::string_view, 41> kCapNames = {
    "CAP_CHOWN",              // 0
    "CAP_DAC_OVERRIDE",       // 1
    "CAP_DAC_READ_SEARCH",    // 2
    "CAP_FOWNER",             // 3
    "CAP_FSETID",             // 4
    "CAP_KILL",               // 5
    "CAP_SETGID",             // 6
    "CAP_SETUID",             // 7
    "CAP_SETPCAP",            // 8
    "CAP_LINUX_IMMUTABLE",    // 9
    "CAP_NET_BIND_SERVICE",   // 10
    "CAP_NET_BROADCAST",      // 11
    "CAP_NET_ADMIN",          // 12
    "CAP_NET_RAW",            // 13
    "CAP_IPC_LOCK",           // 14
    "CAP_IPC_OWNER",          // 15
    "CAP_SYS_MODULE",         // 16
    "CAP_SYS_RAWIO",          // 17
    "CAP_SYS_CHROOT",         // 18
    "CAP_SYS_PTRACE",         // 19
    "CAP_SYS_PACCT",          // 20
    "CAP_SYS_ADMIN",          // 21
    "CAP_SYS_BOOT",           // 22
    "CAP_SYS_NICE",           // 23
    "CAP_SYS_RESOURCE",       // 24
    "CAP_SYS_TIME",           // 25
    "CAP_SYS_TTY_CONFIG",     // 26
    "CAP_MKNOD",              // 27
    "CAP_LEASE",              // 28
    "CAP_AUDIT_WRITE",        // 29
    "CAP_AUDIT_CONTROL",      // 30
    "CAP_SETFCAP",            // 31
    "CAP_MAC_OVERRIDE",       // 32
    "CAP_MAC_ADMIN",          // 33
    "CAP_SYSLOG",             // 34
    "CAP_WAKE_ALARM",         // 35
    "CAP_BLOCK_SUSPEND",      // 36
    "CAP_AUDIT_READ",         // 37
    "CAP_PERFMON",            // 38
    "CAP_BPF",                // 39
    "CAP_CHECKPOINT_RESTORE", // 40
};
constexpr int kTableLast = static_cast<int>(kCapNames.size()) - 1;
// Capability sets are 64 bits wide in the kernel ABI; nothing can exist above 63.
constexpr int kMaxCapBits = 64;

std::string to_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// libcap's name for a capability beyond our table, or "" when libcap has none
// (cap_to_name then returns just the number).
std::string libcap_name(int cap) {
    std::unique_ptr<char, int (*)(void*)> raw(cap_to_name(static_cast<cap_value_t>(cap)),
                                              cap_free);
    if (!raw) return {};
    std::string_view name(raw.get());
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return {};
    return to_upper(name);
}

struct CapFree {
    void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

Status set_flags(cap_t caps, cap_flag_t flag, const std::vector<int>& list, int last) {
    std::vector<cap_value_t> values;
    for (int c : list) {
        if (c >= 0 && c <= last) values.push_back(static_cast<cap_value_t>(c));
    }
    if (values.empty()) return ok();
    if (cap_set_flag(caps, flag, static_cast<int>(values.size()), values.data(), CAP_SET) != 0)
        return sys_error("cap_set_flag");
    return ok();
}

bool contains(const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

std::optional<int> capability_from_name(std::string_view name) {
    std::string upper = to_upper(name);
    if (!upper.starts_with("CAP_") || upper.size() == 4) return std::nullopt;
    for (int i = 0; i <= kTableLast; ++i) {
        if (kCapNames[i] == upper) return i;
    }
    // A libcap newer than this table may know more. cap_from_name also accepts bare
    // numbers, but the prefix check above already rules those out.
    cap_value_t value = 0;
    if (cap_from_name(to_lower(upper).c_str(), &value) == 0 && value > kTableLast &&
        value < kMaxCapBits)
        return static_cast<int>(value);
    return std::nullopt;
}

std::string capability_name(int cap) {
    if (cap >= 0 && cap <= kTableLast) return std::string(kCapNames[cap]);
    if (cap > kTableLast && cap < kMaxCapBits) {
        std::string name = libcap_name(cap);
        if (!name.empty()) return name;
    }
    return "CAP_" + std::to_string(cap);
}

std::vector<std::string> all_capability_names() {
    std::vector<std::string> names(kCapNames.begin(), kCapNames.end());
    for (int cap = kTableLast + 1; cap < kMaxCapBits; ++cap) {
        std::string name = libcap_name(cap);
        if (name.empty()) break;
        names.push_back(std::move(name));
    }
    return names;
}

int last_kernel_capability() {
    // Function-local static: the kernel's answer cannot change while we run.
    static const int last = [] {
        auto text = read_file_limited("/proc/sys/kernel/cap_last_cap", 64);
        if (text) {
            int value = -1;
            const char* begin = text->data();
            const char* end = begin + text->size();
            auto [ptr, ec] = std::from_chars(begin, end, value);
            if (ec == std::errc() && ptr != begin && value >= 0 && value < kMaxCapBits)
                return value;
        }
        return static_cast<int>(CAP_LAST_CAP);
    }();
    return last;
}

Status drop_bounding_set(const std::vector<int>& bounding) {
    const int last = last_kernel_capability();
    for (int cap = 0; cap <= last; ++cap) {
        if (contains(bounding, cap)) continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            int err = errno;
            // EINVAL: the kernel does not know this capability, so it cannot be held.
            if (err == EINVAL) continue;
            return sys_error(err, "drop " + capability_name(cap) + " from the bounding set");
        }
    }
    return ok();
}

Status apply_process_capabilities(const Capabilities& caps) {
    const int last = last_kernel_capability();

    CapPtr state(cap_init());
    if (!state) return sys_error("cap_init");
    SKIFF_CHECK(set_flags(state.get(), CAP_EFFECTIVE, caps.effective, last));
    SKIFF_CHECK(set_flags(state.get(), CAP_PERMITTED, caps.permitted, last));
    SKIFF_CHECK(set_flags(state.get(), CAP_INHERITABLE, caps.inheritable, last));
    if (cap_set_proc(state.get()) != 0)
        return sys_error("set effective/permitted/inheritable capabilities");

    // Start from an empty ambient set so nothing inherited from the runtime leaks through.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        return sys_error("clear ambient capabilities");
    for (int cap : caps.ambient) {
        if (cap < 0 || cap > last) continue;
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
            int err = errno;
            // The kernel's usual reason (EPERM) is not obvious from the errno alone.
            return sys_error(err, "raise ambient capability " + capability_name(cap) +
                             " (it must also be in the permitted and inheritable sets)");
        }
    }
    return ok();
}

}  // namespace skiff::runtime
