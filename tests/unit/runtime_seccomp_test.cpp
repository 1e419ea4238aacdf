// Seccomp filter building, checked through libseccomp's PFC text; one load in a child.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <string>

#include "runtime/seccomp.hpp"

using namespace skiff::runtime;

namespace {

SeccompSyscall rule(std::vector<std::string> names, std::string action,
                    std::optional<uint32_t> errno_ret = std::nullopt,
                    std::vector<SeccompArg> args = {}) {
    SeccompSyscall s;
    s.names = std::move(names);
    s.action = std::move(action);
    s.errno_ret = errno_ret;
    s.args = std::move(args);
    return s;
}

Seccomp allow_by_default() {
    Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    return s;
}

std::string pfc_of(const Seccomp& s) {
    auto filter = build_seccomp_filter(s);
    REQUIRE(filter);
    auto text = filter->export_pfc();
    REQUIRE(text);
    return *text;
}

std::string error_of(const Seccomp& s) {
    auto filter = build_seccomp_filter(s);
    REQUIRE_FALSE(filter);
    return filter.error().what;
}

// The PFC block for one syscall: from its "filter for syscall" line to the next one.
std::string block_for(const std::string& pfc, const std::string& name) {
    auto start = pfc.find("# filter for syscall \"" + name + "\"");
    if (start == std::string::npos) return {};
    auto end = pfc.find("# filter for syscall", start + 1);
    if (end == std::string::npos) end = pfc.find("# default action", start);
    return pfc.substr(start, end - start);
}

}  // namespace

TEST_CASE("seccomp default action and defaultErrnoRet", "[seccomp]") {
    Seccomp s;
    s.default_action = "SCMP_ACT_ERRNO";
    CHECK_THAT(pfc_of(s), Catch::Contains("# default action\n  action ERRNO(1);"));
    s.default_errno_ret = 38;
    CHECK_THAT(pfc_of(s), Catch::Contains("# default action\n  action ERRNO(38);"));
    s.default_action = "SCMP_ACT_TRACE";
    s.default_errno_ret.reset();
    CHECK_THAT(pfc_of(s), Catch::Contains("action TRACE(1);"));
    s.default_action = "SCMP_ACT_LOG";
    CHECK_THAT(pfc_of(s), Catch::Contains("action LOG;"));
    s.default_action = "SCMP_ACT_KILL";
    CHECK_THAT(pfc_of(s), Catch::Contains("# default action\n  action KILL;"));
    s.default_action = "SCMP_ACT_KILL_PROCESS";
    CHECK_THAT(pfc_of(s), Catch::Contains("action KILL_PROCESS;"));
}

TEST_CASE("seccomp rule errnoRet appears in the filter", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.syscalls.push_back(rule({"mkdirat", "getcwd"}, "SCMP_ACT_ERRNO", 42));
    s.syscalls.push_back(rule({"chroot"}, "SCMP_ACT_ERRNO"));
    std::string pfc = pfc_of(s);
    CHECK_THAT(block_for(pfc, "mkdirat"), Catch::Contains("action ERRNO(42);"));
    CHECK_THAT(block_for(pfc, "getcwd"), Catch::Contains("action ERRNO(42);"));
    // No errnoRet: EPERM.
    CHECK_THAT(block_for(pfc, "chroot"), Catch::Contains("action ERRNO(1);"));
}

TEST_CASE("seccomp argument conditions appear in the filter", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.syscalls.push_back(rule({"personality"}, "SCMP_ACT_ERRNO", 22,
                              {{0, 8, 0, "SCMP_CMP_NE"}}));
    // MASKED_EQ: value is the mask, valueTwo the datum.
    s.syscalls.push_back(rule({"clone"}, "SCMP_ACT_ERRNO", 1,
                              {{0, 0x7e020000, 0, "SCMP_CMP_MASKED_EQ"}}));
    std::string pfc = pfc_of(s);
    CHECK_THAT(block_for(pfc, "personality"), Catch::Contains("$a0.lo32 == 8"));
    CHECK_THAT(block_for(pfc, "clone"), Catch::Contains("$a0.lo32 & 0x7e020000 == 0"));
}

TEST_CASE("seccomp conditions on different arguments form one rule", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.syscalls.push_back(rule({"socket"}, "SCMP_ACT_ERRNO", 97,
                              {{0, 16, 0, "SCMP_CMP_EQ"}, {1, 3, 0, "SCMP_CMP_EQ"}}));
    std::string block = block_for(pfc_of(s), "socket");
    // AND: the a1 test is nested under the a0 test, so the action appears once.
    auto a0 = block.find("$a0.lo32 == 16");
    auto a1 = block.find("$a1.lo32 == 3");
    REQUIRE(a0 != std::string::npos);
    REQUIRE(a1 != std::string::npos);
    CHECK(a0 < a1);
    CHECK(block.find("action ERRNO(97);") == block.rfind("action ERRNO(97);"));
}

