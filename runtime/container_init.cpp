#include "runtime/container_init.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/path.hpp"
#include "common/spin_wait.hpp"
#include "runtime/cloned_binary.hpp"
#include "runtime/console.hpp"
#include "runtime/hooks.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/rootfs.hpp"

namespace skiff::runtime {

Status join_namespaces(const std::vector<std::pair<int, std::string>>& joins) {
    std::vector<std::pair<int, UniqueFd>> fds;
    for (const auto& [flag, path] : joins) {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return sys_error("open namespace " + path);
        fds.emplace_back(flag, std::move(fd));
    }
    // Inside a joined user namespace we hold no capability over namespaces its parent owns
    // (a rootless container's network namespace made by the engine for pasta): so every
    // other namespace is joined first where we may, the refused ones (EPERM) again from
    // inside the user namespace (runc's order).
    const bool has_user = std::any_of(fds.begin(), fds.end(), [](const auto& f) { return f.first == CLONE_NEWUSER; });
    std::vector<size_t> after_user;
    for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].first == CLONE_NEWUSER) continue;
        if (::setns(fds[i].second.get(), fds[i].first) == 0) continue;
        if (has_user && errno == EPERM) after_user.push_back(i);
        else return sys_error("join namespace " + joins[i].second);
    }
    for (size_t i = 0; i < fds.size(); ++i)
        if (fds[i].first == CLONE_NEWUSER && ::setns(fds[i].second.get(), CLONE_NEWUSER) != 0)
            return sys_error("join namespace " + joins[i].second);
    for (size_t i : after_user)
        if (::setns(fds[i].second.get(), fds[i].first) != 0) return sys_error("join namespace " + joins[i].second);
    return ok();
}

