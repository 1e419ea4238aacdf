// Container lifecycle: create, start (attached or under a monitor), stop, kill, rm, wait,
// reconcile after crashes. Listing and inspecting are in container_views.cpp, logs in
// container_logs.cpp.
#include "engine/containers.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>

#include "cgroups/cgroups.hpp"
#include "common/clock.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/container_log.hpp"
#include "engine/helper_binaries.hpp"
#include "engine/container_network.hpp"
#include "engine/volumes.hpp"
#include "overlay/container_rootfs.hpp"
#include "runtime/runtime.hpp"
#include "runtime/state_store.hpp"

namespace skiff::engine {
namespace {

using Clock = std::chrono::steady_clock;

std::string rootfs_of(state::ContainerStore& containers, const std::string& id) {
    return path_join(containers.dir_of(id), "rootfs");
}

// Docker's exit codes for a container that could not be started (design.md section 5): only
// a failure of the runtime's exec step ("exec: \"cmd\": ...") is 126/127; a mount, a
// cgroup or anything else that failed is the engine's 125.
int start_failure_code(const Error& error) {
    const std::string& what = error.what;
    if (what.find("exec: \"") == std::string::npos) return 125;
    if (error.code == ENOENT || error.code == ENOTDIR || what.find("executable file not found") != std::string::npos)
        return 127;
    if (error.code == EACCES || error.code == ENOEXEC || error.code == EPERM) return 126;
    return 125;
}

bool wants_restart(const state::ContainerRecord& record, int exit_code) {
    if ((record.config.is_object() && record.config.value("manually_stopped", false))) return false;
    const std::string& policy = record.restart_policy;
    if (policy == "always" || policy == "unless-stopped") return true;
    if (policy.starts_with("on-failure")) {
        if (exit_code == 0) return false;
        auto colon = policy.find(':');
        if (colon == std::string::npos) return true;
        return record.restart_count < std::stoi(policy.substr(colon + 1));
    }
    return false;
}

// The end of a run: record the exit, unmount, and apply --rm.
void record_exit(const Store& store, state::ContainerStore& containers, const std::string& id,
                 int exit_code, bool unmount, bool restarting = false) {
    // The network and the rootfs go first, so whoever waits for "exited" finds them gone (a
    // restart keeps them): a `restart` starting the container again must not have its fresh
    // mount taken away by the end of the run before.
    if (!restarting) end_container_network(store, id);
    if (unmount) (void)unmount_rootfs(rootfs_of(containers, id));
    (void)containers.update(id, [&](state::ContainerRecord& r) -> Status {
        r.status = state::Status::exited;
        if (restarting) {
            // One write with the exit, so no reader sees it "exited" in between.
            ++r.restart_count;
            if (!r.config.is_object()) r.config = nlohmann::json::object();
            r.config["backoff"] = true;  // ps: "Restarting (N) ...", inspect: restarting
        }
        r.exit_code = exit_code;
        r.finished = rfc3339_now();
        r.pid = 0;
        r.pid_start_time = 0;
        return ok();
    });
    (void)store;
}

// Where the monitor leaves the exit code of a --rm container, for a `wait` that polls after
// the record is gone (Docker's wait prints it too). Volatile, under the runroot.
std::string exit_code_path(const Store& store, const std::string& id) {
    return path_join(path_join(store.options.runroot, "exits"), id);
}

// What rm does once PID 1 is gone: the runtime's state, the network, the rootfs mount, the
// record and its files, and (volumes) the anonymous volumes no other container mounts. With
// `deferred`, the files go on that list (for one detached remover) instead of now.
Status remove_stopped(const Store& store, state::ContainerStore& containers, const state::ContainerRecord& record,
                      bool volumes, DeferredRemoval* deferred);

// A --rm container whose run has ended: removed now, unless a restart stopped it (as
// Docker does, a restart keeps it).
bool removed_when_done(const state::ContainerRecord& record) {
    return record.auto_remove && !(record.config.is_object() && record.config.value("restarting", false));
}

void remove_if_auto(const Store& store, const std::string& id) {
    auto containers = container_store(store);
    auto record = containers.load(id);
    if (record && removed_when_done(*record)) (void)remove_container(store, id, true, true);
}

// Sets fds 0/1/2 for a container run from this process and puts them back afterwards.
class StdioSwap {
public:
    Status swap(int in, int out, int err) {
        for (int fd = 0; fd < 3; ++fd) {
            saved_[fd] = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
        }
        if ((in >= 0 && ::dup2(in, 0) < 0) || (out >= 0 && ::dup2(out, 1) < 0) || (err >= 0 && ::dup2(err, 2) < 0))
            return sys_error("set up the container's stdio");
        return ok();
    }
    void restore() {
        for (int fd = 0; fd < 3; ++fd)
            if (saved_[fd]) ::dup2(saved_[fd].get(), fd);
    }
    int saved(int fd) const { return saved_[fd] ? saved_[fd].get() : fd; }

private:
    UniqueFd saved_[3];
};

struct Pipe {
    UniqueFd read, write;
    static Result<Pipe> make() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) return sys_error("pipe");
        return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
    }
};