TEST_CASE("seccomp conditions sharing an argument become separate rules", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.syscalls.push_back(rule({"socket"}, "SCMP_ACT_ERRNO", 97,
                              {{0, 16, 0, "SCMP_CMP_EQ"},
                               {0, 17, 0, "SCMP_CMP_EQ"},
                               {1, 3, 0, "SCMP_CMP_EQ"}}));
    std::string block = block_for(pfc_of(s), "socket");
    // runc's OR semantics: every condition, including the a1 one, matches on its own.
    CHECK_THAT(block, Catch::Contains("$a0.lo32 == 16"));
    CHECK_THAT(block, Catch::Contains("$a0.lo32 == 17"));
    CHECK_THAT(block, Catch::Contains("$a1.lo32 == 3"));
    size_t actions = 0;
    for (auto pos = block.find("action ERRNO(97);"); pos != std::string::npos;
         pos = block.find("action ERRNO(97);", pos + 1))
        ++actions;
    CHECK(actions == 3);
}

TEST_CASE("seccomp rules with the default action are skipped", "[seccomp]") {
    Seccomp s;
    s.default_action = "SCMP_ACT_ERRNO";
    s.syscalls.push_back(rule({"mkdirat"}, "SCMP_ACT_ERRNO"));        // EPERM == default
    s.syscalls.push_back(rule({"getcwd"}, "SCMP_ACT_ERRNO", 1));       // explicit EPERM
    s.syscalls.push_back(rule({"chroot"}, "SCMP_ACT_ERRNO", 38));      // differs
    s.syscalls.push_back(rule({"getpid"}, "SCMP_ACT_ALLOW"));
    std::string pfc = pfc_of(s);
    CHECK(block_for(pfc, "mkdirat").empty());
    CHECK(block_for(pfc, "getcwd").empty());
    CHECK_THAT(block_for(pfc, "chroot"), Catch::Contains("action ERRNO(38);"));
    CHECK_THAT(block_for(pfc, "getpid"), Catch::Contains("action ALLOW;"));
}

TEST_CASE("seccomp unknown syscall names the field", "[seccomp]") {
    Seccomp s = allow_by_default();
    for (int i = 0; i < 3; ++i) s.syscalls.push_back(rule({"getpid"}, "SCMP_ACT_ERRNO"));
    s.syscalls.push_back(rule({"mkdirat", "fooo"}, "SCMP_ACT_ERRNO"));
    CHECK(error_of(s) == "linux.seccomp.syscalls[3].names[1]: unknown syscall \"fooo\"");
    // Reported even when the rule would be skipped for matching the default action.
    s.syscalls[3].action = "SCMP_ACT_ALLOW";
    CHECK(error_of(s) == "linux.seccomp.syscalls[3].names[1]: unknown syscall \"fooo\"");
    CHECK_FALSE(validate_seccomp(s));
}

TEST_CASE("seccomp unknown actions and operators are errors", "[seccomp]") {
    Seccomp s;
    s.default_action = "SCMP_ACT_BOGUS";
    CHECK(error_of(s) == "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BOGUS\"");
    s.default_action = "SCMP_ACT_NOTIFY";
    CHECK_THAT(error_of(s), Catch::StartsWith("linux.seccomp.defaultAction:"));

    s = allow_by_default();
    s.syscalls.push_back(rule({"getpid"}, "scmp_act_errno"));
    CHECK(error_of(s) == "linux.seccomp.syscalls[0].action: unknown action \"scmp_act_errno\"");

    s = allow_by_default();
    s.syscalls.push_back(rule({"getpid"}, "SCMP_ACT_ERRNO", 1, {{0, 1, 0, "SCMP_CMP_ALMOST"}}));
    CHECK(error_of(s) ==
          "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ALMOST\"");
    s.syscalls[0].args[0] = {6, 1, 0, "SCMP_CMP_EQ"};
    CHECK_THAT(error_of(s), Catch::StartsWith("linux.seccomp.syscalls[0].args[0].index:"));

    s = allow_by_default();
    s.syscalls.push_back(rule({"getpid"}, "SCMP_ACT_ERRNO", 70000));
    CHECK_THAT(error_of(s), Catch::StartsWith("linux.seccomp.syscalls[0].errnoRet:"));
}

