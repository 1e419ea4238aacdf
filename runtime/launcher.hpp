// Starting a container's first process from a spec: the parent half of the handshake in
// runtime/sync.hpp. The child half lives in container_init.cpp.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "cgroups/cgroups.hpp"
#include "common/fd.hpp"
#include "common/result.hpp"
#include "runtime/spec.hpp"
#include "runtime/state_store.hpp"

namespace skiff::runtime {

struct LaunchRequest {
    const Spec* spec = nullptr;
    std::string id;
    std::string bundle;              // absolute; relative bind sources are taken from here
    std::string rootfs;              // absolute
    std::string state_dir;           // holds exec.fifo
    bool outlive_parent = true;      // create / run -d: the process must survive us
    int console_socket = -1;         // connected --console-socket, or -1
    bool console_to_parent = false;  // foreground run with a terminal: master comes back to us
    int preserve_fds = 0;            // fds 3..3+N-1 are passed on (runc --preserve-fds)
    bool no_pivot = false;
    const cgroups::Group* group = nullptr;
    // Called as soon as the child exists, so its pid is on disk before anything can fail.
    std::function<Status(pid_t)> on_cloned;
    // The state JSON hooks receive on stdin.
    std::function<std::string(pid_t, ContainerStatus)> state_for_hooks;
};

struct Launched {
    pid_t pid = 0;
    UniqueFd console_master;  // when console_to_parent
};

// Returns once the child is fully set up and waits on the exec fifo. On error the child is
// killed and reaped; the caller removes its cgroup and state.
Result<Launched> launch_container(const LaunchRequest& request);

// Pieces the child needs, computed by the parent before clone (shared with exec).
struct NamespacePlan {
    unsigned long clone_flags = 0;                     // CLONE_NEW* made at clone time
    bool new_user = false;
    bool new_cgroup = false;
    bool has_mount_ns = false;
    bool has_uts_ns = false;
    std::string pid_join_path;                         // joined by the parent before clone
    std::vector<std::pair<int, std::string>> joins;    // (CLONE_NEW*, path), user first
    // With a new user namespace: the namespaces to join before the clone (the new user
    // namespace would have no right to join ones its parent owns). Never mnt or user.
    std::vector<std::pair<int, std::string>> joins_before_clone;
};
Result<NamespacePlan> plan_namespaces(const Spec& spec);

// clone3 into `cgroup_fd` (when >= 0) with `flags`, falling back to clone + no cgroup.
// Returns the pid (0 in the child) and whether the child was born in the cgroup.
struct CloneResult {
    pid_t pid = -1;
    bool in_cgroup = false;
};
Result<CloneResult> clone_into(unsigned long flags, int cgroup_fd);

// Write /proc/<pid>/uid_map and gid_map (newuidmap/newgidmap when unprivileged and the
// mapping is more than our own id). Returns whether setgroups was left allowed.
Result<bool> write_id_mappings(pid_t pid, const Spec& spec);

// Kill and reap the child unless disarmed (pid = -1): no half-made process survives an error.
struct ChildGuard {
    pid_t pid = -1;
    ~ChildGuard();
};

// setns(CLONE_NEWPID) only changes where our next child is born; the destructor puts us
// back, so hooks and helpers we fork later are not born inside the container.
struct PidNamespaceSwitch {
    UniqueFd original;
    Status enter(const std::string& path);
    ~PidNamespaceSwitch();
};

}  // namespace skiff::runtime
