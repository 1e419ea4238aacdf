#include "runtime/process_setup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/fs.hpp"
#include "runtime/capabilities.hpp"

namespace skiff::runtime {

Status apply_rlimits(const std::vector<Rlimit>& rlimits) {
    for (const auto& rl : rlimits) {
        struct rlimit value { static_cast<rlim_t>(rl.soft), static_cast<rlim_t>(rl.hard) };
        if (::setrlimit(rl.resource, &value) != 0)
            return sys_error("setrlimit " + rl.type + " " + std::to_string(rl.soft) + ":" +
                             std::to_string(rl.hard));
    }
    return ok();
}

Status apply_identity_and_security(const Process& process, SeccompFilter* seccomp,
                                   bool setgroups_allowed) {
    const auto& user = process.user;
    if (seccomp && !process.no_new_privileges) {
        SKIFF_CHECK(seccomp->load());
    }
    if (process.capabilities) {
        SKIFF_CHECK(drop_bounding_set(process.capabilities->bounding));
        // Keep the permitted set across setuid so apply_process_capabilities can narrow it.
        if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return sys_error("prctl PR_SET_KEEPCAPS");
    }
    if (setgroups_allowed) {
        std::vector<gid_t> groups(user.additional_gids.begin(), user.additional_gids.end());
        if (::setgroups(groups.size(), groups.data()) != 0) return sys_error("setgroups");
    } else if (!user.additional_gids.empty()) {
        return fail("process.user.additionalGids: setgroups is denied in this user namespace");
    }
    if (::setresgid(user.gid, user.gid, user.gid) != 0)
        return sys_error("setgid " + std::to_string(user.gid));
    if (::setresuid(user.uid, user.uid, user.uid) != 0)
        return sys_error("setuid " + std::to_string(user.uid));
    if (process.capabilities) {
        SKIFF_CHECK(apply_process_capabilities(*process.capabilities));
        if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return sys_error("prctl PR_SET_KEEPCAPS");
    }
    if (user.umask) ::umask(*user.umask);
    if (process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return sys_error("prctl PR_SET_NO_NEW_PRIVS");
    if (seccomp && process.no_new_privileges) {
        SKIFF_CHECK(seccomp->load());
    }
    return ok();
}

Result<std::string> find_executable(const std::string& name, const std::vector<std::string>& env) {
    auto check = [](const std::string& path) -> int {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) return errno;
        if (S_ISDIR(st.st_mode)) return EACCES;
        if (::access(path.c_str(), X_OK) != 0) return errno;
        return 0;
    };
    if (name.empty()) return fail("process.args[0]: empty executable name");
    if (name.find('/') != std::string::npos) {
        int err = check(name);
        if (err == 0) return name;
        return sys_error(err, "exec: \"" + name + "\"");
    }
    std::string path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& e : env)
        if (e.starts_with("PATH=")) path_var = e.substr(5);
    int first_error = 0;
    size_t start = 0;
    while (start <= path_var.size()) {
        size_t end = path_var.find(':', start);
        if (end == std::string::npos) end = path_var.size();
        // Built with append: g++ 12 misreports "dir + '/' + name" under -Werror=restrict.
        std::string candidate;
        if (end == start) candidate = ".";
        else candidate.assign(path_var, start, end - start);
        candidate.append("/").append(name);
        int err = check(candidate);
        if (err == 0) return candidate;
        if (err != ENOENT && err != ENOTDIR && first_error == 0) first_error = err;
        start = end + 1;
    }
    if (first_error) return sys_error(first_error, "exec: \"" + name + "\"");
    return sys_error(ENOENT, "exec: \"" + name + "\": executable file not found in $PATH");
}

Status enter_working_directory(const std::string& cwd) {
    if (::chdir(cwd.c_str()) != 0) return sys_error("chdir to cwd \"" + cwd + "\"");
    // getcwd names a directory outside our root "(unreachable)/..." or fails with ENOENT.
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr)
        return sys_error(errno, "cwd \"" + cwd + "\" is outside the container's root");
    if (buf[0] != '/')
        return sys_error(EPERM, "cwd \"" + cwd + "\" is outside the container's root");
    return ok();
}

namespace {

// close_range(2), or the same through /proc/self/fd where it fails: kernels before 5.9, and
// seccomp profiles (already loaded here) that do not list it.
Status close_fd_range(unsigned from, unsigned to) {
    if (::syscall(SYS_close_range, from, to, 0) == 0) return ok();
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return sys_error("open /proc/self/fd");
    std::vector<int> fds;
    int self = ::dirfd(dir);
    while (auto* ent = ::readdir(dir)) {
        if (ent->d_name[0] == '.') continue;
        int fd = std::atoi(ent->d_name);
        if (fd != self && static_cast<unsigned>(fd) >= from && static_cast<unsigned>(fd) <= to) fds.push_back(fd);
    }
    ::closedir(dir);
    for (int fd : fds) ::close(fd);
    return ok();
}

}  // namespace

Status close_fds_on_exec(const std::vector<int>& keep, int preserve_fds) {
    // Closed now, not merely marked close-on-exec: execve resolves its path (and a script's
    // interpreter) while close-on-exec fds are still open, so an args[0] of
    // "/proc/self/fd/N/../../bin/x" would still run a host file through any of them
    // (CVE-2024-21626).
    unsigned first = 3 + static_cast<unsigned>(std::max(preserve_fds, 0));
    std::vector<unsigned> kept;
    for (int fd : keep)
        if (fd >= 0 && static_cast<unsigned>(fd) >= first) kept.push_back(static_cast<unsigned>(fd));
    std::sort(kept.begin(), kept.end());
    unsigned from = first;
    for (unsigned fd : kept) {
        if (fd > from) SKIFF_CHECK(close_fd_range(from, fd - 1));
        if (fd >= from) from = fd + 1;
    }
    return close_fd_range(from, ~0U);
}

std::vector<char*> to_argv(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace skiff::runtime
