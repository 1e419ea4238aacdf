#include "overlay/layer_diff.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "overlay/container_rootfs.hpp"
#include "overlay/unpack.hpp"

using skiff::UniqueFd;

namespace {

struct DiffDir {
    std::string root;
    std::vector<std::string> targets;
    DiffDir() {
        char tmpl[] = "/tmp/skiff-layer-diff-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        root = tmpl;
    }
    ~DiffDir() {
        for (const auto& t : targets) (void)skiff::unmount_rootfs(t);
        (void)skiff::remove_tree(root);
    }
    std::string path(const std::string& rel) const { return root + "/" + rel; }
    std::string target(const std::string& rel) {
        targets.push_back(path(rel));
        return targets.back();
    }
};

void put(const std::string& path, const std::string& content) {
    REQUIRE(skiff::mkdir_p(skiff::dirname_of(path)));
    REQUIRE(skiff::write_file_atomic(path, content));
}

std::string get(const std::string& path) {
    auto r = skiff::read_file(path);
    return r ? *r : "<missing>";
}

UniqueFd memfd() {
    UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
    REQUIRE(fd);
    return fd;
}

std::string fd_contents(int fd) {
    std::string out;
    char buf[65536];
    REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        REQUIRE(n >= 0);
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
    return out;
}

struct TarEntry {
    std::string path;
    mode_t type = 0;
    unsigned perm = 0;
    int64_t uid = 0;
    int64_t mtime_nsec = 0;
    std::string hardlink;
    std::string symlink;
    std::string content;
    std::map<std::string, std::string> xattrs;
};

std::vector<TarEntry> read_tar(const std::string& data) {
    std::vector<TarEntry> out;
    struct archive* a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    REQUIRE(archive_read_open_memory(a, data.data(), data.size()) == ARCHIVE_OK);
    struct archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        TarEntry t;
        t.path = archive_entry_pathname(e);
        t.type = archive_entry_filetype(e);
        t.perm = archive_entry_perm(e);
        t.uid = archive_entry_uid(e);
        t.mtime_nsec = archive_entry_mtime_nsec(e);
        if (archive_entry_hardlink(e)) t.hardlink = archive_entry_hardlink(e);
        if (archive_entry_symlink(e)) t.symlink = archive_entry_symlink(e);
        const char* key;
        const void* value;
        size_t size;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK)
            t.xattrs[key] = std::string(static_cast<const char*>(value), size);
        char buf[4096];
        la_ssize_t n;
        while ((n = archive_read_data(a, buf, sizeof buf)) > 0) t.content.append(buf, static_cast<size_t>(n));
        out.push_back(std::move(t));
    }
    archive_read_free(a);
    return out;
}

const TarEntry* find(const std::vector<TarEntry>& entries, const std::string& path) {
    for (const auto& e : entries)
        if (e.path == path) return &e;
    return nullptr;
}

std::vector<std::string> names(const std::vector<TarEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.path);
    return out;
}

// Every node below dir, described by type, mode, owner, content or target (not following
// symlinks), for comparing two merged views.
void describe_tree(const std::string& dir, const std::string& rel, std::map<std::string, std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    REQUIRE(d);
    std::vector<std::string> children;
    while (auto* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..") children.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : children) {
        std::string p = dir + "/" + n, r = rel + "/" + n;
        struct stat st;
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        std::string desc = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
                           std::to_string(st.st_gid);
        if (S_ISREG(st.st_mode)) desc += " " + get(p) + " @" + std::to_string(st.st_mtim.tv_sec);
        if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            ssize_t k = ::readlink(p.c_str(), buf, sizeof buf);
            REQUIRE(k >= 0);
            desc += " -> " + std::string(buf, static_cast<size_t>(k));
        }
        out[r] = desc;
        if (S_ISDIR(st.st_mode)) describe_tree(p, r, out);
    }
}

std::vector<std::string> change_strings(const std::vector<skiff::Change>& changes) {
    std::vector<std::string> out;
    for (const auto& c : changes) out.push_back(c.to_string());
    return out;
}

bool root_or_warn() {
    if (::geteuid() == 0) return true;
    WARN("skipped: overlay mounts need root");
    return false;
}

}  // namespace

