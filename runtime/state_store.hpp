// Runtime state of OCI containers under --root (default /run/skiff-runtime; rootless
// $XDG_RUNTIME_DIR/skiff-runtime): one directory per container holding state.json, the
// exec fifo and a snapshot of config.json (hooks for poststop, the spec for exec).
//
// Liveness is pid plus the process start time from /proc/<pid>/stat, so a recycled pid is
// never mistaken for the container.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/cgroups.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/result.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

enum class ContainerStatus { creating, created, running, paused, stopped };
const char* status_name(ContainerStatus s);

struct ContainerRecord {
    std::string id;
    pid_t pid = 0;                 // container's PID 1 as seen from the runtime's pid ns
    uint64_t pid_start_time = 0;   // field 22 of /proc/<pid>/stat
    pid_t creator_pid = 0;         // the `create` process while it runs
    uint64_t creator_start_time = 0;
    bool created = false;          // false until `create` finished every step
    std::string bundle;
    std::string rootfs;
    std::string created_at;        // RFC 3339
    std::string cgroup_root;       // unified hierarchy mount
    std::string cgroup_path;       // group, relative to cgroup_root
    bool own_pid_namespace = true; // else `kill`/`delete` must reach every process in the group
    uint32_t owner = 0;
    std::map<std::string, std::string> annotations;
};

class StateStore {
public:
    explicit StateStore(std::string root) : root_(std::move(root)) {}
    const std::string& root() const { return root_; }

    std::string dir_of(const std::string& id) const;
    std::string fifo_of(const std::string& id) const { return dir_of(id) + "/exec.fifo"; }
    std::string config_of(const std::string& id) const { return dir_of(id) + "/config.json"; }
    // The config.json recorded at create (the spec for exec).
    Result<Spec> load_config(const std::string& id) const;
    // Its hooks only (start and delete). create remembers them for the rest of the process,
    // so skiff's own run does not parse the spec three times; the file's identity (inode,
    // size, mtime) is checked before a remembered answer is used.
    Result<std::optional<Hooks>> load_hooks(const std::string& id) const;
    void remember_hooks(const std::string& id, const std::optional<Hooks>& hooks) const;

    // Make the container's directory; EEXIST becomes "container <id> already exists".
    Status reserve(const std::string& id);
    Status save(const ContainerRecord& record) const;
    Result<ContainerRecord> load(const std::string& id) const;
    bool exists(const std::string& id) const;
    // Deletes the directory, or with `deferred` renames it to <root>/.removing-<id>
    // (kRemovingPrefix, which list_ids passes over) and adds that to the list.
    Status remove(const std::string& id, DeferredRemoval* deferred = nullptr) const;
    Result<std::vector<std::string>> list_ids() const;

    // Exclusive flock on the container directory for state transitions.
    Result<UniqueFd> lock(const std::string& id) const;

    // A state transition's view of a container: the lock first, then the record and its
    // status, so neither can change under the caller.
    struct Locked {
        UniqueFd lock;
        ContainerRecord record;
        ContainerStatus status;
    };
    Result<Locked> lock_and_load(const std::string& id) const;

    // Current status from the record and the live process.
    ContainerStatus status(const ContainerRecord& record) const;

private:
    std::string root_;
};

// The container's cgroup; an error naming the container when it has none.
Result<cgroups::Group> container_group(const ContainerRecord& record);

// Check a container id: [A-Za-z0-9][A-Za-z0-9_.-]* (runc's rule), at most 1024 chars.
Status validate_container_id(const std::string& id);

// Field 22 (starttime) of /proc/<pid>/stat, or 0 when the process is gone.
uint64_t process_start_time(pid_t pid);
// This process's, read once (again in a forked child, whose pid differs).
uint64_t own_start_time();
// Alive, the same process (start time), and not a zombie.
bool process_alive(pid_t pid, uint64_t start_time);

// The state JSON of the OCI runtime spec for `state` and for hooks on stdin.
std::string state_json(const ContainerRecord& record, ContainerStatus status);

}  // namespace skiff::runtime
