#include "engine/rootless.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <set>

#include "cgroups/cgroups.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/store.hpp"
#include "runtime/state_store.hpp"
#include "state/container_store.hpp"

namespace skiff::engine {

namespace {

using nlohmann::json;


// This process is in the initial user namespace (uid_map "0 0 4294967295").
bool in_initial_user_namespace() {
    auto map = read_file("/proc/self/uid_map");
    if (!map) return true;
    unsigned long inside = 1, outside = 1, count = 0;
    return std::sscanf(map->c_str(), "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
           outside == 0 && count == 4294967295UL;
}

std::string read_link(const std::string& path) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The pause process's pid file: "PID STARTTIME\n".
struct PauseRecord {
    pid_t pid = 0;
    uint64_t start_time = 0;
};

bool alive(const PauseRecord& r) {
    return r.pid > 0 && r.start_time != 0 && runtime::process_start_time(r.pid) == r.start_time;
}

PauseRecord read_pause_record(const std::string& path) {
    PauseRecord r;
    auto text = read_file(path);
    if (!text) return r;
    long pid = 0;
    unsigned long long start = 0;
    if (std::sscanf(text->c_str(), "%ld %llu", &pid, &start) == 2 && pid > 0 && pid < INT_MAX) {
        r.pid = static_cast<pid_t>(pid);
        r.start_time = start;
    }
    return r;
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

// In the pause process: its own user namespace (the user mapped to itself) and mount
// namespace. Returns "" or what failed.
std::string make_namespaces(uid_t uid, gid_t gid) {
    if (::unshare(CLONE_NEWUSER) != 0) return std::string("unshare(CLONE_NEWUSER): ") + strerror(errno);
    if (!write_file("/proc/self/setgroups", "deny")) return "write /proc/self/setgroups";
    if (!write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n"))
        return "write /proc/self/uid_map";
    if (!write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n"))
        return "write /proc/self/gid_map";
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
    return "";
}

// Capabilities held in the joined namespace, made ambient so they survive execve (skiff
// re-executes itself from a sealed copy, and the monitor goes through skiff-monitor).
Status keep_capabilities_across_exec() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) return sys_error("capget");
    for (auto& d : data) d.inheritable = d.permitted;
    if (::syscall(SYS_capset, &header, data) != 0) return sys_error("capset");
    int last = 40;
    if (auto text = read_file("/proc/sys/kernel/cap_last_cap")) last = std::atoi(text->c_str());
    for (int cap = 0; cap <= last && cap < 64; ++cap) {
        if (!(data[cap / 32].permitted & (1u << (cap % 32)))) continue;
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
            return sys_error("raise ambient capability " + std::to_string(cap));
    }
    return ok();
}

}  // namespace

std::vector<std::string> command_words(const std::vector<std::string>& args) {
    std::vector<std::string> words;
    for (size_t i = 0; i < args.size() && words.size() < 2; ++i) {
        const std::string& a = args[i];
        if (a == "--root" || a == "--runroot") {
            ++i;
            continue;
        }
        if (a.starts_with("-")) continue;
        words.push_back(a);
    }
    if (!words.empty() && words[0] == "container") words.erase(words.begin());
    return words;
}

bool rootless_command_needs_namespace(const std::vector<std::string>& args) {
    auto words = command_words(args);
    if (words.empty()) return false;
    static const std::set<std::string> mounting = {
        "run",    "create", "start",   "restart", "exec",  "cp",     "diff",  "commit",
        "export", "rm",     "stop",    "kill",    "prune", "pause",  "unpause", "top",
        "container-exited", "attach", "remove"};
    const std::string& verb = words[0];
    if (verb == "system") return words.size() > 1 && words[1] == "prune";
    // ("prune" and "remove" are only ever first after "container": image and volume prune stay
    // outside.)
    return mounting.contains(verb);
}

std::string pause_pid_file(const std::string& runroot) {
    std::string dir = runroot.empty() ? default_store_options().runroot : runroot;
    return path_join(dir, "pause.pid");
}

namespace {

// --root/--runroot as cli/globals.cpp reads them (relative to the working directory).
std::string global_option(const std::vector<std::string>& args, const std::string& name) {
    std::string value;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == name && i + 1 < args.size()) value = args[i + 1];
        else if (args[i].starts_with(name + "=")) value = args[i].substr(name.size() + 1);
        else if (!args[i].starts_with("-")) break;
        if (args[i] == "--root" || args[i] == "--runroot") ++i;
    }
    if (!value.empty() && value[0] != '/') {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd)) value = path_join(cwd, value);
    }
    return value;
}

