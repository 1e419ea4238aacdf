// Mount option strings -> mount(2) flags, propagation, mount_setattr(2) attributes and data.
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "runtime/mount_options.hpp"

using skiff::runtime::MountOptions;
using skiff::runtime::parse_mount_options;
using skiff::runtime::parse_propagation;

namespace {
MountOptions parse_ok(const std::vector<std::string>& options) {
    auto parsed = parse_mount_options(options);
    REQUIRE(parsed);
    return *parsed;
}
}  // namespace

TEST_CASE("no options parse to an empty set", "[mount_options]") {
    auto parsed = parse_ok({});
    CHECK(parsed.flags == 0);
    CHECK(parsed.clear_flags == 0);
    CHECK(parsed.propagation.empty());
    CHECK_FALSE(parsed.bind);
    CHECK(parsed.data.empty());
}

TEST_CASE("flag options set mount(2) flags", "[mount_options]") {
    auto parsed = parse_ok({"nosuid", "nodev", "noexec", "ro", "relatime", "sync", "dirsync",
                            "noatime", "nodiratime", "strictatime", "lazytime", "iversion",
                            "mand", "silent", "remount", "nosymfollow"});
    CHECK(parsed.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_RELATIME |
                           MS_SYNCHRONOUS | MS_DIRSYNC | MS_NOATIME | MS_NODIRATIME |
                           MS_STRICTATIME | MS_LAZYTIME | MS_I_VERSION | MS_MANDLOCK |
                           MS_SILENT | MS_REMOUNT | MS_NOSYMFOLLOW));
    CHECK(parsed.clear_flags == 0);
    CHECK(parsed.data.empty());
}

TEST_CASE("clearing options record what they clear", "[mount_options]") {
    auto parsed = parse_ok({"rw", "suid", "dev", "exec", "atime", "diratime", "async",
                            "norelatime", "nostrictatime", "nolazytime", "noiversion",
                            "nomand", "loud", "symfollow"});
    CHECK(parsed.flags == 0);
    CHECK(parsed.clear_flags == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                 MS_NODIRATIME | MS_SYNCHRONOUS | MS_RELATIME |
                                 MS_STRICTATIME | MS_LAZYTIME | MS_I_VERSION | MS_MANDLOCK |
                                 MS_SILENT | MS_NOSYMFOLLOW));
}

TEST_CASE("the last of two opposite options wins", "[mount_options]") {
    SECTION("ro then rw") {
        auto parsed = parse_ok({"ro", "rw"});
        CHECK((parsed.flags & MS_RDONLY) == 0);
        CHECK((parsed.clear_flags & MS_RDONLY) != 0);
    }
    SECTION("rw then ro") {
        auto parsed = parse_ok({"rw", "ro"});
        CHECK((parsed.flags & MS_RDONLY) != 0);
        CHECK((parsed.clear_flags & MS_RDONLY) == 0);
    }
    SECTION("nosuid then suid") {
        auto parsed = parse_ok({"nosuid", "suid"});
        CHECK(parsed.flags == 0);
        CHECK(parsed.clear_flags == MS_NOSUID);
    }
}

TEST_CASE("propagation options are kept in order", "[mount_options]") {
    auto parsed = parse_ok({"rprivate", "nosuid", "shared", "rslave", "unbindable",
                            "private", "rshared", "slave", "runbindable"});
    CHECK(parsed.propagation ==
          std::vector<unsigned long>{MS_PRIVATE | MS_REC, MS_SHARED, MS_SLAVE | MS_REC,
                                     MS_UNBINDABLE, MS_PRIVATE, MS_SHARED | MS_REC, MS_SLAVE,
                                     MS_UNBINDABLE | MS_REC});
    // Propagation is a separate mount(2) call, so it does not leak into the flags.
    CHECK(parsed.flags == MS_NOSUID);
}

TEST_CASE("unknown options pass through as filesystem data", "[mount_options]") {
    auto parsed = parse_ok({"nosuid", "strictatime", "mode=755", "size=65536k"});
    CHECK(parsed.flags == (MS_NOSUID | MS_STRICTATIME));
    CHECK(parsed.data == "mode=755,size=65536k");

    auto devpts = parse_ok({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                            "gid=5"});
    CHECK(devpts.data == "newinstance,ptmxmode=0666,mode=0620,gid=5");

    // As in current runc, "acl" is the filesystem's option, not MS_POSIXACL.
    auto acl = parse_ok({"acl", "noacl"});
    CHECK(acl.flags == 0);
    CHECK(acl.data == "acl,noacl");
}

TEST_CASE("defaults is accepted and changes nothing", "[mount_options]") {
    auto parsed = parse_ok({"defaults"});
    CHECK(parsed.flags == 0);
    CHECK(parsed.clear_flags == 0);
    CHECK(parsed.data.empty());
}

