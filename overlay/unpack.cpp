#include "overlay/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/path.hpp"
#include "common/digest.hpp"

namespace skiff {

namespace {

struct ArchiveFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

std::unexpected<Error> archive_fail(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    return fail(what + ": " + (msg ? msg : "unknown libarchive error"));
}

// The diff id is the digest of the *uncompressed* tar, but libarchive decompresses
// internally. So two readers are chained: `raw` (every filter, format "raw") turns the input
// into the plain tar stream; the tar reader pulls from it through this callback, which
// hashes each block on the way. One pass, nothing buffered beyond libarchive's blocks.
struct TarSource {
    struct archive* raw = nullptr;
    Sha256 hash;
    char buf[64 * 1024];
};

la_ssize_t tar_source_read(struct archive* tar, void* client, const void** out) {
    auto* src = static_cast<TarSource*>(client);
    la_ssize_t n = archive_read_data(src->raw, src->buf, sizeof src->buf);
    if (n < 0) {
        const char* msg = archive_error_string(src->raw);
        archive_set_error(tar, EIO, "%s", msg ? msg : "decompress layer");
        return -1;
    }
    src->hash.update(std::string_view(reinterpret_cast<const char*>(src->buf), static_cast<size_t>(n)));
    *out = src->buf;
    return n;
}

// Entry name -> path relative to the layer root. Leading '/' is stripped (as Docker does);
// a ".." that would climb above the root is refused rather than clamped.
Result<std::string> layer_path(const std::string& name) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= name.size()) {
        size_t j = name.find('/', i);
        if (j == std::string::npos) j = name.size();
        std::string part = name.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (parts.empty()) return fail("layer entry " + name + " escapes the layer");
            parts.pop_back();
            continue;
        }
        parts.push_back(std::move(part));
    }
    std::string out;
    for (auto& p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

std::pair<std::string, std::string> split_parent(const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return {"", rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
}

struct DirMeta {
    mode_t mode;
    struct timespec times[2];
};

class Unpacker {
public:
    Unpacker(int root, const UnpackOptions& options)
        : root_(root), opt_(options), euid_(::geteuid()), egid_(::getegid()) {}

    Status entry(struct archive* tar, struct archive_entry* e, const std::string& rel);
    Status finish_dirs();
    LayerStats& stats() { return stats_; }

private:
    Status whiteout(const std::string& parent, const std::string& name);
    Status check_overwrite(const std::string& parent_rel, const std::string& name, bool dir);
    Status regular(struct archive* tar, struct archive_entry* e, int parent, const std::string& name);
    Status hardlink(struct archive_entry* e, int parent, const std::string& name);
    Status metadata(struct archive_entry* e, int parent, const std::string& name, bool symlink);
    Status chown_entry(struct archive_entry* e, int parent, const std::string& name);
    Status fd_metadata(struct archive_entry* e, int fd);
    // Every xattr of the entry through `set` (fsetxattr or lsetxattr, returning 0 or -1).
    Status set_xattrs(struct archive_entry* e, const std::function<int(const char*, const void*, size_t)>& set);
    void defer_dir(struct archive_entry* e, const std::string& rel);
    // The directory fd for parent_rel, resolved inside the root. Consecutive entries mostly
    // share a parent, so the last one is kept; removing any node makes it stale (the same
    // path could then lead elsewhere), and the next entry resolves its parent afresh. The
    // fd itself stays open until then, so the entry in progress can go on using it.
    Result<int> parent_dir(const std::string& parent_rel);
    void forget_parent() { cached_parent_valid_ = false; }

    int root_;
    const UnpackOptions& opt_;
    UniqueFd cached_parent_;
    std::string cached_parent_rel_;
    bool cached_parent_valid_ = false;
    uid_t euid_;  // a new file already has these owners: no chown needed
    gid_t egid_;
    LayerStats stats_;
    std::map<std::string, DirMeta> dirs_;  // modes and mtimes applied last (see finish_dirs)
};

// Make room for a new node at parent/name, the way tar does: an existing non-directory is
// unlinked (never written through), an existing directory is kept when a directory comes.
// Returns true when a directory is already there.
// `removed` is set when something was unlinked.
Result<bool> prepare_slot(int parent, const std::string& name, bool want_dir, bool* removed = nullptr) {
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return false;
        return sys_error("stat existing " + name);
    }
    if (S_ISDIR(st.st_mode)) {
        if (want_dir) return true;
        if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) return sys_error("replace directory " + name);
        if (removed) *removed = true;
        return false;
    }
    if (::unlinkat(parent, name.c_str(), 0) != 0) return sys_error("replace " + name);
    if (removed) *removed = true;
    return false;
}

