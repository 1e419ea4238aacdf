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
#include <set>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/digest.hpp"
#include "overlay/unpack.hpp"

using skiff::UniqueFd;

namespace {

enum class Compression { none, gzip, zstd };

// A layer tar built in memory with libarchive's writer (pax, as image builders emit).
class TarBuilder {
public:
    explicit TarBuilder(Compression c = Compression::none) : a_(archive_write_new()) {
        archive_write_set_format_pax(a_);
        if (c == Compression::gzip) archive_write_add_filter_gzip(a_);
        if (c == Compression::zstd) archive_write_add_filter_zstd(a_);
        archive_write_set_bytes_in_last_block(a_, 1);
        REQUIRE(archive_write_open(a_, &out_, nullptr, &TarBuilder::append, nullptr) == ARCHIVE_OK);
    }
    ~TarBuilder() { archive_write_free(a_); }

    struct Meta {
        unsigned perm;
        time_t mtime;
        int64_t uid, gid;
        std::vector<std::pair<std::string, std::string>> xattrs;
    };
    static Meta meta(unsigned perm, time_t mtime = 1'600'000'000, int64_t uid = 0, int64_t gid = 0,
                     std::vector<std::pair<std::string, std::string>> xattrs = {}) {
        return Meta{perm, mtime, uid, gid, std::move(xattrs)};
    }

    TarBuilder& file(const std::string& path, const std::string& content, Meta m = meta(0644)) {
        return add(path, AE_IFREG, m, content);
    }
    TarBuilder& dir(const std::string& path, Meta m = meta(0755)) { return add(path, AE_IFDIR, m); }
    TarBuilder& symlink(const std::string& path, const std::string& target) {
        return add(path, AE_IFLNK, meta(0777), "", target);
    }
    TarBuilder& hardlink(const std::string& path, const std::string& target) {
        return add(path, AE_IFREG, meta(0644), "", "", target);
    }
    TarBuilder& chardev(const std::string& path, unsigned maj, unsigned min) {
        return add(path, AE_IFCHR, meta(0666), "", "", "", makedev(maj, min));
    }
    TarBuilder& fifo(const std::string& path) { return add(path, AE_IFIFO, meta(0600)); }

    std::string finish() {
        REQUIRE(archive_write_close(a_) == ARCHIVE_OK);
        return out_;
    }

private:
    static la_ssize_t append(struct archive*, void* client, const void* buf, size_t n) {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    }

    TarBuilder& add(const std::string& path, mode_t type, const Meta& m, const std::string& content = "",
                    const std::string& symlink = "", const std::string& hardlink = "", dev_t rdev = 0) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, path.c_str());
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, m.perm);
        archive_entry_set_mtime(e, m.mtime, 0);
        archive_entry_set_uid(e, m.uid);
        archive_entry_set_gid(e, m.gid);
        archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
        if (!symlink.empty()) archive_entry_set_symlink(e, symlink.c_str());
        if (!hardlink.empty()) archive_entry_set_hardlink(e, hardlink.c_str());
        if (rdev) archive_entry_set_rdev(e, rdev);
        for (auto& [k, v] : m.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
        REQUIRE(archive_write_header(a_, e) >= ARCHIVE_WARN);  // WARN: a non-UTF-8 name, kept as bytes
        if (!content.empty())
            REQUIRE(archive_write_data(a_, content.data(), content.size()) == la_ssize_t(content.size()));
        archive_entry_free(e);
        return *this;
    }

    struct archive* a_;
    std::string out_;
};

UniqueFd memfd_with(const std::string& data) {
    UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(skiff::write_all(fd.get(), data.data(), data.size()));
    REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
    return fd;
}

std::set<std::string> list_dir(const std::string& path) {
    std::set<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (auto* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..") out.insert(n);
    }
    ::closedir(d);
    return out;
}

// base/ holds layer (dest), outside/ (must stay empty) and outside_file (must stay intact).
struct Sandbox {
    std::string base;
    std::string dest;
    std::string outside;
    std::string outside_file;
    Sandbox() {
        char tmpl[] = "/tmp/skiff-unpack-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        base = tmpl;
        dest = base + "/layer";
        outside = base + "/outside";
        outside_file = base + "/outside_file";
        REQUIRE(::mkdir(outside.c_str(), 0755) == 0);
        REQUIRE(skiff::write_file_atomic(outside_file, "secret"));
    }
    ~Sandbox() { (void)skiff::remove_tree(base); }