// One run of PID 1 from this process with its stdout/stderr through `sink`: the runtime's
// run (create + start + wait + delete, its state directory left on `deferred`). Returns the
// exit code; errors before PID 1 ran become Docker's 125/126/127 with the message kept in
// `start_error`.
struct RunOutcome {
    int exit_code = 0;
    std::optional<Error> start_error;
};

RunOutcome run_once(const Store& store, const std::string& id, bool tty, int stdin_fd, LogSink& sink,
                    const std::function<void(pid_t)>& on_started, DeferredRemoval* deferred) {
    auto containers = container_store(store);
    RunOutcome outcome;
    auto out = Pipe::make();
    auto err = Pipe::make();
    if (!out || !err) {
        outcome.start_error = out ? err.error() : out.error();
        outcome.exit_code = 125;
        return outcome;
    }
    StdioSwap stdio;
    // With a terminal the runtime relays the pty to our stdout: that is the one stream.
    auto swapped = stdio.swap(stdin_fd, out->write.get(), tty ? out->write.get() : err->write.get());
    if (!swapped) {
        stdio.restore();
        outcome.start_error = swapped.error();
        outcome.exit_code = 125;
        return outcome;
    }
    out->write.reset();
    err->write.reset();
    // The pump thread starts only once PID 1 runs: the runtime clones the container's process
    // with a raw clone3, which (unlike fork) takes no care of locks another thread holds, so
    // a thread inside malloc at that moment would leave the child waiting on it for ever.
    std::optional<std::thread> pump;
    auto started = [&](pid_t pid) {
        // PID 1 has its copies of the pipes now. Without a terminal nothing else of ours writes
        // to them: give our stdio back at once, so the pump sees their end as soon as the
        // container's writers are gone, while the runtime is still cleaning up.
        if (!tty) stdio.restore();
        pump.emplace([&] { pump_output(out->read.get(), err->read.get(), sink); });
        if (on_started) on_started(pid);
    };
    runtime::CreateOptions options;
    options.id = id;
    options.bundle = containers.dir_of(id);
    auto ran = runtime::run_container(runtime_options(store, deferred), options, false, started);
    // Our copies of the pipes' write ends go (with a terminal, only now: the runtime relayed it
    // through them); the pump ends when the container's do too.
    stdio.restore();
    if (pump) pump->join();
    if (!ran) {
        outcome.start_error = ran.error();
        outcome.exit_code = start_failure_code(ran.error());
    } else {
        outcome.exit_code = *ran;
    }
    return outcome;
}

void mark_running(state::ContainerStore& containers, const std::string& id, pid_t pid) {
    (void)containers.update(id, [&](state::ContainerRecord& r) -> Status {
        r.status = state::Status::running;
        if (r.config.is_object()) r.config.erase("backoff");
        r.pid = pid;
        r.pid_start_time = runtime::process_start_time(pid);
        r.started = rfc3339_now();
        r.finished.clear();
        r.monitor_pid = ::getpid();
        r.monitor_start_time = runtime::own_start_time();
        return ok();
    });
}

