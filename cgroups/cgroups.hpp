// cgroup v2 for one container: find the unified tree, create the group, place processes,
// freeze/thaw, kill every member, remove. Never touches cgroup v1 hierarchies: on a hybrid
// host (v1 controllers + /sys/fs/cgroup/unified) only the unified tree is used.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::cgroups {

// Where the unified hierarchy is mounted: "/sys/fs/cgroup" on pure v2 hosts,
// "/sys/fs/cgroup/unified" on hybrid hosts; error when there is none.
// Prefers a cgroup2 mount at exactly one of those two, else the first cgroup2 mount.
// `mountinfo_path` lets tests point at a fake /proc/self/mountinfo. The answer for this
// process's own mountinfo is kept after the first success (a `run` asks up to three times,
// and the hierarchy does not move under a running process).
Result<std::string> find_unified_root(const std::string& mountinfo_path = "/proc/self/mountinfo");

// The calling process's own group inside the unified tree ("0::/user.slice/..." -> path).
Result<std::string> own_group(const std::string& proc_cgroup_path = "/proc/self/cgroup");

// Map an OCI cgroupsPath to a group path relative to the unified root:
//   "/a/b"                -> "a/b" (absolute: from the root)
//   "a/b"                 -> "<parent>/a/b" (relative: under `parent`, our own group)
//   "system.slice:skiff:x"-> "system.slice/skiff-x.scope" (systemd form)
//   ""                    -> "<parent>/<default_name>"
// `parent` may carry a leading '/' (as own_group returns it).
// Systemd form (any ':' selects it; exactly three fields), following runc's driver:
//   slice "a-b.slice" nests as "a.slice/a-b.slice"; "-.slice" is the root; empty slice is
//   "system.slice"; unit is "<prefix>-<name>.scope", "<name>.scope" when prefix is empty
//   (runc would give "-<name>.scope"), or <name> itself when it ends in ".slice".
// ".." is resolved lexically, but a path that climbs above its base (the root for absolute
// and systemd paths, `parent` for relative ones) is rejected, never clamped; so is a path
// that resolves to the root itself. The error names the cgroupsPath.
Result<std::string> resolve_cgroups_path(const std::string& cgroups_path, const std::string& parent,
                                         const std::string& default_name);

class Group {
public:
    Group() = default;
    // `root`: unified mount; `rel`: group path relative to it (from resolve_cgroups_path).
    Group(std::string root, std::string rel);

    // mkdir -p the group (and enable nothing: limits are applied by the cgroups issue).
    Status create();
    // O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP).
    Result<UniqueFd> open_dir() const;
    Status add_process(pid_t pid) const;
    Result<std::vector<pid_t>> processes() const;
    bool exists() const;

    Status freeze() const;
    Status thaw() const;
    // "running" | "frozen" (cgroup.events frozen 1) — used for `paused` status.
    Result<bool> is_frozen() const;
    // Any process in the group or below it (cgroup.events populated 1).
    Result<bool> is_populated() const;

    // cgroup.kill when the kernel has it; else SIGKILL each member (after freezing). Then
    // waits (5s) for the subtree to empty. Ok when the group does not exist.
    Status kill_all() const;
    // Send `signal` to every member of the subtree (for `kill --all`), frozen meanwhile.
    Status signal_all(int signal) const;

    // rmdir the group (child groups first, depth-first), retrying on EBUSY while it drains
    // (timeout_ms); empty parents we made are left alone (shared by other containers).
    // Ok when already gone.
    Status remove(int timeout_ms = 2000) const;

    const std::string& root() const { return root_; }      // unified mount
    const std::string& path() const { return path_; }      // absolute
    const std::string& relative() const { return rel_; }   // from unified root

private:
    std::string root_;
    std::string rel_;
    std::string path_;
};

// Controllers a linux.resources object asks for ("memory", "pids", "cpu", "cpuset", "io",
// "hugetlb", "rdma", and the prefixes of `unified` keys), in that order, without repeats.
// Device rules and the v1-only network classes are not controllers and are not listed.
std::vector<std::string> requested_controllers(const nlohmann::json& resources);

}  // namespace skiff::cgroups
