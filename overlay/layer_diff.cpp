#include "overlay/layer_diff.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/path.hpp"

namespace skiff {

namespace {

struct ArchiveWriteFree {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
using WriteArchive = std::unique_ptr<struct archive, ArchiveWriteFree>;
struct EntryFree {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<struct archive_entry, EntryFree>;

std::unexpected<Error> archive_fail(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    return fail(what + ": " + (msg ? msg : "unknown libarchive error"));
}

constexpr const char* kOpaqueMarker = ".wh..wh..opq";
constexpr const char* kWhiteoutPrefix = ".wh.";
constexpr size_t kBuffer = 256 * 1024;

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

std::string join_rel(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "/" + name;
}

// ---------------------------------------------------------------------------------------
// Output: tar bytes -> sha256 (diff id) -> [gzip -> sha256 (blob digest)] -> buffer -> fd.

class Sink {
public:
    Sink(int fd, bool gzip) : fd_(fd), gzip_(gzip) {}

    Status open() {
        if (!gzip_) return ok();
        gz_.reset(archive_write_new());
        if (!gz_) return fail("archive_write_new: out of memory");
        // One raw "entry" through the gzip filter; unblocked (no padding after the stream)
        // and no timestamp in the gzip header, so the same tar gives the same blob.
        if (archive_write_add_filter_gzip(gz_.get()) != ARCHIVE_OK ||
            archive_write_set_format_raw(gz_.get()) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(gz_.get(), 0) != ARCHIVE_OK ||
            archive_write_set_options(gz_.get(), "gzip:!timestamp") != ARCHIVE_OK ||
            archive_write_open2(gz_.get(), this, nullptr, &Sink::gz_callback, nullptr, nullptr) != ARCHIVE_OK)
            return archive_fail(gz_.get(), "gzip layer");
        Entry e(archive_entry_new());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_pathname(e.get(), "layer.tar");
        if (archive_write_header(gz_.get(), e.get()) != ARCHIVE_OK) return archive_fail(gz_.get(), "gzip layer");
        return ok();
    }

    // Bytes of the uncompressed tar.
    Status write(const void* data, size_t size) {
        tar_hash_.update(std::string_view(static_cast<const char*>(data), size));
        tar_size_ += static_cast<int64_t>(size);
        if (!gzip_) return out(data, size);
        auto p = static_cast<const char*>(data);
        while (size > 0) {
            la_ssize_t n = archive_write_data(gz_.get(), p, size);
            if (n <= 0) return gz_error();
            p += n;
            size -= static_cast<size_t>(n);
        }
        return ok();
    }

    Result<DiffResult> finish() {
        if (gzip_ && archive_write_close(gz_.get()) != ARCHIVE_OK) return gz_error();
        SKIFF_CHECK(flush());
        DiffResult r;
        r.diff_id = tar_hash_.finish();
        r.size = tar_size_;
        r.blob_digest = gzip_ ? blob_hash_.finish() : r.diff_id;
        r.blob_size = blob_size_;
        return r;
    }

    // For the tar writer's callback: an error set by a write, to report instead of
    // libarchive's generic one.
    std::optional<Error> pending;

private:
    std::unexpected<Error> gz_error() {
        if (pending) return std::unexpected(*pending);
        return archive_fail(gz_.get(), "gzip layer");
    }

    static la_ssize_t gz_callback(struct archive* a, void* client, const void* data, size_t size) {
        auto* self = static_cast<Sink*>(client);
        if (auto w = self->out(data, size); !w) {
            self->pending = w.error();
            archive_set_error(a, w.error().code ? w.error().code : EIO, "%s", w.error().message().c_str());
            return -1;
        }
        return static_cast<la_ssize_t>(size);
    }

    // Bytes that go to the fd, gathered into large writes.
    Status out(const void* data, size_t size) {
        if (gzip_) blob_hash_.update(std::string_view(static_cast<const char*>(data), size));
        blob_size_ += static_cast<int64_t>(size);
        buf_.append(static_cast<const char*>(data), size);
        if (buf_.size() >= kBuffer) return flush();
        return ok();
    }

