// `cp` between a container and the host (see container_cp.hpp for the rules).
#include "engine/container_cp.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/path.hpp"
#include "engine/containers.hpp"
#include "overlay/container_rootfs.hpp"
#include "overlay/layer_diff.hpp"
#include "overlay/unpack.hpp"

namespace skiff::engine {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's limit for one lookup

// "dir/." or ".": the contents of a directory rather than the directory (Docker's rule).
bool names_contents(const std::string& path) { return path == "." || path.ends_with("/."); }

// "dir/" or "dir/.": it has to be a directory.
bool asserts_directory(const std::string& path) { return path.ends_with('/') || names_contents(path); }


// The name the copy gets in the tar: the last component of the path as typed, "." for the
// contents of a directory ("dir/.", and "/" whose name would be empty).
std::string tar_name_of(const std::string& typed, bool container_path) {
    if (names_contents(typed)) return ".";
    std::string cleaned = clean_path(container_path ? "/" + typed : typed);
    if (cleaned == "/") return ".";
    return basename_of(cleaned);
}

// --- user namespace maps of the container's spec --------------------------------------------

struct IdRange {
    uint32_t inside, outside, size;
};

std::vector<IdRange> id_ranges(const nlohmann::json& spec, const char* key) {
    std::vector<IdRange> out;
    if (!spec.contains("linux") || !spec["linux"].is_object()) return out;
    const auto& linux_section = spec["linux"];
    if (!linux_section.contains(key) || !linux_section[key].is_array()) return out;
    for (const auto& m : linux_section[key]) {
        if (!m.is_object()) continue;
        out.push_back({m.value("containerID", 0u), m.value("hostID", 0u), m.value("size", 0u)});
    }
    return out;
}

// A container id as the host sees it; the overflow id when the map has no room for it.
uint32_t host_id(const std::vector<IdRange>& ranges, uint32_t id) {
    if (ranges.empty()) return id;
    for (const auto& r : ranges)
        if (id >= r.inside && id - r.inside < r.size) return r.outside + (id - r.inside);
    return 65534;
}

// --- the container's file system ---------------------------------------------------------------

// A place in the container that is not its rootfs: the host source of a bind mount or volume.
struct BindRoot {
    std::string destination;  // cleaned container path
    bool rw = true;
    UniqueFd dir;             // the source directory (O_PATH), or the parent of a file source
    std::string file;         // a file source's name in `dir`; "" for a directory
};

// A node of the container: `name` in the directory `parent` ("." is `parent` itself).
struct Node {
    UniqueFd parent;
    std::string name;
    std::string path;                 // the container path, symlinks resolved
    const BindRoot* mount = nullptr;  // the mount it lives in; nullptr: the rootfs
    bool exists = false;
    struct stat st {};
};

Result<UniqueFd> open_dir(int parent, const std::string& name) {
    UniqueFd fd(::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + name);
    return fd;
}

class ContainerFs {
public:
    // The container's rootfs (mounted when it is not) and mounts, its lock held until the
    // object goes. Err: the store's "No such container: NAME".
    static Result<std::unique_ptr<ContainerFs>> open(const Store& store, std::string_view container);

    ContainerFs(const ContainerFs&) = delete;
    ContainerFs& operator=(const ContainerFs&) = delete;
    ~ContainerFs() {
        // Every fd into the mount closed before it is unmounted; the lock goes last.
        mounts_.clear();
        rootfs_.reset();
        if (!mounted_.empty()) (void)unmount_rootfs(mounted_);
    }

    // `path` (absolute or not, taken from "/") as the container sees it. The last component
    // is followed when it is a symlink only with follow_last; a missing last component is a
    // Node with exists = false; a missing or non-directory one before it is ENOENT/ENOTDIR.
    Result<Node> resolve(const std::string& path, bool follow_last) const;

    bool read_only_rootfs = false;
    std::vector<IdRange> uids, gids;

private:
    ContainerFs() = default;
    const BindRoot* mount_for(const std::string& path) const;
    // One component: its parent resolved inside the root that holds it, itself lstat'ed.
    Result<Node> locate(const std::string& path) const;