TEST_CASE("layer diff of a plain directory: order, hardlinks, symlinks, determinism", "[layer-diff]") {
    DiffDir d;
    std::string up = d.path("upper");
    put(up + "/b/z", "zz");
    put(up + "/b/a", "aa");
    put(up + "/a.txt", "top");
    REQUIRE(::link((up + "/a.txt").c_str(), (up + "/b/hard").c_str()) == 0);
    REQUIRE(::symlink("/etc/passwd", (up + "/link").c_str()) == 0);
    REQUIRE(::mkfifo((up + "/fifo").c_str(), 0640) == 0);
    REQUIRE(::chmod((up + "/b/z").c_str(), 0751) == 0);
    REQUIRE(::setxattr((up + "/a.txt").c_str(), "user.note", "hi", 2, 0) == 0);
    struct timespec times[2] = {{1'600'000'000, 123456789}, {1'600'000'000, 123456789}};
    REQUIRE(::utimensat(AT_FDCWD, (up + "/a.txt").c_str(), times, 0) == 0);

    auto fd = memfd();
    auto r = skiff::write_layer_diff(up, fd.get(), {});
    REQUIRE(r.has_value());
    std::string tar = fd_contents(fd.get());
    CHECK(r->size == static_cast<int64_t>(tar.size()));
    CHECK(r->blob_size == r->size);
    CHECK(r->diff_id == skiff::sha256_digest(tar));
    CHECK(r->blob_digest == r->diff_id);

    auto entries = read_tar(tar);
    // Names sorted within each directory, each directory before its contents; no root entry.
    CHECK(names(entries) == std::vector<std::string>{"a.txt", "b/", "b/a", "b/hard", "b/z", "fifo", "link"});
    const TarEntry* a = find(entries, "a.txt");
    REQUIRE(a);
    CHECK(a->content == "top");
    CHECK(a->xattrs.at("user.note") == "hi");
    CHECK(a->mtime_nsec == 0);
    const TarEntry* hard = find(entries, "b/hard");
    REQUIRE(hard);
    CHECK(hard->hardlink == "a.txt");
    CHECK(hard->content.empty());
    CHECK(find(entries, "b/z")->perm == 0751);
    CHECK(find(entries, "link")->type == AE_IFLNK);
    CHECK(find(entries, "link")->symlink == "/etc/passwd");
    CHECK(find(entries, "fifo")->type == AE_IFIFO);

    // The same tree gives the same bytes; gzip wraps the same tar.
    auto fd2 = memfd();
    auto r2 = skiff::write_layer_diff(up, fd2.get(), {});
    REQUIRE(r2.has_value());
    CHECK(r2->diff_id == r->diff_id);
    auto gz = memfd();
    skiff::DiffOptions gzip;
    gzip.compression = skiff::LayerCompression::gzip;
    auto rg = skiff::write_layer_diff(up, gz.get(), gzip);
    REQUIRE(rg.has_value());
    std::string blob = fd_contents(gz.get());
    CHECK(rg->diff_id == r->diff_id);
    CHECK(rg->size == r->size);
    CHECK(rg->blob_digest == skiff::sha256_digest(blob));
    CHECK(rg->blob_size == static_cast<int64_t>(blob.size()));
    CHECK(rg->blob_digest != rg->diff_id);
    CHECK(blob.substr(0, 2) == "\x1f\x8b");
    CHECK(names(read_tar(blob)) == names(entries));
    auto gz2 = memfd();
    auto rg2 = skiff::write_layer_diff(up, gz2.get(), gzip);
    REQUIRE(rg2.has_value());
    CHECK(rg2->blob_digest == rg->blob_digest);

    // A real file named like a whiteout cannot be stored.
    put(up + "/.wh.trick", "");
    auto fd3 = memfd();
    CHECK(!skiff::write_layer_diff(up, fd3.get(), {}).has_value());
}

TEST_CASE("export of a tree never follows symlinks", "[layer-diff]") {
    DiffDir d;
    std::string tree = d.path("rootfs");
    put(tree + "/etc/hostname", "box");
    REQUIRE(::symlink("/etc/shadow", (tree + "/etc/shadow").c_str()) == 0);
    REQUIRE(::symlink("/", (tree + "/hostroot").c_str()) == 0);
    put(tree + "/.wh.kept", "");  // no whiteout meaning in an export
    auto fd = memfd();
    REQUIRE(skiff::export_rootfs(tree, fd.get()));
    auto entries = read_tar(fd_contents(fd.get()));
    CHECK(names(entries) == std::vector<std::string>{".wh.kept", "etc/", "etc/hostname", "etc/shadow", "hostroot"});
    CHECK(find(entries, "etc/shadow")->type == AE_IFLNK);
    CHECK(find(entries, "etc/shadow")->content.empty());
    CHECK(find(entries, "hostroot")->symlink == "/");
    CHECK(find(entries, "etc/hostname")->content == "box");
}

