// Path resolution inside a root: symlinks pointing out of the root must stay inside.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>

#include "common/fs.hpp"
#include "common/path.hpp"
#include "common/spin_wait.hpp"

using namespace skiff;

namespace {
mode_t current_umask() {
    mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
}

struct TempRoot {
    std::string dir;
    UniqueFd fd;
    TempRoot() {
        char tmpl[] = "/tmp/skiff-path-XXXXXX";
        dir = ::mkdtemp(tmpl);
        fd = UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    ~TempRoot() { (void)remove_tree(dir); }
};
}  // namespace

TEST_CASE("clean_path collapses dots and slashes", "[path]") {
    CHECK(clean_path("/a//b/./c/") == "/a/b/c");
    CHECK(clean_path("/../../etc") == "/etc");
    CHECK(clean_path("a/../../b") == "../b");
    CHECK(clean_path("/") == "/");
    CHECK(clean_path("") == ".");
    CHECK(clean_path("/a/b/../../..") == "/");
}

TEST_CASE("absolute symlink resolves inside the root", "[path]") {
    TempRoot root;
    REQUIRE(mkdir_p(root.dir + "/etc").has_value());
    REQUIRE(::symlink("/etc", (root.dir + "/link").c_str()) == 0);
    auto fd = open_in_root(root.fd.get(), "/link", O_PATH);
    REQUIRE(fd.has_value());
    auto real = fd_real_path(fd->get());
    REQUIRE(real.has_value());
    CHECK(*real == root.dir + "/etc");
}

TEST_CASE("dot-dot symlink cannot climb out of the root", "[path]") {
    TempRoot root;
    REQUIRE(mkdir_p(root.dir + "/tmp").has_value());
    REQUIRE(::symlink("../../../../../../tmp", (root.dir + "/up").c_str()) == 0);
    auto fd = open_in_root(root.fd.get(), "up", O_PATH);
    REQUIRE(fd.has_value());
    CHECK(*fd_real_path(fd->get()) == root.dir + "/tmp");
}

TEST_CASE("mkdir_in_root follows a hostile symlink into the root, not the host", "[path]") {
    TempRoot root;
    // /proc inside the rootfs points at the host's /tmp/<unique>: the mkdir must land inside.
    std::string host_target = root.dir + "-host-target";
    REQUIRE(::symlink(host_target.c_str(), (root.dir + "/proc").c_str()) == 0);
    auto fd = mkdir_in_root(root.fd.get(), "/proc/sub");
    REQUIRE(fd.has_value());
    CHECK_FALSE(path_exists(host_target));
    auto real = fd_real_path(fd->get());
    REQUIRE(real.has_value());
    CHECK(real->starts_with(root.dir + "/"));
    CHECK(real->ends_with("/sub"));
}

TEST_CASE("mkfile_in_root creates parents and the file", "[path]") {
    TempRoot root;
    auto fd = mkfile_in_root(root.fd.get(), "/a/b/file");
    REQUIRE(fd.has_value());
    struct stat st;
    REQUIRE(::stat((root.dir + "/a/b/file").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("mkdir_in_root refuses a file in the middle of the path", "[path]") {
    TempRoot root;
    REQUIRE(write_file_atomic(root.dir + "/f", "x").has_value());
    auto fd = mkdir_in_root(root.fd.get(), "/f/sub");
    REQUIRE_FALSE(fd.has_value());
    CHECK(fd.error().code == ENOTDIR);
}

TEST_CASE("sysctl_file: dotted keys under /proc/sys, other paths refused", "[path]") {
    CHECK(skiff::sysctl_file("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward");
    CHECK(skiff::sysctl_file("kernel.shmmax") == "/proc/sys/kernel/shmmax");
    CHECK_FALSE(skiff::sysctl_file("net...x"));
    CHECK_FALSE(skiff::sysctl_file("net.ipv4."));
    CHECK_FALSE(skiff::sysctl_file("../etc/passwd"));
}

TEST_CASE("write_file_atomic replaces a file whole, with either durability, and leaves no temporary", "[fs]") {
    TempRoot root;
    const std::string path = root.dir + "/state.json";
    for (auto durability : {Durability::atomic, Durability::synced, Durability::atomic}) {
        // First write creates (nothing to swap with), later ones replace.
        for (const char* content : {"first\n", "second, longer\n", "3\n"}) {
            REQUIRE(write_file_atomic(path, content, 0600, durability).has_value());
            CHECK(read_file(path).value() == content);
        }
        struct stat st;
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
        auto left = ::opendir(root.dir.c_str());
        REQUIRE(left);
        int entries = 0;
        while (auto* ent = ::readdir(left)) entries += ent->d_name[0] != '.';
        ::closedir(left);
        CHECK(entries == 1);
        REQUIRE(::unlink(path.c_str()) == 0);
    }
}

TEST_CASE("mkdir_p makes missing parents, accepts what exists, refuses a file in the way", "[fs]") {
    TempRoot root;
    const std::string deep = root.dir + "/a/b/c";
    REQUIRE(mkdir_p(deep, 0700).has_value());
    struct stat st;
    REQUIRE(::stat((root.dir + "/a").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (0700 & ~current_umask()));  // parents get the mode asked too
    CHECK(mkdir_p(deep).has_value());            // already there
    CHECK(mkdir_p(deep + "/").has_value());      // trailing slash
    CHECK(mkdir_p(root.dir + "/a//x/").has_value());
    CHECK(is_directory(root.dir + "/a/x"));
    REQUIRE(write_file_atomic(root.dir + "/file", "x").has_value());
    auto on_file = mkdir_p(root.dir + "/file");
    REQUIRE_FALSE(on_file.has_value());
    CHECK(on_file.error().code == ENOTDIR);
    auto under_file = mkdir_p(root.dir + "/file/sub/dir");
    REQUIRE_FALSE(under_file.has_value());
    CHECK(under_file.error().message().find("/file") != std::string::npos);
}

TEST_CASE("write_file_atomic does not swap a directory or a symlink out of the way", "[fs]") {
    TempRoot root;
    const std::string dir = root.dir + "/taken";
    REQUIRE(mkdir_p(dir + "/inside").has_value());
    REQUIRE_FALSE(write_file_atomic(dir, "x", 0600, Durability::atomic).has_value());
    CHECK(is_directory(dir + "/inside"));
    REQUIRE(::symlink("elsewhere", (root.dir + "/link").c_str()) == 0);
    REQUIRE(write_file_atomic(root.dir + "/link", "y", 0600, Durability::atomic).has_value());
    char target[64] = {};
    CHECK(::readlink((root.dir + "/link").c_str(), target, sizeof target - 1) < 0);  // replaced, as rename does
    CHECK(read_file(root.dir + "/link").value() == "y");
    CHECK_FALSE(path_exists(root.dir + "/elsewhere"));
}

TEST_CASE("remove_trees_detached returns at once and the trees go from one process of its own", "[fs]") {
    TempRoot root;
    const std::string doomed = root.dir + "/doomed", also = root.dir + "/also";
    REQUIRE(mkdir_p(doomed + "/a/b").has_value());
    REQUIRE(write_file_atomic(doomed + "/a/b/file", "data").has_value());
    REQUIRE(mkdir_p(also + "/c").has_value());
    // Whoever reads our output must not wait for the remover: it keeps no fd of ours.
    int out[2];
    REQUIRE(::pipe(out) == 0);
    {
        DeferredRemoval deferred;
        deferred.add(doomed);
        deferred.add(also);
    }  // started when it goes out of scope
    ::close(out[1]);
    struct pollfd end_of_file {out[0], POLLIN, 0};
    REQUIRE(::poll(&end_of_file, 1, 5000) == 1);  // a remover holding the write end would time out
    char byte;
    CHECK(::read(out[0], &byte, 1) == 0);
    ::close(out[0]);
    for (int i = 0; i < 500 && (path_exists(doomed) || path_exists(also)); ++i) ::usleep(10000);
    CHECK_FALSE(path_exists(doomed));
    CHECK_FALSE(path_exists(also));
    CHECK(is_directory(root.dir));
    // One remover for both, our child until we exit: reap it, so it is really gone.
    int status = 0;
    CHECK(::waitpid(-1, &status, 0) > 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("write_file_in_place creates or truncates with the mode asked, never through a symlink", "[fs]") {
    TempRoot root;
    const std::string path = root.dir + "/hosts";
    mode_t old_umask = ::umask(077);
    REQUIRE(write_file_in_place(path, "127.0.0.1 localhost\n", 0644).has_value());
    ::umask(old_umask);
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
    REQUIRE(write_file_in_place(path, "x\n").has_value());
    CHECK(read_file(path).value() == "x\n");
    REQUIRE(::symlink((root.dir + "/elsewhere").c_str(), (root.dir + "/link").c_str()) == 0);
    CHECK(write_file_in_place(root.dir + "/link", "y").error().code == ELOOP);
    CHECK_FALSE(path_exists(root.dir + "/elsewhere"));
}

TEST_CASE("spin_until: true as soon as ready, false once the budget is spent, one try at least", "[spin]") {
    int tries = 0;
    CHECK(skiff::spin_until([&] { return ++tries == 3; }, std::chrono::seconds(5)));
    CHECK(tries == 3);
    tries = 0;
    CHECK_FALSE(skiff::spin_until([&] { ++tries; return false; }, std::chrono::microseconds(0)));
    CHECK(tries == 1);
    auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(skiff::spin_until([] { return false; }, std::chrono::milliseconds(20)));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20));
}

TEST_CASE("changed_before: a file made this moment is 0 s old, never in the future", "[fs]") {
    TempRoot root;
    const std::string path = root.dir + "/fresh";
    // Across at least one second boundary: there time() lagged the files' coarse clock.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1100);
    int made = 0;
    while (std::chrono::steady_clock::now() < until) {
        REQUIRE(::mkdir(path.c_str(), 0700) == 0);
        ++made;
        if (!changed_before(path, 0)) FAIL("a directory made now is not 0 s old (try " << made << ")");
        CHECK_FALSE(changed_before(path, 60));
        REQUIRE(::rmdir(path.c_str()) == 0);
    }
    struct timespec future{};
    ::clock_gettime(CLOCK_REALTIME, &future);
    future.tv_sec += 2;
    CHECK_FALSE(timestamp_older_than(future, 0));
    struct timespec old{};
    ::clock_gettime(CLOCK_REALTIME, &old);
    old.tv_sec -= 61;
    CHECK(timestamp_older_than(old, 60));
}