void write_report(int& fd, const std::string& line) {
    if (fd < 0) return;
    (void)write_all(fd, line.data(), line.size());
    ::close(fd);
    fd = -1;
}

// Every fd but the ones we keep: the monitor must not hold the CLI's pipes open (a caller
// reading our output would never see its end).
void close_inherited_fds(int keep) {
    for (int fd = 3; fd < 1024; ++fd)
        if (fd != keep) ::close(fd);
}

}  // namespace

state::ContainerStore container_store(const Store& store) { return state::ContainerStore(store.options.root); }

runtime::RuntimeOptions runtime_options(const Store& store, DeferredRemoval* deferred) {
    return runtime::RuntimeOptions{path_join(store.options.runroot, "runtime"), deferred};
}

std::string seccomp_oci_cache_dir(const Store& store) { return path_join(store.options.runroot, "cache"); }

Result<std::vector<std::string>> image_lower_dirs(const Store& store, const image::ImageRecord& image) {
    std::vector<std::string> dirs;
    for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it) {
        SKIFF_TRY(layer, store.layers.get(*it));
        if (!layer.privileged && !layer.markers_made && (!layer.whiteouts.empty() || !layer.opaque_dirs.empty())) {
            // Unpacked without root: its whiteouts were recorded, not made. Made now, once, in
            // the form a rootless (userxattr) overlay reads; a root overlay cannot use them.
            if (::geteuid() == 0)
                return fail("layer " + layer.chain_id + " was unpacked without root and holds whiteouts; "
                            "pull the image again as root");
            SKIFF_CHECK(store.layers.materialize_markers(*it));
        }
        dirs.push_back(store.layers.diff_path(*it));
    }
    return dirs;
}

Result<bool> mount_container_rootfs(const Store& store, const std::string& container_dir, const std::string& image_id,
                                    bool throwaway) {
    std::string target = path_join(container_dir, "rootfs");
    if (is_mounted(target)) return false;
    SKIFF_TRY(image, store.images.find(image_id));
    SKIFF_TRY(lowers, image_lower_dirs(store, image));
    if (lowers.empty()) {
        // An image without layers (import of an empty tarball): overlay needs one lower dir.
        std::string empty = path_join(container_dir, "empty");
        SKIFF_CHECK(mkdir_p(empty, 0755));
        lowers.push_back(empty);
    }
    // Rootless: inside the user's namespace (engine/rootless.hpp), where overlayfs keeps its
    // markers in user.overlay.* xattrs.
    RootfsOptions options;
    options.userxattr = ::geteuid() != 0;
    options.volatile_upper = throwaway;
    SKIFF_CHECK(mount_rootfs(lowers, path_join(container_dir, "upper"), path_join(container_dir, "work"), target,
                             options));
    return true;
}

Status validate_restart_policy(std::string_view policy, bool auto_remove) {
    bool valid = policy == "no" || policy == "always" || policy == "unless-stopped" || policy == "on-failure";
    if (!valid && policy.starts_with("on-failure:")) {
        auto count = policy.substr(11);
        valid = !count.empty() && std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; });
    }
    if (!valid) return fail("invalid restart policy '" + std::string(policy) + "'");
    if (auto_remove && policy != "no")
        return fail("conflicting options: cannot specify both --restart and --rm");
    return ok();
}