    skiff::Result<skiff::LayerStats> unpack(const std::string& tar, const skiff::UnpackOptions& o = {}) {
        auto fd = memfd_with(tar);
        return skiff::unpack_layer(fd.get(), dest, o);
    }
    // Nothing written beside dest: no strays, no temp dir, outside/ empty, outside_file intact.
    void check_confined(bool dest_exists) {
        std::set<std::string> expect{"outside", "outside_file"};
        if (dest_exists) expect.insert("layer");
        CHECK(list_dir(base) == expect);
        CHECK(list_dir(outside).empty());
        CHECK(skiff::read_file(outside_file).value_or("") == "secret");
        struct stat st;
        REQUIRE(::stat(outside_file.c_str(), &st) == 0);
        CHECK(st.st_nlink == 1);
    }
};

std::string xattr_of(const std::string& path, const char* key) {
    char buf[256];
    ssize_t n = ::lgetxattr(path.c_str(), key, buf, sizeof buf);
    return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("unpack_layer: a normal tree, plain, gzip and zstd", "[overlay]") {
    auto compression = GENERATE(Compression::none, Compression::gzip, Compression::zstd);
    auto build = [](Compression c) {
        TarBuilder t(c);
        t.dir("./", TarBuilder::meta(0711, 500))
            .dir("etc/", TarBuilder::meta(0750, 1000))
            .file("etc/hello", "hello world\n",
                  TarBuilder::meta(04755, 2000, 1000, 1001, {{"user.skiff", "yes"}}))
            .symlink("etc/link", "hello")
            .hardlink("etc/hard", "etc/hello")
            .file("bin/deep/file", "x")  // parents not in the tar
            .fifo("run/pipe")
            .file("./dot/./slash//name", "")
            .file("caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac", "utf8")
            .file("raw\xff\xfe", "not utf8");
        return t.finish();
    };
    Sandbox sb;
    std::string plain = build(Compression::none);
    auto stats = sb.unpack(build(compression));
    REQUIRE(stats);
    sb.check_confined(true);

    CHECK(stats->diff_id == skiff::sha256_digest(plain));
    CHECK(stats->files == 6);
    CHECK(stats->hardlinks == 1);
    CHECK(stats->symlinks == 1);
    CHECK(stats->dirs == 1);
    CHECK(stats->bytes == 25);

    struct stat st;
    REQUIRE(::lstat((sb.dest + "/etc/hello").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 04755);
    CHECK(st.st_mtime == 2000);
    CHECK(st.st_nlink == 2);
    CHECK(skiff::read_file(sb.dest + "/etc/hello").value_or("") == "hello world\n");
    CHECK(xattr_of(sb.dest + "/etc/hello", "user.skiff") == "yes");
    if (geteuid() == 0) {
        CHECK(st.st_uid == 1000);
        CHECK(st.st_gid == 1001);
    }
    struct stat hard;
    REQUIRE(::lstat((sb.dest + "/etc/hard").c_str(), &hard) == 0);
    CHECK(hard.st_ino == st.st_ino);

    char target[64] = {};
    REQUIRE(::readlink((sb.dest + "/etc/link").c_str(), target, sizeof target - 1) == 5);
    CHECK(std::string(target) == "hello");

    // The directory's mtime survives the entries written into it afterwards.
    REQUIRE(::lstat((sb.dest + "/etc").c_str(), &st) == 0);
    CHECK(st.st_mtime == 1000);
    CHECK((st.st_mode & 07777) == 0750);

    REQUIRE(::lstat((sb.dest + "/run/pipe").c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(skiff::path_exists(sb.dest + "/bin/deep/file"));
    CHECK(skiff::path_exists(sb.dest + "/dot/slash/name"));
    CHECK(skiff::read_file(sb.dest + "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac").value_or("") == "utf8");
    CHECK(skiff::read_file(sb.dest + "/raw\xff\xfe").value_or("") == "not utf8");
    REQUIRE(::lstat(sb.dest.c_str(), &st) == 0);  // "./" describes the layer root
    CHECK((st.st_mode & 07777) == 0711);
    CHECK(st.st_mtime == 500);
}

TEST_CASE("unpack_layer: whiteouts, opaque dirs and devices as root", "[overlay]") {
    if (geteuid() != 0) {
        WARN("not root: whiteout devices and trusted.* xattrs not tested");
        return;
    }
    TarBuilder t;
    t.dir("etc/").file("etc/.wh.gone", "").file("etc/.wh..wh..opq", "").file(".wh..wh.plnk", "")
        .chardev("dev/null", 1, 3)
        .file("later/.wh.old", "");  // whiteout in a directory the tar never declared
    Sandbox sb;
    auto stats = sb.unpack(t.finish());
    REQUIRE(stats);
    struct stat st;
    REQUIRE(::lstat((sb.dest + "/etc/gone").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
    REQUIRE(::lstat((sb.dest + "/later/old").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(xattr_of(sb.dest + "/etc", "trusted.overlay.opaque") == "y");
    CHECK_FALSE(skiff::path_exists(sb.dest + "/etc/.wh.gone"));
    CHECK(list_dir(sb.dest) == std::set<std::string>{"etc", "dev", "later"});
    REQUIRE(::lstat((sb.dest + "/dev/null").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(1, 3));
    CHECK(stats->whiteouts.empty());
    CHECK(stats->opaque_dirs.empty());
}

TEST_CASE("unpack_layer: unprivileged mode records whiteouts and skips devices", "[overlay]") {
    TarBuilder t;
    t.file("etc/.wh.gone", "").file(".wh..wh..opq", "").file("var/.wh..wh..opq", "").chardev("dev/null", 1, 3)
        .file("f", "data", TarBuilder::meta(0600, 1000, 5, 6));
    Sandbox sb;
    skiff::UnpackOptions o;
    o.privileged = false;
    o.set_owners = false;
    auto stats = sb.unpack(t.finish(), o);
    REQUIRE(stats);
    CHECK(stats->whiteouts == std::vector<std::string>{"etc/gone"});
    CHECK(stats->opaque_dirs == std::vector<std::string>{".", "var"});
    CHECK(stats->skipped_devices == 1);
    CHECK_FALSE(skiff::path_exists(sb.dest + "/etc/gone"));
    CHECK_FALSE(skiff::path_exists(sb.dest + "/dev/null"));
    struct stat st;
    REQUIRE(::lstat((sb.dest + "/f").c_str(), &st) == 0);
    CHECK(st.st_uid == geteuid());
}

TEST_CASE("unpack_layer: owner mapping for rootless layers", "[overlay]") {
    if (geteuid() != 0) {
        WARN("not root: chown to mapped ids not tested");
        return;
    }
    TarBuilder t;
    t.file("f", "x", TarBuilder::meta(02755, 1000, 0, 10)).dir("d/", TarBuilder::meta(0700, 1000, 3, 4));
    Sandbox sb;
    skiff::UnpackOptions o;
    o.map_owner = [](uid_t u, gid_t g) { return std::pair<uid_t, gid_t>{u + 100000, g + 100000}; };
    REQUIRE(sb.unpack(t.finish(), o));
    struct stat st;
    REQUIRE(::lstat((sb.dest + "/f").c_str(), &st) == 0);
    CHECK(st.st_uid == 100000);
    CHECK(st.st_gid == 100010);
    CHECK((st.st_mode & 07777) == 02755);  // mode after chown: setgid kept
    REQUIRE(::lstat((sb.dest + "/d").c_str(), &st) == 0);
    CHECK(st.st_uid == 100003);
}

TEST_CASE("unpack_layer: names climbing out of the layer are rejected", "[overlay][security]") {
    auto [name, hostile] = GENERATE(table<std::string, bool>({
        {"../escape", true},
        {"a/../../escape", true},
        {"./../escape", true},
        {"a/../b", false},
    }));
    TarBuilder t;
    t.file("ok", "fine").file(name, "pwned");
    Sandbox sb;
    auto stats = sb.unpack(t.finish());
    if (hostile) {
        REQUIRE_FALSE(stats);
        CHECK(stats.error().message() == "layer entry " + name + " escapes the layer");
        sb.check_confined(false);  // temp dir removed, dest never created
    } else {
        REQUIRE(stats);
        CHECK(skiff::read_file(sb.dest + "/b").value_or("") == "pwned");
        sb.check_confined(true);
    }
}

TEST_CASE("unpack_layer: absolute names are taken inside the layer", "[overlay][security]") {
    Sandbox sb;
    TarBuilder t;
    t.file("/abs/path", "in").file(sb.outside + "/x", "in");
    REQUIRE(sb.unpack(t.finish()));
    CHECK(skiff::read_file(sb.dest + "/abs/path").value_or("") == "in");
    CHECK(skiff::read_file(sb.dest + sb.outside + "/x").value_or("") == "in");
    sb.check_confined(true);
}

TEST_CASE("unpack_layer: no write goes through a symlink", "[overlay][security]") {
    Sandbox sb;
    SECTION("absolute symlink to an outside dir, then a file under it") {
        TarBuilder t;
        t.symlink("link", sb.outside).file("link/x", "pwned");
        REQUIRE(sb.unpack(t.finish()));
        sb.check_confined(true);
        // Resolved in root: the file lands at <layer>/<outside>/x.
        CHECK(skiff::read_file(sb.dest + sb.outside + "/x").value_or("") == "pwned");
    }
    SECTION("symlink to .., then a file under it") {
        TarBuilder t;
        t.symlink("up", "..").file("up/escape", "pwned").symlink("sub/up2", "../..").file("sub/up2/escape2", "x");
        REQUIRE(sb.unpack(t.finish()));
        sb.check_confined(true);
        CHECK(skiff::path_exists(sb.dest + "/escape"));
        CHECK(skiff::path_exists(sb.dest + "/escape2"));
    }
    SECTION("a file replacing a symlink to an outside file is written in its place") {
        TarBuilder t;
        t.symlink("x", sb.outside_file).file("x", "pwned");
        REQUIRE(sb.unpack(t.finish()));
        sb.check_confined(true);
        struct stat st;
        REQUIRE(::lstat((sb.dest + "/x").c_str(), &st) == 0);
        CHECK(S_ISREG(st.st_mode));
    }
    SECTION("a directory symlink is not followed by a later directory entry") {
        TarBuilder t;
        t.symlink("d", sb.outside).dir("d/", TarBuilder::meta(0777, 5));
        REQUIRE(sb.unpack(t.finish()));
        sb.check_confined(true);
        struct stat st;
        REQUIRE(::lstat((sb.dest + "/d").c_str(), &st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        REQUIRE(::stat(sb.outside.c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0755);
    }
}

TEST_CASE("unpack_layer: hardlinks stay inside the layer", "[overlay][security]") {
    Sandbox sb;
    SECTION("to ../../etc/passwd") {
        TarBuilder t;
        t.file("ok", "").hardlink("pw", "../../etc/passwd");
        auto stats = sb.unpack(t.finish());
        REQUIRE_FALSE(stats);
        CHECK(stats.error().message() == "layer entry pw: hardlink target ../../etc/passwd escapes the layer");
        sb.check_confined(false);
    }
    SECTION("to a symlink pointing at an outside file links the symlink, not the file") {
        TarBuilder t;
        t.symlink("sl", sb.outside_file).hardlink("hl", "sl");
        REQUIRE(sb.unpack(t.finish()));
        sb.check_confined(true);  // outside_file keeps st_nlink == 1
        struct stat st;
        REQUIRE(::lstat((sb.dest + "/hl").c_str(), &st) == 0);
        CHECK(S_ISLNK(st.st_mode));
    }
    SECTION("to an absolute outside path, resolved in the layer") {
        TarBuilder t;
        t.hardlink("hl", sb.outside_file);
        auto stats = sb.unpack(t.finish());
        REQUIRE_FALSE(stats);  // no such file inside the layer
        CHECK(stats.error().code == ENOENT);
        sb.check_confined(false);
    }
    SECTION("through a symlinked parent directory pointing outside") {
        TarBuilder t;
        t.symlink("out", sb.base).hardlink("hl", "out/outside_file");
        auto stats = sb.unpack(t.finish());
        REQUIRE_FALSE(stats);
        sb.check_confined(false);
    }
}

TEST_CASE("unpack_layer: a corrupt stream fails and leaves nothing behind", "[overlay]") {
    Sandbox sb;
    TarBuilder t(Compression::gzip);
    t.file("a", std::string(100000, 'a')).file("b", "b");
    std::string gz = t.finish();
    gz.resize(gz.size() / 2);
    auto stats = sb.unpack(gz);
    REQUIRE_FALSE(stats);
    sb.check_confined(false);
}

TEST_CASE("unpack_layer: an existing dest is left alone", "[overlay]") {
    Sandbox sb;
    REQUIRE(skiff::mkdir_p(sb.dest + "/keep"));
    TarBuilder t;
    t.file("a", "a");
    REQUIRE_FALSE(sb.unpack(t.finish()));
    CHECK(list_dir(sb.dest) == std::set<std::string>{"keep"});
    sb.check_confined(true);
}

TEST_CASE("unpack_layer: input that is no tar fails cleanly", "[overlay]") {
    auto input = GENERATE(std::string(), std::string("this is not a tar archive, not even close"),
                          std::string(4096, '\x7f'));
    Sandbox sb;
    auto fd = memfd_with(input);
    auto stats = skiff::unpack_layer(fd.get(), sb.dest, {});
    REQUIRE_FALSE(stats);
    INFO(stats.error().message());
    CHECK_FALSE(stats.error().message().empty());
    CHECK(::fcntl(fd.get(), F_GETFD) >= 0);  // the caller's fd stays open
    sb.check_confined(false);
}