    std::optional<state::ContainerStore::Lock> lock_;
    std::string mounted_;  // the rootfs, when this object mounted it
    UniqueFd rootfs_;
    std::vector<BindRoot> mounts_;  // longest destination first
};

Result<std::unique_ptr<ContainerFs>> ContainerFs::open(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    std::unique_ptr<ContainerFs> fs(new ContainerFs());
    // Held throughout, as for export: a start meanwhile would run on our mount and lose it.
    SKIFF_TRY(held, containers.lock(record.id));
    fs->lock_.emplace(std::move(held));
    const std::string dir = containers.dir_of(record.id);
    const std::string rootfs = path_join(dir, "rootfs");
    SKIFF_TRY(mounted_here, mount_container_rootfs(store, dir, record.image_id, record.auto_remove));
    if (mounted_here) fs->mounted_ = rootfs;
    fs->rootfs_ = UniqueFd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fs->rootfs_) return sys_error("open " + rootfs);

    SKIFF_TRY(body, read_file_limited(path_join(dir, "config.json"), 16 << 20));
    auto spec = nlohmann::json::parse(body, nullptr, false);
    if (spec.is_discarded() || !spec.is_object()) return fail("config.json of " + record.id + " is not JSON");
    if (spec.contains("root") && spec["root"].is_object()) fs->read_only_rootfs = spec["root"].value("readonly", false);
    fs->uids = id_ranges(spec, "uidMappings");
    fs->gids = id_ranges(spec, "gidMappings");
    // Bind mounts (volumes are binds of their _data dir in the spec), including the
    // engine's /etc/hosts, /etc/hostname and /etc/resolv.conf. tmpfs, proc, ... are the
    // container's own: Docker's cp does not reach them either.
    if (spec.contains("mounts") && spec["mounts"].is_array()) {
        for (const auto& m : spec["mounts"]) {
            if (!m.is_object() || !m.contains("source") || !m["source"].is_string() || !m.contains("destination") ||
                !m["destination"].is_string())
                continue;
            std::vector<std::string> opts;
            if (m.contains("options") && m["options"].is_array())
                for (const auto& o : m["options"])
                    if (o.is_string()) opts.push_back(o.get<std::string>());
            auto has = [&](const char* o) { return std::find(opts.begin(), opts.end(), o) != opts.end(); };
            if (m.value("type", "") != "bind" && !has("bind") && !has("rbind")) continue;
            std::string source = m["source"].get<std::string>();
            std::string destination = clean_path("/" + m["destination"].get<std::string>());
            if (source.empty() || source.front() != '/' || destination == "/") continue;
            BindRoot root;
            root.destination = destination;
            root.rw = !has("ro");
            // The host side as the mount saw it (the user's or the engine's own path).
            struct stat st;
            if (::stat(source.c_str(), &st) != 0) continue;  // gone: the rootfs shows through
            if (S_ISDIR(st.st_mode)) {
                root.dir = UniqueFd(::open(source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            } else {
                std::string parent = dirname_of(clean_path(source));
                root.dir = UniqueFd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                root.file = basename_of(clean_path(source));
            }
            if (!root.dir) return sys_error("open " + source + " (mounted at " + destination + ")");
            // A later mount at the same place is the one the container sees.
            std::erase_if(fs->mounts_, [&](const BindRoot& b) { return b.destination == destination; });
            fs->mounts_.push_back(std::move(root));
        }
    }
    std::stable_sort(fs->mounts_.begin(), fs->mounts_.end(), [](const BindRoot& a, const BindRoot& b) {
        return a.destination.size() > b.destination.size();
    });
    return fs;
}

const BindRoot* ContainerFs::mount_for(const std::string& path) const {
    for (const auto& m : mounts_)
        if (path == m.destination || path.starts_with(m.destination + "/")) return &m;
    return nullptr;
}

Result<Node> ContainerFs::locate(const std::string& path) const {
    Node node;
    node.path = path;
    node.mount = mount_for(path);
    if (node.mount && !node.mount->file.empty()) {
        if (path != node.mount->destination) return sys_error(ENOTDIR, path);  // below a file
        SKIFF_TRY(parent, open_in_root(node.mount->dir.get(), ".", O_PATH | O_DIRECTORY));
        node.parent = std::move(parent);
        node.name = node.mount->file;
    } else {
        int root = node.mount ? node.mount->dir.get() : rootfs_.get();
        std::string rel = node.mount ? path.substr(node.mount->destination.size()) : path;
        if (rel.empty() || rel == "/") {
            SKIFF_TRY(parent, open_in_root(root, ".", O_PATH | O_DIRECTORY));
            node.parent = std::move(parent);
            node.name = ".";
        } else {
            // The parent's components were resolved before (no symlinks among them); were one
            // swapped for a symlink meanwhile, RESOLVE_IN_ROOT still keeps the lookup inside.
            SKIFF_TRY(parent, open_in_root(root, dirname_of(rel), O_PATH | O_DIRECTORY));
            node.parent = std::move(parent);
            node.name = basename_of(rel);
        }
    }
    if (::fstatat(node.parent.get(), node.name.c_str(), &node.st, AT_SYMLINK_NOFOLLOW) == 0) {
        node.exists = true;
    } else if (errno != ENOENT) {
        return sys_error("stat " + path);
    }
    return node;
}

Result<Node> ContainerFs::resolve(const std::string& path, bool follow_last) const {
    std::string current = clean_path("/" + path);
    int links = 0;
    for (;;) {
        auto parts = split_components(current);
        if (parts.empty()) return locate("/");
        std::string walked = "/";  // resolved so far: no symlink in it
        bool restart = false;
        for (size_t i = 0; i < parts.size() && !restart; ++i) {
            const bool last = i + 1 == parts.size();
            const std::string next = walked == "/" ? "/" + parts[i] : walked + "/" + parts[i];
            SKIFF_TRY(node, locate(next));
            if (!node.exists) {
                if (last) return node;
                return sys_error(ENOENT, next);
            }
            if (S_ISLNK(node.st.st_mode) && (!last || follow_last)) {
                if (++links > kMaxSymlinks) return sys_error(ELOOP, path);
                char target[PATH_MAX];
                ssize_t n = ::readlinkat(node.parent.get(), node.name.c_str(), target, sizeof target - 1);
                if (n < 0) return sys_error("readlink " + next);
                std::string link(target, static_cast<size_t>(n));
                std::string rest;
                for (size_t j = i + 1; j < parts.size(); ++j) rest += "/" + parts[j];
                // As the container sees it: absolute targets start at its "/", ".." stops there.
                current = clean_path("/" + (link.starts_with('/') ? link : walked + "/" + link) + rest);
                restart = true;
                continue;
            }
            if (last) return node;
            if (!S_ISDIR(node.st.st_mode)) return sys_error(ENOTDIR, next);
            walked = next;
        }
    }
}

// --- the host side -------------------------------------------------------------------------------

struct HostTarget {
    std::string path;  // symlinks at the end followed
    bool exists = false;
    bool is_dir = false;
};

// DEST on the host, as Docker's CopyInfoDestinationPath: a symlink is followed; when it is
// missing its parent must be a directory.
Result<HostTarget> host_destination(const std::string& dest) {
    std::string path = dest;
    for (int links = 0;; ++links) {
        struct stat st;
        if (::lstat(path.c_str(), &st) != 0) {
            if (errno != ENOENT) return sys_error("lstat " + path);
            std::string parent = dirname_of(clean_path(path));
            struct stat pst;
            if (::stat(parent.c_str(), &pst) != 0) return sys_error("stat " + parent);
            if (!S_ISDIR(pst.st_mode)) return sys_error(ENOTDIR, "stat " + parent);
            return HostTarget{path, false, false};
        }
        if (!S_ISLNK(st.st_mode)) return HostTarget{path, true, S_ISDIR(st.st_mode)};
        if (links >= kMaxSymlinks) return sys_error(ELOOP, "lstat " + dest);
        char target[PATH_MAX];
        ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
        if (n < 0) return sys_error("readlink " + path);
        std::string link(target, static_cast<size_t>(n));
        path = link.starts_with('/') ? link : path_join(dirname_of(clean_path(path)), link);
    }
}

struct HostSource {
    UniqueFd parent;
    std::string name;  // in parent; "." for parent itself
    bool is_dir = false;
    bool is_file = false;  // a regular file
};

// SRC on the host, as Docker's CopyInfoSourcePath: a symlink is copied as one unless -L (or
// a trailing "/" says the directory it points to is meant).
Result<HostSource> host_source(const std::string& src, bool follow) {
    std::string path = clean_path(src);
    if (follow || asserts_directory(src)) {
        char* real = ::realpath(path.c_str(), nullptr);
        if (!real) return sys_error("lstat " + src);
        path = real;
        std::free(real);
    }
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return sys_error("lstat " + src);
    HostSource out;
    out.is_dir = S_ISDIR(st.st_mode);
    out.is_file = S_ISREG(st.st_mode);
    if (asserts_directory(src) && !out.is_dir) return sys_error(ENOTDIR, "lstat " + src);
    std::string parent = dirname_of(path), name = basename_of(path);
    if (names_contents(src) || path == "/") {
        parent = path;
        name = ".";
    }
    out.parent = UniqueFd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!out.parent) return sys_error("open " + parent);
    out.name = name;
    return out;
}

// --- the copy --------------------------------------------------------------------------------------

// Where the tar is extracted (DEST itself or its parent) and the name its top entry gets
// there, from Docker's PrepareArchiveCopy.
struct Plan {
    bool into_destination = false;  // extract into DEST; else into its parent, as `top`
    std::string top;                // the tar's top entry name when into DEST
};

Result<Plan> plan_copy(bool src_is_dir, const std::string& src_name, bool dst_exists, bool dst_is_dir,
                       bool dst_asserts_dir) {
    if (dst_exists && dst_is_dir) return Plan{true, src_name};
    if (dst_exists && src_is_dir) return fail("cannot copy directory");
    if (!dst_exists && !src_is_dir && dst_asserts_dir) return fail("no such directory");
    return Plan{false, ""};
}

// The tar of `produce` extracted by `consume` through a pipe, the writer on its own thread.
// Returns the bytes of tar.
Result<int64_t> pipe_copy(const std::function<Result<int64_t>(int)>& produce, const std::function<Status(int)>& consume) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    std::optional<Result<int64_t>> written;
    std::thread producer([&] {
        // A write after the reader gave up fails with EPIPE; SIGPIPE stays with this thread.
        sigset_t pipe_signal;
        sigemptyset(&pipe_signal);
        sigaddset(&pipe_signal, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
        written = produce(write_end.get());
        write_end.reset();
    });
    Status consumed = consume(read_end.get());
    read_end.reset();
    producer.join();
    // The writer's own failure says more than the truncated tar the reader then saw.
    if (!*written && (consumed || written->error().code != EPIPE)) return std::unexpected(written->error());
    if (!consumed) return std::unexpected(consumed.error());
    return **written;
}

// The content of a regular host file written over an existing file in place (truncated),
// keeping its inode: what the container has bind-mounted there keeps showing it.
Result<int64_t> overwrite_in_place(const HostSource& source, const Node& node) {
    UniqueFd in(::openat(source.parent.get(), source.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return sys_error("open " + source.name);
    UniqueFd out(::openat(node.parent.get(), node.name.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
    if (!out) return sys_error("open " + node.path);
    int64_t total = 0;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(in.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read " + source.name);
        if (n == 0) break;
        SKIFF_CHECK(with_context(write_all(out.get(), buf, static_cast<size_t>(n)), node.path));
        total += n;
    }
    return total;
}

UnpackOptions copy_unpack_options() {
    UnpackOptions options;
    options.whiteouts = false;  // ".wh.x" is a plain name outside layers
    options.no_overwrite_dir_nondir = true;
    options.privileged = ::geteuid() == 0;
    return options;
}

bool not_found(const Error& e) { return e.code == ENOENT || e.code == ENOTDIR; }

Result<int64_t> from_container(const Store& store, std::string_view container, const std::string& src,
                               const std::string& dest, const CopyOptions& options, int out_fd) {
    const std::string where = std::string(container) + ":" + src;
    auto missing = [&] { return std::unexpected(Error{ENOENT, "No such container:path: " + where}); };
    auto fs = ContainerFs::open(store, container);
    if (!fs) {
        if (fs.error().code == ENOENT && fs.error().what.starts_with("No such container")) return missing();
        return std::unexpected(fs.error());
    }
    // "link/" and "link/." mean the directory a symlink points to (Docker resolves all but
    // the last component, and "." or "" is that last one then).
    auto node = (*fs)->resolve(src, options.follow_link || asserts_directory(src));
    if (!node) {
        if (not_found(node.error())) return missing();
        return std::unexpected(node.error());
    }
    if (!node->exists) return missing();
    const bool is_dir = S_ISDIR(node->st.st_mode);
    if (asserts_directory(src) && !is_dir) return sys_error(ENOTDIR, where);
    const std::string name = tar_name_of(src, true);
    const int parent = node->parent.get();
    const std::string node_name = node->name;
    if (dest == "-") return write_copy_tar(parent, node_name, name, out_fd);

    SKIFF_TRY(target, host_destination(dest));
    SKIFF_TRY(plan, plan_copy(is_dir, name, target.exists, target.is_dir, asserts_directory(dest)));
    std::string dir = plan.into_destination ? target.path : dirname_of(clean_path(target.path));
    std::string top = plan.into_destination ? plan.top : basename_of(clean_path(target.path));
    UniqueFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return sys_error("open " + dir);
    UnpackOptions unpack = copy_unpack_options();
    // Files copied out belong to whoever runs skiff, unless -a keeps the container's owners.
    unpack.set_owners = options.archive;
    return pipe_copy([&](int fd) { return write_copy_tar(parent, node_name, top, fd); },
                     [&](int fd) -> Status {
                         SKIFF_CHECK(with_context(extract_archive(fd, dir_fd.get(), unpack), "copy to " + dest));
                         return ok();
                     });
}

Result<int64_t> to_container(const Store& store, std::string_view container, const std::string& src,
                             const std::string& dest, const CopyOptions& options, int in_fd) {
    const std::string where = std::string(container) + ":" + dest;
    std::optional<HostSource> source;
    if (src != "-") {
        SKIFF_TRY(found, host_source(src, options.follow_link));
        source.emplace(std::move(found));
    }
    SKIFF_TRY(fs, ContainerFs::open(store, container));
    const std::string cleaned = clean_path("/" + dest);
    auto node = fs->resolve(dest, true);
    if (!node && not_found(node.error()))
        return fail("Could not find the file " + dirname_of(cleaned) + " in container " + std::string(container));
    if (!node) return std::unexpected(node.error());
    const bool exists = node->exists;
    const bool is_dir = exists && S_ISDIR(node->st.st_mode);

    Plan plan{true, ""};
    if (source) {
        SKIFF_TRY(planned, plan_copy(source->is_dir, tar_name_of(src, false), exists, is_dir, asserts_directory(dest)));
        plan = planned;
        if (!plan.into_destination) plan.top = node->name;
    } else if (!is_dir) {
        return fail("destination \"" + where + "\" must be a directory");
    }
    if (plan.into_destination && !is_dir) return fail("extraction point is not a directory");
    // Docker's checks: a read-only volume or bind, else a read-only rootfs refuses writes.
    if (node->mount && !node->mount->rw) return fail("mounted volume is marked read-only");
    if (!node->mount && fs->read_only_rootfs) return fail("container rootfs is marked read-only");

    // A file bind mount (the engine's /etc/hosts, -v FILE:PATH) is the mount's inode: a
    // new file in its place would not be seen by a running container.
    if (source && source->is_file && !plan.into_destination && exists && S_ISREG(node->st.st_mode) && node->mount &&
        !node->mount->file.empty())
        return overwrite_in_place(*source, *node);

    UniqueFd dir_fd;
    if (plan.into_destination) {
        SKIFF_TRY(opened, open_dir(node->parent.get(), node->name));
        dir_fd = std::move(opened);
    } else {
        dir_fd = std::move(node->parent);
    }
    UnpackOptions unpack = copy_unpack_options();
    unpack.set_owners = true;
    const auto uids = fs->uids, gids = fs->gids;
    if (options.archive) {
        // The source's owners, as the container's user namespace (if any) maps them.
        if (!uids.empty() || !gids.empty())
            unpack.map_owner = [uids, gids](uid_t u, gid_t g) { return std::pair{host_id(uids, u), host_id(gids, g)}; };
    } else {
        // Docker: files copied in belong to the container's root.
        unpack.map_owner = [uids, gids](uid_t, gid_t) { return std::pair{host_id(uids, 0), host_id(gids, 0)}; };
    }
    auto extract = [&](int fd) -> Status {
        SKIFF_CHECK(with_context(extract_archive(fd, dir_fd.get(), unpack), "copy to " + where));
        return ok();
    };
    if (!source) {
        SKIFF_CHECK(extract(in_fd));
        return 0;
    }
    const int parent = source->parent.get();
    const std::string name = source->name;
    const std::string top = plan.top;
    return pipe_copy([&](int fd) { return write_copy_tar(parent, name, top, fd); }, extract);
}

}  // namespace

Result<int64_t> copy_from_container(const Store& store, std::string_view container, const std::string& src,
                                    const std::string& dest, const CopyOptions& options, int out_fd) {
    return from_container(store, container, src, dest, options, out_fd);
}

Result<int64_t> copy_to_container(const Store& store, std::string_view container, const std::string& src,
                                  const std::string& dest, const CopyOptions& options, int in_fd) {
    return to_container(store, container, src, dest, options, in_fd);
}

}  // namespace skiff::engine
