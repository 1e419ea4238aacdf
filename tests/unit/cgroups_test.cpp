// cgroups: mountinfo/proc parsing, cgroupsPath resolution, and Group against a fake tree.
// Nothing here touches the real /sys/fs/cgroup.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "cgroups/cgroups.hpp"
#include "common/fs.hpp"

using namespace skiff;
using namespace skiff::cgroups;

namespace {
struct TempDir {
    std::string dir;
    TempDir() {
        char tmpl[] = "/tmp/skiff-cgroups-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~TempDir() { (void)remove_tree(dir); }
    std::string file(const std::string& name, const std::string& content) const {
        std::string path = dir + "/" + name;
        REQUIRE(write_file_atomic(path, content).has_value());
        return path;
    }
};

const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n";
}  // namespace

TEST_CASE("find_unified_root: pure v2 host", "[cgroups]") {
    TempDir t;
    auto mi = t.file("mountinfo",
                     "22 1 0:21 / /proc rw - proc proc rw\n"
                     "30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
    auto root = find_unified_root(mi);
    REQUIRE(root.has_value());
    CHECK(*root == "/sys/fs/cgroup");
}

TEST_CASE("find_unified_root: hybrid host uses /sys/fs/cgroup/unified", "[cgroups]") {
    TempDir t;
    auto root = find_unified_root(t.file("mountinfo", kHybrid));
    REQUIRE(root.has_value());
    CHECK(*root == "/sys/fs/cgroup/unified");
}

TEST_CASE("find_unified_root: preferred mount wins over an earlier other cgroup2 mount", "[cgroups]") {
    TempDir t;
    auto mi = t.file("mountinfo",
                     "50 1 0:40 / /run/other rw - cgroup2 none rw\n"
                     "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    CHECK(*find_unified_root(mi) == "/sys/fs/cgroup");
}

TEST_CASE("find_unified_root: falls back to the first cgroup2 mount", "[cgroups]") {
    TempDir t;
    auto mi = t.file("mountinfo",
                     "22 1 0:21 / /proc rw - proc proc rw\n"
                     "50 1 0:40 / /mnt/cg2 rw - cgroup2 none rw\n"
                     "51 1 0:41 / /mnt/cg2b rw - cgroup2 none rw\n");
    CHECK(*find_unified_root(mi) == "/mnt/cg2");
}

TEST_CASE("find_unified_root: octal escapes in the mount point", "[cgroups]") {
    TempDir t;
    auto mi = t.file("mountinfo", "50 1 0:40 / /mnt/my\\040cg\\134x\\011y rw - cgroup2 none rw\n");
    CHECK(*find_unified_root(mi) == "/mnt/my cg\\x\ty");
}

TEST_CASE("find_unified_root: none mounted is an error", "[cgroups]") {
    TempDir t;
    // A v1 hierarchy named like the v2 one must not count: the fstype decides.
    auto mi = t.file("mountinfo",
                     "32 31 0:29 / /sys/fs/cgroup/unified rw - cgroup cgroup rw,cpu\n"
                     "22 1 0:21 / /proc rw - proc proc rw\n");
    auto root = find_unified_root(mi);
    REQUIRE_FALSE(root.has_value());
    CHECK(root.error().what == "no cgroup v2 (unified) hierarchy mounted");
    CHECK_FALSE(find_unified_root(t.dir + "/missing").has_value());
}

TEST_CASE("find_unified_root: the real host has one", "[cgroups]") {
    // Read-only: just checks parsing of the live mountinfo succeeds where cgroup2 exists.
    auto root = find_unified_root();
    if (root) CHECK(is_directory(*root));
}

TEST_CASE("own_group parses the 0:: line", "[cgroups]") {
    TempDir t;
    auto g = own_group(t.file("cgroup",
                              "9:name=systemd:/\n4:memory:/process_api/abc\n"
                              "0::/user.slice/user-0.slice/session-1.scope\n"));
    REQUIRE(g.has_value());
    CHECK(*g == "/user.slice/user-0.slice/session-1.scope");
    CHECK(*own_group(t.file("root", "0::/\n")) == "/");
    CHECK_FALSE(own_group(t.file("v1only", "4:memory:/x\n1:cpu:/\n")).has_value());
}

TEST_CASE("resolve_cgroups_path: absolute, relative, empty", "[cgroups]") {
    CHECK(*resolve_cgroups_path("/a/b", "/user.slice", "ctr") == "a/b");
    CHECK(*resolve_cgroups_path("//a/./b/", "", "ctr") == "a/b");
    CHECK(*resolve_cgroups_path("/a/x/../b", "", "ctr") == "a/b");
    CHECK(*resolve_cgroups_path("a/b", "/user.slice/s.scope", "ctr") == "user.slice/s.scope/a/b");
    CHECK(*resolve_cgroups_path("a/b", "/", "ctr") == "a/b");
    CHECK(*resolve_cgroups_path("a/b", "", "ctr") == "a/b");
    CHECK(*resolve_cgroups_path("", "/user.slice", "ctr") == "user.slice/ctr");
    CHECK(*resolve_cgroups_path("", "/", "ctr") == "ctr");
}

TEST_CASE("resolve_cgroups_path: systemd form", "[cgroups]") {
    CHECK(*resolve_cgroups_path("system.slice:skiff:x", "/", "c") == "system.slice/skiff-x.scope");
    CHECK(*resolve_cgroups_path("a-b-c.slice:docker:1234", "/", "c") ==
          "a.slice/a-b.slice/a-b-c.slice/docker-1234.scope");
    CHECK(*resolve_cgroups_path("-.slice:skiff:x", "/", "c") == "skiff-x.scope");
    CHECK(*resolve_cgroups_path(":skiff:x", "/", "c") == "system.slice/skiff-x.scope");
    CHECK(*resolve_cgroups_path("user.slice::x", "/", "c") == "user.slice/x.scope");
    CHECK(*resolve_cgroups_path("system.slice:skiff:my-pod.slice", "/", "c") ==
          "system.slice/my-pod.slice");
    // The parent (our own group) plays no part in the systemd form.
    CHECK(*resolve_cgroups_path("system.slice:skiff:x", "/user.slice", "c") ==
          "system.slice/skiff-x.scope");
}

TEST_CASE("resolve_cgroups_path: invalid systemd forms", "[cgroups]") {
    for (const char* bad : {"system.slice:x", "a:b:c:d", "system:skiff:x", "a--b.slice:p:x",
                            "-a.slice:p:x", "a-.slice:p:x", ".slice:p:x", "a/b.slice:p:x",
                            "system.slice:p:a/b", "system.slice:p/q:x", "system.slice:p:"}) {
        INFO(bad);
        auto r = resolve_cgroups_path(bad, "/", "c");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().what.find(std::string("cgroupsPath \"") + bad + "\"") != std::string::npos);
    }
}

TEST_CASE("resolve_cgroups_path: escapes are rejected, not clamped", "[cgroups]") {
    for (auto [path, parent] : std::vector<std::pair<std::string, std::string>>{
             {"../../x", "/"},
             {"/a/../../b", "/"},
             {"/..", "/"},
             {"..", "/user.slice"},             // above `parent`
             {"a/../../x", "/user.slice/s.scope"},
             {"x", "/a/../.."},                 // a parent with ".." is refused outright
         }) {
        INFO(path << " under " << parent);
        auto r = resolve_cgroups_path(path, parent, "c");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().what.find("cgroupsPath \"" + path + "\"") != std::string::npos);
    }
    // Resolving to the root itself would put the container in charge of the whole tree.
    CHECK_FALSE(resolve_cgroups_path("/", "/", "c").has_value());
    CHECK_FALSE(resolve_cgroups_path("/a/..", "/", "c").has_value());
    CHECK_FALSE(resolve_cgroups_path("", "/", "..").has_value());
    CHECK_FALSE(resolve_cgroups_path("", "/", "").has_value());
    // ".." that stays below the base is fine.
    CHECK(*resolve_cgroups_path("a/../b", "/p", "c") == "p/b");
}

TEST_CASE("Group: create, paths, open_dir against a fake tree", "[cgroups]") {
    TempDir t;
    Group g(t.dir, "/a/b/c");
    CHECK(g.relative() == "a/b/c");
    CHECK(g.path() == t.dir + "/a/b/c");
    CHECK_FALSE(g.exists());
    CHECK_FALSE(g.open_dir().has_value());
    REQUIRE(g.create().has_value());
    CHECK(g.exists());
    REQUIRE(g.create().has_value());  // idempotent
    auto fd = g.open_dir();
    REQUIRE(fd.has_value());
    // A real (non-O_PATH) directory fd, as CLONE_INTO_CGROUP needs.
    int flags = ::fcntl(fd->get(), F_GETFL);
    CHECK((flags & O_PATH) == 0);
    CHECK((flags & O_DIRECTORY) != 0);
}

TEST_CASE("Group: processes and add_process via cgroup.procs", "[cgroups]") {
    TempDir t;
    Group g(t.dir, "ctr");
    REQUIRE(g.create().has_value());
    t.file("ctr/cgroup.procs", "12\n345\n");
    auto pids = g.processes();
    REQUIRE(pids.has_value());
    CHECK(*pids == std::vector<pid_t>{12, 345});
    t.file("ctr/cgroup.procs", "");
    CHECK(g.processes()->empty());
    t.file("ctr/cgroup.procs", "12\nnope\n");
    CHECK_FALSE(g.processes().has_value());

    REQUIRE(g.add_process(4242).has_value());
    CHECK(*read_file(g.path() + "/cgroup.procs") == "4242");
}

TEST_CASE("Group: is_frozen parses cgroup.events", "[cgroups]") {
    TempDir t;
    Group g(t.dir, "ctr");
    REQUIRE(g.create().has_value());
    CHECK_FALSE(g.is_frozen().has_value());  // no cgroup.events
    t.file("ctr/cgroup.events", "populated 1\nfrozen 1\n");
    CHECK(*g.is_frozen() == true);
    t.file("ctr/cgroup.events", "populated 0\nfrozen 0\n");
    CHECK(*g.is_frozen() == false);
    t.file("ctr/cgroup.events", "populated 1\n");
    CHECK_FALSE(g.is_frozen().has_value());
}

TEST_CASE("Group: freeze/thaw write cgroup.freeze and wait on cgroup.events", "[cgroups]") {
    TempDir t;
    Group g(t.dir, "ctr");
    REQUIRE(g.create().has_value());
    t.file("ctr/cgroup.freeze", "0");
    t.file("ctr/cgroup.events", "populated 1\nfrozen 1\n");
    REQUIRE(g.freeze().has_value());
    CHECK(*read_file(g.path() + "/cgroup.freeze") == "1");
    // The fake kernel never reports thawed: thaw times out with an error.
    auto r = g.thaw();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ETIMEDOUT);
}

