#include "engine/rootless.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

using skiff::engine::rootless_command_needs_namespace;

TEST_CASE("rootless: which commands join the user's namespace", "[rootless]") {
    using V = std::vector<std::string>;
    CHECK(rootless_command_needs_namespace(V{"run", "--rm", "busybox"}));
    CHECK(rootless_command_needs_namespace(V{"--root", "/x", "--runroot", "/y", "exec", "c", "ls"}));
    CHECK(rootless_command_needs_namespace(V{"container", "rm", "-f", "c"}));
    CHECK(rootless_command_needs_namespace(V{"container", "prune", "-f"}));
    CHECK(rootless_command_needs_namespace(V{"container", "remove", "c"}));
    CHECK(rootless_command_needs_namespace(V{"container", "run", "--rm", "busybox"}));
    CHECK(!rootless_command_needs_namespace(V{"container", "ls", "-a"}));
    CHECK(rootless_command_needs_namespace(V{"system", "prune"}));
    CHECK(rootless_command_needs_namespace(V{"container-exited", "id", "0"}));
    CHECK(!rootless_command_needs_namespace(V{"pull", "busybox"}));
    CHECK(!rootless_command_needs_namespace(V{"image", "prune"}));
    CHECK(!rootless_command_needs_namespace(V{"volume", "prune"}));
    CHECK(!rootless_command_needs_namespace(V{"ps", "-a"}));
    CHECK(!rootless_command_needs_namespace(V{"system", "df"}));
    CHECK(!rootless_command_needs_namespace(V{"--root", "run", "images"}));  // "run" is --root's value
    CHECK(!rootless_command_needs_namespace(V{}));
}

// As an unprivileged user (a child dropped to 65534 when the tests run as root).
TEST_CASE("rootless: a container's spec gets a user namespace and no cgroup", "[rootless]") {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0))
            ::_exit(10);
        nlohmann::json spec = {
            {"process", {{"user", {{"uid", 0}, {"gid", 0}, {"additionalGids", {10}}}}}},
            {"mounts", {{{"destination", "/dev/pts"}, {"type", "devpts"}, {"options", {"nosuid", "gid=5", "mode=620"}}},
                        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}}}},
            {"linux", {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}}},
                       {"cgroupsPath", "/skiff/x"},
                       {"sysctl", {{"net.ipv4.ping_group_range", "0 2147483647"}}},
                       {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}}}}};
        if (!skiff::engine::rootless_spec(spec)) ::_exit(11);
        const auto& l = spec["linux"];
        if (l.contains("cgroupsPath") || l.contains("resources")) ::_exit(12);
        if (l["namespaces"].back() != nlohmann::json{{"type", "user"}}) ::_exit(13);
        if (l["uidMappings"][0]["hostID"] != ::geteuid() || l["uidMappings"][0]["containerID"] != 0) ::_exit(14);
        if (spec["mounts"][0]["options"] != nlohmann::json{"nosuid", "mode=620"}) ::_exit(15);
        // No network namespace of its own: the host's /sys bound, not a sysfs mount.
        if (spec["mounts"][1]["type"] != "none" || spec["mounts"][1]["source"] != "/sys") ::_exit(16);
        if (l["sysctl"]["net.ipv4.ping_group_range"] != "0 0") ::_exit(17);
        if (spec["process"]["user"].contains("additionalGids")) ::_exit(18);
        // Limits without a delegated cgroup: refused.
        nlohmann::json limited = {{"linux", {{"resources", {{"memory", {{"limit", 1 << 26}}}}}}}};
        if (skiff::engine::rootless_spec(limited)) ::_exit(19);
        // Only root is mapped: another container user is refused up front.
        nlohmann::json other = {{"process", {{"user", {{"uid", 1000}, {"gid", 1000}}}}}};
        if (skiff::engine::rootless_spec(other)) ::_exit(20);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
