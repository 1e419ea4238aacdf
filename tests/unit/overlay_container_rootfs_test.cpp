#include "overlay/container_rootfs.hpp"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/fs.hpp"

namespace {

// A temp dir whose mounts are undone before it is removed, even when a REQUIRE failed.
struct RootfsDir {
    std::string root;
    std::vector<std::string> targets;
    RootfsDir() {
        char tmpl[] = "/tmp/skiff-rootfs-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        root = tmpl;
    }
    ~RootfsDir() {
        for (const auto& t : targets) (void)skiff::unmount_rootfs(t);
        (void)skiff::remove_tree(root);
    }
    std::string path(const std::string& rel) const { return root + "/" + rel; }
    // Where a mount will go: remembered for cleanup first.
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

// Mount points in this process's mount table under prefix.
std::vector<std::string> mounts_under(const std::string& prefix) {
    std::vector<std::string> out;
    auto info = skiff::read_file("/proc/self/mountinfo");
    REQUIRE(info);
    size_t pos = 0;
    while (pos < info->size()) {
        size_t end = info->find('\n', pos);
        if (end == std::string::npos) end = info->size();
        std::string line = info->substr(pos, end - pos);
        pos = end + 1;
        // "id parent major:minor root mountpoint ..."
        size_t f = 0;
        for (int i = 0; i < 4 && f != std::string::npos; ++i) f = line.find(' ', f + 1);
        if (f == std::string::npos) continue;
        std::string mp = line.substr(f + 1, line.find(' ', f + 1) - f - 1);
        if (mp.starts_with(prefix)) out.push_back(mp);
    }
    return out;
}

bool root_or_warn() {
    if (::geteuid() == 0) return true;
    WARN("skipped: overlay mounts need root");
    return false;
}

}  // namespace

TEST_CASE("rootfs of two layers: whiteouts, opaque dirs, writes land in upper", "[container-rootfs]") {
    if (!root_or_warn()) return;
    RootfsDir d;
    std::string bottom = d.path("layers/bottom"), top = d.path("layers/top");
    put(bottom + "/a/file1", "one");
    put(bottom + "/a/gone", "hidden by a whiteout");
    put(bottom + "/d/old", "hidden by an opaque dir");
    put(bottom + "/keep.txt", "keep");
    put(top + "/d/new", "new");
    REQUIRE(skiff::mkdir_p(top + "/a"));
    REQUIRE(::mknod((top + "/a/gone").c_str(), S_IFCHR, makedev(0, 0)) == 0);
    REQUIRE(::setxattr((top + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);

    std::string upper = d.path("c/upper"), work = d.path("c/work"), target = d.target("c/rootfs");
    REQUIRE(!skiff::is_mounted(target));
    auto m = skiff::mount_rootfs({top, bottom}, upper, work, target, {});
    REQUIRE(m.has_value());
    CHECK(skiff::is_mounted(target));
    CHECK(mounts_under(d.root).size() == 1);

    CHECK(get(target + "/a/file1") == "one");
    CHECK(!skiff::path_exists(target + "/a/gone"));
    CHECK(get(target + "/d/new") == "new");
    CHECK(!skiff::path_exists(target + "/d/old"));
    CHECK(get(target + "/keep.txt") == "keep");

    put(target + "/written", "by the container");
    put(target + "/a/file1", "changed");
    CHECK(get(upper + "/written") == "by the container");
    CHECK(get(upper + "/a/file1") == "changed");
    CHECK(get(bottom + "/a/file1") == "one");
    CHECK(!skiff::path_exists(bottom + "/written"));

    REQUIRE(skiff::unmount_rootfs(target));
    CHECK(!skiff::is_mounted(target));
    CHECK(mounts_under(d.root).empty());
    // Again: nothing mounted is fine.
    CHECK(skiff::unmount_rootfs(target));
    CHECK(skiff::unmount_rootfs(d.path("does/not/exist")));
}

TEST_CASE("rootfs of 100 and 128 (Docker's limit) layers with long paths", "[container-rootfs]") {
    if (!root_or_warn()) return;
    const int layers = GENERATE(100, 128);
    RootfsDir d;
    // Paths as the layer store makes them: 100 of these overflow one page as plain paths.
    std::vector<std::string> lowers;  // top first
    for (int i = 0; i < layers; ++i) {
        std::string hex = skiff::sha256_digest(std::to_string(i)).substr(7);
        std::string dir = d.path("store/layers/" + hex + "/diff");
        put(dir + "/f" + std::to_string(i), std::to_string(i));
        put(dir + "/shared", std::to_string(i));
        lowers.push_back(dir);
    }
    size_t plain = 0;
    for (const auto& l : lowers) plain += l.size() + 1;
    CHECK(plain > 4096);

    std::string target = d.target("c/rootfs");
    auto m = skiff::mount_rootfs(lowers, d.path("c/upper"), d.path("c/work"), target, {});
    REQUIRE(m.has_value());
    for (int i = 0; i < layers; ++i) CHECK(get(target + "/f" + std::to_string(i)) == std::to_string(i));
    CHECK(get(target + "/shared") == "0");  // the top layer wins
    REQUIRE(skiff::unmount_rootfs(target));
    CHECK(mounts_under(d.root).empty());
}

TEST_CASE("rootfs read-only, zero layers, relative paths", "[container-rootfs]") {
    if (!root_or_warn()) return;
    RootfsDir d;
    put(d.path("lower/file"), "x");

    SECTION("read only") {
        std::string target = d.target("ro/rootfs");
        skiff::RootfsOptions opt;
        opt.read_only = true;
        REQUIRE(skiff::mount_rootfs({d.path("lower")}, d.path("ro/upper"), d.path("ro/work"), target, opt));
        CHECK(get(target + "/file") == "x");
        int fd = ::open((target + "/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd < 0);
        CHECK(errno == EROFS);
        if (fd >= 0) ::close(fd);
        REQUIRE(skiff::unmount_rootfs(target));
    }
    SECTION("no layers: an empty lower dir is made") {
        std::string target = d.target("empty/rootfs");
        REQUIRE(skiff::mount_rootfs({}, d.path("empty/upper"), d.path("empty/work"), target, {}));
        put(target + "/hello", "world");
        CHECK(get(d.path("empty/upper/hello")) == "world");
        CHECK(skiff::is_directory(d.path("empty/work.empty-lower")));
        REQUIRE(skiff::unmount_rootfs(target));
    }
    SECTION("relative paths resolve against the caller's cwd") {
        std::string target = d.target("rel/rootfs");
        char old[4096];
        REQUIRE(::getcwd(old, sizeof old));
        REQUIRE(::chdir(d.root.c_str()) == 0);
        auto m = skiff::mount_rootfs({"lower"}, "rel/upper", "rel/work", "rel/rootfs", {});
        REQUIRE(::chdir(old) == 0);
        REQUIRE(m.has_value());
        CHECK(get(target + "/file") == "x");
        REQUIRE(skiff::unmount_rootfs(target));
    }
    SECTION("paths with overlayfs's separators in them (',' and ':') are passed by fd") {
        put(d.path("low,er:1/file"), "y");
        std::string target = d.target("odd,dir:x/rootfs");
        REQUIRE(skiff::mount_rootfs({d.path("low,er:1"), d.path("lower")}, d.path("odd,dir:x/upper"),
                                    d.path("odd,dir:x/work"), target, {}));
        CHECK(get(target + "/file") == "y");  // the top layer wins
        put(target + "/new", "z");
        CHECK(get(d.path("odd,dir:x/upper/new")) == "z");
        REQUIRE(skiff::unmount_rootfs(target));
    }
    SECTION("a missing lower dir is an error, nothing mounted") {
        std::string target = d.target("bad/rootfs");
        auto m = skiff::mount_rootfs({d.path("nope")}, d.path("bad/upper"), d.path("bad/work"), target, {});
        CHECK(!m.has_value());
        CHECK(!skiff::is_mounted(target));
    }
    CHECK(mounts_under(d.root).empty());
}

TEST_CASE("busy rootfs is detached", "[container-rootfs]") {
    if (!root_or_warn()) return;
    RootfsDir d;
    put(d.path("lower/file"), "x");
    std::string target = d.target("c/rootfs");
    REQUIRE(skiff::mount_rootfs({d.path("lower")}, d.path("c/upper"), d.path("c/work"), target, {}));
    int fd = ::open((target + "/file").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(skiff::unmount_rootfs(target));
    CHECK(!skiff::is_mounted(target));
    ::close(fd);
    CHECK(mounts_under(d.root).empty());
}

TEST_CASE("rootless rootfs with userxattr in a user namespace", "[container-rootfs]") {
    if (!root_or_warn()) return;
    RootfsDir d;
    put(d.path("lower/file"), "x");
    put(d.path("lower/dir/old"), "old");
    std::string upper = d.path("c/upper");
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child's mount namespace (owned by its user namespace) dies with it.
        if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) ::_exit(10);
        if (!skiff::write_file("/proc/self/setgroups", "deny")) ::_exit(11);
        if (!skiff::write_file("/proc/self/uid_map", "0 0 1")) ::_exit(12);
        if (!skiff::write_file("/proc/self/gid_map", "0 0 1")) ::_exit(13);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(14);
        skiff::RootfsOptions opt;
        opt.userxattr = true;
        std::string target = d.path("c/rootfs");
        if (auto m = skiff::mount_rootfs({d.path("lower")}, upper, d.path("c/work"), target, opt); !m) {
            ::fprintf(stderr, "%s\n", m.error().message().c_str());
            ::_exit(15);
        }
        if (get(target + "/file") != "x") ::_exit(16);
        if (::unlink((target + "/file").c_str()) != 0) ::_exit(17);
        if (!skiff::remove_tree(target + "/dir") || ::mkdir((target + "/dir").c_str(), 0755) != 0) ::_exit(18);
        if (!skiff::unmount_rootfs(target)) ::_exit(19);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    // The kernel kept its markers in user.overlay.*: a whiteout device and an opaque dir.
    struct stat st;
    REQUIRE(::lstat((upper + "/file").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
    char v[2] = {};
    CHECK(::getxattr((upper + "/dir").c_str(), "user.overlay.opaque", v, sizeof v) == 1);
    CHECK(v[0] == 'y');
    CHECK(mounts_under(d.root).empty());
}
