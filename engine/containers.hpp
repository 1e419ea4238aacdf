// The container commands of the engine: create/run/start/stop/kill/rm/ps/logs/wait/inspect.
//
// A container is a state/ record plus a directory <root>/containers/<id>/ holding
// config.json (the OCI spec), upper/ and work/ (its overlay layer), rootfs/ (mounted on start,
// unmounted when it stops) and container.log. PID 1 is launched by runtime/ in-process, with
// the runtime's own state under <runroot>/runtime.
//
// Attached `run` needs no monitor: this process waits, relays signals (and the terminal with
// -t), copies the output to the log as well, and returns the container's exit code. A
// detached container is owned by a monitor (started by start_detached): a double-forked
// subreaper that launches PID 1 with the runtime code and then becomes the small static
// skiff-monitor (monitor/skiff_monitor.cpp), which writes its output to the log with
// timestamps, serves `attach`, and execs back into skiff when PID 1 exits to record the
// exit code and times and apply --rm and --restart (container_exited).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/fd.hpp"
#include "common/result.hpp"
#include "engine/images.hpp"
#include "engine/spec_builder.hpp"
#include "engine/store.hpp"
#include "runtime/runtime.hpp"
#include "state/container_store.hpp"

namespace skiff::engine {

struct RunRequest {
    std::string image;  // as typed
    std::string name;   // "" = generated
    RunSpecOptions spec;
    std::map<std::string, std::string> labels;  // --label, over the image's labels
    bool detach = false;
    bool auto_remove = false;           // --rm
    std::string restart_policy = "no";  // no | on-failure[:N] | always | unless-stopped
    int stop_timeout = 10;
    std::string pull = "missing";       // missing | always | never
    PullOptions pull_options;
    // `run`: create leaves the rootfs it mounted for the spec in place for the start that
    // follows, instead of unmounting it only to mount it again.
    bool keep_rootfs_mounted = false;
};

// "no", "always", "unless-stopped", "on-failure", "on-failure:3"; anything else is Docker's
// error "invalid restart policy ...". --rm with a restart policy is refused as in Docker.
Status validate_restart_policy(std::string_view policy, bool auto_remove);

// `create`: the record, directories and config.json; nothing runs. Pulls the image when
// missing (messages go to `progress`).
Result<state::ContainerRecord> create_container(const Store& store, const RunRequest& request, Progress& progress);

// `start` of a created or stopped container, detached: returns once PID 1 runs (or with the
// error that kept it from running, the container then recorded as exited with code 125-127).
Status start_detached(const Store& store, std::string_view container);

// Attached: runs the container in this process and returns its exit code (design.md
// section 5: 125 the engine failed, 126 cannot invoke, 127 not found, else the container's).
// A container already running detached is attached to (output only), as `docker start -a`.
Result<int> start_attached(const Store& store, std::string_view container);

// `stop`: the stop signal, then SIGKILL after `timeout` seconds (-1: the container's own).
Status stop_container(const Store& store, std::string_view container, int timeout);
Status kill_container(const Store& store, std::string_view container, std::string_view signal);
// `rm`: refuses a running container unless force (then killed first). `volumes` removes the
// anonymous volumes it created.
Status remove_container(const Store& store, std::string_view container, bool force, bool volumes);
struct ExecRequest {
    std::vector<std::string> command;
    std::vector<std::string> env;  // KEY=VALUE, over the container's
    std::string workdir;
    std::string user;              // name[:group] or uid[:gid], looked up in the container
    bool tty = false, interactive = false, detach = false, privileged = false;
};
struct ExecOutcome {
    int exit_code = 0;               // the process's (0 once started with detach), or 126/127
    std::optional<Error> error;      // why the command could not be run (126, 127)
};
// `exec`: a new process in every namespace and the cgroup of a running container, with its
// capabilities and seccomp filter. Errors are the engine's (125); a command that cannot be
// run is an outcome with 126 or 127, as in Docker.
Result<ExecOutcome> exec_in_container(const Store& store, std::string_view container, const ExecRequest& request);

// `wait`: blocks until the container stops; its exit code.
Result<int> wait_container(const Store& store, std::string_view container);

// Brings a record in line with reality after crashes (a monitor killed with -9, a host
// "reboot" that unmounted the runroot): PID 1 gone -> exited, rootfs unmounted, runtime state
// deleted. ps, rm, start and stop call it before they act.
Result<state::ContainerRecord> reconcile(const Store& store, const state::ContainerRecord& record);

struct LogOptions {
    bool follow = false;
    bool timestamps = false;
    std::optional<size_t> tail;       // last N lines
    std::optional<Timestamp> since;   // lines at or after
    std::optional<Timestamp> until;   // lines at or before
};
// Writes the container's stdout lines to stdout and stderr lines to stderr.
Status print_logs(const Store& store, std::string_view container, const LogOptions& options);

// Docker's `container inspect` shape (Id, Created, Path, Args, State{Status, Running, Paused,
// Restarting, OOMKilled, Dead, Pid, ExitCode, Error, StartedAt, FinishedAt}, Image, Name,
// RestartCount, HostConfig{...}, Mounts, Config{...}).
Result<nlohmann::json> inspect_container(const Store& store, std::string_view container);

// The state/ store of this engine store.
state::ContainerStore container_store(const Store& store);
// The runtime's options for this store: its state under <runroot>/runtime; with `deferred`,
// a deleted container's state directory goes on that list (RuntimeOptions::deferred_removal).
runtime::RuntimeOptions runtime_options(const Store& store, DeferredRemoval* deferred = nullptr);
// Where create keeps the default seccomp profile's OCI form per skiff build and kernel
// (<runroot>/cache; a cache, see cached_default_seccomp_oci).
std::string seccomp_oci_cache_dir(const Store& store);

// An image's layer dirs for overlayfs, topmost first. Layers unpacked without root that
// hold whiteouts are refused (rootless overlay is not wired yet).
Result<std::vector<std::string>> image_lower_dirs(const Store& store, const image::ImageRecord& image);
// The container's rootfs (<dir>/rootfs) mounted from its image's layers under its upper dir;
// nothing to do when it already is. True when this call mounted it. `throwaway` (a --rm
// container): a volatile overlay, nothing synced at its unmount.
Result<bool> mount_container_rootfs(const Store& store, const std::string& container_dir,
                                    const std::string& image_id, bool throwaway);

// Internal to the monitor: the process that owns a detached container. Runs in the
// grandchild forked by start_detached; writes "ok <pid>\n" or "error <message>\n" to
// report_fd once PID 1 runs or cannot, and becomes skiff-monitor. Never returns.
[[noreturn]] void monitor_main(const Store& store, const std::string& id, int report_fd);
// Internal to the monitor: `skiff container-exited ID CODE`, what skiff-monitor execs once it
// has reaped PID 1: records the exit, unmounts, applies --rm, or --restart (launching PID 1
// again and becoming skiff-monitor again). Refuses unless PID 1 is gone and this process
// is the container's monitor. Never returns.
[[noreturn]] void container_exited(const Store& store, const std::string& id, int exit_code);

// The attach socket of a running detached container (monitor/attach_protocol.hpp), made by
// its monitor before PID 1 starts: <runroot>/attach/<id>, listening.
Result<UniqueFd> listen_attach_socket(const Store& store, const std::string& id);
// Gone with its monitor (a monitor killed with -9 leaves it behind).
void remove_attach_socket(const Store& store, const std::string& id);

struct AttachOptions {
    bool no_stdin = false;    // --no-stdin
    bool sig_proxy = true;    // --sig-proxy: signals to us go to PID 1 (not with -t)
    std::string detach_keys;  // --detach-keys, "" = ctrl-p,ctrl-q (with -t)
};
// `attach`: the output of a running detached container as it comes; with -i our stdin to
// its PID 1, with -t our terminal (raw, its size, the detach keys). The container's exit
// code when it stops while we are attached, 0 after the detach keys.
Result<int> attach_container(const Store& store, std::string_view container, const AttachOptions& options);

}  // namespace skiff::engine