    Status flush() {
        if (buf_.empty()) return ok();
        auto w = write_all(fd_, buf_.data(), buf_.size());
        buf_.clear();
        if (!w) return std::unexpected(w.error().context("write layer"));
        return ok();
    }

    int fd_;
    bool gzip_;
    WriteArchive gz_;
    Sha256 tar_hash_;
    Sha256 blob_hash_;
    int64_t tar_size_ = 0;
    int64_t blob_size_ = 0;
    std::string buf_;
};

// ---------------------------------------------------------------------------------------
// Xattrs.

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// All xattrs of a node, sorted by name. fd >= 0: through the fd; else through path (lgetxattr,
// the node itself even when it is a symlink).
Result<Xattrs> read_xattrs(int fd, const std::string& path) {
    auto list = [&](char* buf, size_t size) {
        return fd >= 0 ? ::flistxattr(fd, buf, size) : ::llistxattr(path.c_str(), buf, size);
    };
    auto get = [&](const char* key, void* buf, size_t size) {
        return fd >= 0 ? ::fgetxattr(fd, key, buf, size) : ::lgetxattr(path.c_str(), key, buf, size);
    };
    Xattrs out;
    std::string names;
    for (;;) {
        ssize_t n = list(nullptr, 0);
        if (n < 0) {
            if (errno == ENOTSUP || errno == EOPNOTSUPP) return out;
            return sys_error("list xattrs");
        }
        if (n == 0) return out;
        names.resize(static_cast<size_t>(n));
        n = list(names.data(), names.size());
        if (n < 0 && errno == ERANGE) continue;  // grew in between
        if (n < 0) return sys_error("list xattrs");
        names.resize(static_cast<size_t>(n));
        break;
    }
    for (size_t i = 0; i < names.size();) {
        std::string key(names.c_str() + i);
        i += key.size() + 1;
        if (key.empty()) continue;
        std::string value;
        for (;;) {
            ssize_t n = get(key.c_str(), nullptr, 0);
            if (n < 0 && errno == ENODATA) break;  // removed in between
            if (n < 0) return sys_error("read xattr " + key);
            value.resize(static_cast<size_t>(n));
            n = get(key.c_str(), value.data(), value.size());
            if (n < 0 && errno == ERANGE) continue;
            if (n < 0) return sys_error("read xattr " + key);
            value.resize(static_cast<size_t>(n));
            out.emplace_back(key, std::move(value));
            break;
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Without root the upper can only have been mounted with userxattr (trusted.* needs host
// root), so a rootless diff reads user.overlay.opaque whatever the caller said.
bool rootless_upper(bool userxattr) { return userxattr || ::geteuid() != 0; }

bool has_opaque(const Xattrs& xattrs, bool userxattr) {
    for (const auto& [k, v] : xattrs)
        if (v == "y" && (k == "trusted.overlay.opaque" || (rootless_upper(userxattr) && k == "user.overlay.opaque")))
            return true;
    return false;
}

// Which xattrs go into a layer, as Docker: SELinux labels and the like are the host's
// business, file capabilities are the image's.
bool keep_xattr(const std::string& key, bool userxattr) {
    if (key.starts_with("trusted.overlay.")) return false;
    if (rootless_upper(userxattr) && key.starts_with("user.overlay.")) return false;
    if (key.starts_with("security.")) return key == "security.capability";
    if (key.starts_with("system.")) return false;  // POSIX ACLs: not carried in layers
    return true;
}

// ---------------------------------------------------------------------------------------
// Directory walking.

Result<std::vector<std::string>> sorted_names(int dirfd) {
    int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) return sys_error("open directory");
    DIR* d = ::fdopendir(dup);
    if (!d) {
        auto e = sys_error("read directory");
        ::close(dup);
        return e;
    }
    std::vector<std::string> names;
    errno = 0;
    while (auto* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
        errno = 0;
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return sys_error(err, "read directory");
    // Byte order, as Go's filepath.Walk: the same tree always gives the same tar.
    std::sort(names.begin(), names.end());
    return names;
}

Result<UniqueFd> open_child_dir(int parent, const std::string& name) {
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("open " + name);
    return fd;
}

enum class TarMode { layer_diff, export_tree, copy };

class TarWalker {
public:
    TarWalker(Sink& sink, TarMode mode, bool userxattr, const std::set<std::string>* exclude = nullptr)
        : sink_(sink), mode_(mode), userxattr_(userxattr), exclude_(exclude) {}

    Status open() {
        tar_.reset(archive_write_new());
        if (!tar_) return fail("archive_write_new: out of memory");
        // pax only where ustar cannot say it (long names, large ids, xattrs), like Docker's.
        if (archive_write_set_format_pax_restricted(tar_.get()) != ARCHIVE_OK)
            return archive_fail(tar_.get(), "tar format");
        // Xattrs as SCHILY.xattr.* only (what Go's archive/tar reads), not also LIBARCHIVE.*.
        (void)archive_write_set_format_option(tar_.get(), "pax", "xattrheader", "SCHILY");
        // Unblocked: the tar ends after its two zero blocks, no padding to 10 KiB.
        if (archive_write_set_bytes_per_block(tar_.get(), 0) != ARCHIVE_OK ||
            archive_write_open2(tar_.get(), this, nullptr, &TarWalker::callback, nullptr, nullptr) != ARCHIVE_OK)
            return archive_fail(tar_.get(), "open tar");
        return ok();
    }

    Status walk_root(const std::string& root) {
        UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) return sys_error("open " + root);
        struct stat st;
        if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + root);
        root_dev_ = st.st_dev;
        return walk(fd.get(), "");
    }

    // One node (and what is below it) by its parent and name, written as `as`.
    Status walk_node(int parent_fd, const std::string& name, const std::string& as) {
        auto done = node(parent_fd, "", name, as);
        if (!done) return std::unexpected(std::move(done).error().context(as));
        return ok();
    }

    Status close() {
        if (archive_write_close(tar_.get()) != ARCHIVE_OK) return tar_error("finish tar");
        return ok();
    }

private:
    static la_ssize_t callback(struct archive* a, void* client, const void* data, size_t size) {
        auto* self = static_cast<TarWalker*>(client);
        if (auto w = self->sink_.write(data, size); !w) {
            self->sink_.pending = w.error();
            archive_set_error(a, w.error().code ? w.error().code : EIO, "%s", w.error().message().c_str());
            return -1;
        }
        return static_cast<la_ssize_t>(size);
    }

    std::unexpected<Error> tar_error(const std::string& what) {
        if (sink_.pending) return std::unexpected(*sink_.pending);
        return archive_fail(tar_.get(), what);
    }

    Entry new_entry(const std::string& path, const struct stat& st) {
        Entry e(archive_entry_new());
        archive_entry_set_pathname(e.get(), path.c_str());
        archive_entry_set_perm(e.get(), st.st_mode & 07777);
        archive_entry_set_uid(e.get(), st.st_uid);
        archive_entry_set_gid(e.get(), st.st_gid);
        // Whole seconds and no atime/ctime (as Docker): reproducible, and plain ustar headers.
        archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
        return e;
    }

    void add_xattrs(struct archive_entry* e, const Xattrs& xattrs) {
        for (const auto& [k, v] : xattrs)
            if (keep_xattr(k, userxattr_)) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    }

    Status header(struct archive_entry* e) {
        if (archive_write_header(tar_.get(), e) != ARCHIVE_OK) return tar_error("write tar header");
        return ok();
    }

    // An empty regular file standing for a whiteout or an opaque marker.
    Status marker(const std::string& path, const struct stat& st) {
        Entry e = new_entry(path, st);
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), st.st_mode & 0777);
        archive_entry_set_size(e.get(), 0);
        return header(e.get());
    }

    Status walk(int dirfd, const std::string& rel) {
        SKIFF_TRY(names, sorted_names(dirfd));
        for (const auto& name : names) {
            std::string path = join_rel(rel, name);
            auto done = node(dirfd, rel, name, path);
            if (!done) return std::unexpected(std::move(done).error().context(path));
        }
        return ok();
    }

    Status node(int dirfd, const std::string& rel, const std::string& name, const std::string& path) {
        bool diff = mode_ == TarMode::layer_diff;
        if (diff && exclude_ && exclude_->count(path)) return ok();
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("stat");
        if (diff && name.starts_with(kWhiteoutPrefix))
            return fail("a file named .wh.* cannot be stored in a layer (it would read as a whiteout)");
        if (diff && is_whiteout(st)) return marker(join_rel(rel, kWhiteoutPrefix + name), st);

        if (S_ISDIR(st.st_mode)) {
            SKIFF_TRY(fd, open_child_dir(dirfd, name));
            SKIFF_TRY(xattrs, read_xattrs(fd.get(), ""));
            Entry e = new_entry(path + "/", st);
            archive_entry_set_filetype(e.get(), AE_IFDIR);
            add_xattrs(e.get(), xattrs);
            SKIFF_CHECK(header(e.get()));
            // Right after its directory, as Docker writes it: the lower layers' contents of
            // this directory are hidden.
            if (diff && has_opaque(xattrs, userxattr_)) SKIFF_CHECK(marker(path + "/" + kOpaqueMarker, st));
            if (mode_ == TarMode::export_tree && st.st_dev != root_dev_) return ok();  // a mount point
            return walk(fd.get(), path);
        }
        if (S_ISSOCK(st.st_mode)) return ok();  // sockets belong to a running process, not a layer

        Entry e = new_entry(path, st);
        // A second name of an inode already written: a hardlink entry, no content.
        if (st.st_nlink > 1) {
            auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, path);
            if (!first) {
                archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
                archive_entry_set_hardlink(e.get(), it->second.c_str());
                archive_entry_set_size(e.get(), 0);
                return header(e.get());
            }
        }
        if (S_ISREG(st.st_mode)) {
            UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) return sys_error("open");
            SKIFF_TRY(xattrs, read_xattrs(fd.get(), ""));
            archive_entry_set_filetype(e.get(), AE_IFREG);
            archive_entry_set_size(e.get(), st.st_size);
            add_xattrs(e.get(), xattrs);
            SKIFF_CHECK(header(e.get()));
            return content(fd.get(), st.st_size);
        }
        // No fd for these (opening a fifo or device has effects): by path, the last
        // component not followed.
        SKIFF_TRY(xattrs, read_xattrs(-1, fd_path(dirfd) + "/" + name));
        add_xattrs(e.get(), xattrs);
        if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
            if (n < 0) return sys_error("readlink");
            if (static_cast<size_t>(n) >= target.size()) return fail("symlink changed while reading");
            target.resize(static_cast<size_t>(n));
            archive_entry_set_filetype(e.get(), AE_IFLNK);
            archive_entry_set_symlink(e.get(), target.c_str());
            return header(e.get());
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
            archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
            if (!S_ISFIFO(st.st_mode)) archive_entry_set_rdev(e.get(), st.st_rdev);
            return header(e.get());
        }
        return ok();  // unknown file types have no place in a layer
    }

