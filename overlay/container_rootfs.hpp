// A container's root filesystem: one overlay mount of the image's unpacked layers (shared,
// read-only lower dirs) under the container's own upper and work dirs (design.md section 2).
//
// The mount data of mount(2) is limited to one page, and long absolute layer paths would fit
// only ~40 layers. So each lower/upper/work dir is opened here and named to the kernel by its
// fd number, resolved relative to /proc/self/fd from a helper thread whose cwd is its own
// (unshare(CLONE_FS)): "lowerdir=12:13:14" needs ~5 bytes per layer, well past Docker's
// 128-layer limit and up to overlayfs's own (500), and no path's ':' or ',' can break the
// option string. The engine's cwd is never touched.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace skiff {

struct RootfsOptions {
    // Rootless, inside a user namespace: overlayfs keeps its whiteout/opaque markers in
    // user.overlay.* xattrs (mount option userxattr) since trusted.* needs host root.
    bool userxattr = false;
    // Mount the merged view read-only (MS_RDONLY); upper/work are still used and created.
    bool read_only = false;
    // SELinux label for every file of the mount (option context="..."); empty: none.
    std::string mount_label;
    // A throwaway container (--rm): mount with `volatile`, so its unmount does not sync the
    // whole upper filesystem (and flush the disk) for files about to be deleted. Podman
    // does the same for --rm.
    bool volatile_upper = false;
    // With no layers (an empty image) overlayfs still needs one lower dir: this empty dir,
    // created when missing. Empty: "<work>.empty-lower" beside the work dir.
    std::string empty_lower;
};

// Mount lower_dirs (top first) + upper at target, creating upper, work and target when
// missing. index=off, redirect_dir=off and metacopy=off: the same lower dirs serve many
// containers at once, and every change lives as a whole file in upper (what layer_diff reads).
Status mount_rootfs(const std::vector<std::string>& lower_dirs /* top first */,
                    const std::string& upper, const std::string& work, const std::string& target,
                    const RootfsOptions& options = {});

// Unmount target (lazily when busy). Ok when nothing is mounted there or it does not exist.
Status unmount_rootfs(const std::string& target);

// True when target is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
bool is_mounted(const std::string& target);

}  // namespace skiff