namespace {

// --- the monitor of a detached container ---------------------------------------------------
//
// start_detached forks twice; the grandchild (monitor_main) becomes a subreaper in a session of
// its own and runs launch_run: the runtime code launches PID 1 from this process (so PID 1 is
// our child and dies with us, PDEATHSIG), then this process execs the small static
// skiff-monitor (monitor/skiff_monitor.cpp), which writes the log, serves attach and reaps.
// When PID 1 has exited it execs `skiff container-exited ID CODE` (container_exited below):
// the exit is recorded, and a restart runs launch_run again. One process all along, so the
// monitor pid in the record stays true, and only skiff-monitor stays resident while PID 1 runs.

[[noreturn]] void after_run(const Store& store, const std::string& id, int exit_code, bool start_failed);

// PID 1 could not be started: tell the CLI waiting on report_fd, then end the run.
[[noreturn]] void fail_launch(const Store& store, const std::string& id, int& report_fd, const Error& error,
                               int exit_code) {
    write_report(report_fd, "error " + std::to_string(error.code) + " " + error.what + "\n");
    after_run(store, id, exit_code, true);
}

// One run of PID 1 under the monitor; becomes skiff-monitor (never returns).
[[noreturn]] void launch_run(const Store& store, const std::string& id, int report_fd) {
    auto containers = container_store(store);
    auto record = containers.load(id);
    if (!record) {
        write_report(report_fd, "error 0 " + record.error().message() + "\n");
        ::_exit(1);
    }
    auto monitor = helper_binary("skiff-monitor");
    if (!monitor) fail_launch(store, id, report_fd, monitor.error(), 125);
    auto skiff = skiff_executable();
    if (!skiff) fail_launch(store, id, report_fd, skiff.error(), 125);
    UniqueFd log(::open(containers.log_path_of(id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!log) fail_launch(store, id, report_fd, Error{errno, "open log " + containers.log_path_of(id)}, 125);
    // Listening before PID 1 runs: an `attach` right after `run -d` returns must find it.
    auto listener = listen_attach_socket(store, id);
    if (!listener) fail_launch(store, id, report_fd, listener.error(), 125);
    UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    // Without a terminal PID 1 writes into two pipes, and with -i reads a third whose write
    // end the monitor keeps, so stdin stays open for `attach` (as Docker keeps it). With -t
    // the runtime puts the pty on PID 1's stdio and hands us the master.
    std::optional<Pipe> out, err, in;
    if (!record->tty) {
        auto o = Pipe::make();
        auto e = Pipe::make();
        if (!o || !e) fail_launch(store, id, report_fd, o ? e.error() : o.error(), 125);
        out = std::move(*o);
        err = std::move(*e);
        if (record->interactive) {
            auto i = Pipe::make();
            if (!i) fail_launch(store, id, report_fd, i.error(), 125);
            in = std::move(*i);
        }
    }
    // PID 1 inherits fds 0-2.
    ::dup2(in ? in->read.get() : devnull.get(), 0);
    ::dup2(out ? out->write.get() : devnull.get(), 1);
    ::dup2(err ? err->write.get() : devnull.get(), 2);
    runtime::CreateOptions options;
    options.id = id;
    options.bundle = containers.dir_of(id);
    auto launched = runtime::run_container_handed_over(runtime_options(store), options);
    // Our copies of PID 1's ends go, so the monitor sees end of file when PID 1's do.
    for (int fd = 0; fd < 3; ++fd) ::dup2(devnull.get(), fd);
    if (out) out->write.reset(), err->write.reset();
    if (in) in->read.reset();
    if (!launched) fail_launch(store, id, report_fd, launched.error(), start_failure_code(launched.error()));
    pid_t pid = launched->pid;
    mark_running(containers, id, pid);
    write_report(report_fd, "ok " + std::to_string(pid) + "\n");
    (void)::chdir("/");  // the runtime left us in the bundle

    std::vector<std::string> args{"skiff-monitor", "--root", store.options.root, "--runroot", store.options.runroot,
                                  "--skiff", *skiff, "--id", id, "--pid", std::to_string(pid)};
    std::vector<int> passed;
    auto pass = [&](const char* flag, int fd) {
        args.insert(args.end(), {flag, std::to_string(fd)});
        passed.push_back(fd);
    };
    pass("--log", log.get());
    pass("--attach", listener->get());
    if (launched->console_master) {
        pass("--pty", launched->console_master.get());
        if (record->interactive) pass("--stdin", launched->console_master.get());
    } else {
        pass("--stdout", out->read.get());
        pass("--stderr", err->read.get());
        if (in) pass("--stdin", in->write.get());
    }
    for (int fd : passed) ::fcntl(fd, F_SETFD, 0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(monitor->c_str(), argv.data());
    // PID 1 must not run unwatched: it goes, and the run ends as a failure of the engine.
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    (void)runtime::delete_container(runtime_options(store), id, true);
    after_run(store, id, 125, true);
}

// After a run of PID 1 (or a start that failed): record it, then restart or finish.
[[noreturn]] void after_run(const Store& store, const std::string& id, int exit_code, bool start_failed) {
    auto containers = container_store(store);
    auto latest = containers.load(id);
    bool restart = latest && !start_failed && wants_restart(*latest, exit_code);
    record_exit(store, containers, id, exit_code, !restart, restart);
    if (restart) {
        // Docker's back-off: 100 ms doubling, so a crash loop does not spin.
        int count = latest->restart_count + 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(100 << std::min(count, 8)));
        // A stop or rm during the back-off wins.
        auto now = containers.load(id);
        if (now && !(now->config.is_object() && now->config.value("manually_stopped", false)))
            launch_run(store, id, -1);
        // Stopped during the back-off: what the run kept goes before the record says so.
        if (now) (void)unmount_rootfs(rootfs_of(containers, id));
        end_container_network(store, id);
        (void)containers.update(id, [](state::ContainerRecord& r) -> Status {
            if (r.config.is_object()) r.config.erase("backoff");
            return ok();
        });
    }
    if (auto last = containers.load(id); last && last->auto_remove) {
        (void)mkdir_p(path_join(store.options.runroot, "exits"), 0700);
        (void)write_file_atomic(exit_code_path(store, id), std::to_string(last->exit_code) + "\n" + last->name + "\n");
    }
    remove_if_auto(store, id);
    ::_exit(0);
}

}  // namespace

[[noreturn]] void monitor_main(const Store& store, const std::string& id, int report_fd) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // kept across execve (checked by skiff-monitor)
    ::prctl(PR_SET_NAME, "skiff-monitor");
    close_inherited_fds(report_fd);
    UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    for (int fd = 0; fd < 3; ++fd) ::dup2(devnull.get(), fd);
    launch_run(store, id, report_fd);
}

[[noreturn]] void container_exited(const Store& store, const std::string& id, int exit_code) {
    auto containers = container_store(store);
    auto record = containers.load(id);
    if (!record) ::_exit(0);  // removed meanwhile (rm -f): nothing left to record
    // Only for the monitor of a container whose PID 1 is gone (anyone else would kill it).
    if (record->monitor_pid != ::getpid() || runtime::process_alive(record->pid, record->pid_start_time)) {
        std::fprintf(stderr, "Error: container-exited: %s is not a container whose PID 1 this process reaped\n",
                     id.c_str());
        ::_exit(125);
    }
    // What the runtime's foreground run does after its wait: its state and the cgroup go.
    (void)runtime::delete_container(runtime_options(store), id, true);
    after_run(store, id, exit_code, false);
}

Status start_detached(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status == state::Status::running || record.status == state::Status::paused) return ok();
    SKIFF_CHECK(containers.update(record.id, [](state::ContainerRecord& r) -> Status {
        r.config["manually_stopped"] = false;
        return ok();
    }));
    SKIFF_CHECK(mount_container_rootfs(store, containers.dir_of(record.id), record.image_id, record.auto_remove));
    // The network before PID 1; a failure (a taken port) leaves none of it, nor a --rm container.
    if (auto net = start_container_network(store, record.id); !net) {
        record_exit(store, containers, record.id, 125, true);
        remove_if_auto(store, record.id);
        return net;
    }
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd report_read(report[0]);
    pid_t child = ::fork();
    if (child < 0) {
        ::close(report[1]);
        return sys_error("fork the monitor");
    }
    if (child == 0) {
        // Double fork: the monitor is nobody's child but init's (or a subreaper's), in a
        // session of its own, so the CLI can exit and a terminal hang-up does not reach it.
        ::setsid();
        pid_t monitor = ::fork();
        if (monitor == 0) monitor_main(store, record.id, report[1]);
        ::_exit(monitor < 0 ? 1 : 0);
    }
    ::close(report[1]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    std::string line;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(report_read.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        line.append(buf, static_cast<size_t>(n));
    }
    while (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.starts_with("ok ")) return ok();
    if (line.starts_with("error ")) {
        // "error <errno> <what>" from the monitor, so 126/127 can be told apart as above.
        std::string rest = line.substr(6);
        auto space = rest.find(' ');
        Error e{std::atoi(rest.substr(0, space).c_str()), space == std::string::npos ? rest : rest.substr(space + 1)};
        int code = start_failure_code(e);
        e.code = code == 127 ? ENOENT : code == 126 ? EACCES : 0;
        return std::unexpected(e);
    }
    return fail("the monitor of " + record.id.substr(0, 12) + " ended before the container started");
}

Result<int> start_attached(const Store& store, std::string_view container) {
    // Last to go: once we are done, one detached process deletes what the run renamed out of
    // sight (the runtime's state directory; a --rm container's whole tree).
    DeferredRemoval deferred;
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status == state::Status::running) {
        AttachOptions output_only;
        output_only.no_stdin = true;
        return attach_container(store, record.id, output_only);
    }
    if (record.status == state::Status::paused)
        return fail("container " + record.id.substr(0, 12) + " is already running");
    SKIFF_CHECK(mount_container_rootfs(store, containers.dir_of(record.id), record.image_id, record.auto_remove));
    if (auto net = start_container_network(store, record.id); !net) {
        record_exit(store, containers, record.id, 125, true);
        remove_if_auto(store, record.id);
        return std::unexpected(net.error());
    }
    SKIFF_TRY(log, LogSink::open(containers.log_path_of(record.id)));
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    int stdin_fd = record.interactive || record.tty ? -1 : devnull.get();
    // Attached: the output goes to our terminal and to the log, as with docker run.
    log.echo_to(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3), ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
    auto outcome = run_once(store, record.id, record.tty, stdin_fd, log,
                            [&](pid_t pid) { mark_running(containers, record.id, pid); }, &deferred);
    // A --rm container goes at once, without an exit record first that nobody could read
    // (unless a `restart` holds it); the CLI returns once it is out of sight, its files go after.
    auto latest = containers.load(record.id);
    bool remove_now = latest && removed_when_done(*latest);
    if (!remove_now || !remove_stopped(store, containers, *latest, true, &deferred))
        record_exit(store, containers, record.id, outcome.exit_code, true);
    if (outcome.start_error) {
        Error e = *outcome.start_error;
        std::fprintf(stderr, "Error: %s\n", e.message().c_str());
    }
    return outcome.exit_code;
}

