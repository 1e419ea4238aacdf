// The container's filesystem view, built by its first process inside its mount namespace:
// mounts from the spec, /dev with the default devices, pivot_root, masked and read-only
// paths. Every mount target is resolved inside the rootfs (openat2 RESOLVE_IN_ROOT) and
// mounted through its /proc/self/fd/N, so a symlink swapped into the rootfs cannot send a
// mount onto the host (CVE-2021-30465).
#pragma once

#include <functional>
#include <string>

#include "common/result.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

struct RootfsPlan {
    const Spec* spec = nullptr;
    std::string rootfs;          // absolute host path of the rootfs
    bool in_user_namespace = false;
    std::string cgroup_dir;      // absolute host path of the container's cgroup (may be empty)
    bool new_cgroup_namespace = false;
    bool no_pivot = false;       // runc --no-pivot: chroot-like MS_MOVE instead of pivot_root
};

// Propagation, self-bind of the rootfs, spec mounts, devices and cwd. Runs
// `before_pivot` (createContainer hooks) then switches root. On return the process's root is
// the container's rootfs and its cwd is "/".
Status build_rootfs(const RootfsPlan& plan, const std::function<Status()>& before_pivot);

// After the switch: masked paths, read-only paths, read-only root, rootfs propagation.
Status finish_rootfs(const Spec& spec);

// Mount-flag bits that a bind remount must keep (locked in a user namespace), from statvfs.
unsigned long locked_mount_flags(const std::string& path);

}  // namespace skiff::runtime
