#include "cgroups/cgroups.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <sstream>
#include <thread>

#include "common/fs.hpp"

namespace skiff::cgroups {

namespace {

using Clock = std::chrono::steady_clock;

// How long freeze/thaw wait for cgroup.events to agree, and kill_all for members to exit.
constexpr auto kFreezeTimeout = std::chrono::milliseconds(1000);
constexpr auto kKillTimeout = std::chrono::milliseconds(5000);

// Sleep a little between polls: short at first (the kernel is usually done at once),
// backing off so a slow drain does not spin.
void poll_sleep(int& attempt) {
    auto ms = std::min(1 << std::min(attempt, 4), 10);  // 1, 2, 4, 8, 10, 10 ...
    ++attempt;
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t i = 0;
    for (;;) {
        size_t j = s.find(sep, i);
        out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (j == std::string::npos) return out;
        i = j + 1;
    }
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo (octal).
std::string unescape_mountinfo(const std::string& s) {
    auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && is_oct(s[i + 1]) && is_oct(s[i + 2]) &&
            is_oct(s[i + 3])) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Join `base` and `path` (both relative to the unified root) and collapse "." and "..".
// A ".." that would climb above `base` is an error rather than being clamped: clamping
// silently puts the container somewhere other than where its config asked, and on a hybrid
// host the unified root's parent holds the v1 controllers, which must never be touched.
Result<std::string> join_confined(const std::string& base, const std::string& path,
                                  const std::string& what) {
    std::vector<std::string> out;
    for (auto& part : split(base, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") return fail(what + ": parent group " + base + " contains \"..\"");
        out.push_back(part);
    }
    const size_t floor = out.size();
    for (auto& part : split(path, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (out.size() == floor) return fail(what + ": escapes the cgroup hierarchy");
            out.pop_back();
            continue;
        }
        out.push_back(part);
    }
    if (out.empty()) return fail(what + ": resolves to the root of the cgroup hierarchy");
    std::string joined;
    for (auto& part : out) joined += (joined.empty() ? "" : "/") + part;
    return joined;
}

// runc's ExpandSlice: "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice", "-.slice" -> "".
Result<std::string> expand_slice(const std::string& slice) {
    const std::string suffix = ".slice";
    if (slice.size() <= suffix.size() || !ends_with(slice, suffix) ||
        slice.find('/') != std::string::npos)
        return fail("invalid slice name: " + slice);
    std::string name = slice.substr(0, slice.size() - suffix.size());
    if (name == "-") return std::string();
    std::string path, prefix;
    for (auto& component : split(name, '-')) {
        // "a--b.slice" and "-a.slice" are not valid systemd slice names.
        if (component.empty()) return fail("invalid slice name: " + slice);
        path += (path.empty() ? "" : "/") + prefix + component + suffix;
        prefix += component + "-";
    }
    return path;
}

// "slice:prefix:name" -> "<expanded slice>/<unit>", as runc's systemd driver places it.
Result<std::string> resolve_systemd(const std::string& cgroups_path) {
    auto parts = split(cgroups_path, ':');
    if (parts.size() != 3)
        return fail("expected \"slice:prefix:name\", got \"" + cgroups_path + "\"");
    std::string slice = parts[0].empty() ? "system.slice" : parts[0];
    const std::string& prefix = parts[1];
    const std::string& name = parts[2];
    if (name.empty()) return fail("systemd unit name is empty");
    if (prefix.find('/') != std::string::npos || name.find('/') != std::string::npos)
        return fail("systemd prefix and name must not contain '/'");
    SKIFF_TRY(slice_path, expand_slice(slice));
    // A name ending in ".slice" asks for a slice unit, used as is (runc's getUnitName).
    // runc would make an empty prefix "-name.scope"; "name.scope" is what users expect.
    std::string unit = ends_with(name, ".slice") ? name
                       : prefix.empty()          ? name + ".scope"
                                                 : prefix + "-" + name + ".scope";
    return slice_path.empty() ? unit : slice_path + "/" + unit;
}

// Refuse to act on the hierarchy's root or anything outside it: a Group built from a bad
// `rel` must not kill, freeze or rmdir the whole machine's tree.
Status check_rel(const std::string& rel) {
    if (rel.empty()) return fail("refusing to operate on the cgroup root");
    for (auto& part : split(rel, '/'))
        if (part == "..") return fail("cgroup path /" + rel + " contains \"..\"");
    return ok();
}

Result<std::vector<pid_t>> parse_pids(const std::string& text, const std::string& file) {
    std::vector<pid_t> pids;
    for (auto& line : split_lines(text)) {
        if (line.empty()) continue;
        pid_t pid = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
        if (ec != std::errc() || end != line.data() + line.size() || pid <= 0)
            return fail(file + ": bad pid \"" + line + "\"");
        pids.push_back(pid);
    }
    return pids;
}

// Child group directories (kernfs reports d_type; a fake tree in tests does too).
Result<std::vector<std::string>> child_groups(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return sys_error("open " + dir);
    while (auto* ent = ::readdir(d)) {
        std::string name = ent->d_name;
        if (name == "." || name == ".." || ent->d_type != DT_DIR) continue;
        out.push_back(path_join(dir, name));
    }
    ::closedir(d);
    return out;
}

// Members of the group at `dir` and of every group below it.
Status collect_pids(const std::string& dir, std::vector<pid_t>& out) {
    std::string procs = path_join(dir, "cgroup.procs");
    SKIFF_TRY(text, read_file(procs));
    SKIFF_TRY(pids, parse_pids(text, procs));
    out.insert(out.end(), pids.begin(), pids.end());
    SKIFF_TRY(children, child_groups(dir));
    for (auto& child : children) {
        auto r = collect_pids(child, out);
        // A child removed while we walk is simply gone.
        if (!r && r.error().code != ENOENT) return r;
    }
    return ok();
}

Result<std::vector<pid_t>> all_pids(const std::string& dir) {
    std::vector<pid_t> pids;
    SKIFF_CHECK(collect_pids(dir, pids));
    return pids;
}

// Remove `dir` and its child groups, children first. EBUSY (members still exiting) is
// returned so the caller can retry.
Status rmdir_tree(const std::string& dir) {
    auto children = child_groups(dir);
    if (!children) {
        if (children.error().code == ENOENT) return ok();
        return std::unexpected(children.error());
    }
    for (auto& child : *children) SKIFF_CHECK(rmdir_tree(child));
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return sys_error("rmdir " + dir);
    return ok();
}

// Send `sig` to each pid; ESRCH (already exited) is fine. Reports the first real failure.
Status signal_pids(const std::vector<pid_t>& pids, int sig) {
    Status result = ok();
    for (pid_t pid : pids) {
        if (::kill(pid, sig) != 0 && errno != ESRCH && result)
            result = sys_error("kill " + std::to_string(pid));
    }
    return result;
}

}  // namespace

Result<std::string> find_unified_root(const std::string& mountinfo_path) {
    static std::string own_root;  // for /proc/self/mountinfo, once found
    const bool own = mountinfo_path == "/proc/self/mountinfo";
    if (own && !own_root.empty()) return own_root;
    if (own) {
        // The usual places first, by the filesystem mounted there: a statfs each instead of
        // reading and parsing every mount of the host (hundreds on a busy one).
        for (const char* usual : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
            struct statfs fs {};
            if (::statfs(usual, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return own_root = usual;
        }
    }
    SKIFF_TRY(text, read_file(mountinfo_path));
    std::vector<std::string> found;
    for (auto& line : split_lines(text)) {
        // "id parent maj:min root mountpoint opts [optional...] - fstype source superopts"
        std::istringstream in(line);
        std::vector<std::string> fields;
        for (std::string f; in >> f;) fields.push_back(f);
        size_t sep = 0;
        while (sep < fields.size() && fields[sep] != "-") ++sep;
        if (fields.size() < 5 || sep + 1 >= fields.size()) continue;
        if (fields[sep + 1] == "cgroup2") found.push_back(unescape_mountinfo(fields[4]));
    }
    auto chosen = [&]() -> std::string {
        for (const char* preferred : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
            for (auto& mount : found)
                if (mount == preferred) return mount;
        return found.empty() ? std::string() : found.front();
    }();
    if (chosen.empty()) return fail("no cgroup v2 (unified) hierarchy mounted");
    if (own) own_root = chosen;
    return chosen;
}

Result<std::string> own_group(const std::string& proc_cgroup_path) {
    // Ours is read once per process (engine and runtime both ask during a run); a forked
    // child, whose pid differs, reads its own.
    static pid_t cached_for = 0;
    static std::string cached;
    const bool own = proc_cgroup_path == "/proc/self/cgroup";
    if (own && cached_for == ::getpid()) return cached;
    SKIFF_TRY(text, read_file(proc_cgroup_path));
    for (auto& line : split_lines(text)) {
        if (!line.starts_with("0::")) continue;
        if (own) {
            cached = line.substr(3);
            cached_for = ::getpid();
        }
        return line.substr(3);
    }
    return fail(proc_cgroup_path + ": no cgroup v2 (\"0::\") entry");
}

Result<std::string> resolve_cgroups_path(const std::string& cgroups_path, const std::string& parent,
                                         const std::string& default_name) {
    const std::string what = "cgroupsPath \"" + cgroups_path + "\"";
    if (cgroups_path.find('\0') != std::string::npos) return fail(what + ": contains NUL");
    if (cgroups_path.empty())
        return join_confined(parent, default_name, what + " (default name \"" + default_name + "\")");
    if (cgroups_path.find(':') != std::string::npos) {
        auto unit = resolve_systemd(cgroups_path);
        if (!unit) return std::unexpected(unit.error().context(what));
        return join_confined("", *unit, what);
    }
    if (cgroups_path.front() == '/') return join_confined("", cgroups_path, what);
    return join_confined(parent, cgroups_path, what);
}

Group::Group(std::string root, std::string rel) : root_(std::move(root)) {
    size_t start = rel.find_first_not_of('/');
    rel_ = start == std::string::npos ? std::string() : rel.substr(start);
    path_ = rel_.empty() ? root_ : path_join(root_, rel_);
}

Status Group::create() {
    SKIFF_CHECK(check_rel(rel_));
    // One component at a time below the root, so nothing is ever made outside it.
    std::string cur = root_;
    for (auto& part : split(rel_, '/')) {
        if (part.empty()) continue;
        cur = path_join(cur, part);
        if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("mkdir " + cur);
    }
    if (!is_directory(path_)) return sys_error(ENOTDIR, "create cgroup " + path_);
    return ok();
}

Result<UniqueFd> Group::open_dir() const {
    // clone3(CLONE_INTO_CGROUP) rejects O_PATH fds: it needs a real open directory.
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sys_error("open cgroup " + path_);
    return fd;
}

Status Group::add_process(pid_t pid) const {
    if (auto r = write_file(path_join(path_, "cgroup.procs"), std::to_string(pid)); !r)
        return std::unexpected(r.error().context("move pid " + std::to_string(pid) + " into cgroup"));
    return ok();
}

Result<std::vector<pid_t>> Group::processes() const {
    std::string procs = path_join(path_, "cgroup.procs");
    SKIFF_TRY(text, read_file(procs));
    return parse_pids(text, procs);
}

bool Group::exists() const { return is_directory(path_); }

Status Group::freeze() const {
    SKIFF_CHECK(check_rel(rel_));
    SKIFF_CHECK(write_file(path_join(path_, "cgroup.freeze"), "1"));
    // The write only requests freezing; tasks stop asynchronously, and cgroup.events says when.
    int attempt = 0;
    for (auto deadline = Clock::now() + kFreezeTimeout;;) {
        SKIFF_TRY(frozen, is_frozen());
        if (frozen) return ok();
        if (Clock::now() >= deadline) break;
        poll_sleep(attempt);
    }
    // Do not leave the container half frozen behind an error.
    (void)write_file(path_join(path_, "cgroup.freeze"), "0");
    return sys_error(ETIMEDOUT, "freeze cgroup " + path_);
}

Status Group::thaw() const {
    SKIFF_CHECK(check_rel(rel_));
    SKIFF_CHECK(write_file(path_join(path_, "cgroup.freeze"), "0"));
    int attempt = 0;
    for (auto deadline = Clock::now() + kFreezeTimeout;;) {
        SKIFF_TRY(frozen, is_frozen());
        if (!frozen) return ok();
        if (Clock::now() >= deadline) break;
        poll_sleep(attempt);
    }
    return sys_error(ETIMEDOUT, "thaw cgroup " + path_);
}

// A 0/1 entry of a group's cgroup.events ("frozen", "populated").
static Result<bool> events_flag(const std::string& group_path, const std::string& key, const char* missing_hint) {
    std::string events = path_join(group_path, "cgroup.events");
    SKIFF_TRY(text, read_file(events));
    for (auto& line : split_lines(text)) {
        if (line == key + " 1") return true;
        if (line == key + " 0") return false;
    }
    return fail(events + ": no \"" + key + "\" entry" + missing_hint);
}

Result<bool> Group::is_frozen() const {
    return events_flag(path_, "frozen", " (kernel without the v2 freezer?)");
}

Result<bool> Group::is_populated() const { return events_flag(path_, "populated", ""); }

Status Group::kill_all() const {
    SKIFF_CHECK(check_rel(rel_));
    if (!exists()) return ok();  // no group, no members
    std::string kill_file = path_join(path_, "cgroup.kill");
    if (path_exists(kill_file)) {
        // Kernel 5.14+: one write kills the whole subtree, with no fork race.
        SKIFF_CHECK(write_file(kill_file, "1"));
    } else {
        // Freeze first so nothing forks between reading the pids and killing them.
        // SIGKILL reaches frozen tasks in the v2 freezer. A failed freeze is not fatal:
        // the wait below still catches stragglers.
        bool froze = !is_frozen().value_or(false) && freeze().has_value();
        auto pids = all_pids(path_);
        Status sent = pids ? signal_pids(*pids, SIGKILL) : std::unexpected(pids.error());
        if (froze) (void)thaw();
        SKIFF_CHECK(sent);
    }
    int attempt = 0;
    for (auto deadline = Clock::now() + kKillTimeout;;) {
        SKIFF_TRY(left, all_pids(path_));
        if (left.empty()) return ok();
        if (Clock::now() >= deadline)
            return fail("kill cgroup " + path_ + ": " + std::to_string(left.size()) +
                        " process(es) still present after SIGKILL");
        poll_sleep(attempt);
    }
}

Status Group::signal_all(int signal) const {
    if (signal == SIGKILL) return kill_all();
    SKIFF_CHECK(check_rel(rel_));
    // Freeze around the signalling so a fork cannot slip a new member past us; keep a
    // paused container paused.
    bool froze = !is_frozen().value_or(false) && freeze().has_value();
    auto pids = all_pids(path_);
    Status sent = pids ? signal_pids(*pids, signal) : std::unexpected(pids.error());
    if (froze) SKIFF_CHECK(thaw());
    return sent;
}

Status Group::remove(int timeout_ms) const {
    SKIFF_CHECK(check_rel(rel_));
    // EBUSY means members (or a child group's members) are still exiting; keep trying.
    int attempt = 0;
    for (auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);;) {
        auto r = rmdir_tree(path_);
        if (r || r.error().code != EBUSY || Clock::now() >= deadline) return r;
        poll_sleep(attempt);
    }
}

}  // namespace skiff::cgroups
