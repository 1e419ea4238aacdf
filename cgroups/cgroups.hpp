// cgroup v2 for one container: find the unified tree, create the group, place processes,
// freeze/thaw, kill every member, remove. Never touches cgroup v1 hierarchies: on a hybrid
// host (v1 controllers + /sys/fs/cgroup/unified) only the unified tree is used.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::cgroups {

// Where the unified hierarchy is mounted: "/sys/fs/cgroup" on pure v2 hosts,
// "/sys/fs/cgroup/unified" on hybrid hosts; error when there is none.
// `mounts_file` lets tests point at a fake /proc/self/mountinfo.
Result<std::string> find_unified_root(const std::string& mountinfo_path = "/proc/self/mountinfo");

// The calling process's own group inside the unified tree ("0::/user.slice/..." -> path).
Result<std::string> own_group(const std::string& proc_cgroup_path = "/proc/self/cgroup");

// Map an OCI cgroupsPath to a group path relative to the unified root:
//   "/a/b"                -> "a/b" (absolute: from the root)
//   "a/b"                 -> "<parent>/a/b" (relative: under `parent`, our own group)
//   "system.slice:skiff:x"-> "system.slice/skiff-x.scope" (systemd form)
//   ""                    -> "<parent>/<default_name>"
// Errors when the result would leave the hierarchy ("../..").
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

    // cgroup.kill when the kernel has it; else SIGKILL each member (after freezing).
    Status kill_all() const;
    // Send `signal` to every member (for `kill --all`).
    Status signal_all(int signal) const;

    // rmdir the group, retrying while it drains (timeout_ms), then empty parents we made
    // are left alone (shared by other containers). Ok when already gone.
    Status remove(int timeout_ms = 2000) const;

    const std::string& path() const { return path_; }      // absolute
    const std::string& relative() const { return rel_; }   // from unified root

private:
    std::string root_;
    std::string rel_;
    std::string path_;
};

}  // namespace skiff::cgroups