// A live monitor of one of the user's containers, still in the namespaces of a pause process
// that is gone (killed): its mounts are there, so that is the namespace to keep using.
PauseRecord surviving_holder(const std::string& root) {
    auto records = state::ContainerStore(root.empty() ? default_store_options().root : root).list();
    if (!records) return {};
    std::string own_ns = read_link("/proc/self/ns/user");
    for (const auto& r : *records) {
        PauseRecord m{r.monitor_pid, r.monitor_start_time};
        if (!alive(m)) continue;
        std::string ns = read_link("/proc/" + std::to_string(m.pid) + "/ns/user");
        if (!ns.empty() && ns != own_ns) return m;
    }
    return {};
}

// setns into pid's user and mount namespaces (pid checked to still be `who` afterwards).
Status join_namespaces_of(const PauseRecord& who) {
    std::string proc = "/proc/" + std::to_string(who.pid);
    UniqueFd user_ns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd mnt_ns(::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
    if (!user_ns || !mnt_ns) return sys_error("rootless: open the namespaces of process " + std::to_string(who.pid));
    // The fds are that process's only if it is still the same process now.
    if (!alive(who)) return fail("rootless: process " + std::to_string(who.pid) + " holding the namespace ended; try again");
    // setns(CLONE_NEWNS) moves cwd to the namespace's root: come back to the same path.
    char cwd[PATH_MAX];
    bool have_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
    if (::setns(user_ns.get(), CLONE_NEWUSER) != 0) return sys_error("rootless: join the user namespace");
    if (::setns(mnt_ns.get(), CLONE_NEWNS) != 0) return sys_error("rootless: join the mount namespace");
    if (have_cwd && ::chdir(cwd) != 0) {
        if (::chdir("/") != 0) {}
    }
    return keep_capabilities_across_exec();
}

// The pause process: double-forked in its own session; with `unshare` it makes the
// namespaces (else it stays in ours), tells its pid (or what failed) over a pipe, then
// sleeps until killed.
Result<PauseRecord> spawn_pause(bool unshare) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    pid_t middle = ::fork();
    if (middle < 0) return sys_error("fork the rootless pause process");
    if (middle == 0) {
        ::setsid();
        pid_t pause_pid = ::fork();
        if (pause_pid != 0) _exit(pause_pid < 0 ? 1 : 0);
        rd.reset();
        std::string err = unshare ? make_namespaces(uid, gid) : "";
        write_all(wr.get(), err.empty() ? "ok " + std::to_string(::getpid()) : err);
        if (!err.empty()) _exit(1);
        // Nothing of the CLI's stays open: no terminal, no pipe or lock a test waits on.
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
        ::close_range(3, ~0U, 0);
        if (::chdir("/") != 0) {}
        ::signal(SIGHUP, SIG_IGN);
        ::signal(SIGPIPE, SIG_IGN);
        ::prctl(PR_SET_NAME, "skiff-pause", 0, 0, 0);
        for (;;) ::pause();
    }
    wr.reset();
    int status = 0;
    while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
    std::string answer;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        answer.append(buf, static_cast<size_t>(n));
    }
    long pid = 0;
    if (!answer.starts_with("ok ") || (pid = std::atol(answer.c_str() + 3)) <= 0)
        return fail("rootless: cannot make a user namespace" + (answer.empty() ? std::string() : ": " + answer) +
                    " (are unprivileged user namespaces enabled?)");
    PauseRecord r{static_cast<pid_t>(pid), 0};
    r.start_time = runtime::process_start_time(r.pid);
    return r;
}

}  // namespace