TEST_CASE("Group: kill_all writes cgroup.kill and waits for an empty subtree", "[cgroups]") {
    TempDir t;
    Group g(t.dir, "ctr");
    REQUIRE(g.create().has_value());
    REQUIRE(mkdir_p(g.path() + "/sub").has_value());
    t.file("ctr/cgroup.kill", "");
    t.file("ctr/cgroup.procs", "");
    t.file("ctr/sub/cgroup.procs", "");
    REQUIRE(g.kill_all().has_value());
    CHECK(*read_file(g.path() + "/cgroup.kill") == "1");
    // A group that does not exist has no members to kill.
    CHECK(Group(t.dir, "gone").kill_all().has_value());
}

TEST_CASE("Group: remove takes child groups first and tolerates absence", "[cgroups]") {
    TempDir t;
    Group g(t.dir, "parent/ctr");
    REQUIRE(Group(t.dir, "parent/ctr/sub1/deeper").create().has_value());
    REQUIRE(Group(t.dir, "parent/ctr/sub2").create().has_value());
    REQUIRE(g.remove().has_value());
    CHECK_FALSE(g.exists());
    CHECK(is_directory(t.dir + "/parent"));  // parents are shared: left alone
    CHECK(g.remove().has_value());           // already gone
}

TEST_CASE("Group: refuses to act on the root itself", "[cgroups]") {
    TempDir t;
    Group root(t.dir, "/");
    CHECK(root.relative().empty());
    CHECK_FALSE(root.create().has_value());
    CHECK_FALSE(root.kill_all().has_value());
    CHECK_FALSE(root.signal_all(SIGTERM).has_value());
    CHECK_FALSE(root.freeze().has_value());
    CHECK_FALSE(root.remove().has_value());
    CHECK(is_directory(t.dir));
    CHECK_FALSE(Group(t.dir, "a/../../etc").create().has_value());
}