TEST_CASE("bind and rbind", "[mount_options]") {
    SECTION("bind") {
        auto parsed = parse_ok({"bind", "ro"});
        CHECK(parsed.bind);
        CHECK_FALSE(parsed.recursive);
        CHECK(parsed.flags == (MS_BIND | MS_RDONLY));
    }
    SECTION("rbind") {
        auto parsed = parse_ok({"rbind", "nosuid"});
        CHECK(parsed.bind);
        CHECK(parsed.recursive);
        CHECK(parsed.flags == (MS_BIND | MS_REC | MS_NOSUID));
    }
    SECTION("rbind stays recursive when bind follows") {
        auto parsed = parse_ok({"rbind", "bind"});
        CHECK(parsed.bind);
        CHECK(parsed.recursive);
    }
    SECTION("no bind option") {
        auto parsed = parse_ok({"ro", "nodev"});
        CHECK_FALSE(parsed.bind);
        CHECK_FALSE(parsed.recursive);
    }
}

TEST_CASE("recursive attributes map to MOUNT_ATTR_*", "[mount_options]") {
    SECTION("set") {
        auto parsed = parse_ok({"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime",
                                "rnosymfollow"});
        CHECK(parsed.recursive_attr_set ==
              (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
               MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
        CHECK(parsed.recursive_attr_clr == 0);
        // They are mount_setattr(2) attributes, not mount(2) flags.
        CHECK(parsed.flags == 0);
        CHECK(parsed.data.empty());
    }
    SECTION("clear") {
        auto parsed = parse_ok({"rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"});
        CHECK(parsed.recursive_attr_set == 0);
        CHECK(parsed.recursive_attr_clr ==
              (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
               MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
    }
    SECTION("the last of two opposite attributes wins") {
        auto parsed = parse_ok({"rro", "rrw"});
        CHECK(parsed.recursive_attr_set == 0);
        CHECK(parsed.recursive_attr_clr == MOUNT_ATTR_RDONLY);
        parsed = parse_ok({"rrw", "rro"});
        CHECK(parsed.recursive_attr_set == MOUNT_ATTR_RDONLY);
        CHECK(parsed.recursive_attr_clr == 0);
    }
    SECTION("setting an atime mode also clears the whole atime field") {
        auto noatime = parse_ok({"rnoatime"});
        CHECK(noatime.recursive_attr_set == MOUNT_ATTR_NOATIME);
        CHECK(noatime.recursive_attr_clr == MOUNT_ATTR__ATIME);
        auto strict = parse_ok({"rstrictatime"});
        CHECK(strict.recursive_attr_set == MOUNT_ATTR_STRICTATIME);
        CHECK(strict.recursive_attr_clr == MOUNT_ATTR__ATIME);
        auto relatime = parse_ok({"rrelatime"});  // MOUNT_ATTR_RELATIME is 0
        CHECK(relatime.recursive_attr_set == 0);
        CHECK(relatime.recursive_attr_clr == MOUNT_ATTR__ATIME);
    }
}

TEST_CASE("tmpcopyup is recorded", "[mount_options]") {
    auto parsed = parse_ok({"tmpcopyup", "mode=1777"});
    CHECK(parsed.tmpcopyup);
    CHECK(parsed.data == "mode=1777");
    CHECK_FALSE(parse_ok({"mode=1777"}).tmpcopyup);
}

TEST_CASE("invalid mount options", "[mount_options]") {
    auto empty = parse_mount_options({"nosuid", ""});
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error().what, Catch::Contains("empty"));

    for (const char* idmap : {"idmap", "ridmap"}) {
        auto parsed = parse_mount_options({"bind", idmap});
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error().what, Catch::Contains(idmap) && Catch::Contains("not supported"));
    }
}

TEST_CASE("parse_propagation", "[mount_options]") {
    CHECK(parse_propagation("private") == MS_PRIVATE);
    CHECK(parse_propagation("rprivate") == (MS_PRIVATE | MS_REC));
    CHECK(parse_propagation("shared") == MS_SHARED);
    CHECK(parse_propagation("rshared") == (MS_SHARED | MS_REC));
    CHECK(parse_propagation("slave") == MS_SLAVE);
    CHECK(parse_propagation("rslave") == (MS_SLAVE | MS_REC));
    CHECK(parse_propagation("unbindable") == MS_UNBINDABLE);
    CHECK(parse_propagation("runbindable") == (MS_UNBINDABLE | MS_REC));

    for (const char* bad : {"", "sideways", "ro", "RPRIVATE"}) {
        auto parsed = parse_propagation(bad);
        INFO(bad);
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error().what, Catch::Contains("unknown mount propagation"));
    }
}