std::string with_status(const std::string& state_json, const char* status) {
    auto doc = nlohmann::json::parse(state_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return state_json;
    doc["status"] = status;
    return doc.dump(2);
}

namespace {

// A new network namespace starts with lo down; bring it up as runc does.
Status bring_up_loopback() {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("socket for loopback");
    struct ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("get flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("bring lo up");
    return ok();
}

// A sysctl may only be set when the namespace it belongs to is the container's own (new or
// joined); anything else would change the host (runc's rule).
Status check_sysctl_namespace(const Spec& spec, const std::string& key) {
    auto starts = [&](const char* prefix) { return key.rfind(prefix, 0) == 0; };
    const char* ns = nullptr;
    if (starts("kernel.msg") || starts("kernel.sem") || starts("kernel.shm") || starts("fs.mqueue.")) ns = "ipc";
    else if (starts("net.")) ns = "network";
    else if (key == "kernel.hostname" || key == "kernel.domainname") ns = "uts";
    if (!ns) return fail("linux.sysctl: \"" + key + "\" is not in a separate kernel namespace");
    if (!spec.has_namespace(ns))
        return fail("linux.sysctl: \"" + key + "\" needs a " + ns + " namespace, the spec has none");
    return ok();
}

Status write_sysctls(const Spec& spec, const std::map<std::string, std::string>& sysctls) {
    for (const auto& [key, value] : sysctls) SKIFF_CHECK(check_sysctl_namespace(spec, key));
    for (const auto& [key, value] : sysctls) {
        auto path = sysctl_file(key);
        if (!path) return fail("linux.sysctl: invalid key \"" + key + "\"");
        if (auto r = write_file(*path, value); !r) return std::unexpected(r.error().context("linux.sysctl " + key));
    }
    return ok();
}

Status setup_terminal(ChildContext& ctx) {
    const Process& process = *ctx.request->spec->process;
    SKIFF_TRY(pty, open_pty());
    if (process.console_size)
        SKIFF_CHECK(set_window_size(pty.master.get(), process.console_size->height, process.console_size->width));
    // /dev/console shows the same terminal (the OCI spec's default device).
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open /");
    if (auto console = mkfile_in_root(root.get(), "/dev/console", 0600); console) {
        if (::mount(pty.slave_path.c_str(), fd_path(console->get()).c_str(), nullptr, MS_BIND, nullptr) != 0)
            return sys_error("bind " + pty.slave_path + " on /dev/console");
    }
    if (ctx.request->console_socket >= 0) {
        SKIFF_CHECK(send_fd(ctx.request->console_socket, pty.master.get(), pty.slave_path));
        ::close(ctx.request->console_socket);
    } else if (ctx.request->console_to_parent) {
        SKIFF_CHECK(ctx.channel->send(SyncMessage::kConsoleFd, pty.slave_path, pty.master.get()));
    } else {
        return fail("process.terminal is true but no --console-socket was given");
    }
    pty.master.reset();
    SKIFF_CHECK(attach_to_terminal(pty.slave.get()));
    return ok();
}

struct ReadyToExec {
    std::string path;
    std::string created_state;
    UniqueFd host_proc;  // only without a mount namespace (see setup)
};

Result<ReadyToExec> setup(ChildContext& ctx) {
    const LaunchRequest& req = *ctx.request;
    const Spec& spec = *req.spec;
    const Process& process = *spec.process;
    const NamespacePlan& ns = *ctx.namespaces;

    // Drop every fd inherited from the runtime (its cgroup directory, log file, ...) at once,
    // so none is reachable through /proc/self/fd from here on (CVE-2024-21626).
    SKIFF_CHECK(close_fds_on_exec({ctx.channel->fd(), ctx.exec_fifo, req.console_socket, ctx.exec_stub},
                                  req.preserve_fds));

    SKIFF_TRY(go, ctx.channel->expect(SyncMessage::kGo, "runtime"));
    // Die with the runtime until we are fully set up; a `create` killed midway leaves no
    // half-made container running. Only now: until kGo our parent may be the launcher's
    // short-lived cloning thread (launcher.cpp), whose end would fire the signal. (Had the
    // runtime died before this, the handshakes read EOF and we exit.)
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return sys_error("prctl PR_SET_PDEATHSIG");
    bool setgroups_allowed = go.payload != "setgroups=deny";
    if (ns.new_user) {
        // Become root of the new user namespace when root is mapped (mounts need it).
        (void)::setresgid(0, 0, 0);
        (void)::setresuid(0, 0, 0);
    }
    SKIFF_CHECK(join_namespaces(ns.joins));
    if (ns.new_cgroup && ::unshare(CLONE_NEWCGROUP) != 0) return sys_error("unshare cgroup namespace");
    if (ns.clone_flags & CLONE_NEWNET) SKIFF_CHECK(bring_up_loopback());
    // Not dumpable: no process in the container may open our /proc/<pid>/exe, the runtime
    // binary, while we are still it (CVE-2019-5736). execve resets this.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return sys_error("prctl PR_SET_DUMPABLE");
    SKIFF_CHECK(ctx.channel->send(SyncMessage::kNamespacesReady));
    SKIFF_TRY(hooks_done, ctx.channel->expect(SyncMessage::kHooksDone, "runtime"));
    const std::string& creating_state = hooks_done.payload;

    // Device nodes and mount targets get exactly the modes asked for; the caller's umask comes
    // back before exec unless process.user.umask replaces it (runtime-spec: "If unspecified,
    // the umask should not be changed from the calling process' umask").
    mode_t caller_umask = ::umask(0);
    ReadyToExec ready;
    ready.created_state = with_status(creating_state, "created");

    auto create_container_hooks = [&]() -> Status {
        if (spec.hooks) return run_hooks(spec.hooks->create_container, "createContainer", creating_state);
        return ok();
    };
    if (ns.has_mount_ns) {
        RootfsPlan plan;
        plan.spec = &spec;
        plan.rootfs = req.rootfs;
        plan.in_user_namespace = ns.new_user || (!ns.joins.empty() && ns.joins.front().first == CLONE_NEWUSER);
        plan.cgroup_dir = req.group ? req.group->path() : std::string();
        plan.new_cgroup_namespace = ns.new_cgroup;
        plan.no_pivot = req.no_pivot;
        SKIFF_CHECK(build_rootfs(plan, create_container_hooks));
    } else {
        // Sharing the runtime's mount namespace: nothing is mounted (it would land on the
        // host); the process is only chroot'ed into the rootfs. The host's /proc stays
        // reachable through one fd for reopening the exec fifo; in this mode the container
        // shares the host's mounts anyway, so that fd opens nothing new to it.
        SKIFF_CHECK(create_container_hooks());
        ready.host_proc.reset(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!ready.host_proc) return sys_error("open /proc");
        if (::chdir(req.rootfs.c_str()) != 0 || ::chroot(".") != 0 || ::chdir("/") != 0)
            return sys_error("chroot to rootfs " + req.rootfs);
    }
    // Sysctls before finish_rootfs: readonlyPaths usually makes /proc/sys read-only.
    if (spec.linux) SKIFF_CHECK(write_sysctls(spec, spec.linux->sysctl));
    if (ns.has_mount_ns) SKIFF_CHECK(finish_rootfs(spec));
    ::umask(caller_umask);

    if (!spec.hostname.empty() || !spec.domainname.empty()) {
        if (!ns.has_uts_ns) return fail("hostname: setting it needs a uts namespace");
        if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
            return sys_error("sethostname " + spec.hostname);
        if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
            return sys_error("setdomainname " + spec.domainname);
    }

    if (::setsid() < 0) return sys_error("setsid");
    if (process.terminal) SKIFF_CHECK(setup_terminal(ctx));
    SKIFF_CHECK(apply_rlimits(process.rlimits));

    // Only the handshake and the fifo remain open while args[0] and cwd are resolved.
    SKIFF_CHECK(close_fds_on_exec({ctx.channel->fd(), ctx.exec_fifo, ready.host_proc.get(), ctx.exec_stub},
                                  req.preserve_fds));
    SKIFF_TRY(path, find_executable(process.args[0], process.env));
    ready.path = path;
    SKIFF_CHECK(enter_working_directory(process.cwd));
    SKIFF_CHECK(apply_identity_and_security(process, ctx.seccomp, setgroups_allowed));
    // Again as the final user (permissions may differ from root's); the path was already
    // checked above, and seccomp may now forbid getcwd.
    if (::chdir(process.cwd.c_str()) != 0) return sys_error("chdir to cwd \"" + process.cwd + "\"");
    return ready;
}

}  // namespace

void run_container_child(ChildContext& ctx) {
    auto ready = setup(ctx);
    if (!ready) {
        (void)ctx.channel->send_error(ready.error());
        _exit(1);
    }
    const LaunchRequest& req = *ctx.request;
    const Spec& spec = *req.spec;
    if (req.outlive_parent) ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    (void)ctx.channel->send(SyncMessage::kReady);
    ctx.channel->close();

    // Block until `start` opens the fifo for reading, then tell it we are going. The fifo is
    // reopened through our O_PATH fd: its directory may not be searchable by us any more.
    std::string fifo_path = "self/fd/" + std::to_string(ctx.exec_fifo);
    const int fifo_dir = ready->host_proc ? ready->host_proc.get() : AT_FDCWD;
    const std::string fifo_at = ready->host_proc ? fifo_path : "/proc/" + fifo_path;
    // `start` comes right after our kReady in a `run`: poll for its reader (a non-blocking
    // open fails with ENXIO until there is one) before sleeping in the open (spin_wait.hpp).
    int fifo = -1;
    int open_error = ENXIO;
    spin_until([&] {
        fifo = ::openat(fifo_dir, fifo_at.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        open_error = fifo < 0 ? errno : 0;
        return fifo >= 0 || (open_error != ENXIO && open_error != EINTR);
    });
    if (fifo < 0 && (open_error == ENXIO || open_error == EINTR)) {
        fifo = ::openat(fifo_dir, fifo_at.c_str(), O_WRONLY | O_CLOEXEC);
        open_error = fifo < 0 ? errno : 0;
    }
    ready->host_proc.reset();
    if (fifo < 0) {
        dprintf(STDERR_FILENO, "skiff-runtime: open exec fifo: %s\n", strerror(open_error));
        _exit(1);
    }
    if (::write(fifo, "0", 1) != 1) _exit(1);
    ::close(ctx.exec_fifo);
    // `fifo` stays open (close-on-exec) until execve: `start` waits for its end-of-file, so
    // poststart hooks run only once startContainer hooks are done and the process is executed.

    if (spec.hooks && !spec.hooks->start_container.empty()) {
        auto r = run_hooks(spec.hooks->start_container, "startContainer", ready->created_state);
        if (!r) {
            dprintf(STDERR_FILENO, "skiff-runtime: %s\n", r.error().message().c_str());
            _exit(1);
        }
    }
    std::vector<std::string> args = spec.process->args;
    std::vector<std::string> env = spec.process->env;
    auto argv = to_argv(args);
    auto envp = to_argv(env);
    exec_container_process(ready->path, argv.data(), envp.data(), ctx.exec_stub);
}

}  // namespace skiff::runtime