Result<state::ContainerRecord> reconcile(const Store& store, const state::ContainerRecord& record) {
    auto containers = container_store(store);
    bool live_status = record.status == state::Status::running || record.status == state::Status::paused;
    if (!live_status) return record;
    if (runtime::process_alive(record.pid, record.pid_start_time)) return record;
    // PID 1 is gone. A live monitor records that itself in a moment; give it the chance.
    if (runtime::process_alive(record.monitor_pid, record.monitor_start_time)) {
        auto deadline = Clock::now() + std::chrono::seconds(5);
        while (Clock::now() < deadline) {
            SKIFF_TRY(latest, containers.load(record.id));
            if (latest.status != state::Status::running && latest.status != state::Status::paused) return latest;
            if (!runtime::process_alive(record.monitor_pid, record.monitor_start_time)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    // Nobody is left to say how it ended (monitor killed, host restarted): Docker's 255.
    (void)runtime::delete_container(runtime_options(store), record.id, true);
    remove_attach_socket(store, record.id);
    record_exit(store, containers, record.id, 255, true);
    return containers.load(record.id);
}

Status kill_container(const Store& store, std::string_view container, std::string_view signal) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status != state::Status::running && record.status != state::Status::paused)
        return fail("cannot kill container: " + std::string(container) + ": container " + record.id.substr(0, 12) +
                    " is not running");
    SKIFF_TRY(sig, runtime::parse_signal(std::string(signal.empty() ? "SIGKILL" : signal)));
    if (::kill(record.pid, sig) != 0) return sys_error("kill container " + record.id.substr(0, 12));
    return ok();
}

namespace {

// Until PID 1 is gone and the record says so (the monitor's bookkeeping done), or timeout.
bool wait_stopped(const Store& store, const std::string& id, std::chrono::milliseconds timeout) {
    auto containers = container_store(store);
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        auto record = containers.load(id);
        if (!record) return true;  // removed (--rm)
        if (record->status != state::Status::running && record->status != state::Status::paused) return true;
        if (!runtime::process_alive(record->pid, record->pid_start_time)) {
            auto settled = reconcile(store, *record);
            if (settled && settled->status != state::Status::running) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

Status stop_container(const Store& store, std::string_view container, int timeout) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    // Marked even when it is not running: a container waiting to be restarted must stay down.
    SKIFF_CHECK(containers.update(found.id, [](state::ContainerRecord& r) -> Status {
        r.config["manually_stopped"] = true;
        return ok();
    }));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status != state::Status::running && record.status != state::Status::paused) return ok();
    if (record.status == state::Status::paused) (void)runtime::resume_container(runtime_options(store), record.id);
    if (timeout < 0) timeout = record.stop_timeout;
    std::string signal = record.stop_signal.empty() ? "SIGTERM" : record.stop_signal;
    SKIFF_TRY(sig, runtime::parse_signal(signal));
    if (timeout > 0) {
        ::kill(record.pid, sig);
        if (wait_stopped(store, record.id, std::chrono::seconds(timeout))) return ok();
    }
    ::kill(record.pid, SIGKILL);
    if (!wait_stopped(store, record.id, std::chrono::seconds(10)))
        return fail("container " + record.id.substr(0, 12) + " did not stop after SIGKILL");
    return ok();
}

namespace {
Status remove_stopped(const Store& store, state::ContainerStore& containers, const state::ContainerRecord& record,
                      bool volumes, DeferredRemoval* deferred) {
    auto deleted = runtime::delete_container(runtime_options(store, deferred), record.id, true);
    // The runtime's state went with the runroot (a reboot): its cgroup may still be there.
    if (!deleted && record.config.is_object() && record.config.contains("cgroup")) {
        if (auto root = cgroups::find_unified_root()) {
            cgroups::Group group(*root, record.config["cgroup"].get<std::string>());
            if (group.exists()) {
                (void)group.kill_all();
                (void)group.remove();
            }
        }
    }
    end_container_network(store, record);
    SKIFF_CHECK(unmount_rootfs(rootfs_of(containers, record.id)));
    SKIFF_CHECK(containers.remove(record.id, deferred));
    bool has_volume = std::any_of(record.mounts.begin(), record.mounts.end(),
                                  [](const state::MountRecord& m) { return m.type == "volume"; });
    if (volumes && has_volume) {
        // Anonymous volumes go with their container (named ones outlive it), unless another
        // container still mounts them. (Finding the users reads every record: only then.)
        auto users = volume_users(store);
        for (const auto& m : record.mounts) {
            if (m.type != "volume") continue;
            auto volume = find_volume(store, m.volume_name);
            if (!volume || !volume->anonymous) continue;
            if (auto it = users.find(m.volume_name); it != users.end() && !it->second.empty()) continue;
            (void)remove_volume(store, m.volume_name);
        }
    }
    return ok();
}
}  // namespace

Status remove_container(const Store& store, std::string_view container, bool force, bool volumes) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status == state::Status::running || record.status == state::Status::paused) {
        if (!force)
            return fail("cannot remove container \"/" + record.name + "\": container is running: stop the container "
                        "before removing or force remove");
        SKIFF_CHECK(containers.update(record.id, [](state::ContainerRecord& r) -> Status {
            r.config["manually_stopped"] = true;
            r.auto_remove = false;  // we remove it here; the monitor must not race us
            return ok();
        }));
        if (record.status == state::Status::paused) (void)runtime::resume_container(runtime_options(store), record.id);
        ::kill(record.pid, SIGKILL);
        if (!wait_stopped(store, record.id, std::chrono::seconds(10)))
            return fail("container " + record.id.substr(0, 12) + " did not stop after SIGKILL");
    }
    return remove_stopped(store, containers, record, volumes, nullptr);
}