TEST_CASE("seccomp architectures", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.syscalls.push_back(rule({"mkdirat"}, "SCMP_ACT_ERRNO", 42));
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"};
    std::string pfc = pfc_of(s);
    CHECK_THAT(pfc, Catch::Contains("# filter for arch x86 ("));
    CHECK_THAT(pfc, Catch::Contains("# filter for arch aarch64 ("));

    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
    CHECK(error_of(s) == "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
    s.architectures = {"x86_64"};
    CHECK(error_of(s) == "linux.seccomp.architectures[0]: unknown architecture \"x86_64\"");
#if defined(__x86_64__) || defined(__aarch64__)
    s.architectures = {"SCMP_ARCH_S390X"};
    CHECK_THAT(error_of(s), Catch::Contains("byte order"));
#endif
}

TEST_CASE("seccomp flags", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"};
    CHECK(build_seccomp_filter(s));
    s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS"};
    CHECK(error_of(s) == "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");
}

TEST_CASE("seccomp notify rules ask for a listener", "[seccomp]") {
    Seccomp s = allow_by_default();
    s.syscalls.push_back(rule({"mkdirat"}, "SCMP_ACT_ERRNO", 42));
    auto plain = build_seccomp_filter(s);
    REQUIRE(plain);
    CHECK_FALSE(plain->needs_notify_listener());

    s.syscalls.push_back(rule({"chroot"}, "SCMP_ACT_NOTIFY"));
    auto notify = build_seccomp_filter(s);
    REQUIRE(notify);
    CHECK(notify->needs_notify_listener());
}

TEST_CASE("seccomp known lists for features", "[seccomp]") {
    auto actions = seccomp_known_actions();
    CHECK(actions.size() == 9);
    CHECK(std::find(actions.begin(), actions.end(), "SCMP_ACT_KILL_PROCESS") != actions.end());
    CHECK(seccomp_known_operators().size() == 7);
    auto arches = seccomp_known_architectures();
    CHECK(std::find(arches.begin(), arches.end(), "SCMP_ARCH_X86_64") != arches.end());
    CHECK(std::find(arches.begin(), arches.end(), "SCMP_ARCH_AARCH64") != arches.end());
    CHECK(seccomp_known_flags().size() == 3);
    // Everything advertised is at least recognised (libseccomp still refuses to mix byte
    // orders in one filter, so a big-endian arch may fail on this host for that reason).
    for (const auto& arch : arches) {
        Seccomp s = allow_by_default();
        s.architectures = {arch};
        auto filter = build_seccomp_filter(s);
        INFO(arch << ": " << (filter ? "ok" : filter.error().what));
        CHECK((filter || filter.error().what.find("unknown architecture") == std::string::npos));
    }
    Seccomp s = allow_by_default();
    s.flags = seccomp_known_flags();
    CHECK(build_seccomp_filter(s));
}

TEST_CASE("seccomp filter loads and acts in a child", "[seccomp]") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // Without CAP_SYS_ADMIN the kernel only accepts a filter under no_new_privs.
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
        Seccomp s = allow_by_default();
        s.syscalls.push_back(rule({"mkdirat"}, "SCMP_ACT_ERRNO", 42));
        // Enough further rules (> 32) that the binary-tree layout is used as well.
        for (const char* name :
             {"acct", "add_key", "bpf", "chroot", "clock_settime", "delete_module",
              "finit_module", "init_module", "iopl", "ioperm", "kexec_load", "keyctl",
              "lookup_dcookie", "mount", "move_pages", "name_to_handle_at",
              "open_by_handle_at", "perf_event_open", "pivot_root", "quotactl", "reboot",
              "request_key", "setdomainname", "sethostname", "settimeofday", "swapon",
              "swapoff", "syslog", "umount2", "unshare", "uselib", "userfaultfd", "vhangup",
              "setns", "personality"})
            s.syscalls.push_back(rule({name}, "SCMP_ACT_ERRNO", 43));
        auto filter = build_seccomp_filter(s);
        if (!filter) ::_exit(11);
        auto fd = filter->load();
        if (!fd || *fd != -1) ::_exit(12);
        errno = 0;
        if (::mkdirat(AT_FDCWD, "/nonexistent-skiff-dir/x", 0700) != -1 || errno != 42)
            ::_exit(13);
        errno = 0;
        if (::chroot("/nonexistent-skiff-dir") != -1 || errno != 43) ::_exit(15);
        // Everything else is still allowed.
        if (::getpid() <= 0) ::_exit(14);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("seccomp notify filter load returns the listener fd in a child", "[seccomp]") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
        Seccomp s = allow_by_default();
        s.syscalls.push_back(rule({"chroot"}, "SCMP_ACT_NOTIFY"));
        auto filter = build_seccomp_filter(s);
        if (!filter || !filter->needs_notify_listener()) ::_exit(11);
        auto fd = filter->load();
        if (!fd || *fd < 0) ::_exit(12);
        // The kernel creates the listener close-on-exec.
        if (!(::fcntl(*fd, F_GETFD) & FD_CLOEXEC)) ::_exit(13);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