TEST_CASE("diff of a container's upper: whiteouts, opaque dirs, round trip, changes, export", "[layer-diff]") {
    if (!root_or_warn()) return;
    DiffDir d;
    std::string lower = d.path("layers/base");
    put(lower + "/etc/passwd", "root:x:0:0\n");
    put(lower + "/etc/hosts", "127.0.0.1 localhost\n");
    put(lower + "/old/a", "a");
    put(lower + "/old/b", "b");
    put(lower + "/rmme.txt", "bye");
    put(lower + "/var/keep", "k");
    put(lower + "/usr/bin/tool", "#!/bin/sh\n");
    // A file capability (VFS_CAP_REVISION_2, CAP_NET_BIND_SERVICE): exported with the file.
    const char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};
    REQUIRE(::setxattr((lower + "/usr/bin/tool").c_str(), "security.capability", cap, sizeof cap, 0) == 0);

    std::string upper = d.path("c/upper"), work = d.path("c/work"), target = d.target("c/rootfs");
    REQUIRE(skiff::mount_rootfs({lower}, upper, work, target, {}));
    put(target + "/new.txt", "new");
    REQUIRE(::link((target + "/new.txt").c_str(), (target + "/new-link.txt").c_str()) == 0);
    REQUIRE(::symlink("etc/passwd", (target + "/link").c_str()) == 0);
    REQUIRE(::mkfifo((target + "/fifo").c_str(), 0600) == 0);
    {
        UniqueFd f(::open((target + "/etc/passwd").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        REQUIRE(f);
        REQUIRE(skiff::write_all(f.get(), "me:x:1000:1000\n", 15));
    }
    REQUIRE(::unlink((target + "/rmme.txt").c_str()) == 0);
    REQUIRE(skiff::remove_tree(target + "/var"));
    REQUIRE(skiff::remove_tree(target + "/old"));
    REQUIRE(::mkdir((target + "/old").c_str(), 0755) == 0);
    put(target + "/old/c", "c");
    REQUIRE(::setxattr((target + "/new.txt").c_str(), "user.note", "n", 1, 0) == 0);
    std::map<std::string, std::string> merged;
    describe_tree(target, "", merged);
    REQUIRE(skiff::unmount_rootfs(target));

    auto fd = memfd();
    auto r = skiff::write_layer_diff(upper, fd.get(), {});
    REQUIRE(r.has_value());
    std::string tar = fd_contents(fd.get());
    CHECK(r->diff_id == skiff::sha256_digest(tar));
    auto entries = read_tar(tar);
    // Whiteouts sort by the name they delete (the upper's name), as Docker writes them.
    CHECK(names(entries) == std::vector<std::string>{
                                "etc/", "etc/passwd", "fifo", "link", "new-link.txt", "new.txt", "old/",
                                "old/.wh..wh..opq", "old/c", ".wh.rmme.txt", ".wh.var"});
    CHECK(find(entries, "etc/passwd")->content == "root:x:0:0\nme:x:1000:1000\n");
    CHECK(find(entries, ".wh.rmme.txt")->type == AE_IFREG);
    CHECK(find(entries, ".wh.rmme.txt")->content.empty());
    CHECK(find(entries, "new.txt")->hardlink == "new-link.txt");
    CHECK(find(entries, "new-link.txt")->content == "new");
    CHECK(find(entries, "new-link.txt")->xattrs.at("user.note") == "n");
    CHECK(find(entries, "link")->symlink == "etc/passwd");
    CHECK(find(entries, "fifo")->type == AE_IFIFO);
    for (const auto& e : entries)
        for (const auto& [k, v] : e.xattrs) CHECK(!k.starts_with("trusted.overlay."));

    SECTION("round trip: the diff unpacked as a layer on the lowers gives the same view") {
        std::string layer = d.path("layers/diff");
        auto stats = skiff::unpack_layer(fd.get(), layer, {});
        REQUIRE(stats.has_value());
        CHECK(stats->diff_id == r->diff_id);
        std::string t2 = d.target("c2/rootfs");
        skiff::RootfsOptions ro;
        ro.read_only = true;
        REQUIRE(skiff::mount_rootfs({layer, lower}, d.path("c2/upper"), d.path("c2/work"), t2, ro));
        std::map<std::string, std::string> again;
        describe_tree(t2, "", again);
        REQUIRE(skiff::unmount_rootfs(t2));
        CHECK(again == merged);
    }
    SECTION("changes, as docker diff lists them") {
        auto changes = skiff::list_changes(upper, {lower});
        REQUIRE(changes.has_value());
        CHECK(change_strings(*changes) ==
              std::vector<std::string>{"C /etc", "C /etc/passwd", "A /fifo", "A /link", "A /new-link.txt",
                                       "A /new.txt", "C /old", "D /old/a", "D /old/b", "A /old/c",
                                       "D /rmme.txt", "D /var"});
    }
    SECTION("gzip blob of the same diff") {
        auto gz = memfd();
        skiff::DiffOptions opt;
        opt.compression = skiff::LayerCompression::gzip;
        auto rg = skiff::write_layer_diff(upper, gz.get(), opt);
        REQUIRE(rg.has_value());
        CHECK(rg->diff_id == r->diff_id);
        CHECK(rg->blob_digest == skiff::sha256_digest(fd_contents(gz.get())));
    }
    SECTION("export of the mounted rootfs") {
        REQUIRE(skiff::mount_rootfs({lower}, upper, work, target, {}));
        auto out = memfd();
        REQUIRE(skiff::export_rootfs(target, out.get()));
        REQUIRE(skiff::unmount_rootfs(target));
        auto all = read_tar(fd_contents(out.get()));
        CHECK(names(all) == std::vector<std::string>{"etc/", "etc/hosts", "etc/passwd", "fifo", "link",
                                                     "new-link.txt", "new.txt", "old/", "old/c", "usr/",
                                                     "usr/bin/", "usr/bin/tool"});
        CHECK(find(all, "link")->type == AE_IFLNK);
        CHECK(find(all, "etc/passwd")->content == "root:x:0:0\nme:x:1000:1000\n");
        const TarEntry* tool = find(all, "usr/bin/tool");
        REQUIRE(tool);
        CHECK(tool->xattrs.count("security.capability") == 1);
    }
    auto info = skiff::read_file("/proc/self/mountinfo");
    REQUIRE(info);
    CHECK(info->find(d.root) == std::string::npos);
}

TEST_CASE("changes across several lowers respect their whiteouts and opaque dirs", "[layer-diff]") {
    if (!root_or_warn()) return;
    DiffDir d;
    std::string bottom = d.path("l/bottom"), top = d.path("l/top"), upper = d.path("upper");
    put(bottom + "/x/deep", "1");
    put(bottom + "/y/file", "1");
    put(bottom + "/z/old", "1");
    REQUIRE(skiff::mkdir_p(top + "/x"));
    REQUIRE(::mknod((top + "/x/deep").c_str(), S_IFCHR, makedev(0, 0)) == 0);  // deleted in top
    put(top + "/z/new", "2");
    REQUIRE(::setxattr((top + "/z").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
    // The upper recreates x/deep (A: the top layer deleted it), touches z/old (A: hidden by
    // the opaque z) and z/new (C), and y/file (C).
    put(upper + "/x/deep", "3");
    put(upper + "/z/old", "3");
    put(upper + "/z/new", "3");
    put(upper + "/y/file", "3");
    auto changes = skiff::list_changes(upper, {top, bottom});
    REQUIRE(changes.has_value());
    CHECK(change_strings(*changes) == std::vector<std::string>{"C /x", "A /x/deep", "C /y", "C /y/file", "C /z",
                                                               "C /z/new", "A /z/old"});
}

TEST_CASE("layer diff of a rootless (userxattr) upper", "[layer-diff]") {
    if (!root_or_warn()) return;  // the whiteout device needs mknod
    DiffDir d;
    std::string up = d.path("upper");
    REQUIRE(skiff::mkdir_p(up + "/dir"));
    put(up + "/dir/new", "n");
    REQUIRE(::setxattr((up + "/dir").c_str(), "user.overlay.opaque", "y", 1, 0) == 0);
    REQUIRE(::setxattr((up + "/dir").c_str(), "user.mine", "m", 1, 0) == 0);
    REQUIRE(::mknod((up + "/gone").c_str(), S_IFCHR, makedev(0, 0)) == 0);
    // A file capability (VFS_CAP_REVISION_2, effective, CAP_NET_BIND_SERVICE permitted) is
    // kept; an SELinux-style label is not.
    const char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};
    put(up + "/tool", "t");
    REQUIRE(::setxattr((up + "/tool").c_str(), "security.capability", cap, sizeof cap, 0) == 0);
    (void)::setxattr((up + "/tool").c_str(), "security.skiff-test", "x", 1, 0);

    skiff::DiffOptions opt;
    opt.userxattr = true;
    auto fd = memfd();
    REQUIRE(skiff::write_layer_diff(up, fd.get(), opt));
    auto entries = read_tar(fd_contents(fd.get()));
    CHECK(names(entries) == std::vector<std::string>{"dir/", "dir/.wh..wh..opq", "dir/new", ".wh.gone", "tool"});
    CHECK(find(entries, "dir/")->xattrs == std::map<std::string, std::string>{{"user.mine", "m"}});
    CHECK(find(entries, "tool")->xattrs ==
          std::map<std::string, std::string>{{"security.capability", std::string(cap, sizeof cap)}});

    // Without userxattr, user.overlay.opaque is just a user xattr of the container's.
    auto fd2 = memfd();
    REQUIRE(skiff::write_layer_diff(up, fd2.get(), {}));
    auto plain = read_tar(fd_contents(fd2.get()));
    CHECK(find(plain, "dir/.wh..wh..opq") == nullptr);
    CHECK(find(plain, "dir/")->xattrs.count("user.overlay.opaque") == 1);

    // list_changes knows either form.
    put(d.path("lower/dir/old"), "o");
    put(d.path("lower/gone"), "g");
    auto changes = skiff::list_changes(up, {d.path("lower")});
    REQUIRE(changes.has_value());
    CHECK(change_strings(*changes) ==
          std::vector<std::string>{"C /dir", "A /dir/new", "D /dir/old", "D /gone", "A /tool"});
}

TEST_CASE("cp: write_copy_tar names one node, extract_archive puts it in place", "[layer-diff]") {
    DiffDir d;
    std::string src = d.path("src");
    put(src + "/dir/a", "aa");
    put(src + "/dir/.wh.kept", "plain name");
    REQUIRE(::symlink("/etc/passwd", (src + "/dir/link").c_str()) == 0);
    UniqueFd parent(::open(src.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(parent);

    // A directory under another name; a symlink as itself, never followed.
    auto fd = memfd();
    auto written = skiff::write_copy_tar(parent.get(), "dir", "renamed", fd.get());
    REQUIRE(written.has_value());
    std::string tar = fd_contents(fd.get());
    CHECK(*written == static_cast<int64_t>(tar.size()));
    auto entries = read_tar(tar);
    CHECK(names(entries) == std::vector<std::string>{"renamed/", "renamed/.wh.kept", "renamed/a", "renamed/link"});
    CHECK(find(entries, "renamed/link")->symlink == "/etc/passwd");

    // "." : the contents.
    UniqueFd dir(::open((src + "/dir").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    auto contents = memfd();
    REQUIRE(skiff::write_copy_tar(dir.get(), ".", ".", contents.get()).has_value());
    CHECK(names(read_tar(fd_contents(contents.get()))) == std::vector<std::string>{"./", "./.wh.kept", "./a", "./link"});

    // In place into an existing directory; ".wh." names stay plain files.
    std::string dest = d.path("dest");
    REQUIRE(skiff::mkdir_p(dest));
    UniqueFd dest_fd(::open(dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    skiff::UnpackOptions options;
    options.whiteouts = false;
    options.no_overwrite_dir_nondir = true;
    options.set_owners = false;
    REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
    auto stats = skiff::extract_archive(fd.get(), dest_fd.get(), options);
    REQUIRE(stats.has_value());
    CHECK(get(dest + "/renamed/a") == "aa");
    CHECK(get(dest + "/renamed/.wh.kept") == "plain name");

    // A file never replaces a directory (nor the other way round).
    put(dest + "/clash/inside", "x");
    auto file = memfd();
    put(src + "/clash", "file");
    REQUIRE(skiff::write_copy_tar(parent.get(), "clash", "clash", file.get()).has_value());
    REQUIRE(::lseek(file.get(), 0, SEEK_SET) == 0);
    auto refused = skiff::extract_archive(file.get(), dest_fd.get(), options);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().what.find("cannot overwrite directory \"/clash\" with non-directory") != std::string::npos);
    CHECK(get(dest + "/clash/inside") == "x");
}

TEST_CASE("a layer diff leaves out the excluded paths and what is below them", "[layer-diff]") {
    DiffDir d;
    std::string up = d.path("upper");
    put(up + "/etc/hosts", "");
    put(up + "/etc/hostname", "");
    put(up + "/tmp/made", "made");
    skiff::DiffOptions options;
    options.exclude = {"etc", "etc/hosts", "etc/hostname"};
    auto fd = memfd();
    REQUIRE(skiff::write_layer_diff(up, fd.get(), options).has_value());
    CHECK(names(read_tar(fd_contents(fd.get()))) == std::vector<std::string>{"tmp/", "tmp/made"});
}