Result<ExecOutcome> exec_in_container(const Store& store, std::string_view container, const ExecRequest& request) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status == state::Status::paused)
        return fail("container " + record.id.substr(0, 12) + " is paused, unpause the container before exec");
    if (record.status != state::Status::running)
        return fail("container " + record.id.substr(0, 12) + " is not running");
    if (request.command.empty()) return fail("exec: no command given");
    runtime::ExecOptions options;
    options.id = record.id;
    options.args = request.command;
    options.env = request.env;
    options.cwd = request.workdir;
    options.tty = request.tty;
    options.detach = request.detach;
    if (!request.user.empty()) {
        // Names mean what the container's own /etc/passwd and /etc/group say.
        SKIFF_TRY(user, resolve_user(rootfs_of(containers, record.id), request.user));
        options.user = std::to_string(user.uid) + ":" + std::to_string(user.gid);
        for (uint32_t gid : user.additional_gids) options.additional_gids.push_back(std::to_string(gid));
    }
    if (request.privileged) {
        SKIFF_TRY(all, container_capabilities({"ALL"}, {}, true));
        options.caps = all;
    }
    // A detached exec has no one to hand its output to: it goes nowhere, as with docker exec -d.
    UniqueFd devnull;
    std::optional<StdioSwap> swap;
    if (request.detach || !request.interactive) {
        devnull = UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC));
        swap.emplace();
        SKIFF_CHECK(swap->swap(devnull.get(), request.detach ? devnull.get() : -1, request.detach ? devnull.get() : -1));
    }
    auto ran = runtime::exec_in_container(runtime_options(store), options);
    if (swap) swap->restore();
    if (!ran) {
        int code = start_failure_code(ran.error());
        if (code == 125) return std::unexpected(ran.error());
        return ExecOutcome{code, ran.error()};
    }
    return ExecOutcome{*ran, std::nullopt};
}

