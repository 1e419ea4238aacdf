// Network namespaces bound to files under <runroot>/netns (create_netns, remove_netns).
#include "network/netns.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/fs.hpp"
#include "network/netlink.hpp"
#include "network/network.hpp"

namespace skiff::network {

bool is_netns_mount(const std::string& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

Result<UniqueFd> open_netns(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open network namespace " + path);
    struct statfs fs {};
    if (::fstatfs(fd.get(), &fs) != 0) return sys_error("statfs " + path);
    if (fs.f_type != NSFS_MAGIC) return fail(path + " is not a network namespace");
    return fd;
}

namespace {

// Back to the namespace the thread started in; failing that, nothing later could be trusted.
void return_to(int original_fd) {
    if (::setns(original_fd, CLONE_NEWNET) != 0) {
        std::perror("skiff: cannot return to the original network namespace");
        std::abort();
    }
}

// In the new namespace (the calling thread's now): bind it to `path`, loopback up.
Status bind_and_configure(const std::string& path) {
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
        return sys_error("bind-mount the network namespace on " + path);
    auto configure = [&]() -> Status {
        SKIFF_TRY(nl, netlink::Socket::open());
        SKIFF_TRY(lo, nl.link_index("lo"));
        if (lo == 0) return fail("no loopback interface in the new network namespace");
        return nl.set_up(lo);
    };
    if (auto st = configure(); !st) {
        ::umount2(path.c_str(), MNT_DETACH);
        return st;
    }
    return ok();
}

}  // namespace

Result<std::string> create_netns(const NetworkPaths& paths, std::string_view container_id) {
    if (container_id.empty() || container_id.find('/') != std::string_view::npos || container_id[0] == '.')
        return fail("invalid container id for a network namespace: \"" + std::string(container_id) + "\"");
    const std::string dir = path_join(paths.runroot, "netns");
    const std::string path = path_join(dir, std::string(container_id));
    SKIFF_CHECK(mkdir_p(dir, 0755));
    if (is_netns_mount(path)) return sys_error(EEXIST, "network namespace " + path + " already exists");
    {
        // An empty file to bind onto (a stale one from a crash is reused).
        UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444));
        if (!file) return sys_error("create " + path);
    }
    UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!original) {
        auto e = sys_error("open /proc/thread-self/ns/net");
        ::unlink(path.c_str());
        return e;
    }
    if (::unshare(CLONE_NEWNET) != 0) {
        auto e = sys_error("unshare a network namespace");
        ::unlink(path.c_str());
        return e;
    }
    auto st = bind_and_configure(path);
    return_to(original.get());
    if (!st) {
        ::unlink(path.c_str());
        return std::unexpected(st.error());
    }
    return path;
}

Status remove_netns(const std::string& netns_path) {
    // Lazily: a process still inside keeps the namespace, not the mount.
    if (::umount2(netns_path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        return sys_error("unmount " + netns_path);
    if (::unlink(netns_path.c_str()) != 0 && errno != ENOENT) return sys_error("remove " + netns_path);
    return ok();
}

}  // namespace skiff::network
