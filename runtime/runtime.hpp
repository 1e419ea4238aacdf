// skiff's OCI runtime: the verbs of `skiff-runtime` (runc-compatible), each in its own file:
// create.cpp (create, run), start.cpp, kill.cpp, delete.cpp, exec.cpp, query.cpp (state,
// list, ps, pause, resume, features). The CLI only parses flags and calls these.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/result.hpp"
#include "runtime/state_store.hpp"

namespace skiff::runtime {

struct RuntimeOptions {
    std::string root;  // state directory (--root)
    // When set, delete renames a container's state directory out of sight (<root>/.removing-
    // <id>, never an id) and leaves it here, for the caller's detached remover.
    DeferredRemoval* deferred_removal = nullptr;
};

// State directories a killed remover left (.removing-*), untouched for min_age_seconds.
Status remove_stale_state(const RuntimeOptions& rt, int min_age_seconds = 60);

// Where compiled seccomp programs are kept, by profile, for every container of a state root
// (RuntimeOptions::root; a cache: removing it costs the next start a compile, nothing else).
std::string seccomp_cache_dir(const std::string& state_root);

// The default --root: /run/skiff-runtime, or $XDG_RUNTIME_DIR/skiff-runtime when not root.
std::string default_state_root();

struct CreateOptions {
    std::string id;
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    int preserve_fds = 0;
    bool no_pivot = false;
};

Status create_container(const RuntimeOptions& rt, const CreateOptions& options);
Status start_container(const RuntimeOptions& rt, const std::string& id);

// `run`: create + start; in the foreground waits and returns the container's exit code
// (128+signal when killed), relaying signals and the terminal, then deletes it.
// `on_started` is told PID 1 once it has been started (the engine's monitor records it).
Result<int> run_container(const RuntimeOptions& rt, const CreateOptions& options, bool detach,
                          const std::function<void(pid_t)>& on_started = {});

// `run` in the foreground without the waiting, for a monitor that does its own (the engine's
// skiff-monitor): returns once PID 1 runs, with its pid and, with a terminal, the pty
// master. PID 1 dies with the calling process (PDEATHSIG); the caller reaps it and calls
// delete_container when it has exited.
struct HandedOver {
    pid_t pid = 0;
    UniqueFd console_master;
};
Result<HandedOver> run_container_handed_over(const RuntimeOptions& rt, const CreateOptions& options);

Result<std::string> container_state(const RuntimeOptions& rt, const std::string& id);
Status kill_container(const RuntimeOptions& rt, const std::string& id, int signal, bool all);
Status delete_container(const RuntimeOptions& rt, const std::string& id, bool force);
Status pause_container(const RuntimeOptions& rt, const std::string& id);
// New cgroup limits (an OCI linux.resources object; only the fields present change).
Status update_container(const RuntimeOptions& rt, const std::string& id, const nlohmann::json& resources);
// `events --stats`: the cgroup statistics as runc prints them.
Result<std::string> container_stats(const RuntimeOptions& rt, const std::string& id);
// `events`: statistics every interval (and "oom" events) until the container stops.
Status stream_events(const RuntimeOptions& rt, const std::string& id, unsigned interval_ms);
Status resume_container(const RuntimeOptions& rt, const std::string& id);

struct ListEntry {
    ContainerRecord record;
    ContainerStatus status;
};
Result<std::vector<ListEntry>> list_containers(const RuntimeOptions& rt);
// Processes in the container's cgroup (or its PID 1 alone without one).
Result<std::vector<pid_t>> container_pids(const RuntimeOptions& rt, const std::string& id);

struct ExecOptions {
    std::string id;
    std::string process_file;              // --process: a process.json
    std::vector<std::string> args;         // else: the command, with the container's defaults
    std::vector<std::string> env;          // -e KEY=VALUE, added
    std::string cwd;                       // --cwd
    std::optional<std::string> user;       // -u uid[:gid]
    std::vector<std::string> caps;         // --cap, added to every set
    std::vector<std::string> additional_gids;
    bool tty = false;
    bool detach = false;
    bool no_new_privs = false;
    std::string pid_file;
    std::string console_socket;
    int preserve_fds = 0;
};
// Foreground: the process's exit code. Detached: 0 once it runs.
Result<int> exec_in_container(const RuntimeOptions& rt, const ExecOptions& options);

// "SIGKILL", "KILL", "kill", "9" -> 9. Error names the bad signal.
Result<int> parse_signal(const std::string& text);

// The `features` JSON document (runtime-spec features.md).
std::string features_json();

}  // namespace skiff::runtime