Status enter_rootless_namespace(const std::vector<std::string>& args) {
    if (::geteuid() == 0 || !in_initial_user_namespace()) return ok();
    std::string pid_file = pause_pid_file(global_option(args, "--runroot"));
    std::string dir = dirname_of(pid_file);
    SKIFF_CHECK(with_context(mkdir_p(dir, 0700), "rootless runroot"));

    PauseRecord pause = read_pause_record(pid_file);
    if (alive(pause)) return join_namespaces_of(pause);

    // One pause process per user: made under a lock, the pid file written atomically.
    std::string lock_path = path_join(dir, "pause.lock");
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) return sys_error("open " + lock_path);
    while (::flock(lock.get(), LOCK_EX) != 0)
        if (errno != EINTR) return sys_error("lock " + lock_path);
    pause = read_pause_record(pid_file);
    if (alive(pause)) return join_namespaces_of(pause);

    // The pause process was killed while containers still run in its namespaces: join them
    // through a monitor and leave a new pause process there; else make new namespaces.
    PauseRecord holder = surviving_holder(global_option(args, "--root"));
    if (holder.pid > 0) {
        SKIFF_CHECK(join_namespaces_of(holder));
        SKIFF_TRY(made, spawn_pause(false));
        return write_file_atomic(pid_file, std::to_string(made.pid) + " " + std::to_string(made.start_time) + "\n", 0600);
    }
    SKIFF_TRY(made, spawn_pause(true));
    SKIFF_CHECK(write_file_atomic(pid_file, std::to_string(made.pid) + " " + std::to_string(made.start_time) + "\n", 0600));
    return join_namespaces_of(made);
}

Status rootless_spec(json& spec) {
    if (::geteuid() == 0) return ok();
    if (!spec.contains("linux") || !spec["linux"].is_object()) spec["linux"] = json::object();
    json& linux_section = spec["linux"];

    // A cgroup only where the user's own group is delegated (writable); else none, and the
    // limits that need one are refused rather than silently dropped.
    bool usable_cgroup = false;
    if (auto root = cgroups::find_unified_root()) {
        auto own = cgroups::own_group();
        if (own) usable_cgroup = ::access(path_join(*root, *own).c_str(), W_OK) == 0;
    }
    if (!usable_cgroup) {
        if (linux_section.contains("resources")) {
            const json& res = linux_section["resources"];
            for (const char* key : {"memory", "cpu", "pids", "blockIO", "hugepageLimits"})
                if (res.contains(key) && !res[key].empty())
                    return fail("rootless: -m/--memory, --cpus and --pids-limit need a cgroup, and this user has "
                                "no delegated cgroup v2 group to make one in");
        }
        linux_section.erase("resources");
        linux_section.erase("cgroupsPath");
    }

    // Only root is mapped (no subordinate ids): another user in the container cannot exist.
    if (spec.contains("process") && spec["process"].contains("user")) {
        const json& user = spec["process"]["user"];
        if (user.value("uid", 0) != 0 || user.value("gid", 0) != 0)
            return fail("rootless: the container's user " + std::to_string(user.value("uid", 0)) + ":" +
                        std::to_string(user.value("gid", 0)) +
                        " cannot exist here: only root is mapped (to you); run as root in the container (-u 0)");
    }
    // The container's own user namespace: its root is the user.
    json namespaces = json::array();
    if (linux_section.contains("namespaces"))
        for (const auto& ns : linux_section["namespaces"])
            if (ns.value("type", "") != "user") namespaces.push_back(ns);
    bool own_network = false;
    for (const auto& ns : namespaces)
        if (ns.value("type", "") == "network" && !ns.contains("path")) own_network = true;
    namespaces.push_back({{"type", "user"}});
    linux_section["namespaces"] = std::move(namespaces);
    linux_section["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", ::geteuid()}, {"size", 1}}});
    linux_section["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", ::getegid()}, {"size", 1}}});

    // Mounts: sysfs only in a network namespace of our own (else the host's, bound); no
    // uid=/gid= options naming ids other than root, which is all the map has.
    if (spec.contains("mounts")) {
        for (auto& m : spec["mounts"]) {
            if (m.value("type", "") == "sysfs" && !own_network) {
                m["type"] = "none";
                m["source"] = "/sys";
                m["options"] = json::array({"rbind", "nosuid", "noexec", "nodev", "ro"});
                continue;
            }
            if (!m.contains("options")) continue;
            json options = json::array();
            for (const auto& o : m["options"]) {
                std::string s = o.get<std::string>();
                if ((s.starts_with("uid=") || s.starts_with("gid=")) && s != "uid=0" && s != "gid=0") continue;
                options.push_back(s);
            }
            m["options"] = std::move(options);
        }
    }
    // ping sockets for the groups the map has (only root's): a wider range is refused there.
    if (linux_section.contains("sysctl") && linux_section["sysctl"].contains("net.ipv4.ping_group_range"))
        linux_section["sysctl"]["net.ipv4.ping_group_range"] = "0 0";
    // Extra groups cannot be set where setgroups is denied.
    if (spec.contains("process") && spec["process"].contains("user"))
        spec["process"]["user"].erase("additionalGids");
    return ok();
}

}  // namespace skiff::engine
