// `exec`: a new process inside a running container. The runtime joins the container's pid
// namespace for its next child, clones straight into the container's cgroup, and the child
// joins the other namespaces, then takes the same last steps as a container's first process.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "cgroups/cgroups.hpp"
#include "common/fs.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/cloned_binary.hpp"
#include "runtime/console.hpp"
#include "runtime/container_init.hpp"
#include "runtime/launcher.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/runtime.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/sync.hpp"

namespace skiff::runtime {

namespace {

// A process.json (runc exec --process) validated by the same parser as config.json.
Result<Process> load_process_file(const std::string& path) {
    SKIFF_TRY(text, read_file_limited(path, 4 << 20));
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail(path + ": malformed JSON");
    nlohmann::json wrapper = {{"ociVersion", "1.0.0"}, {"process", doc}};
    auto spec = parse_spec(wrapper);
    if (!spec) return std::unexpected(spec.error().context(path));
    return *spec->process;
}

Result<Process> build_process(const ExecOptions& options, const Spec& spec) {
    if (!options.process_file.empty()) return load_process_file(options.process_file);
    if (options.args.empty()) return fail("exec: a command is required (or --process)");
    Process process = spec.process ? *spec.process : Process{};
    process.args = options.args;
    process.terminal = options.tty;
    for (const auto& kv : options.env) {
        auto eq = kv.find('=');
        std::string key = kv.substr(0, eq);
        std::erase_if(process.env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
        process.env.push_back(kv);
    }
    if (!options.cwd.empty()) {
        if (!options.cwd.starts_with("/")) return fail("--cwd: must be an absolute path");
        process.cwd = options.cwd;
    }
    if (options.user) {
        const std::string& u = *options.user;
        auto colon = u.find(':');
        char* end = nullptr;
        std::string uid_text = u.substr(0, colon);
        unsigned long uid = std::strtoul(uid_text.c_str(), &end, 10);
        if (uid_text.empty() || *end) return fail("--user: expected uid[:gid], got \"" + u + "\"");
        process.user.uid = static_cast<uint32_t>(uid);
        process.user.gid = 0;
        if (colon != std::string::npos) {
            std::string gid_text = u.substr(colon + 1);
            unsigned long gid = std::strtoul(gid_text.c_str(), &end, 10);
            if (gid_text.empty() || *end) return fail("--user: expected uid[:gid], got \"" + u + "\"");
            process.user.gid = static_cast<uint32_t>(gid);
        }
    }
    for (const auto& g : options.additional_gids) {
        char* end = nullptr;
        unsigned long gid = std::strtoul(g.c_str(), &end, 10);
        if (g.empty() || *end) return fail("--additional-gids: invalid gid \"" + g + "\"");
        process.user.additional_gids.push_back(static_cast<uint32_t>(gid));
    }
    if (!options.caps.empty()) {
        if (!process.capabilities) process.capabilities = Capabilities{};
        for (const auto& name : options.caps) {
            auto cap = capability_from_name(name);
            if (!cap) return fail("--cap: unknown capability \"" + name + "\"");
            for (auto* set : {&process.capabilities->bounding, &process.capabilities->effective,
                              &process.capabilities->permitted})
                set->push_back(*cap);
        }
    }
    if (options.no_new_privs) process.no_new_privileges = true;
    return process;
}

bool same_namespace(pid_t pid, const char* name) {
    struct stat mine, theirs;
    std::string self = std::string("/proc/self/ns/") + name;
    std::string other = "/proc/" + std::to_string(pid) + "/ns/" + name;
    if (::stat(self.c_str(), &mine) != 0 || ::stat(other.c_str(), &theirs) != 0) return false;
    return mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

struct ExecChild {
    const Process* process;
    std::vector<std::pair<int, std::string>> joins;
    SeccompFilter* seccomp;
    SyncChannel* channel;
    int console_socket;
    bool console_to_parent;
    bool setgroups_allowed;
    int preserve_fds;
    bool die_with_parent;
};

Result<std::string> exec_child_setup(ExecChild& c) {
    if (c.die_with_parent && ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        return sys_error("prctl PR_SET_PDEATHSIG");
    SKIFF_CHECK(join_namespaces(c.joins));
    if (::setsid() < 0) return sys_error("setsid");
    if (c.process->terminal) {
        SKIFF_TRY(pty, open_pty());
        if (c.process->console_size)
            SKIFF_CHECK(set_window_size(pty.master.get(), c.process->console_size->height,
                                        c.process->console_size->width));
        if (c.console_socket >= 0) {
            SKIFF_CHECK(send_fd(c.console_socket, pty.master.get(), pty.slave_path));
            ::close(c.console_socket);
        } else {
            SKIFF_CHECK(c.channel->send(SyncMessage::kConsoleFd, pty.slave_path, pty.master.get()));
        }
        pty.master.reset();
        SKIFF_CHECK(attach_to_terminal(pty.slave.get()));
    }
    SKIFF_CHECK(apply_rlimits(c.process->rlimits));
    SKIFF_TRY(path, find_executable(c.process->args[0], c.process->env));
    SKIFF_CHECK(enter_working_directory(c.process->cwd));
    SKIFF_CHECK(apply_identity_and_security(*c.process, c.seccomp, c.setgroups_allowed));
    // Again as the final user; the path was checked above and seccomp may forbid getcwd.
    if (::chdir(c.process->cwd.c_str()) != 0) return sys_error("chdir to cwd \"" + c.process->cwd + "\"");
    SKIFF_CHECK(close_fds_on_exec({c.channel->fd()}, c.preserve_fds));
    return path;
}

[[noreturn]] void run_exec_child(ExecChild& c) {
    auto path = exec_child_setup(c);
    if (!path) {
        (void)c.channel->send_error(path.error());
        _exit(1);
    }
    (void)c.channel->send(SyncMessage::kReady);
    c.channel->close();
    std::vector<std::string> args = c.process->args;
    std::vector<std::string> env = c.process->env;
    auto argv = to_argv(args);
    auto envp = to_argv(env);
    // exec always starts from a sealed copy (cli/main.cpp): no stub needed.
    exec_container_process(*path, argv.data(), envp.data(), -1);
}

pid_t g_exec_forward_to = 0;
void forward_exec_signal(int sig) {
    if (g_exec_forward_to > 0) ::kill(g_exec_forward_to, sig);
}

}  // namespace

Result<int> exec_in_container(const RuntimeOptions& rt, const ExecOptions& options) {
    StateStore store(rt.root);
    SKIFF_TRY(record, store.load(options.id));
    auto status = store.status(record);
    if (status != ContainerStatus::running && status != ContainerStatus::created)
        return fail("cannot exec in container \"" + options.id + "\": it is " + status_name(status));
    SKIFF_TRY(spec, store.load_config(options.id));
    SKIFF_TRY(process, build_process(options, spec));
    if (process.args.empty()) return fail("process.args: must be a non-empty array");

    UniqueFd console_socket;
    if (!options.console_socket.empty()) {
        SKIFF_TRY(fd, connect_unix(options.console_socket));
        console_socket = std::move(fd);
    } else if (process.terminal && options.detach) {
        return fail("a detached exec with a terminal needs --console-socket");
    }

    std::optional<SeccompFilter> filter;
    if (spec.linux && spec.linux->seccomp) {
        SKIFF_TRY(built, build_seccomp_filter(*spec.linux->seccomp, seccomp_cache_dir(rt.root)));
        filter.emplace(std::move(built));
    }

    pid_t target = record.pid;
    std::vector<std::pair<int, std::string>> joins;
    std::string proc = "/proc/" + std::to_string(target) + "/ns/";
    for (auto [name, flag] : {std::pair{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
                              {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS}})
        if (!same_namespace(target, name)) joins.emplace_back(flag, proc + name);
    bool setgroups_allowed = true;
    if (auto sg = read_file_limited("/proc/" + std::to_string(target) + "/setgroups", 64); sg && sg->starts_with("deny"))
        setgroups_allowed = false;

    SKIFF_TRY(channels, SyncChannel::make_pair());
    SyncChannel parent_end = std::move(channels.first);
    SyncChannel child_end = std::move(channels.second);
    UniqueFd cgroup_fd;
    if (!record.cgroup_path.empty()) {
        cgroups::Group group(record.cgroup_root, record.cgroup_path);
        if (auto fd = group.open_dir(); fd) cgroup_fd = std::move(*fd);
    }
    // The new process is visible to the container from birth: non-dumpable before cloning so
    // nothing inside can open /proc/<pid>/exe, the runtime binary (CVE-2019-5736).
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return sys_error("prctl PR_SET_DUMPABLE");

    CloneResult cloned;
    {
        PidNamespaceSwitch pid_switch;
        if (!same_namespace(target, "pid")) SKIFF_CHECK(pid_switch.enter(proc + "pid"));
        SKIFF_TRY(result, clone_into(0, cgroup_fd ? cgroup_fd.get() : -1));
        cloned = result;
        if (cloned.pid == 0) {
            parent_end.close();
            ExecChild child{&process, joins, filter ? &*filter : nullptr, &child_end,
                            console_socket ? console_socket.get() : -1, !console_socket && process.terminal,
                            setgroups_allowed, options.preserve_fds, !options.detach};
            run_exec_child(child);
        }
    }
    child_end.close();
    ChildGuard guard{cloned.pid};
    if (!cloned.in_cgroup && !record.cgroup_path.empty())
        (void)cgroups::Group(record.cgroup_root, record.cgroup_path).add_process(cloned.pid);

    UniqueFd master;
    if (process.terminal && !console_socket) {
        SKIFF_TRY(packet, parent_end.expect(SyncMessage::kConsoleFd, "exec process"));
        master = std::move(packet.fd);
    }
    SKIFF_CHECK(parent_end.expect(SyncMessage::kReady, "exec process"));
    if (!options.pid_file.empty()) SKIFF_CHECK(write_file_atomic(options.pid_file, std::to_string(cloned.pid)));
    guard.pid = -1;
    if (options.detach) return 0;

    g_exec_forward_to = cloned.pid;
    struct sigaction sa {};
    sa.sa_handler = forward_exec_signal;
    sa.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) ::sigaction(sig, &sa, nullptr);
    if (master) relay_terminal(master.get());
    int wstatus = 0;
    while (::waitpid(cloned.pid, &wstatus, 0) < 0) {
        if (errno != EINTR) return sys_error("wait for exec process");
    }
    g_exec_forward_to = 0;
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return WEXITSTATUS(wstatus);
}

}  // namespace skiff::runtime
