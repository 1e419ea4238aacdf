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
#include <thread>

#include "common/fs.hpp"
#include "common/path.hpp"
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

// In the new namespace (the calling thread's now): bind it to `path`, loopback up, sysctls.
Status bind_and_configure(const std::string& path, const std::map<std::string, std::string>& sysctls) {
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
        return sys_error("bind-mount the network namespace on " + path);
    auto configure = [&]() -> Status {
        SKIFF_TRY(nl, netlink::Socket::open());
        SKIFF_TRY(lo, nl.link_index("lo"));
        if (lo == 0) return fail("no loopback interface in the new network namespace");
        SKIFF_CHECK(nl.set_up(lo));
        for (const auto& [key, value] : sysctls) {
            // /proc/sys/net shows the namespace of the calling thread (this one).
            auto file = sysctl_file(key);
            if (!file || !key.starts_with("net.") || key.find('/') != std::string::npos ||
                key.find("..") != std::string::npos)
                return fail("network namespace sysctl: invalid key \"" + key + "\"");
            SKIFF_CHECK(with_context(write_file(*file, value), "sysctl " + key));
        }
        return ok();
    };
    if (auto st = configure(); !st) {
        ::umount2(path.c_str(), MNT_DETACH);
        return st;
    }
    return ok();
}

}  // namespace

Result<std::string> create_netns(const NetworkPaths& paths, std::string_view container_id,
                                 const std::map<std::string, std::string>& sysctls) {
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
    // unshare(CLONE_NEWNET) moves the calling thread only: a short-lived thread makes and
    // configures the namespace, so the caller never leaves its own (one in a user namespace
    // of its own could not setns back into the host's).
    Status made = ok();
    std::thread maker([&] {
        if (::unshare(CLONE_NEWNET) != 0) made = sys_error("unshare a network namespace");
        else made = bind_and_configure(path, sysctls);
    });
    maker.join();
    if (!made) {
        ::unlink(path.c_str());
        return std::unexpected(made.error());
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