Status Unpacker::entry(struct archive* tar, struct archive_entry* e, const std::string& rel) {
    auto [parent_rel, name] = split_parent(rel);
    if (opt_.whiteouts && name.starts_with(".wh.")) return whiteout(parent_rel, name);

    mode_t type = archive_entry_filetype(e);
    if (opt_.no_overwrite_dir_nondir && !rel.empty()) SKIFF_CHECK(check_overwrite(parent_rel, name, type == AE_IFDIR));
    if (rel.empty()) {
        // "./": metadata of the layer root itself.
        if (type != AE_IFDIR) return fail("layer root is not a directory");
        SKIFF_CHECK(chown_entry(e, root_, "."));
        SKIFF_CHECK(metadata(e, root_, ".", false));
        defer_dir(e, rel);
        return ok();
    }

    // Parents resolve (and are created) inside the root: symlinks among them cannot leave it.
    SKIFF_TRY(parent, parent_dir(parent_rel));

    if (archive_entry_hardlink(e)) return hardlink(e, parent, name);

    switch (type) {
    case AE_IFREG:
        return regular(tar, e, parent, name);
    case AE_IFDIR: {
        bool removed = false;
        SKIFF_TRY(exists, prepare_slot(parent, name, true, &removed));
        if (removed) forget_parent();
        if (!exists && ::mkdirat(parent, name.c_str(), 0700) != 0) return sys_error("mkdir");
        SKIFF_CHECK(chown_entry(e, parent, name));
        SKIFF_CHECK(metadata(e, parent, name, false));
        defer_dir(e, rel);
        ++stats_.dirs;
        return ok();
    }
    case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!target) return fail("symlink without a target");
        bool removed = false;
        SKIFF_CHECK(prepare_slot(parent, name, false, &removed));
        if (removed) forget_parent();
        // The target is data, resolved only later inside the container: stored as-is.
        if (::symlinkat(target, parent, name.c_str()) != 0) return sys_error("symlink");
        SKIFF_CHECK(chown_entry(e, parent, name));
        SKIFF_CHECK(metadata(e, parent, name, true));
        ++stats_.symlinks;
        return ok();
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        if (type != AE_IFIFO && !opt_.privileged) {
            ++stats_.skipped_devices;
            return ok();
        }
        bool removed = false;
        SKIFF_CHECK(prepare_slot(parent, name, false, &removed));
        if (removed) forget_parent();
        if (::mknodat(parent, name.c_str(), type | 0600, archive_entry_rdev(e)) != 0)
            return sys_error("mknod");
        SKIFF_CHECK(chown_entry(e, parent, name));
        return metadata(e, parent, name, false);
    }
    default:
        return ok();  // sockets and unknown types have no place in a layer; skipped
    }
}

