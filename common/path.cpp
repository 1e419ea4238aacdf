#include "common/path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace skiff {

namespace {

int sys_openat2(int dirfd, const char* path, int flags, mode_t mode, unsigned long long resolve) {
    struct open_how how {};
    how.flags = static_cast<unsigned long long>(flags);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    for (;;) {
        int fd = static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
        // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
        if (fd < 0 && errno == EAGAIN) continue;
        return fd;
    }
}


constexpr unsigned long long kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// Make one component under an already-resolved parent dir. Returns the O_PATH fd of the
// result. A dangling symlink in the way is followed (inside root) and its target created.
Result<UniqueFd> make_component(int root_fd, int parent_fd, const std::string& rel_from_root,
                                const std::string& name, bool last_is_file, mode_t mode,
                                int depth);

Result<UniqueFd> mkpath_in_root(int root_fd, const std::string& path, bool last_is_file,
                                mode_t mode, int depth) {
    if (depth > 40) return sys_error(ELOOP, "resolve " + path);
    auto parts = split_components(clean_path("/" + path));
    UniqueFd cur(sys_openat2(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot));
    if (!cur) return sys_error("open root");
    std::string walked = "/";
    for (size_t i = 0; i < parts.size(); ++i) {
        bool last = i + 1 == parts.size();
        std::string next = walked == "/" ? "/" + parts[i] : walked + "/" + parts[i];
        UniqueFd fd(sys_openat2(root_fd, next.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot));
        if (!fd) {
            if (errno != ENOENT) return sys_error("resolve " + next + " in root");
            SKIFF_TRY(made, make_component(root_fd, cur.get(), next, parts[i], last && last_is_file,
                                           mode, depth));
            fd = std::move(made);
        }
        struct stat st;
        if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + next);
        if (!last && !S_ISDIR(st.st_mode)) return sys_error(ENOTDIR, "resolve " + next + " in root");
        if (last && !last_is_file && !S_ISDIR(st.st_mode))
            return sys_error(ENOTDIR, "mkdir " + next + " in root");
        cur = std::move(fd);
        walked = next;
    }
    return cur;
}

Result<UniqueFd> make_component(int root_fd, int parent_fd, const std::string& rel_from_root,
                                const std::string& name, bool as_file, mode_t mode, int depth) {
    int rc;
    if (as_file) {
        rc = ::openat(parent_fd == -1 ? AT_FDCWD : parent_fd, name.c_str(),
                      O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
        if (rc >= 0) ::close(rc);
    } else {
        rc = ::mkdirat(parent_fd, name.c_str(), mode);
    }
    if (rc < 0 && errno != EEXIST) return sys_error("create " + rel_from_root + " in root");
    UniqueFd fd(sys_openat2(root_fd, rel_from_root.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot));
    if (fd) return fd;
    if (errno != ENOENT) return sys_error("resolve " + rel_from_root + " in root");
    // EEXIST yet ENOENT on resolve: a dangling symlink. Follow its target inside root.
    char target[4096];
    ssize_t n = ::readlinkat(parent_fd, name.c_str(), target, sizeof target - 1);
    if (n < 0) return sys_error("readlink " + rel_from_root);
    target[n] = '\0';
    std::string t = target;
    std::string parent_rel = rel_from_root.substr(0, rel_from_root.find_last_of('/'));
    std::string resolved = t.starts_with("/") ? t : parent_rel + "/" + t;
    return mkpath_in_root(root_fd, resolved, as_file, mode, depth + 1);
}

}  // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<UniqueFd> open_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
    std::string rel = path.empty() ? "." : path;
    UniqueFd fd(sys_openat2(root_fd, rel.c_str(), flags | O_CLOEXEC, mode, kInRoot));
    if (!fd) return sys_error("open " + path + " in root");
    return fd;
}

Result<UniqueFd> mkdir_in_root(int root_fd, const std::string& path, mode_t mode) {
    return mkpath_in_root(root_fd, path, false, mode, 0);
}

Result<UniqueFd> mkfile_in_root(int root_fd, const std::string& path, mode_t mode) {
    std::string cleaned = clean_path("/" + path);
    if (cleaned == "/") return sys_error(EISDIR, "create file / in root");
    auto slash = cleaned.find_last_of('/');
    std::string parent = cleaned.substr(0, slash);
    if (!parent.empty()) {
        SKIFF_CHECK(mkpath_in_root(root_fd, parent, false, 0755, 0));
    }
    return mkpath_in_root(root_fd, cleaned, true, mode, 0);
}

std::optional<std::string> sysctl_file(const std::string& key) {
    static constexpr std::string_view kRoot = "/proc/sys/";
    std::string file = std::string(kRoot) + key;
    for (size_t i = kRoot.size(); i < file.size(); ++i)
        if (file[i] == '.') file[i] = '/';
    if (clean_path(file) != file) return std::nullopt;
    return file;
}

std::string clean_path(const std::string& path) {
    bool absolute = !path.empty() && path[0] == '/';
    std::vector<std::string> out;
    for (auto& part : split_components(path)) {
        if (part == ".") continue;
        if (part == "..") {
            if (!out.empty() && out.back() != "..") out.pop_back();
            else if (!absolute) out.push_back("..");
            continue;
        }
        out.push_back(part);
    }
    std::string result = absolute ? "/" : "";
    for (size_t i = 0; i < out.size(); ++i) {
        if (i) result += "/";
        result += out[i];
    }
    if (result.empty()) return ".";
    return result;
}

Result<std::string> fd_real_path(int fd) {
    char buf[4096];
    ssize_t n = ::readlink(fd_path(fd).c_str(), buf, sizeof buf - 1);
    if (n < 0) return sys_error("readlink " + fd_path(fd));
    return std::string(buf, static_cast<size_t>(n));
}

std::vector<std::string> split_components(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

}  // namespace skiff
