#include "overlay/container_rootfs.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

#include "common/fd.hpp"
#include "common/fs.hpp"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

namespace skiff {

namespace {

// mount(2) copies at most one page of option data.
constexpr size_t kMountDataMax = 4095;

Result<UniqueFd> open_dir(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    return fd;
}

// Run mount(2) with `data` from a thread that has its own cwd (/proc/self/fd), so the fd
// numbers in data resolve as paths there. Returns the errno (0 on success).
int mount_from_fd_dir(const std::string& target, unsigned long flags, const std::string& data) {
    int err = 0;
    std::thread helper;
    try {
        helper = std::thread([&] {
            // Only this thread's fs_struct (cwd, root, umask) is split off and changed.
            if (::unshare(CLONE_FS) != 0 || ::chdir("/proc/self/fd") != 0) {
                err = errno;
                return;
            }
            if (::mount("overlay", target.c_str(), "overlay", flags, data.c_str()) != 0) err = errno;
        });
    } catch (const std::system_error& e) {
        return e.code().value();  // no thread could be made (EAGAIN)
    }
    helper.join();
    return err;
}

// An absolute path overlayfs takes as it is in its options: none of its separators
// (',' between options, ':' between lower dirs) or its escape character.
bool plain_path(const std::string& path) {
    return !path.empty() && path.front() == '/' && path.find_first_of(",:\\") == std::string::npos;
}

}  // namespace

Status mount_rootfs(const std::vector<std::string>& lower_dirs, const std::string& upper,
                    const std::string& work, const std::string& target, const RootfsOptions& options) {
    std::vector<std::string> lowers = lower_dirs;
    if (lowers.empty()) {
        std::string empty = options.empty_lower.empty() ? work + ".empty-lower" : options.empty_lower;
        SKIFF_CHECK(mkdir_p(empty, 0755));
        lowers.push_back(empty);
    }
    SKIFF_CHECK(mkdir_p(upper, 0755));
    SKIFF_CHECK(mkdir_p(work, 0700));
    SKIFF_CHECK(mkdir_p(target, 0755));
    // A volatile mount leaves this marker, and overlayfs refuses the work dir while it is
    // there (the upper may be incomplete after a crash): the next mount of the same
    // throwaway container takes it away.
    const std::string incompat = work + "/work/incompat";
    if (options.volatile_upper && ::access(incompat.c_str(), F_OK) == 0) SKIFF_CHECK(remove_tree(incompat));

    // index=off: the kernel would otherwise tie each lower dir to one upper ("in use" by
    // another mount). redirect_dir/metacopy off: renamed dirs and chown'd files are copied
    // up whole, so the upper alone is the container's diff (as Docker's overlay2 needs too).
    // With userxattr the kernel turns both off itself, and refuses them given explicitly
    // ("redirect_dir=off" still means "follow", which conflicts with userxattr).
    std::string tail = options.userxattr ? ",index=off,userxattr" : ",index=off,redirect_dir=off,metacopy=off";
    if (options.volatile_upper) tail += ",volatile";
    if (!options.mount_label.empty()) {
        if (options.mount_label.find('"') != std::string::npos)
            return fail("mount label " + options.mount_label + ": contains a quote");
        tail += ",context=\"" + options.mount_label + "\"";
    }
    const unsigned long flags = options.read_only ? MS_RDONLY : 0;
    auto mount_failed = [&](int err) {
        return sys_error(err, "mount overlay (" + std::to_string(lowers.size()) + " layers, upper " + upper +
                                  ") on " + target);
    };

    // The usual case: absolute paths that need no escaping and fit in the page, given as
    // they are (no helper thread, no fds).
    if (plain_path(target) && plain_path(upper) && plain_path(work) &&
        std::all_of(lowers.begin(), lowers.end(), plain_path)) {
        std::string data = "lowerdir=";
        for (size_t i = 0; i < lowers.size(); ++i) data += (i ? ":" : "") + lowers[i];
        data += ",upperdir=" + upper + ",workdir=" + work + tail;
        if (data.size() <= kMountDataMax) {
            if (::mount("overlay", target.c_str(), "overlay", flags, data.c_str()) != 0) return mount_failed(errno);
            return ok();
        }
    }

    // Else by fd numbers, short whatever the paths, resolved from a helper thread whose cwd
    // is /proc/self/fd. The fds stay open until mount(2) has resolved them (the kernel keeps
    // its own references).
    std::vector<UniqueFd> fds;
    fds.reserve(lowers.size() + 2);
    std::string data = "lowerdir=";
    for (size_t i = 0; i < lowers.size(); ++i) {
        SKIFF_TRY(fd, open_dir(lowers[i]));
        data += (i ? ":" : "") + std::to_string(fd.get());
        fds.push_back(std::move(fd));
    }
    SKIFF_TRY(upper_fd, open_dir(upper));
    SKIFF_TRY(work_fd, open_dir(work));
    // The target too: a relative path would resolve against the helper's cwd.
    SKIFF_TRY(target_fd, open_dir(target));
    data += ",upperdir=" + std::to_string(upper_fd.get());
    data += ",workdir=" + std::to_string(work_fd.get());
    data += tail;
    if (data.size() > kMountDataMax)
        return fail("overlay mount of " + std::to_string(lowers.size()) + " layers: options exceed one page");
    if (int err = mount_from_fd_dir(std::to_string(target_fd.get()), flags, data); err != 0) return mount_failed(err);
    return ok();
}

bool is_mounted(const std::string& target) {
    struct statx stx;
    if (::statx(AT_FDCWD, target.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) return false;
    if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    // Kernels before 5.8: a mount root sits on another device than its parent (or is "/").
    struct stat self, parent;
    if (::lstat(target.c_str(), &self) != 0) return false;
    if (::stat((target + "/..").c_str(), &parent) != 0) return false;
    return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

Status unmount_rootfs(const std::string& target) {
    // A loop: the same target may carry stacked mounts (an earlier run that was not undone).
    for (int i = 0; i < 16; ++i) {
        if (!is_mounted(target)) return ok();
        if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
        if (errno == EINVAL || errno == ENOENT) return ok();
        // Busy (a process still has a cwd or fd there): detach now, freed when released.
        if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
        return sys_error("unmount " + target);
    }
    if (is_mounted(target)) return fail("unmount " + target + ": still mounted after 16 unmounts");
    return ok();
}

}  // namespace skiff