Status Unpacker::check_overwrite(const std::string& parent_rel, const std::string& name, bool dir) {
    auto parent = open_in_root(root_, parent_rel, O_PATH | O_DIRECTORY);
    if (!parent) return ok();  // no parent yet: nothing is there to overwrite
    struct stat st;
    if (::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ok();
    std::string path = "/" + (parent_rel.empty() ? name : parent_rel + "/" + name);
    if (S_ISDIR(st.st_mode) && !dir) return fail("cannot overwrite directory \"" + path + "\" with non-directory");
    if (!S_ISDIR(st.st_mode) && dir) return fail("cannot overwrite non-directory \"" + path + "\" with directory");
    return ok();
}

Result<int> Unpacker::parent_dir(const std::string& parent_rel) {
    if (cached_parent_valid_ && cached_parent_rel_ == parent_rel) return cached_parent_.get();
    SKIFF_TRY(fd, mkdir_in_root(root_, parent_rel, 0755));
    cached_parent_ = std::move(fd);
    cached_parent_rel_ = parent_rel;
    cached_parent_valid_ = true;
    return cached_parent_.get();
}

Status Unpacker::whiteout(const std::string& parent_rel, const std::string& name) {
    forget_parent();
    if (name == ".wh..wh..opq") {
        if (!opt_.privileged) {
            stats_.opaque_dirs.push_back(parent_rel.empty() ? "." : parent_rel);
            return ok();
        }
        SKIFF_TRY(dir, mkdir_in_root(root_, parent_rel, 0755));
        if (::setxattr(fd_path(dir.get()).c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
            return sys_error("set trusted.overlay.opaque");
        return ok();
    }
    if (name.starts_with(".wh..wh.")) return ok();  // aufs bookkeeping (.wh..wh.plnk, ...)
    std::string victim = name.substr(4);
    if (victim.empty() || victim == "." || victim == "..") return fail("invalid whiteout");
    if (!opt_.privileged) {
        stats_.whiteouts.push_back(parent_rel.empty() ? victim : parent_rel + "/" + victim);
        return ok();
    }
    SKIFF_TRY(parent, mkdir_in_root(root_, parent_rel, 0755));
    SKIFF_CHECK(prepare_slot(parent.get(), victim, false));
    // overlayfs's whiteout: a character device 0/0 named after the deleted entry.
    if (::mknodat(parent.get(), victim.c_str(), S_IFCHR, makedev(0, 0)) != 0)
        return sys_error("mknod whiteout " + victim);
    return ok();
}

Status Unpacker::regular(struct archive* tar, struct archive_entry* e, int parent,
                         const std::string& name) {
    // O_EXCL|O_NOFOLLOW: a fresh inode or nothing. Most names are new in a layer, so the
    // slot is only cleared (tar's replace-what-is-there) when the name is taken.
    constexpr int kCreate = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd fd(::openat(parent, name.c_str(), kCreate, 0600));
    if (!fd && errno == EEXIST) {
        bool removed = false;
        SKIFF_CHECK(prepare_slot(parent, name, false, &removed));
        if (removed) forget_parent();
        fd = UniqueFd(::openat(parent, name.c_str(), kCreate, 0600));
    }
    if (!fd) return sys_error("create");
    la_int64_t end = 0;
    for (;;) {
        const void* buf;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(tar, &buf, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_fail(tar, "read content");
        // pwrite at libarchive's offsets keeps sparse files sparse.
        auto p = static_cast<const char*>(buf);
        while (size > 0) {
            ssize_t n = ::pwrite(fd.get(), p, size, offset);
            if (n < 0) {
                if (errno == EINTR) continue;
                return sys_error("write");
            }
            p += n;
            size -= static_cast<size_t>(n);
            offset += n;
        }
        end = std::max(end, offset);
    }
    la_int64_t size = archive_entry_size(e);
    // Only a sparse file's trailing hole needs the size set.
    if (end != size && ::ftruncate(fd.get(), size) != 0) return sys_error("truncate");
    stats_.bytes += static_cast<uint64_t>(size);
    ++stats_.files;
    // Owner, mode, xattrs, times on the open fd: no path lookups.
    return fd_metadata(e, fd.get());
}

// chown first (it clears setuid bits and file capabilities), then mode, xattrs, times.
Status Unpacker::fd_metadata(struct archive_entry* e, int fd) {
    if (opt_.set_owners) {
        auto uid = static_cast<uid_t>(archive_entry_uid(e));
        auto gid = static_cast<gid_t>(archive_entry_gid(e));
        if (opt_.map_owner) std::tie(uid, gid) = opt_.map_owner(uid, gid);
        if ((uid != euid_ || gid != egid_) && ::fchown(fd, uid, gid) != 0)
            return sys_error("chown " + std::to_string(uid) + ":" + std::to_string(gid));
    }
    if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return sys_error("chmod");
    if (archive_entry_xattr_count(e) > 0) {
        SKIFF_CHECK(set_xattrs(e, [fd](const char* key, const void* value, size_t size) {
            return ::fsetxattr(fd, key, value, size, 0);
        }));
    }
    struct timespec times[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                                {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    if (!archive_entry_atime_is_set(e)) times[0] = times[1];
    if (::futimens(fd, times) != 0) return sys_error("set times");
    return ok();
}

Status Unpacker::set_xattrs(struct archive_entry* e, const std::function<int(const char*, const void*, size_t)>& set) {
    const char* key;
    const void* value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
        if (set(key, value, size) == 0) continue;
        std::string k = key;
        // SELinux labels and trusted.* from another host are advisory; a refusal is no error.
        bool optional = k.starts_with("security.") || k.starts_with("trusted.");
        if (optional && (errno == EPERM || errno == ENOTSUP || errno == EACCES || errno == EINVAL)) {
            ++stats_.skipped_xattrs;
            continue;
        }
        return sys_error("set xattr " + k);
    }
    return ok();
}

Status Unpacker::hardlink(struct archive_entry* e, int parent, const std::string& name) {
    std::string raw = archive_entry_hardlink(e);
    auto target = layer_path(raw);
    if (!target) return fail("hardlink target " + raw + " escapes the layer");
    if (target->empty()) return fail("hardlink to the layer root");
    auto [tparent_rel, tname] = split_parent(*target);
    SKIFF_TRY(tparent, open_in_root(root_, tparent_rel, O_PATH | O_DIRECTORY));
    // O_NOFOLLOW: a link to a symlink links the symlink itself, never what it points at.
    UniqueFd tfd(::openat(tparent.get(), tname.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!tfd) return sys_error("hardlink target " + raw);
    struct stat st;
    if (::fstat(tfd.get(), &st) != 0) return sys_error("stat hardlink target " + raw);
    if (S_ISDIR(st.st_mode)) return sys_error(EPERM, "hardlink to directory " + raw);
    bool removed = false;
    SKIFF_CHECK(prepare_slot(parent, name, false, &removed));
    if (removed) forget_parent();
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does the same without it.
    if (::linkat(tfd.get(), "", parent, name.c_str(), AT_EMPTY_PATH) != 0 &&
        ::linkat(AT_FDCWD, fd_path(tfd.get()).c_str(), parent, name.c_str(), AT_SYMLINK_FOLLOW) != 0)
        return sys_error("hardlink to " + raw);
    ++stats_.hardlinks;
    ++stats_.files;
    return ok();
}

Status Unpacker::chown_entry(struct archive_entry* e, int parent, const std::string& name) {
    if (!opt_.set_owners) return ok();
    auto uid = static_cast<uid_t>(archive_entry_uid(e));
    auto gid = static_cast<gid_t>(archive_entry_gid(e));
    if (opt_.map_owner) std::tie(uid, gid) = opt_.map_owner(uid, gid);
    if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("chown " + std::to_string(uid) + ":" + std::to_string(gid));
    return ok();
}

// After chown (which clears setuid bits and file capabilities): mode, xattrs, times. All by
// (parent fd, single name) without following a final symlink.
Status Unpacker::metadata(struct archive_entry* e, int parent, const std::string& name, bool symlink) {
    bool dir = archive_entry_filetype(e) == AE_IFDIR;
    if (!symlink && !dir &&
        ::fchmodat(parent, name.c_str(), archive_entry_perm(e) & 07777, 0) != 0)
        return sys_error("chmod");

    if (archive_entry_xattr_count(e) > 0) {
        std::string node = fd_path(parent) + "/" + name;
        SKIFF_CHECK(set_xattrs(e, [&node](const char* key, const void* value, size_t size) {
            return ::lsetxattr(node.c_str(), key, value, size, 0);
        }));
    }

    if (dir) return ok();  // times (and mode) in finish_dirs
    struct timespec times[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                                {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    if (!archive_entry_atime_is_set(e)) times[0] = times[1];
    if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("set times");
    return ok();
}

void Unpacker::defer_dir(struct archive_entry* e, const std::string& rel) {
    DirMeta m{static_cast<mode_t>(archive_entry_perm(e) & 07777),
              {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
               {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}};
    if (!archive_entry_atime_is_set(e)) m.times[0] = m.times[1];
    dirs_[rel] = m;
}

// Directory modes and mtimes go last: every entry created inside a directory bumps its
// mtime, and a read-only mode would stop later entries (when not root).
Status Unpacker::finish_dirs() {
    for (auto& [rel, m] : dirs_) {
        auto dir = open_in_root(root_, rel.empty() ? "." : rel, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        if (!dir) {
            int code = dir.error().code;
            if (code == ENOTDIR || code == ELOOP || code == ENOENT) continue;  // replaced later
            return std::unexpected(dir.error());
        }
        std::string path = fd_path(dir->get());
        if (::chmod(path.c_str(), m.mode) != 0) return sys_error("chmod directory " + rel);
        if (::utimensat(AT_FDCWD, path.c_str(), m.times, 0) != 0) return sys_error("set times of " + rel);
    }
    return ok();
}

// `what` names the input in errors: "layer", "archive".
Result<LayerStats> unpack_into(int fd, int root, const UnpackOptions& options, const std::string& what = "layer") {
    auto source = std::make_unique<TarSource>();
    ArchivePtr raw(archive_read_new());
    if (!raw) return fail("archive_read_new");
    support_layer_compressions(raw.get());
    archive_read_support_format_raw(raw.get());
    if (archive_read_open_fd(raw.get(), fd, 64 * 1024) != ARCHIVE_OK)
        return archive_fail(raw.get(), "open " + what);
    struct archive_entry* raw_entry;
    if (archive_read_next_header(raw.get(), &raw_entry) != ARCHIVE_OK)
        return archive_fail(raw.get(), "open " + what);
    source->raw = raw.get();

    ArchivePtr tar(archive_read_new());
    if (!tar) return fail("archive_read_new");
    archive_read_support_format_tar(tar.get());
    if (archive_read_open(tar.get(), source.get(), nullptr, tar_source_read, nullptr) != ARCHIVE_OK)
        return archive_fail(tar.get(), "read " + what);

    Unpacker unpacker(root, options);
    for (;;) {
        struct archive_entry* e;
        int r = archive_read_next_header(tar.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_fail(tar.get(), "read " + what);
        const char* raw_name = archive_entry_pathname(e);
        if (!raw_name) return fail("read " + what + ": entry without a name");
        SKIFF_TRY(rel, layer_path(raw_name));
        auto done = unpacker.entry(tar.get(), e, rel);
        if (!done) return std::unexpected(std::move(done).error().context(what + " entry " + raw_name));
    }
    SKIFF_CHECK(unpacker.finish_dirs());

    // The tar reader stops at the end-of-archive blocks; the diff id covers the padding after.
    const void* block;
    la_ssize_t n;
    while ((n = tar_source_read(tar.get(), source.get(), &block)) > 0) {
    }
    if (n < 0) return archive_fail(tar.get(), "read " + what);
    LayerStats stats = std::move(unpacker.stats());
    stats.diff_id = source->hash.finish();
    return stats;
}

}  // namespace

void support_layer_compressions(struct archive* reader) {
    // The compressions layers use (OCI: gzip, zstd; Docker also bzip2, xz).
    archive_read_support_filter_gzip(reader);
    archive_read_support_filter_zstd(reader);
    archive_read_support_filter_bzip2(reader);
    archive_read_support_filter_xz(reader);
}

Result<LayerStats> unpack_layer(int fd, const std::string& dest_dir, const UnpackOptions& options) {
    std::string dest = dest_dir;
    while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
    std::string tmp = dest + ".tmp-" + std::to_string(::getpid());
    SKIFF_CHECK(remove_tree(tmp));  // left by an earlier crash of a process with our pid
    if (::mkdir(tmp.c_str(), 0755) != 0) return sys_error("create " + tmp);
    auto result = [&]() -> Result<LayerStats> {
        UniqueFd root(::open(tmp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!root) return sys_error("open " + tmp);
        SKIFF_TRY(stats, unpack_into(fd, root.get(), options));
        if (::rename(tmp.c_str(), dest.c_str()) != 0) return sys_error("rename " + tmp + " to " + dest);
        return stats;
    }();
    if (!result) (void)remove_tree(tmp);
    return result;
}

Result<LayerStats> extract_archive(int fd, int dir_fd, const UnpackOptions& options) {
    return unpack_into(fd, dir_fd, options, "archive");
}

}  // namespace skiff