    Status content(int fd, off_t size) {
        if (!buf_) buf_.reset(new char[kBuffer]);
        off_t done = 0;
        while (done < size) {
            size_t want = static_cast<size_t>(std::min<off_t>(size - done, static_cast<off_t>(kBuffer)));
            ssize_t n = ::read(fd, buf_.get(), want);
            if (n < 0) {
                if (errno == EINTR) continue;
                return sys_error("read");
            }
            // The header already promised `size` bytes: a file that shrinks is an error.
            if (n == 0) return fail("file shrank while being read");
            for (ssize_t w = 0; w < n;) {
                la_ssize_t k = archive_write_data(tar_.get(), buf_.get() + w, static_cast<size_t>(n - w));
                if (k <= 0) return tar_error("write tar data");
                w += k;
            }
            done += n;
        }
        return ok();
    }

    Sink& sink_;
    TarMode mode_;
    bool userxattr_;
    const std::set<std::string>* exclude_;
    WriteArchive tar_;
    dev_t root_dev_ = 0;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;  // inode -> first name written
    std::unique_ptr<char[]> buf_;
};

Result<DiffResult> write_tree(const std::string& root, int out_fd, TarMode mode, const DiffOptions& options) {
    Sink sink(out_fd, options.compression == LayerCompression::gzip);
    SKIFF_CHECK(sink.open());
    TarWalker walker(sink, mode, options.userxattr, &options.exclude);
    SKIFF_CHECK(walker.open());
    SKIFF_CHECK(walker.walk_root(root));
    SKIFF_CHECK(walker.close());
    return sink.finish();
}

// ---------------------------------------------------------------------------------------
// Changes.

// Opaque in either form: list_changes does not know whether the mount used userxattr.
bool opaque_xattr(const std::function<ssize_t(const char*, char*, size_t)>& get) {
    char v[2];
    for (const char* key : {"trusted.overlay.opaque", "user.overlay.opaque"})
        if (get(key, v, sizeof v) == 1 && v[0] == 'y') return true;
    return false;
}

bool path_opaque(const std::string& path) {
    return opaque_xattr([&](const char* key, char* v, size_t n) { return ::lgetxattr(path.c_str(), key, v, n); });
}

bool fd_opaque(int fd) {
    return opaque_xattr([&](const char* key, char* v, size_t n) { return ::fgetxattr(fd, key, v, n); });
}

enum class Lookup { found, missing, blocked };

// rel in one lower layer, component by component without following symlinks. found: it is
// there (*st filled); missing: look in the layers below; blocked: a whiteout, a
// non-directory or an opaque directory on the way hides it in every layer below.
Lookup lookup_in_layer(const std::string& layer, const std::string& rel, struct stat* st) {
    std::string cur = layer;
    auto parts = split_components(rel);
    if (parts.empty()) return ::lstat(cur.c_str(), st) == 0 ? Lookup::found : Lookup::missing;
    bool opaque_above = false;
    for (size_t i = 0; i < parts.size(); ++i) {
        cur += "/" + parts[i];
        if (::lstat(cur.c_str(), st) != 0) return opaque_above ? Lookup::blocked : Lookup::missing;
        if (is_whiteout(*st)) return Lookup::blocked;
        if (i + 1 == parts.size()) return Lookup::found;
        if (!S_ISDIR(st->st_mode)) return Lookup::blocked;
        if (path_opaque(cur)) opaque_above = true;
    }
    return Lookup::missing;
}

// The node the lower layers (top first) show at rel, if any.
bool find_in_lowers(const std::vector<std::string>& lowers, const std::string& rel, struct stat* st) {
    for (const auto& layer : lowers) {
        switch (lookup_in_layer(layer, rel, st)) {
        case Lookup::found: return true;
        case Lookup::blocked: return false;
        case Lookup::missing: break;
        }
    }
    return false;
}

// The names the merged lower layers show in directory rel.
std::set<std::string> lower_children(const std::vector<std::string>& lowers, const std::string& rel) {
    std::set<std::string> seen, visible;
    for (const auto& layer : lowers) {
        struct stat st;
        Lookup l = lookup_in_layer(layer, rel, &st);
        if (l == Lookup::blocked) break;
        if (l == Lookup::missing) continue;
        if (!S_ISDIR(st.st_mode)) break;
        std::string dir = rel.empty() ? layer : layer + "/" + rel;
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) break;
        auto names = sorted_names(fd.get());
        if (!names) break;
        for (const auto& n : *names) {
            if (!seen.insert(n).second) continue;  // decided by a layer above
            struct stat cst;
            if (::fstatat(fd.get(), n.c_str(), &cst, AT_SYMLINK_NOFOLLOW) == 0 && !is_whiteout(cst))
                visible.insert(n);
        }
        if (path_opaque(dir)) break;
    }
    return visible;
}

