#include "engine/spec_builder.hpp"

#include <fcntl.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <map>
#include <set>
#include <utility>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/path.hpp"
#include "engine/default_seccomp.hpp"

namespace skiff::engine {

namespace {

using nlohmann::json;

constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char* kInitDestination = "/sbin/docker-init";
constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's linuxMinMemory
constexpr int64_t kCpuPeriod = 100000;            // Docker's CFS period for --cpus
constexpr size_t kMaxUserFileBytes = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Small string helpers

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t pos = text.find(sep, start);
        parts.emplace_back(text.substr(start, pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return parts;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

// ---------------------------------------------------------------------------------------
// Capabilities

// Numbered as in linux/capability.h.
constexpr std::array<std::string_view, 41> kAllCapabilities = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",          "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",       "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",     "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",   "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",     "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",    "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

// Docker's default set, in Docker's order.
constexpr std::array<std::string_view, 14> kDefaultCapabilities = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",   "CAP_AUDIT_WRITE",
};

// Docker's "all capabilities" are those the running kernel has, limited (as containerd and
// podman do) to the ones skiff itself may hand on: its bounding set. On a host that withholds
// one (this VM has no CAP_SYS_RESOURCE) --privileged would otherwise fail to start at all.
std::vector<std::string> kernel_capabilities() {
    size_t last = kAllCapabilities.size() - 1;
    if (auto text = read_file_limited("/proc/sys/kernel/cap_last_cap", 32)) {
        std::string trimmed = *text;
        while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
        if (auto n = parse_number<size_t>(trimmed)) last = std::min(last, *n);
    }
    uint64_t bounding = ~uint64_t{0};
    if (auto status = read_file_limited("/proc/self/status", 1 << 16)) {
        auto at = status->find("CapBnd:\t");
        if (at != std::string::npos) bounding = std::stoull(status->substr(at + 8, 16), nullptr, 16);
    }
    std::vector<std::string> out;
    for (size_t i = 0; i <= last; ++i)
        if (i >= 64 || (bounding >> i) & 1) out.emplace_back(kAllCapabilities[i]);
    return out;
}

// "net_admin" -> "CAP_NET_ADMIN"; "ALL" stays.
Result<std::vector<std::string>> normalize_capabilities(const std::vector<std::string>& names,
                                                        const std::vector<std::string>& valid) {
    std::vector<std::string> out;
    for (const auto& name : names) {
        std::string cap = upper(name);
        if (cap == "ALL") {
            out.push_back(cap);
            continue;
        }
        if (!cap.starts_with("CAP_")) cap.insert(0, "CAP_");
        if (!contains(valid, cap)) return fail("unknown capability: \"" + cap + "\"");
        out.push_back(std::move(cap));
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Sizes and numbers

// go-units: multipliers of 1024 for k, m, g, t, p.
std::optional<int64_t> ram_multiplier(char unit) {
    switch (unit) {
        case 'k': return int64_t(1) << 10;
        case 'm': return int64_t(1) << 20;
        case 'g': return int64_t(1) << 30;
        case 't': return int64_t(1) << 40;
        case 'p': return int64_t(1) << 50;
        default: return std::nullopt;
    }
}

// Docker's tmpfs size rendering: the largest of g/m/k that divides evenly.
std::string size_option(int64_t bytes) {
    for (auto [suffix, divisor] : {std::pair{"g", int64_t(1) << 30}, {"m", int64_t(1) << 20},
                                   {"k", int64_t(1) << 10}})
        if (bytes % divisor == 0) return "size=" + std::to_string(bytes / divisor) + suffix;
    return "size=" + std::to_string(bytes);
}

// ---------------------------------------------------------------------------------------
// Mount helpers

const std::set<std::string>& propagation_modes() {
    static const std::set<std::string> modes = {"private", "rprivate", "shared",
                                                "rshared", "slave",    "rslave"};
    return modes;
}

// The paths Docker refuses as a mount target.
Status check_target(const std::string& target) {
    if (target.empty() || target.front() != '/')
        return fail("invalid mount path: '" + target + "' mount path must be absolute");
    if (clean_path(target) == "/") return fail("invalid specification: destination can't be '/'");
    return ok();
}

std::string mount_config_error(const std::string& type, const std::string& what) {
    return "invalid mount config for type \"" + type + "\": " + what;
}

// Docker's volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (one character is allowed too).
bool valid_volume_name(const std::string& name) {
    auto ok_first = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    auto ok_rest = [&](char c) { return ok_first(c) || c == '_' || c == '.' || c == '-'; };
    return !name.empty() && ok_first(name[0]) && std::all_of(name.begin() + 1, name.end(), ok_rest);
}

// Classification of one -v mode word, for "one of each kind".
enum class ModeKind { rw, label, propagation, copy, consistency, invalid };

ModeKind mode_kind(const std::string& word) {
    if (word == "ro" || word == "rw") return ModeKind::rw;
    if (word == "z" || word == "Z") return ModeKind::label;
    if (propagation_modes().contains(word)) return ModeKind::propagation;
    if (word == "nocopy") return ModeKind::copy;
    if (word == "consistent" || word == "cached" || word == "delegated") return ModeKind::consistency;
    return ModeKind::invalid;
}

bool valid_mount_mode(const std::string& mode) {
    if (mode.empty()) return true;
    std::map<ModeKind, int> counts;
    for (const auto& word : split(mode, ',')) {
        ModeKind kind = mode_kind(word);
        if (kind == ModeKind::invalid || ++counts[kind] > 1) return false;
    }
    return true;
}

// mount(8) flag words that cancel each other; the later one wins (Docker's
// MergeTmpfsOptions keeps the last of each).
std::string option_group(const std::string& option) {
    static const std::map<std::string, std::string> groups = {
        {"ro", "rw"},           {"rw", "rw"},           {"suid", "suid"},
        {"nosuid", "suid"},     {"dev", "dev"},         {"nodev", "dev"},
        {"exec", "exec"},       {"noexec", "exec"},     {"sync", "sync"},
        {"async", "sync"},      {"atime", "atime"},     {"noatime", "atime"},
        {"diratime", "diratime"}, {"nodiratime", "diratime"}, {"relatime", "relatime"},
        {"norelatime", "relatime"}, {"strictatime", "strictatime"},
        {"nostrictatime", "strictatime"}, {"mand", "mand"}, {"nomand", "mand"},
    };
    if (auto it = groups.find(option); it != groups.end()) return it->second;
    if (propagation_modes().contains(option) || option == "unbindable" || option == "runbindable")
        return "propagation";
    if (auto eq = option.find('='); eq != std::string::npos) return option.substr(0, eq + 1);
    return option;
}

std::vector<std::string> merge_tmpfs_options(const std::vector<std::string>& options) {
    std::vector<std::string> kept;
    std::set<std::string> seen;
    for (auto it = options.rbegin(); it != options.rend(); ++it) {
        if (it->empty() || *it == "defaults") continue;
        if (seen.insert(option_group(*it)).second) kept.push_back(*it);
    }
    std::reverse(kept.begin(), kept.end());
    return kept;
}

json tmpfs_mount(const std::string& destination, const std::string& data) {
    // Docker's defaults for --tmpfs, then the user's options (later wins).
    std::vector<std::string> options = {"noexec", "nosuid", "nodev", "rprivate"};
    if (!data.empty())
        for (auto& option : split(data, ',')) options.push_back(std::move(option));
    return {{"destination", destination}, {"type", "tmpfs"}, {"source", "tmpfs"},
            {"options", merge_tmpfs_options(options)}};
}

json bind_mount(const std::string& source, const std::string& destination, bool read_only,
                const std::string& propagation, bool recursive = true) {
    json options = json::array({recursive ? "rbind" : "bind"});
    if (read_only) {
        options.push_back("ro");
        // Docker 25+ makes read-only binds read-only all the way down (submounts too).
        if (recursive) options.push_back("rro");
    }
    options.push_back(propagation.empty() ? "rprivate" : propagation);
    return {{"destination", destination}, {"type", "bind"}, {"source", source}, {"options", options}};
}

json simple_mount(const char* destination, const char* type, const char* source,
                  std::initializer_list<const char*> options) {
    json list = json::array();
    for (const char* o : options) list.push_back(o);
    return {{"destination", destination}, {"type", type}, {"source", source}, {"options", list}};
}

// What Docker (through runc's defaults) mounts in every container.
json default_mounts() {
    return json::array({
        simple_mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
        simple_mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        simple_mount("/dev/pts", "devpts", "devpts",
                     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        simple_mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
        simple_mount("/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}),
        simple_mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        simple_mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
    });
}

size_t path_depth(const std::string& path) {
    return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

// ---------------------------------------------------------------------------------------
// Environment

std::string env_key(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// Docker's ReplaceOrAppendEnvValues: overrides replace same-named entries in place or are
// appended; an entry without '=' removes the name.
void replace_or_append(std::vector<std::optional<std::string>>& base, const std::string& entry) {
    const std::string key = env_key(entry);
    const bool removal = entry.find('=') == std::string::npos;
    for (auto& existing : base) {
        if (existing && env_key(*existing) == key) {
            if (removal)
                existing.reset();
            else
                existing = entry;
            return;
        }
    }
    if (!removal) base.emplace_back(entry);
}

// ---------------------------------------------------------------------------------------
// passwd / group

struct PasswdEntry {
    std::string name;
    int64_t uid = -1;
    int64_t gid = -1;
    std::string home;
};

struct GroupEntry {
    std::string name;
    int64_t gid = -1;
    std::vector<std::string> members;
};

// A file of the rootfs, opened inside it. Missing -> nullopt (a minimal image has none).
Result<std::optional<std::string>> read_in_rootfs(int root_fd, const std::string& path) {
    auto fd = open_in_root(root_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (!fd) {
        if (fd.error().code == ENOENT || fd.error().code == ENOTDIR)
            return std::optional<std::string>();
        return std::unexpected(fd.error().context("open " + path + " in the container's rootfs"));
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return sys_error("stat " + path);
    // A FIFO or device planted at /etc/passwd must not hang or feed us forever.
    if (!S_ISREG(st.st_mode)) return fail(path + " in the container's rootfs is not a regular file");
    std::string text;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd->get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + path);
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxUserFileBytes) return fail(path + " in the container's rootfs is too large");
    }
    return std::optional<std::string>(std::move(text));
}

std::optional<int64_t> parse_id(std::string_view text) {
    auto n = parse_number<int64_t>(text);
    if (!n) return std::nullopt;
    return n;
}

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
    std::vector<PasswdEntry> out;
    for (const auto& line : split(text, '\n')) {
        if (line.empty() || line[0] == '#') continue;
        auto f = split(line, ':');
        PasswdEntry e;
        e.name = f[0];
        if (f.size() > 2) e.uid = parse_id(f[2]).value_or(-1);
        if (f.size() > 3) e.gid = parse_id(f[3]).value_or(-1);
        if (f.size() > 5) e.home = f[5];
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
    std::vector<GroupEntry> out;
    for (const auto& line : split(text, '\n')) {
        if (line.empty() || line[0] == '#') continue;
        auto f = split(line, ':');
        GroupEntry e;
        e.name = f[0];
        if (f.size() > 2) e.gid = parse_id(f[2]).value_or(-1);
        if (f.size() > 3 && !f[3].empty()) e.members = split(f[3], ',');
        out.push_back(std::move(e));
    }
    return out;
}

constexpr int64_t kMaxId = 2147483647;
constexpr const char* kRangeError = "uids and gids must be in range 0-2147483647";

// ---------------------------------------------------------------------------------------
// Files shared with the host

std::string hosts_file_for_none() {
    return "127.0.0.1\tlocalhost\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n"
           "fe00::0\tip6-localnet\n"
           "ff00::0\tip6-mcastprefix\n"
           "ff02::1\tip6-allnodes\n"
           "ff02::2\tip6-allrouters\n";
}

std::vector<std::string> nameservers_of(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& line : split(text, '\n')) {
        auto words = split(line, ' ');
        std::erase_if(words, [](const std::string& w) { return w.empty(); });
        if (words.size() >= 2 && words[0] == "nameserver") out.push_back(words[1]);
    }
    return out;
}

// The host's resolv.conf; behind systemd-resolved, the upstream servers it uses, since its
// 127.0.0.53 stub is unreachable from another network namespace (Docker does the same).
std::string host_resolv_text(const std::string& path) {
    std::string text = read_file_limited(path, 1 << 20).value_or("");
    if (path == "/etc/resolv.conf") {
        auto servers = nameservers_of(text);
        if (servers.size() == 1 && servers[0] == "127.0.0.53")
            if (auto upstream = read_file_limited("/run/systemd/resolve/resolv.conf", 1 << 20))
                return *upstream;
    }
    return text;
}

// --add-host NAME:IP (NAME=IP too, as Docker 25 takes it) -> {NAME, IP}; IPv6 in brackets
// loses them.
std::optional<std::pair<std::string, std::string>> split_extra_host(std::string_view text) {
    size_t cut = text.find('=');
    if (cut == std::string_view::npos) cut = text.find(':');
    if (cut == std::string_view::npos) return std::nullopt;
    std::string name(text.substr(0, cut)), ip(text.substr(cut + 1));
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    if (name.empty() || ip.empty()) return std::nullopt;
    return std::pair{name, ip};
}

// Host device nodes for --privileged, as Docker lists them (skipping what the container
// mounts itself).
void collect_host_devices(const std::string& dir, json& devices, int depth = 0) {
    static const std::set<std::string> skip = {"/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd",
                                               "/dev/console", "/dev/.lxc", "/dev/.udev"};
    if (depth > 8) return;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (struct dirent* entry = ::readdir(d)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        std::string path = dir + "/" + name;
        if (skip.contains(path)) continue;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            collect_host_devices(path, devices, depth + 1);
            continue;
        }
        const char* type = S_ISCHR(st.st_mode) ? "c" : S_ISBLK(st.st_mode) ? "b" : nullptr;
        if (!type) continue;
        devices.push_back({{"path", path}, {"type", type}, {"major", major(st.st_rdev)},
                           {"minor", minor(st.st_rdev)}, {"fileMode", st.st_mode & 07777},
                           {"uid", st.st_uid}, {"gid", st.st_gid}});
    }
    ::closedir(d);
}

int host_cpu_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Flag parsers

Result<VolumeMount> parse_volume(std::string_view text) {
    const std::string raw(text);
    const std::string invalid_spec = "invalid volume specification: '" + raw + "'";
    // At most three fields; a fourth ':' is an error, not part of the mode.
    auto fields = split(raw, ':');
    if (fields.empty() || fields[0].empty() || fields.size() > 3) return fail(invalid_spec);

    VolumeMount mount;
    mount.create_source = true;  // -v makes a missing host directory, --mount refuses
    std::string mode;
    if (fields.size() == 1) {
        mount.destination = fields[0];
    } else if (fields.size() == 2) {
        // "/data:ro" is a destination with a mode, which an anonymous volume cannot have.
        if (valid_mount_mode(fields[1])) return fail(invalid_spec);
        mount.source = fields[0];
        mount.destination = fields[1];
    } else {
        mount.source = fields[0];
        mount.destination = fields[1];
        mode = fields[2];
    }
    if (!valid_mount_mode(mode)) return fail("invalid mode: " + mode);

    mount.type = !mount.source.empty() && mount.source.front() == '/' ? "bind" : "volume";
    for (const auto& word : split(mode, ',')) {
        if (word == "ro") mount.read_only = true;
        if (word == "nocopy") mount.no_copy = true;
        if (propagation_modes().contains(word)) mount.propagation = word;
    }
    if (auto r = check_target(mount.destination); !r)
        return fail(invalid_spec + ": " + mount_config_error(mount.type, r.error().what));
    mount.destination = clean_path(mount.destination);
    if (mount.type == "bind") {
        mount.source = clean_path(mount.source);
    } else {
        if (!mount.propagation.empty())
            return fail(invalid_spec + ": " + mount_config_error("volume", "field BindOptions must not be specified"));
        if (!mount.source.empty() && !valid_volume_name(mount.source))
            return fail("create " + mount.source + ": \"" + mount.source +
                        "\" includes invalid characters for a local volume name, only "
                        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
                        "host directory, use absolute path");
        if (mount.source.empty() && mount.read_only)
            return fail(invalid_spec + ": " +
                        mount_config_error("volume", "must not set ReadOnly mode when using anonymous volumes"));
    }
    return mount;
}

Result<VolumeMount> parse_mount(std::string_view text) {
    const std::string raw(text);
    VolumeMount mount;
    mount.type = "volume";  // the CLI's default type
    bool has_volume_options = false, has_bind_options = false, has_tmpfs_options = false;
    std::optional<int64_t> tmpfs_size;
    std::optional<uint32_t> tmpfs_mode;

    auto parse_bool = [&](const std::string& key, const std::string& value) -> Result<bool> {
        std::string v = lower(value);
        if (v == "1" || v == "true") return true;
        if (v == "0" || v == "false") return false;
        return fail("invalid value for " + key + ": " + value);
    };

    for (const auto& field : split(raw, ',')) {
        if (field.empty()) continue;
        auto eq = field.find('=');
        std::string key = lower(field.substr(0, eq));
        std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
        // Flags that may stand alone.
        if (eq == std::string::npos) {
            if (key == "readonly" || key == "ro") {
                mount.read_only = true;
                continue;
            }
            if (key == "volume-nocopy") {
                mount.no_copy = true;
                has_volume_options = true;
                continue;
            }
            if (key == "bind-nonrecursive") {
                mount.non_recursive = true;
                has_bind_options = true;
                continue;
            }
            return fail("invalid field '" + field + "' must be a key=value pair");
        }
        if (key == "type") {
            if (value != "bind" && value != "volume" && value != "tmpfs")
                return fail("invalid value for 'type': " + value + " (skiff supports bind, volume, tmpfs)");
            mount.type = value;
        } else if (key == "source" || key == "src") {
            mount.source = value;
        } else if (key == "target" || key == "dst" || key == "destination") {
            mount.destination = value;
        } else if (key == "readonly" || key == "ro") {
            SKIFF_TRY(b, parse_bool(key, value));
            mount.read_only = b;
        } else if (key == "consistency") {
            // Accepted and ignored on Linux, as in Docker.
        } else if (key == "bind-propagation") {
            if (!propagation_modes().contains(value))
                return fail(mount_config_error("bind", "invalid propagation mode: " + value));
            mount.propagation = value;
            has_bind_options = true;
        } else if (key == "bind-nonrecursive") {
            SKIFF_TRY(b, parse_bool(key, value));
            mount.non_recursive = b;
            has_bind_options = true;
        } else if (key == "volume-nocopy") {
            SKIFF_TRY(b, parse_bool(key, value));
            mount.no_copy = b;
            has_volume_options = true;
        } else if (key == "volume-driver" || key == "volume-label" || key == "volume-opt" ||
                   key == "volume-subpath") {
            return fail("--mount " + key + " is not supported by skiff");
        } else if (key == "tmpfs-size") {
            auto size = parse_memory(value);
            if (!size) return fail("invalid value for " + key + ": " + value);
            tmpfs_size = *size;
            has_tmpfs_options = true;
        } else if (key == "tmpfs-mode") {
            uint32_t mode = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mode, 8);
            if (ec != std::errc() || end != value.data() + value.size() || value.empty())
                return fail("invalid value for " + key + ": " + value);
            tmpfs_mode = mode;
            has_tmpfs_options = true;
        } else {
            return fail("unexpected key '" + key + "' in '" + field + "'");
        }
    }

    if (mount.destination.empty()) return fail("target is required");
    if (mount.type == "bind" && (has_volume_options || has_tmpfs_options))
        return fail("cannot mix 'volume-*' or 'tmpfs-*' options with mount type 'bind'");
    if (mount.type == "volume" && (has_bind_options || has_tmpfs_options))
        return fail("cannot mix 'bind-*' or 'tmpfs-*' options with mount type 'volume'");
    if (mount.type == "tmpfs" && (has_bind_options || has_volume_options))
        return fail("cannot mix 'bind-*' or 'volume-*' options with mount type 'tmpfs'");

    if (auto r = check_target(mount.destination); !r)
        return fail(mount_config_error(mount.type, r.error().what));
    mount.destination = clean_path(mount.destination);

    if (mount.type == "bind") {
        if (mount.source.empty()) return fail(mount_config_error("bind", "field Source must not be empty"));
        if (mount.source.front() != '/')
            return fail(mount_config_error("bind", "invalid mount path: '" + mount.source +
                                                       "' mount path must be absolute"));
        mount.source = clean_path(mount.source);
        if (!path_exists(mount.source))
            return fail(mount_config_error("bind", "bind source path does not exist: " + mount.source));
    } else if (mount.type == "volume") {
        if (!mount.source.empty() && !valid_volume_name(mount.source))
            return fail("create " + mount.source + ": \"" + mount.source +
                        "\" includes invalid characters for a local volume name, only "
                        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed");
        if (mount.source.empty() && mount.read_only)
            return fail(mount_config_error("volume", "must not set ReadOnly mode when using anonymous volumes"));
    } else {
        if (!mount.source.empty()) return fail(mount_config_error("tmpfs", "field Source must not be specified"));
        // Docker's ConvertTmpfsOptions order: ro, mode, size.
        std::vector<std::string> data;
        if (mount.read_only) data.push_back("ro");
        if (tmpfs_mode) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "mode=%o", *tmpfs_mode);
            data.emplace_back(buf);
        }
        if (tmpfs_size && *tmpfs_size != 0) data.push_back(size_option(*tmpfs_size));
        for (size_t i = 0; i < data.size(); ++i)
            mount.tmpfs_options += (i ? "," : "") + data[i];
    }
    return mount;
}

Result<Ulimit> parse_ulimit(std::string_view text) {
    static const std::set<std::string> kNames = {"core",   "cpu",     "data",  "fsize",
                                                 "locks",  "memlock", "msgqueue", "nice",
                                                 "nofile", "nproc",   "rss",   "rtprio",
                                                 "rttime", "sigpending", "stack"};
    const std::string raw(text);
    auto eq = raw.find('=');
    if (eq == std::string::npos) return fail("invalid ulimit argument: " + raw);
    Ulimit limit;
    limit.name = raw.substr(0, eq);
    if (!kNames.contains(limit.name)) return fail("invalid ulimit type: " + limit.name);
    const std::string values = raw.substr(eq + 1);
    auto parts = split(values, ':');
    if (parts.size() > 2)
        return fail("too many limit value arguments - " + values +
                    ", can only have up to two, `soft[:hard]`");
    auto parse_int = [](const std::string& s) -> Result<int64_t> {
        // strconv.ParseInt takes an optional sign, '+' included.
        std::string_view digits = s;
        if (digits.starts_with('+') && digits.size() > 1 && digits[1] != '-') digits.remove_prefix(1);
        if (auto n = parse_number<int64_t>(digits)) return *n;
        return fail("strconv.ParseInt: parsing \"" + s + "\": invalid syntax");
    };
    SKIFF_TRY(soft, parse_int(parts[0]));
    limit.soft = soft;
    limit.hard = soft;
    if (parts.size() == 2) {
        SKIFF_TRY(hard, parse_int(parts[1]));
        limit.hard = hard;
    }
    // -1 is unlimited: compare as the kernel will (RLIM_INFINITY is the largest value).
    if (static_cast<uint64_t>(limit.soft) > static_cast<uint64_t>(limit.hard))
        return fail("ulimit soft limit must be less than or equal to hard limit: " +
                    std::to_string(limit.soft) + " > " + std::to_string(limit.hard));
    return limit;
}

Result<int64_t> parse_memory(std::string_view text) {
    const std::string raw(text);
    auto invalid = [&] { return fail("invalid size: '" + raw + "'"); };
    // go-units: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
    size_t i = 0;
    auto digits = [&] {
        size_t start = i;
        while (i < raw.size() && raw[i] >= '0' && raw[i] <= '9') ++i;
        return i > start;
    };
    if (!digits()) return invalid();
    while (i < raw.size() && raw[i] == '.') {
        ++i;
        if (!digits()) return invalid();
    }
    const std::string number = raw.substr(0, i);
    if (i < raw.size() && raw[i] == ' ') ++i;
    int64_t multiplier = 1;
    if (i < raw.size()) {
        if (auto m = ram_multiplier(static_cast<char>(std::tolower(static_cast<unsigned char>(raw[i]))))) {
            multiplier = *m;
            ++i;
        }
    }
    if (i < raw.size() && (raw[i] == 'i' || raw[i] == 'I')) ++i;
    if (i < raw.size() && (raw[i] == 'b' || raw[i] == 'B')) ++i;
    if (i != raw.size()) return invalid();
    // "1.2.3" matches the pattern but is no number.
    if (std::count(number.begin(), number.end(), '.') > 1) return invalid();
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(number.c_str(), &end);
    if (errno == ERANGE || end != number.c_str() + number.size()) return invalid();
    value *= static_cast<double>(multiplier);
    if (value >= 9.2233720368547758e18) return invalid();
    return static_cast<int64_t>(value);
}

Result<double> parse_cpus(std::string_view text) {
    const std::string raw(text);
    const std::string not_rational = "failed to parse " + raw + " as a rational number";
    // A decimal number, counted in nano-CPUs so "too precise" is exact.
    std::string_view rest = raw;
    bool negative = false;
    if (rest.starts_with('-') || rest.starts_with('+')) {
        negative = rest.front() == '-';
        rest.remove_prefix(1);
    }
    auto dot = rest.find('.');
    std::string_view whole = rest.substr(0, dot);
    std::string_view fraction = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    auto all_digits = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if ((whole.empty() && fraction.empty()) || !all_digits(whole) || !all_digits(fraction))
        return fail(not_rational);
    std::string_view significant = fraction;
    while (!significant.empty() && significant.back() == '0') significant.remove_suffix(1);
    if (significant.size() > 9) return fail("value is too precise");
    double value = std::strtod(std::string(rest).c_str(), nullptr);
    if (negative && value != 0)
        return fail("Range of CPUs is from 0.01 to " + std::to_string(host_cpu_count()) +
                    ".00, as there are only " + std::to_string(host_cpu_count()) + " CPUs available");
    return value;
}

Result<std::vector<std::string>> read_env_file(const std::string& path) {
    SKIFF_TRY(text, read_file_limited(path, kMaxUserFileBytes));
    std::vector<std::string> out;
    auto lines = split(text, '\n');
    for (size_t n = 0; n < lines.size(); ++n) {
        std::string line = lines[n];
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (n == 0 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
        size_t start = line.find_first_not_of(" \t\v\f\r");
        if (start == std::string::npos) continue;
        line.erase(0, start);
        if (line.front() == '#') continue;
        auto eq = line.find('=');
        std::string variable = line.substr(0, eq);
        if (variable.find_first_of(" \t") != std::string::npos)
            return fail("poorly formatted environment: variable '" + variable + "' contains whitespaces");
        if (variable.empty())
            return fail("poorly formatted environment: no variable name on line '" + line + "'");
        if (eq != std::string::npos) {
            out.push_back(line);  // the value passes through untrimmed
        } else if (const char* value = std::getenv(variable.c_str())) {
            out.push_back(variable + "=" + value);
        }
    }
    return out;
}

Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user) {
    UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open rootfs " + rootfs);

    std::string user_arg = user, group_arg;
    if (auto colon = user.find(':'); colon != std::string::npos) {
        user_arg = user.substr(0, colon);
        group_arg = user.substr(colon + 1);
        if (auto second = group_arg.find(':'); second != std::string::npos) group_arg.resize(second);
    }
    const auto uid_arg = parse_number<int64_t>(user_arg);
    const auto gid_arg = parse_number<int64_t>(group_arg);

    SKIFF_TRY(passwd_text, read_in_rootfs(root.get(), "/etc/passwd"));
    SKIFF_TRY(group_text, read_in_rootfs(root.get(), "/etc/group"));

    ResolvedUser out;
    std::string matched_name;
    const PasswdEntry* match = nullptr;
    std::vector<PasswdEntry> users;
    if (passwd_text) users = parse_passwd(*passwd_text);
    for (const auto& entry : users) {
        bool hit = user_arg.empty() ? entry.uid == 0
                   : uid_arg        ? entry.uid == *uid_arg
                                    : entry.name == user_arg;
        if (hit) {
            match = &entry;  // first match wins
            break;
        }
    }
    if (match) {
        if (match->uid < 0 || match->uid > kMaxId || match->gid < 0 || match->gid > kMaxId)
            return fail(kRangeError);
        matched_name = match->name;
        out.uid = static_cast<uint32_t>(match->uid);
        out.gid = static_cast<uint32_t>(match->gid);
        if (!match->home.empty()) out.home = match->home;
    } else if (!user_arg.empty()) {
        if (!uid_arg) return fail("unable to find user " + user_arg + ": no matching entries in passwd file");
        if (*uid_arg < 0 || *uid_arg > kMaxId) return fail(kRangeError);
        out.uid = static_cast<uint32_t>(*uid_arg);
    }

    if (!group_arg.empty() || !matched_name.empty()) {
        std::vector<GroupEntry> groups;
        if (group_text) groups = parse_group(*group_text);
        std::vector<const GroupEntry*> hits;
        for (const auto& g : groups) {
            bool hit = group_arg.empty() ? contains(g.members, matched_name)
                       : gid_arg         ? g.gid == *gid_arg
                                         : g.name == group_arg;
            if (hit) hits.push_back(&g);
        }
        if (!group_arg.empty()) {
            int64_t gid = 0;
            if (!hits.empty()) {
                gid = hits[0]->gid;
            } else if (gid_arg) {
                gid = *gid_arg;
            } else {
                return fail("unable to find group " + group_arg + ": no matching entries in group file");
            }
            if (gid < 0 || gid > kMaxId) return fail(kRangeError);
            out.gid = static_cast<uint32_t>(gid);
        } else {
            // Supplementary groups only in the implicit form (runc's rule).
            for (const GroupEntry* g : hits)
                if (g->gid >= 0 && g->gid <= kMaxId) out.additional_gids.push_back(static_cast<uint32_t>(g->gid));
        }
    }
    return out;
}

Result<std::vector<std::string>> container_capabilities(const std::vector<std::string>& add,
                                                        const std::vector<std::string>& drop,
                                                        bool privileged) {
    const std::vector<std::string> all = kernel_capabilities();
    std::vector<std::string> defaults(kDefaultCapabilities.begin(), kDefaultCapabilities.end());
    if (privileged) return all;
    if (add.empty() && drop.empty()) return defaults;
    SKIFF_TRY(to_drop, normalize_capabilities(drop, all));
    SKIFF_TRY(to_add, normalize_capabilities(add, all));

    std::vector<std::string> caps;
    if (contains(to_add, "ALL")) {
        for (const auto& cap : all)
            if (!contains(to_drop, cap)) caps.push_back(cap);
    } else if (contains(to_drop, "ALL")) {
        caps = to_add;
    } else {
        for (const auto& cap : defaults)
            if (!contains(to_drop, cap)) caps.push_back(cap);
        for (const auto& cap : to_add)
            if (!contains(caps, cap)) caps.push_back(cap);
    }
    std::erase(caps, "ALL");
    return caps;
}

std::string container_resolv_conf(const std::string& host_text) {
    std::string out;
    bool any_nameserver = false;
    for (const auto& line : split(host_text, '\n')) {
        auto words = split(line, ' ');
        std::erase_if(words, [](const std::string& w) { return w.empty(); });
        if (!words.empty() && words[0] == "nameserver" && words.size() >= 2) {
            const std::string& server = words[1];
            // Loopback resolvers are the host's, unreachable here; without IPv6 in the
            // container's network, IPv6 servers are too (Docker's default).
            if (server.starts_with("127.") || server.find(':') != std::string::npos) continue;
            any_nameserver = true;
        }
        if (line.empty()) continue;
        out += line + "\n";
    }
    if (!any_nameserver) out += "# skiff: no usable host nameserver, using defaults\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    return out;
}

std::string container_resolv_text(const std::string& host_path, const std::vector<std::string>& dns,
                                  bool host_network) {
    std::string text = host_resolv_text(host_path);
    if (dns.empty()) return host_network ? text : container_resolv_conf(text);
    std::string out;
    for (const auto& server : dns) out += "nameserver " + server + "\n";
    for (const auto& line : split(text, '\n')) {
        auto words = split(line, ' ');
        std::erase_if(words, [](const std::string& w) { return w.empty(); });
        if (words.empty() || words[0] == "nameserver") continue;
        out += line + "\n";
    }
    return out;
}

std::string container_hosts_base(const std::vector<std::string>& extra_hosts) {
    std::string out = hosts_file_for_none();
    for (const auto& entry : extra_hosts)
        if (auto pair = split_extra_host(entry)) out += pair->second + "\t" + pair->first + "\n";
    return out;
}

Status validate_extra_host(std::string_view text) {
    auto pair = split_extra_host(text);
    if (!pair) return fail("invalid argument \"" + std::string(text) + "\" for \"--add-host\" flag: bad format for add-host: \"" +
                           std::string(text) + "\"");
    unsigned char buf[16];
    const std::string& ip = pair->second;
    if (ip != "host-gateway" && ::inet_pton(AF_INET, ip.c_str(), buf) != 1 && ::inet_pton(AF_INET6, ip.c_str(), buf) != 1)
        return fail("invalid argument \"" + std::string(text) + "\" for \"--add-host\" flag: invalid IP address in add-host: \"" +
                    ip + "\"");
    return ok();
}

// ---------------------------------------------------------------------------------------
// build_spec

std::map<std::string, std::string> container_network_sysctls() {
    return {{"net.ipv4.ip_unprivileged_port_start", "0"}, {"net.ipv4.ping_group_range", "0 2147483647"}};
}

Result<json> build_spec(const SpecInputs& inputs, const RunSpecOptions& options) {
    if (!inputs.image) return fail("build spec: no image config");
    if (inputs.rootfs.empty()) return fail("build spec: no rootfs");
    if (inputs.container_id.empty()) return fail("build spec: no container id");
    const image::RunConfig& image = inputs.image->config;

    const bool host_network = options.network_mode == "host";
    // container:<x> shares x's namespace and its network files (Docker's rule).
    const bool joined = options.network_mode.starts_with("container:");
    if (options.network_mode != "none" && !host_network && inputs.netns_path.empty())
        return fail("network mode \"" + options.network_mode + "\" needs the path of its network namespace");
    for (const auto& entry : options.extra_hosts) {
        SKIFF_CHECK(validate_extra_host(entry));
        if (entry.ends_with("host-gateway")) return fail("--add-host " + entry + ": host-gateway must be resolved first");
    }

    // --- hostname
    std::string hostname = options.hostname;
    if (hostname.empty() && joined) hostname = inputs.shared_hostname;
    if (hostname.empty()) {
        if (host_network) {
            char buf[256] = {};
            if (::gethostname(buf, sizeof buf - 1) == 0) hostname = buf;
        }
        if (hostname.empty()) hostname = inputs.container_id.substr(0, 12);
    }
    if (hostname.size() > 64) return fail("invalid hostname: " + hostname + " is longer than 64 characters");

    // --- args
    std::vector<std::string> entrypoint = image.entrypoint;
    std::vector<std::string> cmd = image.cmd;
    if (options.entrypoint) {
        // --entrypoint replaces the image's and clears its CMD (documented Docker behaviour).
        entrypoint = *options.entrypoint;
        if (entrypoint.size() == 1 && entrypoint[0].empty()) entrypoint.clear();
        cmd.clear();
    }
    if (!options.command.empty()) cmd = options.command;
    std::vector<std::string> args = entrypoint;
    args.insert(args.end(), cmd.begin(), cmd.end());
    if (args.empty()) return fail("No command specified");
    if (options.init) {
        if (inputs.init_path.empty()) return fail("--init: no init binary found (docker-init or tini)");
        args.insert(args.begin(), {kInitDestination, "--"});
    }

    // --- user (before env: HOME comes from passwd)
    const std::string user_spec = options.user.empty() ? image.user : options.user;
    SKIFF_TRY(user, resolve_user(inputs.rootfs, user_spec));

    // --- env: defaults, then the image's and the user's (Docker's merge order)
    std::vector<std::string> config_env;
    for (const auto& entry : options.env) {
        if (entry.empty() || entry.front() == '=') return fail("invalid environment variable: " + entry);
        if (entry.find('=') == std::string::npos) {
            if (const char* value = std::getenv(entry.c_str()))
                config_env.push_back(entry + "=" + value);
            else
                config_env.push_back(entry);  // KEY alone removes KEY
            continue;
        }
        config_env.push_back(entry);
    }
    for (const auto& entry : image.env) {
        bool overridden = false;
        for (const auto& user_entry : config_env)
            overridden = overridden || env_key(user_entry) == env_key(entry);
        if (!overridden) config_env.push_back(entry);
    }
    std::vector<std::optional<std::string>> env_slots = {"PATH=" + std::string(kDefaultPath),
                                                        "HOSTNAME=" + hostname};
    if (options.tty) env_slots.emplace_back("TERM=xterm");
    for (const auto& entry : config_env) replace_or_append(env_slots, entry);
    json env = json::array();
    bool has_home = false;
    for (const auto& slot : env_slots) {
        if (!slot) continue;
        has_home = has_home || env_key(*slot) == "HOME";
        env.push_back(*slot);
    }
    // runc sets HOME from the container's passwd when the environment has none.
    if (!has_home) env.push_back("HOME=" + user.home);

    // --- working directory
    std::string cwd = "/";
    if (!options.workdir.empty()) {
        if (options.workdir.front() != '/')
            return fail("the working directory '" + options.workdir + "' is invalid, it needs to be an absolute path");
        cwd = clean_path(options.workdir);
    } else if (!image.working_dir.empty()) {
        cwd = clean_path(image.working_dir.front() == '/' ? image.working_dir : "/" + image.working_dir);
    }
    if (cwd != "/") {
        // Docker creates a missing working directory (root-owned) before the start.
        UniqueFd root(::open(inputs.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) return sys_error("open rootfs " + inputs.rootfs);
        if (auto dir = mkdir_in_root(root.get(), cwd, 0755); !dir)
            return std::unexpected(dir.error().context("create working directory " + cwd));
    }

    // --- capabilities
    SKIFF_TRY(caps, container_capabilities(options.cap_add, options.cap_drop, options.privileged));

    // --- rlimits (later --ulimit of the same name wins)
    std::vector<Ulimit> ulimits;
    for (const auto& text : options.ulimits) {
        SKIFF_TRY(limit, parse_ulimit(text));
        auto same = std::find_if(ulimits.begin(), ulimits.end(),
                                 [&](const Ulimit& u) { return u.name == limit.name; });
        if (same != ulimits.end())
            *same = limit;
        else
            ulimits.push_back(limit);
    }
    json rlimits = json::array();
    for (const auto& limit : ulimits)
        rlimits.push_back({{"type", "RLIMIT_" + upper(limit.name)},
                           {"soft", static_cast<uint64_t>(limit.soft)},
                           {"hard", static_cast<uint64_t>(limit.hard)}});

    json process = {
        {"terminal", options.tty},
        {"user", {{"uid", user.uid}, {"gid", user.gid}}},
        {"args", args},
        {"env", env},
        {"cwd", cwd},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"noNewPrivileges", options.no_new_privileges},
    };
    if (!user.additional_gids.empty()) process["user"]["additionalGids"] = user.additional_gids;
    if (!rlimits.empty()) process["rlimits"] = std::move(rlimits);

    // --- user mounts: volumes, tmpfs, then the network files and init
    std::vector<json> user_mounts;
    std::set<std::string> destinations;
    auto claim = [&](const std::string& destination) -> Status {
        if (!destinations.insert(destination).second) return fail("Duplicate mount point: " + destination);
        return ok();
    };
    std::string root_propagation;
    for (const auto& volume : options.volumes) {
        if (auto r = check_target(volume.destination); !r) return std::unexpected(r.error());
        const std::string destination = clean_path(volume.destination);
        SKIFF_CHECK(claim(destination));
        if (volume.type == "tmpfs") {
            user_mounts.push_back(tmpfs_mount(destination, volume.tmpfs_options));
            continue;
        }
        if (volume.source.empty() || volume.source.front() != '/')
            return fail("mount " + destination + ": source \"" + volume.source +
                        "\" must be resolved to a host path before the spec is built");
        if (!volume.propagation.empty() && !propagation_modes().contains(volume.propagation))
            return fail("invalid propagation mode: " + volume.propagation);
        // Shared or slave mounts need the root to propagate too (Docker's rule).
        if (volume.propagation == "shared" || volume.propagation == "rshared")
            root_propagation = "rshared";
        else if ((volume.propagation == "slave" || volume.propagation == "rslave") && root_propagation.empty())
            root_propagation = "rslave";
        user_mounts.push_back(bind_mount(clean_path(volume.source), destination, volume.read_only,
                                         volume.propagation, !volume.non_recursive));
    }
    for (const auto& text : options.tmpfs) {
        auto colon = text.find(':');
        const std::string target = text.substr(0, colon);
        if (auto r = check_target(target); !r) return std::unexpected(r.error());
        const std::string destination = clean_path(target);
        SKIFF_CHECK(claim(destination));
        user_mounts.push_back(tmpfs_mount(destination, colon == std::string::npos ? "" : text.substr(colon + 1)));
    }

    // container:<x>: x's own files, kept current by x's network, are mounted (never written here).
    const bool shared_files = joined && !inputs.shared_net_dir.empty();
    if (!inputs.container_dir.empty() || shared_files) {
        std::string hosts;
        if (host_network) {
            hosts = read_file_limited(inputs.host_hosts, 1 << 20).value_or("");
            if (!hosts.empty() && hosts.back() != '\n') hosts += "\n";
            hosts += container_hosts_base(options.extra_hosts).substr(hosts_file_for_none().size());
        } else {
            hosts = container_hosts_base(options.extra_hosts);
        }
        std::string resolv = container_resolv_text(inputs.host_resolv_conf, options.dns, host_network);
        const std::pair<const char*, std::string> files[] = {
            {"resolv.conf", resolv}, {"hostname", hostname + "\n"}, {"hosts", hosts}};
        for (const auto& [name, content] : files) {
            const std::string path = path_join(shared_files ? inputs.shared_net_dir : inputs.container_dir, name);
            // Made once, at create, in the container's new directory, and read only once it
            // runs: neither a temporary (nobody reads it half-written) nor an fsync.
            if (!shared_files) SKIFF_CHECK(write_file_in_place(path, content, 0644));
            const std::string destination = std::string("/etc/") + name;
            // A user's own mount at the same place wins, as in Docker.
            if (destinations.contains(destination)) continue;
            destinations.insert(destination);
            user_mounts.push_back(bind_mount(path, destination, options.read_only, ""));
            // These are plain files: "rro" (mount_setattr on a tree) adds nothing.
            auto& opts = user_mounts.back()["options"];
            opts.erase(std::remove(opts.begin(), opts.end(), "rro"), opts.end());
        }
    }
    if (options.init) {
        SKIFF_CHECK(claim(kInitDestination));
        user_mounts.push_back({{"destination", kInitDestination}, {"type", "bind"},
                               {"source", inputs.init_path}, {"options", json::array({"bind", "ro"})}});
    }
    // Parents before children, whatever order the flags came in.
    std::stable_sort(user_mounts.begin(), user_mounts.end(), [](const json& a, const json& b) {
        return path_depth(a["destination"].get<std::string>()) < path_depth(b["destination"].get<std::string>());
    });

    json mounts = json::array();
    const bool user_dev = destinations.contains("/dev");
    for (auto& m : default_mounts()) {
        const std::string destination = m["destination"];
        if (destinations.contains(destination)) continue;
        if (user_dev && destination.starts_with("/dev/")) continue;
        if (options.privileged && (destination == "/sys" || destination == "/sys/fs/cgroup")) {
            // Docker's privileged containers get /sys and their cgroup writable.
            auto& opts = m["options"];
            opts.erase(std::remove(opts.begin(), opts.end(), "ro"), opts.end());
        }
        mounts.push_back(std::move(m));
    }
    for (auto& m : user_mounts) mounts.push_back(std::move(m));

    // --- linux
    json namespaces = json::array();
    for (const char* type : {"pid", "ipc", "uts", "mount", "cgroup"}) namespaces.push_back({{"type", type}});
    if (!host_network) {
        json ns = {{"type", "network"}};
        if (!inputs.netns_path.empty()) ns["path"] = inputs.netns_path;
        namespaces.push_back(std::move(ns));
    }

    json linux_section = {{"namespaces", namespaces}};
    json resources = json::object();
    if (options.privileged) {
        resources["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
        json devices = json::array();
        collect_host_devices("/dev", devices);
        if (!devices.empty()) linux_section["devices"] = std::move(devices);
    } else {
        // Deny all; the runtime adds the standard allow-list (null, zero, tty, ...) as runc does.
        resources["devices"] = json::array({{{"allow", false}, {"access", "rwm"}}});
        linux_section["maskedPaths"] = json::array({
            "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
            "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
        });
        linux_section["readonlyPaths"] = json::array({
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
        });
    }
    if (options.memory) {
        if (*options.memory < kMinMemory) return fail("Minimum memory limit allowed is 6MB");
        // Docker's default --memory-swap: as much swap as memory (the total is twice).
        resources["memory"] = {{"limit", *options.memory}, {"swap", *options.memory * 2}};
    }
    if (options.cpus) {
        const int cpus = host_cpu_count();
        const auto nano = static_cast<int64_t>(std::llround(*options.cpus * 1e9));
        if (nano < 0 || nano > static_cast<int64_t>(cpus) * 1000000000)
            return fail("Range of CPUs is from 0.01 to " + std::to_string(cpus) + ".00, as there are only " +
                        std::to_string(cpus) + " CPUs available");
        if (nano > 0) {
            const int64_t quota = nano * kCpuPeriod / 1000000000;
            if (quota < 1000) return fail("CPU cfs quota can not be less than 1ms (i.e. 1000)");
            resources["cpu"] = {{"quota", quota}, {"period", kCpuPeriod}};
        }
    }
    if (options.pids_limit && *options.pids_limit > 0) resources["pids"] = {{"limit", *options.pids_limit}};
    linux_section["resources"] = std::move(resources);

    if (!options.cgroup_parent.empty()) {
        const std::string& parent = options.cgroup_parent;
        // A systemd slice takes the systemd form; anything else is a path.
        linux_section["cgroupsPath"] = parent.ends_with(".slice")
                                           ? parent + ":skiff:" + inputs.container_id
                                           : path_join(parent, inputs.container_id);
    }
    if (!root_propagation.empty()) linux_section["rootfsPropagation"] = root_propagation;
    if (!host_network && !joined && inputs.netns_path.empty()) {
        // Docker's sysctls for a container's own network: binding low ports and ping need
        // no capability there. (A joined namespace is its owner's: never written from here;
        // one the engine made got them from it, see container_network_sysctls.)
        linux_section["sysctl"] = container_network_sysctls();
    }

    // --- seccomp
    const std::string& profile_opt = options.seccomp_profile;
    if (!options.privileged && profile_opt != "unconfined") {
        SeccompTarget target = host_seccomp_target(caps);
        target.syscall_known = inputs.syscall_known;
        if (profile_opt.empty() || profile_opt == "builtin") {
            SKIFF_TRY(builtin, cached_default_seccomp_oci(target, inputs.seccomp_cache_dir));
            linux_section["seccomp"] = std::move(builtin);
        } else {
            auto text = read_file_limited(profile_opt, kMaxUserFileBytes);
            if (!text)
                return fail("opening seccomp profile (" + profile_opt + ") failed: " + text.error().message());
            json profile;
            try {
                profile = json::parse(*text);
            } catch (const json::exception& e) {
                return fail(std::string("Decoding seccomp profile failed: ") + e.what());
            }
            SKIFF_TRY(seccomp, seccomp_profile_to_oci(profile, target));
            if (!seccomp.is_null()) linux_section["seccomp"] = std::move(seccomp);
        }
    }

    json spec = {
        {"ociVersion", "1.2.0"},
        {"process", std::move(process)},
        {"root", {{"path", inputs.rootfs}, {"readonly", options.read_only}}},
        {"hostname", hostname},
        {"mounts", std::move(mounts)},
        {"linux", std::move(linux_section)},
    };
    if (!options.domainname.empty()) spec["domainname"] = options.domainname;
    // containerd's annotation for the image's stop signal, so `stop` can find it later.
    const std::string stop_signal = options.stop_signal.empty() ? image.stop_signal : options.stop_signal;
    if (!stop_signal.empty()) spec["annotations"] = {{"org.opencontainers.image.stopSignal", stop_signal}};
    return spec;
}

}  // namespace skiff::engine
