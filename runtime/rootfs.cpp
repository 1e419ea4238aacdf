#include "runtime/rootfs.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/path.hpp"
#include "runtime/mount_options.hpp"

namespace skiff::runtime {

namespace {

constexpr unsigned long kPropagationMask = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

Status do_mount(const std::string& source, const std::string& target, const std::string& fstype,
                unsigned long flags, const std::string& data, const std::string& label) {
    if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
                fstype.empty() ? nullptr : fstype.c_str(), flags, data.empty() ? nullptr : data.c_str()) != 0)
        return sys_error(label);
    return ok();
}

int sys_mount_setattr(int dirfd, const char* path, unsigned flags, struct mount_attr* attr) {
    return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof *attr));
}

// After a bind, remount with the requested flags (a bind ignores them on first mount).
// `mounted` must name the new mount itself (see mount_one).
Status remount_bind(const MountOptions& opts, const std::string& mounted, const std::string& label) {
    unsigned long wanted = opts.flags & ~(MS_BIND | MS_REC | kPropagationMask | MS_REMOUNT);
    if (wanted != 0) {
        // Keep what the kernel locked on the source (nosuid, nodev, ... in a user namespace)
        // unless the spec explicitly cleared it.
        unsigned long keep = locked_mount_flags(mounted) & ~opts.clear_flags;
        SKIFF_CHECK(do_mount("", mounted, "", MS_BIND | MS_REMOUNT | wanted | keep, "",
                             label + " (remount with options)"));
    }
    return ok();
}

Status apply_recursive_attrs(const MountOptions& opts, const std::string& target, const std::string& label) {
    if (opts.recursive_attr_set == 0 && opts.recursive_attr_clr == 0) return ok();
    struct mount_attr attr {};
    attr.attr_set = opts.recursive_attr_set;
    attr.attr_clr = opts.recursive_attr_clr;
    if (sys_mount_setattr(AT_FDCWD, target.c_str(), AT_RECURSIVE, &attr) != 0)
        return sys_error(label + " (recursive mount attributes)");
    return ok();
}

Status apply_propagation(const MountOptions& opts, const std::string& target, const std::string& label) {
    for (unsigned long p : opts.propagation)
        SKIFF_CHECK(do_mount("", target, "", p, "", label + " (propagation)"));
    return ok();
}