class ChangeWalker {
public:
    explicit ChangeWalker(const std::vector<std::string>& lowers) : lowers_(lowers) {}

    // Changes inside upper directory rel (open as dirfd), appended to out. `hidden`: the
    // lower layers show nothing here (a new or opaque directory), so all is added.
    Status walk(int dirfd, const std::string& rel, bool hidden, std::vector<Change>& out) {
        SKIFF_TRY(names, sorted_names(dirfd));
        std::vector<std::string> all = names;
        std::set<std::string> in_upper(names.begin(), names.end());
        // An opaque directory replaced one of the lowers: what it hid is deleted.
        std::set<std::string> deleted;
        if (!hidden && fd_opaque(dirfd)) {
            for (const auto& n : lower_children(lowers_, rel))
                if (!in_upper.count(n)) deleted.insert(n);
            all.insert(all.end(), deleted.begin(), deleted.end());
            std::sort(all.begin(), all.end());
            hidden = true;
        }
        for (const auto& name : all) {
            std::string path = join_rel(rel, name);
            if (deleted.count(name)) {
                out.push_back({Change::Kind::deleted, "/" + path});
                continue;
            }
            struct stat st;
            if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("stat /" + path);
            if (is_whiteout(st)) {
                out.push_back({Change::Kind::deleted, "/" + path});
                continue;
            }
            struct stat lower;
            bool exists = !hidden && find_in_lowers(lowers_, path, &lower);
            if (!S_ISDIR(st.st_mode)) {
                out.push_back({exists ? Change::Kind::changed : Change::Kind::added, "/" + path});
                continue;
            }
            SKIFF_TRY(fd, open_child_dir(dirfd, name));
            std::vector<Change> inner;
            bool replaced = exists && !S_ISDIR(lower.st_mode);  // a file became a directory
            SKIFF_CHECK(walk(fd.get(), path, !exists || replaced, inner));
            if (!exists) {
                out.push_back({Change::Kind::added, "/" + path});
            } else {
                // A directory copied up only as the parent of a change is listed because of
                // that change; one with nothing inside only when its own metadata changed.
                bool same = !replaced && st.st_mode == lower.st_mode && st.st_uid == lower.st_uid &&
                            st.st_gid == lower.st_gid && st.st_mtim.tv_sec == lower.st_mtim.tv_sec;
                if (inner.empty() && same) continue;
                out.push_back({Change::Kind::changed, "/" + path});
            }
            out.insert(out.end(), std::make_move_iterator(inner.begin()), std::make_move_iterator(inner.end()));
        }
        return ok();
    }

private:
    const std::vector<std::string>& lowers_;
};

}  // namespace