namespace {

// The exit code a monitor left for a --rm container already removed, found by full id, id
// prefix or name (what `wait` was given).
std::optional<int> removed_exit_code(const Store& store, std::string_view container) {
    std::string dir = path_join(store.options.runroot, "exits");
    DIR* d = ::opendir(dir.c_str());
    if (!d) return std::nullopt;
    std::optional<int> code;
    while (auto* entry = ::readdir(d)) {
        std::string id = entry->d_name;
        if (id.size() != 64) continue;
        auto body = read_file_limited(path_join(dir, id), 512);
        if (!body) continue;
        auto nl = body->find('\n');
        std::string name = nl == std::string::npos ? "" : body->substr(nl + 1);
        while (!name.empty() && name.back() == '\n') name.pop_back();
        bool by_id = container.size() >= 3 && id.starts_with(container);
        if (by_id || name == container || "/" + name == container) {
            code = std::atoi(body->c_str());
            break;
        }
    }
    ::closedir(d);
    return code;
}

}  // namespace

Result<int> wait_container(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    auto located = containers.find(container);
    if (!located) {
        // A --rm container may be gone before `wait` looks: its monitor left the code.
        if (auto code = removed_exit_code(store, container)) return *code;
        return std::unexpected(located.error());
    }
    std::string id = located->id;
    // Removed by --rm meanwhile (between any two reads below): its monitor left the code.
    auto gone = [&](const Error& error) -> Result<int> {
        if (auto code = read_file_limited(exit_code_path(store, id), 64)) return std::atoi(code->c_str());
        return std::unexpected(error);
    };
    for (;;) {
        auto record = containers.load(id);
        if (!record) return gone(record.error());
        auto reconciled = reconcile(store, *record);
        if (!reconciled) return gone(reconciled.error());
        const auto& settled = *reconciled;
        if ((settled.status == state::Status::exited || settled.status == state::Status::dead) &&
            !(settled.config.is_object() && settled.config.value("backoff", false)))
            return settled.exit_code;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace skiff::engine
