// Capability names <-> numbers, and the ambient-raise error path (in a forked child).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "runtime/capabilities.hpp"

using namespace skiff::runtime;

TEST_CASE("capability_from_name maps OCI names", "[capabilities]") {
    CHECK(capability_from_name("CAP_CHOWN") == 0);
    CHECK(capability_from_name("CAP_NET_RAW") == 13);
    CHECK(capability_from_name("CAP_SYS_ADMIN") == 21);
    CHECK(capability_from_name("CAP_AUDIT_READ") == 37);
    CHECK(capability_from_name("CAP_PERFMON") == 38);
    CHECK(capability_from_name("CAP_BPF") == 39);
    CHECK(capability_from_name("CAP_CHECKPOINT_RESTORE") == 40);
}

TEST_CASE("capability_from_name is case-insensitive", "[capabilities]") {
    CHECK(capability_from_name("cap_chown") == 0);
    CHECK(capability_from_name("Cap_Sys_Admin") == 21);
    CHECK(capability_from_name("cap_CHECKPOINT_restore") == 40);
}

TEST_CASE("capability_from_name requires the CAP_ prefix", "[capabilities]") {
    CHECK_FALSE(capability_from_name("CHOWN"));
    CHECK_FALSE(capability_from_name("sys_admin"));
    CHECK_FALSE(capability_from_name("CAP_"));
    CHECK_FALSE(capability_from_name(""));
    // libcap's cap_from_name accepts bare numbers; we must not.
    CHECK_FALSE(capability_from_name("0"));
    CHECK_FALSE(capability_from_name("21"));
}

TEST_CASE("capability_from_name rejects unknown names", "[capabilities]") {
    CHECK_FALSE(capability_from_name("CAP_FOO"));
    CHECK_FALSE(capability_from_name("CAP_CHOWN "));
    CHECK_FALSE(capability_from_name(" CAP_CHOWN"));
    CHECK_FALSE(capability_from_name("CAP_CHOWNX"));
    CHECK_FALSE(capability_from_name("CAP_0"));
}

TEST_CASE("capability_name maps numbers to upper-case names", "[capabilities]") {
    CHECK(capability_name(0) == "CAP_CHOWN");
    CHECK(capability_name(21) == "CAP_SYS_ADMIN");
    CHECK(capability_name(40) == "CAP_CHECKPOINT_RESTORE");
    // Numbers nobody names fall back to the number.
    CHECK(capability_name(63) == "CAP_63");
    CHECK(capability_name(-1) == "CAP_-1");
    for (int cap = 0; cap <= 40; ++cap) {
        INFO("cap " << cap);
        CHECK(capability_from_name(capability_name(cap)) == cap);
    }
}

TEST_CASE("all_capability_names lists names in number order", "[capabilities]") {
    auto names = all_capability_names();
    REQUIRE(names.size() >= 41);
    CHECK(names.size() <= 64);
    CHECK(names.front() == "CAP_CHOWN");
    CHECK(names[21] == "CAP_SYS_ADMIN");
    CHECK(names[40] == "CAP_CHECKPOINT_RESTORE");
    for (size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        CHECK(capability_from_name(names[i]) == static_cast<int>(i));
        CHECK(capability_name(static_cast<int>(i)) == names[i]);
    }
}

TEST_CASE("last_kernel_capability is sane", "[capabilities]") {
    int last = last_kernel_capability();
    // CAP_AUDIT_READ (37) arrived in Linux 3.16; anything older cannot run this runtime.
    CHECK(last >= 37);
    CHECK(last < 64);
}

TEST_CASE("raising an ambient capability outside permitted names it", "[capabilities]") {
    // Changes the process's capabilities, so it runs in a child.
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(pipefd[0]);
        Capabilities caps;
        caps.ambient = {0};  // CAP_CHOWN, in neither permitted nor inheritable
        auto st = apply_process_capabilities(caps);
        std::string msg = st ? "" : st.error().what;
        (void)!::write(pipefd[1], msg.data(), msg.size());
        ::_exit(st ? 1 : 0);
    }
    ::close(pipefd[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_THAT(msg, Catch::Contains("CAP_CHOWN"));
}