bool is_dir_path(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status mount_one(const RootfsPlan& plan, int root_fd, const Mount& m, size_t index) {
    std::string label = "mounts[" + std::to_string(index) + "]: mount " +
                        (m.source.empty() ? m.type : m.source) + " on " + m.destination;
    SKIFF_TRY(opts, parse_mount_options(m.options));
    bool bind = opts.bind || m.type == "bind";
    std::string type = m.type;

    // Bind sources are host paths (relative ones are relative to the bundle, our cwd).
    bool source_is_dir = !bind || is_dir_path(m.source);
    if (bind && !path_exists(m.source)) return sys_error(ENOENT, label + ": source");
    Result<UniqueFd> target_fd = source_is_dir ? mkdir_in_root(root_fd, m.destination)
                                               : mkfile_in_root(root_fd, m.destination);
    if (!target_fd) return std::unexpected(target_fd.error().context(label));
    std::string target = fd_path(target_fd->get());

    // Flags for a bind remount once the mount exists (0: none needed).
    unsigned long remount_flags = 0;
    if (bind) {
        SKIFF_CHECK(do_mount(m.source, target, "", MS_BIND | (opts.recursive ? MS_REC : 0), "", label));
    } else if (type == "cgroup" || type == "cgroup2") {
        // Only cgroup v2 is ever used; a "cgroup" mount shows the container's own group.
        unsigned long flags = opts.flags & ~kPropagationMask;
        Status r = plan.new_cgroup_namespace
                       ? do_mount("cgroup2", target, "cgroup2", flags, "", label)
                       : fail("no cgroup namespace");
        if (!r) {
            if (plan.cgroup_dir.empty()) return r;
            SKIFF_CHECK(do_mount(plan.cgroup_dir, target, "", MS_BIND | MS_REC, "", label));
            remount_flags = flags & ~MS_REC;
        }
    } else {
        unsigned long flags = opts.flags & ~kPropagationMask;
        Status r = do_mount(m.source.empty() ? type : m.source, target, type, flags, opts.data, label);
        if (!r && type == "sysfs" && (r.error().code == EPERM || r.error().code == EACCES)) {
            // Without its own network namespace (or in a user namespace) sysfs cannot be
            // mounted fresh: show the host's, read-only as asked, like runc.
            SKIFF_CHECK(do_mount("/sys", target, "", MS_BIND | MS_REC, "", label + " (bind of /sys)"));
            remount_flags = flags & ~MS_REC;
        } else if (!r && type == "mqueue" && (r.error().code == EPERM || r.error().code == EACCES)) {
            SKIFF_CHECK(do_mount("/dev/mqueue", target, "", MS_BIND | MS_REC, "", label + " (bind of /dev/mqueue)"));
        } else if (!r) {
            return r;
        }
    }

    bool needs_mounted = remount_flags != 0 || !opts.propagation.empty() || opts.recursive_attr_set != 0 ||
                         opts.recursive_attr_clr != 0 ||
                         (bind && (opts.flags & ~(MS_BIND | MS_REC | kPropagationMask | MS_REMOUNT)) != 0);
    if (!needs_mounted) return ok();
    // `target` names the directory the new mount covers, not the mount: a remount or a
    // propagation change through it fails with EINVAL. Resolve the destination again (still
    // inside the root) to reach the mount now on top of it.
    auto mounted_fd = open_in_root(root_fd, m.destination, O_PATH);
    if (!mounted_fd) return std::unexpected(mounted_fd.error().context(label));
    std::string mounted = fd_path(mounted_fd->get());
    if (bind) SKIFF_CHECK(remount_bind(opts, mounted, label));
    if (remount_flags != 0)
        SKIFF_CHECK(do_mount("", mounted, "", MS_BIND | MS_REMOUNT | remount_flags | locked_mount_flags(mounted),
                             "", label + " (remount with options)"));
    SKIFF_CHECK(apply_recursive_attrs(opts, mounted, label));
    SKIFF_CHECK(apply_propagation(opts, mounted, label));
    return ok();
}

struct DefaultDevice {
    const char* path;
    unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

// One device node inside the rootfs. In a user namespace mknod is refused: bind the host's.
Status create_device(int root_fd, const Device& dev, bool in_user_ns) {
    std::string parent = dirname_of(dev.path);
    std::string name = basename_of(dev.path);
    SKIFF_TRY(parent_fd, mkdir_in_root(root_fd, parent));
    mode_t type_bits = dev.type == 'b' ? S_IFBLK : dev.type == 'p' ? S_IFIFO : S_IFCHR;
    mode_t perm = dev.file_mode ? (*dev.file_mode & 07777) : 0666;
    ::unlinkat(parent_fd.get(), name.c_str(), 0);
    bool made = false;
    if (!in_user_ns) {
        dev_t number = makedev(static_cast<unsigned>(dev.major), static_cast<unsigned>(dev.minor));
        if (::mknodat(parent_fd.get(), name.c_str(), type_bits | perm, number) == 0) made = true;
        else if (errno != EPERM) return sys_error("mknod " + dev.path);
    }
    if (!made) {
        SKIFF_TRY(file_fd, mkfile_in_root(root_fd, dev.path, 0000));
        SKIFF_CHECK(do_mount(dev.path, fd_path(file_fd.get()), "", MS_BIND, "", "bind device " + dev.path));
        return ok();
    }
    // mknod's mode went through the umask; set the exact mode, then the owner.
    UniqueFd node(::openat(parent_fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!node) return sys_error("open " + dev.path);
    if (::fchmodat(parent_fd.get(), name.c_str(), perm, 0) != 0) return sys_error("chmod " + dev.path);
    if (dev.uid || dev.gid) {
        if (::fchownat(parent_fd.get(), name.c_str(), dev.uid.value_or(0), dev.gid.value_or(0),
                       AT_SYMLINK_NOFOLLOW) != 0)
            return sys_error("chown " + dev.path);
    }
    return ok();
}

Status make_symlink(int root_fd, const std::string& target, const std::string& link) {
    SKIFF_TRY(parent_fd, mkdir_in_root(root_fd, dirname_of(link)));
    std::string name = basename_of(link);
    ::unlinkat(parent_fd.get(), name.c_str(), 0);
    if (::symlinkat(target.c_str(), parent_fd.get(), name.c_str()) != 0 && errno != EEXIST)
        return sys_error("symlink " + link + " -> " + target);
    return ok();
}

bool dev_is_bind_mounted(const Spec& spec) {
    for (const auto& m : spec.mounts) {
        if (clean_path(m.destination) != "/dev") continue;
        if (m.type == "bind") return true;
        for (const auto& o : m.options)
            if (o == "bind" || o == "rbind") return true;
    }
    return false;
}

Status setup_dev(const RootfsPlan& plan, int root_fd) {
    const Spec& spec = *plan.spec;
    if (!dev_is_bind_mounted(spec)) {
        for (const auto& d : kDefaultDevices) {
            Device dev;
            dev.path = d.path;
            dev.major = d.major;
            dev.minor = d.minor;
            dev.file_mode = 0666;
            dev.uid = 0;
            dev.gid = 0;
            SKIFF_CHECK(create_device(root_fd, dev, plan.in_user_namespace));
        }
        SKIFF_CHECK(make_symlink(root_fd, "/proc/self/fd", "/dev/fd"));
        SKIFF_CHECK(make_symlink(root_fd, "/proc/self/fd/0", "/dev/stdin"));
        SKIFF_CHECK(make_symlink(root_fd, "/proc/self/fd/1", "/dev/stdout"));
        SKIFF_CHECK(make_symlink(root_fd, "/proc/self/fd/2", "/dev/stderr"));
        if (path_exists("/proc/kcore")) SKIFF_CHECK(make_symlink(root_fd, "/proc/kcore", "/dev/core"));
        // The container's own devpts instance, if it has one, serves /dev/ptmx.
        auto pts = open_in_root(root_fd, "/dev/pts/ptmx", O_PATH);
        if (pts) SKIFF_CHECK(make_symlink(root_fd, "pts/ptmx", "/dev/ptmx"));
    }
    if (spec.linux) {
        for (const auto& dev : spec.linux->devices)
            SKIFF_CHECK(create_device(root_fd, dev, plan.in_user_namespace));
    }
    return ok();
}

Status switch_root(const std::string& rootfs, bool no_pivot) {
    if (no_pivot) {
        if (::chdir(rootfs.c_str()) != 0) return sys_error("chdir " + rootfs);
        if (::mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0) return sys_error("move rootfs to /");
        if (::chroot(".") != 0) return sys_error("chroot");
        if (::chdir("/") != 0) return sys_error("chdir /");
        return ok();
    }
    UniqueFd old_root(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!old_root) return sys_error("open /");
    UniqueFd new_root(::open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!new_root) return sys_error("open rootfs " + rootfs);
    if (::fchdir(new_root.get()) != 0) return sys_error("chdir to rootfs");
    // pivot_root(".", "."): the old root is stacked under the new one, then detached, so no
    // directory for it is needed inside the rootfs (runc's trick).
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys_error("pivot_root to " + rootfs);
    if (::fchdir(old_root.get()) != 0) return sys_error("chdir to old root");
    // Keep the unmount of the old root from propagating to the host.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
        return sys_error("make old root rslave");
    if (::umount2(".", MNT_DETACH) != 0) return sys_error("unmount old root");
    if (::chdir("/") != 0) return sys_error("chdir /");
    return ok();
}

// pivot_root refuses a new root whose parent mount is shared: make that parent private.
Status make_parent_mount_private(const std::string& rootfs) {
    std::string path = rootfs;
    for (;;) {
        if (::mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr) == 0) return ok();
        if (errno != EINVAL) return sys_error("make " + path + " private");
        // EINVAL: not a mount point; try the parent directory.
        if (path == "/") return sys_error("make the rootfs parent mount private");
        path = dirname_of(path);
    }
}

}  // namespace

unsigned long locked_mount_flags(const std::string& path) {
    struct statvfs st;
    if (::statvfs(path.c_str(), &st) != 0) return 0;
    unsigned long flags = 0;
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_RDONLY) flags |= MS_RDONLY;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

Status build_rootfs(const RootfsPlan& plan, const std::function<Status()>& before_pivot) {
    const Spec& spec = *plan.spec;
    unsigned long root_propagation = MS_SLAVE | MS_REC;
    if (spec.linux && !spec.linux->rootfs_propagation.empty()) {
        SKIFF_TRY(p, parse_propagation(spec.linux->rootfs_propagation));
        root_propagation = p;
    }
    if (::mount(nullptr, "/", nullptr, root_propagation, nullptr) != 0)
        return sys_error("set propagation of /");
    SKIFF_CHECK(make_parent_mount_private(plan.rootfs));
    // The rootfs must be a mount point for pivot_root.
    SKIFF_CHECK(do_mount(plan.rootfs, plan.rootfs, "", MS_BIND | MS_REC, "", "bind rootfs " + plan.rootfs));

    UniqueFd root_fd(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return sys_error("open rootfs " + plan.rootfs);
    for (size_t i = 0; i < spec.mounts.size(); ++i) SKIFF_CHECK(mount_one(plan, root_fd.get(), spec.mounts[i], i));
    SKIFF_CHECK(setup_dev(plan, root_fd.get()));
    if (spec.process) {
        // Create the working directory if the image lacks it (runc does the same).
        auto cwd = mkdir_in_root(root_fd.get(), spec.process->cwd);
        if (!cwd && cwd.error().code != ENOTDIR && cwd.error().code != EEXIST)
            return std::unexpected(cwd.error().context("create cwd " + spec.process->cwd));
    }
    SKIFF_CHECK(before_pivot());
    return switch_root(plan.rootfs, plan.no_pivot);
}

Status finish_rootfs(const Spec& spec) {
    if (spec.linux) {
        for (const auto& path : spec.linux->masked_paths) {
            struct stat st;
            if (::stat(path.c_str(), &st) != 0) {
                if (errno == ENOENT) continue;
                return sys_error("mask " + path);
            }
            Status r = S_ISDIR(st.st_mode)
                           ? do_mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k", "mask " + path)
                           : do_mount("/dev/null", path, "", MS_BIND, "", "mask " + path);
            if (!r) return r;
        }
        for (const auto& path : spec.linux->readonly_paths) {
            if (!path_exists(path)) continue;
            SKIFF_CHECK(do_mount(path, path, "", MS_BIND | MS_REC, "", "bind " + path + " read-only"));
            SKIFF_CHECK(do_mount("", path, "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_mount_flags(path),
                                 "", "remount " + path + " read-only"));
        }
    }
    if (spec.root && spec.root->readonly) {
        SKIFF_CHECK(do_mount("", "/", "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked_mount_flags("/"), "",
                             "remount / read-only"));
    }
    if (spec.linux && !spec.linux->rootfs_propagation.empty()) {
        SKIFF_TRY(p, parse_propagation(spec.linux->rootfs_propagation));
        // Shared/slave propagation of the new root as asked (runc applies it after pivot).
        if (::mount(nullptr, "/", nullptr, p, nullptr) != 0) return sys_error("set rootfs propagation");
    }
    return ok();
}

}  // namespace skiff::runtime