Result<DiffResult> write_layer_diff(const std::string& upper_dir, int out_fd, const DiffOptions& options) {
    return with_context(write_tree(upper_dir, out_fd, TarMode::layer_diff, options), "diff of " + upper_dir);
}

Result<int64_t> write_copy_tar(int parent_fd, const std::string& name, const std::string& as, int out_fd) {
    Sink sink(out_fd, false);
    SKIFF_CHECK(sink.open());
    TarWalker walker(sink, TarMode::copy, false);
    SKIFF_CHECK(walker.open());
    SKIFF_CHECK(walker.walk_node(parent_fd, name, as));
    SKIFF_CHECK(walker.close());
    SKIFF_TRY(written, sink.finish());
    return written.size;
}

Status export_rootfs(const std::string& rootfs_dir, int out_fd) {
    auto r = write_tree(rootfs_dir, out_fd, TarMode::export_tree, DiffOptions{});
    if (!r) return std::unexpected(std::move(r).error().context("export " + rootfs_dir));
    return ok();
}

bool lower_layers_have(const std::vector<std::string>& lower_dirs, const std::string& rel, struct stat* st) {
    return find_in_lowers(lower_dirs, rel, st);
}

char Change::letter() const {
    switch (kind) {
    case Kind::added: return 'A';
    case Kind::changed: return 'C';
    case Kind::deleted: return 'D';
    }
    return '?';
}

std::string Change::to_string() const { return std::string(1, letter()) + " " + path; }

Result<std::vector<Change>> list_changes(const std::string& upper_dir, const std::vector<std::string>& lower_dirs) {
    UniqueFd fd(::open(upper_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sys_error("open " + upper_dir);
    ChangeWalker walker(lower_dirs);
    std::vector<Change> out;
    SKIFF_CHECK(with_context(walker.walk(fd.get(), "", false, out), "changes in " + upper_dir));
    return out;
}

}  // namespace skiff
