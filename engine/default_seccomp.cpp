#include "engine/default_seccomp.hpp"

#include <seccomp.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "common/digest.hpp"
#include "common/fs.hpp"

namespace skiff::engine {

namespace {

using nlohmann::json;

// Syscalls every container may make, grouped by what they are for. The set is Docker's
// default allowlist: what a normal program needs, minus what reaches outside the container
// (kernel modules, clock, reboot, keyrings, mounts and namespaces without CAP_SYS_ADMIN,
// ptrace on old kernels, ...). Names for other architectures (chown32, socketcall) are
// harmless on this one: libseccomp translates or ignores them.
constexpr std::string_view kFileSyscalls[] = {
    "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod",
    "fchmodat", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
    "creat", "open", "openat", "openat2", "close", "close_range", "dup", "dup2", "dup3",
    "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
    "fallocate", "ftruncate", "ftruncate64", "truncate", "truncate64", "link", "linkat",
    "symlink", "symlinkat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir",
    "mkdirat", "rmdir", "mknod", "mknodat", "readlink", "readlinkat", "stat", "stat64",
    "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx", "statfs",
    "statfs64", "fstatfs", "fstatfs64", "getdents", "getdents64", "umask", "utime", "utimes",
    "utimensat", "utimensat_time64", "futimesat", "name_to_handle_at", "lseek", "_llseek",
    "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "fchmodat2",
    "pipe", "pipe2", "cachestat",
};

constexpr std::string_view kIoSyscalls[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "preadv2", "pwritev",
    "pwritev2", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range",
    "readahead", "fadvise64", "fadvise64_64", "ioctl",
    // waiting for events
    "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd",
    "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
    "timerfd_gettime64", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch", "fanotify_mark",
    // asynchronous I/O
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64",
    // io_uring is left out, as in Docker 25+: its requests bypass seccomp entirely.
};

constexpr std::string_view kMemorySyscalls[] = {
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
    "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier",
    "memfd_create", "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
};

constexpr std::string_view kProcessSyscalls[] = {
    "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid",
    "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
    "getsid", "setsid", "getpriority", "setpriority", "getrusage", "prctl", "set_tid_address",
    "get_robust_list", "set_robust_list", "rseq", "restart_syscall", "seccomp", "capget",
    "capset", "pidfd_open", "pidfd_send_signal", "process_mrelease", "ioprio_get",
    "ioprio_set", "getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "futex", "futex_time64",
    "futex_waitv", "futex_wait", "futex_wake", "futex_requeue", "map_shadow_stack",
    "get_thread_area", "set_thread_area", "uname", "sysinfo", "getrandom",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    // scheduling
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
    "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "getcpu",
};

constexpr std::string_view kCredentialSyscalls[] = {
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
    "getegid32", "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups",
    "getgroups32", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
    "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
    "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
};

constexpr std::string_view kSignalAndTimeSyscalls[] = {
    "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "sigaltstack", "sigprocmask", "sigreturn", "pause", "alarm",
    // reading clocks and timers (setting the clock needs CAP_SYS_TIME, below)
    "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres",
    "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64", "nanosleep",
    "adjtimex", "clock_adjtime", "clock_adjtime64", "getitimer", "setitimer", "timer_create",
    "timer_delete", "timer_settime", "timer_settime64", "timer_gettime", "timer_gettime64",
    "timer_getoverrun", "times",
};

// socket(2) itself is restricted below (no AF_VSOCK).
constexpr std::string_view kNetworkAndIpcSyscalls[] = {
    "accept", "accept4", "bind", "connect", "listen", "getpeername", "getsockname",
    "getsockopt", "setsockopt", "shutdown", "socketpair", "recv", "recvfrom", "recvmsg",
    "recvmmsg", "recvmmsg_time64", "send", "sendto", "sendmsg", "sendmmsg", "socketcall",
    // System V and POSIX IPC stay inside the container's IPC namespace
    "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl", "mq_open",
    "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
};

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
// CLONE_NEWPID | CLONE_NEWNET: clone(2) may not make namespaces without CAP_SYS_ADMIN.
constexpr uint64_t kCloneNamespaceFlags = 0x7E020000;
constexpr uint32_t kEperm = 1;
constexpr uint32_t kEnosys = 38;

json names_of(std::initializer_list<std::string_view> names) {
    json out = json::array();
    for (auto name : names) out.push_back(std::string(name));
    return out;
}

template <size_t N>
void append_names(json& out, const std::string_view (&names)[N]) {
    for (auto name : names) out.push_back(std::string(name));
}

json allow(json names) {
    return json{{"names", std::move(names)}, {"action", "SCMP_ACT_ALLOW"}};
}

json arg(unsigned index, uint64_t value, const char* op, uint64_t value_two = 0) {
    json a = {{"index", index}, {"value", value}, {"op", op}};
    if (value_two != 0) a["valueTwo"] = value_two;
    return a;
}

json when_caps(json rule, std::initializer_list<std::string_view> caps) {
    rule["includes"]["caps"] = names_of(caps);
    return rule;
}

json when_arches(json rule, std::initializer_list<std::string_view> arches) {
    rule["includes"]["arches"] = names_of(arches);
    return rule;
}

json arch_map_entry(const char* arch, std::initializer_list<std::string_view> subs) {
    return {{"architecture", arch}, {"subArchitectures", names_of(subs)}};
}

// Docker's conditions: all of includes must hold, none of excludes may.
bool contains(const json& list, const std::string& value) {
    if (!list.is_array()) return false;
    for (const auto& item : list)
        if (item.is_string() && item.get_ref<const std::string&>() == value) return true;
    return false;
}

std::pair<int, int> parse_kernel_version(std::string_view text) {
    int major = 0, minor = 0;
    if (std::sscanf(std::string(text).c_str(), "%d.%d", &major, &minor) < 1) return {0, 0};
    return {major, minor};
}

Result<bool> kernel_at_least(const SeccompTarget& target, const json& min_kernel,
                             const std::string& where) {
    if (!min_kernel.is_string()) return fail(where + ": minKernel must be a string");
    auto [major, minor] = parse_kernel_version(min_kernel.get<std::string>());
    if (major == 0) return fail(where + ": invalid minKernel \"" + min_kernel.get<std::string>() + "\"");
    return std::pair(target.kernel_major, target.kernel_minor) >= std::pair(major, minor);
}

// Does a Docker rule apply to this container?
Result<bool> rule_applies(const json& rule, const SeccompTarget& target, const std::string& where) {
    if (auto inc = rule.find("includes"); inc != rule.end() && inc->is_object()) {
        if (auto arches = inc->find("arches"); arches != inc->end() && !arches->empty() &&
                                               !contains(*arches, target.arch))
            return false;
        if (auto caps = inc->find("caps"); caps != inc->end() && caps->is_array())
            for (const auto& cap : *caps)
                if (!cap.is_string() || !std::ranges::count(target.capabilities, cap.get<std::string>()))
                    return false;
        if (auto min = inc->find("minKernel"); min != inc->end() && !min->is_null()) {
            SKIFF_TRY(new_enough, kernel_at_least(target, *min, where + ".includes"));
            if (!new_enough) return false;
        }
    }
    if (auto exc = rule.find("excludes"); exc != rule.end() && exc->is_object()) {
        if (auto arches = exc->find("arches"); arches != exc->end() && contains(*arches, target.arch))
            return false;
        if (auto caps = exc->find("caps"); caps != exc->end() && caps->is_array())
            for (const auto& cap : target.capabilities)
                if (contains(*caps, cap)) return false;
        if (auto min = exc->find("minKernel"); min != exc->end() && !min->is_null()) {
            SKIFF_TRY(new_enough, kernel_at_least(target, *min, where + ".excludes"));
            if (new_enough) return false;
        }
    }
    return true;
}

Result<json> convert_rule(const json& rule, const SeccompTarget& target, const std::string& where) {
    if (!rule.is_object()) return fail(where + ": expected an object");
    json names = json::array();
    const bool has_name = rule.contains("name") && !rule["name"].is_null() && rule["name"] != "";
    const bool has_names = rule.contains("names") && rule["names"].is_array() && !rule["names"].empty();
    if (has_name && has_names)
        return fail("both 'name' and 'names' are specified in the seccomp profile, use either "
                    "'name' or 'names'");
    if (has_name) {
        if (!rule["name"].is_string()) return fail(where + ".name: must be a string");
        names.push_back(rule["name"]);
    } else if (has_names) {
        for (const auto& name : rule["names"]) {
            if (!name.is_string()) return fail(where + ".names: must be strings");
            names.push_back(name);
        }
    }
    if (target.syscall_known) {
        json known = json::array();
        for (const auto& name : names)
            if (target.syscall_known(name.get<std::string>())) known.push_back(name);
        names = std::move(known);
    }
    // A rule whose every name is unknown here has nothing to filter (runc drops it too).
    if (names.empty()) return json();

    if (!rule.contains("action") || !rule["action"].is_string())
        return fail(where + ".action: must be a string");
    json out = {{"names", std::move(names)}, {"action", rule["action"]}};
    if (auto ret = rule.find("errnoRet"); ret != rule.end() && !ret->is_null()) {
        if (!ret->is_number_unsigned()) return fail(where + ".errnoRet: must be an unsigned integer");
        out["errnoRet"] = *ret;
    }
    if (auto args = rule.find("args"); args != rule.end() && !args->is_null()) {
        if (!args->is_array()) return fail(where + ".args: must be an array");
        json oci_args = json::array();
        for (size_t i = 0; i < args->size(); ++i) {
            const json& a = (*args)[i];
            const std::string arg_where = where + ".args[" + std::to_string(i) + "]";
            if (!a.is_object() || !a.contains("index") || !a["index"].is_number_unsigned() ||
                !a.contains("op") || !a["op"].is_string())
                return fail(arg_where + ": needs an unsigned index and an op");
            json oci_arg = {{"index", a["index"]}, {"op", a["op"]}};
            for (const char* key : {"value", "valueTwo"}) {
                auto v = a.find(key);
                if (v == a.end() || v->is_null()) {
                    if (std::string_view(key) == "value") oci_arg[key] = 0;
                    continue;
                }
                if (!v->is_number_unsigned()) return fail(arg_where + "." + key + ": must be an unsigned integer");
                oci_arg[key] = *v;
            }
            oci_args.push_back(std::move(oci_arg));
        }
        if (!oci_args.empty()) out["args"] = std::move(oci_args);
    }
    return out;
}

}  // namespace

bool kernel_runs_x32() {
#if defined(__x86_64__)
    constexpr long kX32SyscallBit = 0x40000000;
    errno = 0;
    long pid = ::syscall(kX32SyscallBit | SYS_getpid);
    return pid >= 0 || errno != ENOSYS;
#else
    return false;
#endif
}

SeccompTarget host_seccomp_target(std::vector<std::string> capabilities) {
    SeccompTarget target;
    target.capabilities = std::move(capabilities);
    struct utsname uts {};
    std::string machine = "x86_64";
    if (::uname(&uts) == 0) {
        machine = uts.machine;
        auto [major, minor] = parse_kernel_version(uts.release);
        target.kernel_major = major;
        target.kernel_minor = minor;
    }
    // uname machine -> (Docker's arch name, libseccomp arch)
    static constexpr std::pair<std::string_view, std::pair<std::string_view, std::string_view>>
        kArches[] = {
            {"x86_64", {"amd64", "SCMP_ARCH_X86_64"}},   {"aarch64", {"arm64", "SCMP_ARCH_AARCH64"}},
            {"armv7l", {"arm", "SCMP_ARCH_ARM"}},        {"armv6l", {"arm", "SCMP_ARCH_ARM"}},
            {"i686", {"x86", "SCMP_ARCH_X86"}},          {"i386", {"x86", "SCMP_ARCH_X86"}},
            {"s390x", {"s390x", "SCMP_ARCH_S390X"}},     {"ppc64le", {"ppc64le", "SCMP_ARCH_PPC64LE"}},
            {"riscv64", {"riscv64", "SCMP_ARCH_RISCV64"}}, {"mips64", {"mips64", "SCMP_ARCH_MIPS64"}},
        };
    for (const auto& [name, arches] : kArches) {
        if (machine == name) {
            target.arch = arches.first;
            target.native_arch = arches.second;
        }
    }
    if (target.native_arch == "SCMP_ARCH_X86_64") target.x32_abi = kernel_runs_x32();
    return target;
}

json default_seccomp_profile() {
    json always = json::array();
    append_names(always, kFileSyscalls);
    append_names(always, kIoSyscalls);
    append_names(always, kMemorySyscalls);
    append_names(always, kProcessSyscalls);
    append_names(always, kCredentialSyscalls);
    append_names(always, kSignalAndTimeSyscalls);
    append_names(always, kNetworkAndIpcSyscalls);

    json rules = json::array();
    rules.push_back(allow(std::move(always)));

    // ptrace could bypass seccomp before 4.8 (the filter ran before the tracer's changes).
    json ptrace = allow(names_of({"ptrace", "process_vm_readv", "process_vm_writev"}));
    ptrace["includes"]["minKernel"] = "4.8";
    rules.push_back(std::move(ptrace));

    // Every socket family but AF_ALG (38: kernel crypto, a recurring source of bugs) and
    // AF_VSOCK (40: reaches the hypervisor, outside any network namespace).
    for (auto [family, op] : {std::pair<uint64_t, const char*>{38, "SCMP_CMP_LT"},
                              {39, "SCMP_CMP_EQ"}, {40, "SCMP_CMP_GT"}}) {
        json socket = allow(names_of({"socket"}));
        socket["args"] = json::array({arg(0, family, op)});
        rules.push_back(std::move(socket));
    }

    // personality(2) only for the harmless personas: PER_LINUX, PER_LINUX32, UNAME26,
    // UNAME26|PER_LINUX32 and the 0xffffffff query; others (READ_IMPLIES_EXEC,
    // ADDR_NO_RANDOMIZE) weaken exploit mitigations.
    for (uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
        json rule = allow(names_of({"personality"}));
        rule["args"] = json::array({arg(0, persona, "SCMP_CMP_EQ")});
        rules.push_back(std::move(rule));
    }

    // Architecture-specific calls.
    rules.push_back(when_arches(allow(names_of({"sync_file_range2", "swapcontext"})), {"ppc64le"}));
    rules.push_back(when_arches(allow(names_of({"arm_fadvise64_64", "arm_sync_file_range",
                                                "sync_file_range2", "breakpoint", "cacheflush",
                                                "set_tls"})),
                                {"arm", "arm64"}));
    rules.push_back(when_arches(allow(names_of({"arch_prctl"})), {"amd64", "x32"}));
    rules.push_back(when_arches(allow(names_of({"modify_ldt"})), {"amd64", "x32", "x86"}));
    rules.push_back(when_arches(allow(names_of({"s390_pci_mmio_read", "s390_pci_mmio_write",
                                                "s390_runtime_instr"})),
                                {"s390", "s390x"}));
    rules.push_back(when_arches(allow(names_of({"riscv_flush_icache"})), {"riscv64"}));

    // What a capability grants, seccomp allows too.
    rules.push_back(when_caps(allow(names_of({"open_by_handle_at"})), {"CAP_DAC_READ_SEARCH"}));
    rules.push_back(when_caps(
        allow(names_of({"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
                        "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
                        "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
                        "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
                        "unshare"})),
        {"CAP_SYS_ADMIN"}));

    // Without CAP_SYS_ADMIN: clone(2) without namespace flags (flags are argument 0, but 1
    // on s390), and clone3 fails with ENOSYS, because its flags live in memory seccomp
    // cannot read; libc then falls back to clone.
    json clone = allow(names_of({"clone"}));
    clone["args"] = json::array({arg(0, kCloneNamespaceFlags, "SCMP_CMP_MASKED_EQ")});
    clone["excludes"] = {{"caps", names_of({"CAP_SYS_ADMIN"})}, {"arches", names_of({"s390", "s390x"})}};
    rules.push_back(std::move(clone));
    json clone_s390 = allow(names_of({"clone"}));
    clone_s390["args"] = json::array({arg(1, kCloneNamespaceFlags, "SCMP_CMP_MASKED_EQ")});
    clone_s390["includes"]["arches"] = names_of({"s390", "s390x"});
    clone_s390["excludes"]["caps"] = names_of({"CAP_SYS_ADMIN"});
    rules.push_back(std::move(clone_s390));
    json clone3 = {{"names", names_of({"clone3"})}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kEnosys}};
    clone3["excludes"]["caps"] = names_of({"CAP_SYS_ADMIN"});
    rules.push_back(std::move(clone3));

    rules.push_back(when_caps(allow(names_of({"reboot"})), {"CAP_SYS_BOOT"}));
    rules.push_back(when_caps(allow(names_of({"chroot"})), {"CAP_SYS_CHROOT"}));
    rules.push_back(when_caps(allow(names_of({"delete_module", "init_module", "finit_module"})),
                              {"CAP_SYS_MODULE"}));
    rules.push_back(when_caps(allow(names_of({"acct"})), {"CAP_SYS_PACCT"}));
    rules.push_back(when_caps(allow(names_of({"kcmp", "pidfd_getfd", "process_madvise",
                                              "process_vm_readv", "process_vm_writev", "ptrace"})),
                              {"CAP_SYS_PTRACE"}));
    rules.push_back(when_caps(allow(names_of({"iopl", "ioperm"})), {"CAP_SYS_RAWIO"}));
    rules.push_back(when_caps(allow(names_of({"settimeofday", "stime", "clock_settime",
                                              "clock_settime64"})),
                              {"CAP_SYS_TIME"}));
    rules.push_back(when_caps(allow(names_of({"vhangup"})), {"CAP_SYS_TTY_CONFIG"}));
    rules.push_back(when_caps(allow(names_of({"get_mempolicy", "mbind", "set_mempolicy",
                                              "set_mempolicy_home_node"})),
                              {"CAP_SYS_NICE"}));
    rules.push_back(when_caps(allow(names_of({"syslog"})), {"CAP_SYSLOG"}));
    rules.push_back(when_caps(allow(names_of({"bpf"})), {"CAP_BPF"}));
    rules.push_back(when_caps(allow(names_of({"perf_event_open"})), {"CAP_PERFMON"}));

    return json{
        {"defaultAction", "SCMP_ACT_ERRNO"},
        {"defaultErrnoRet", kEperm},
        {"archMap", json::array({
                        arch_map_entry("SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}),
                        arch_map_entry("SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}),
                        arch_map_entry("SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}),
                        arch_map_entry("SCMP_ARCH_MIPS64N32", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"}),
                        arch_map_entry("SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}),
                        arch_map_entry("SCMP_ARCH_MIPSEL64N32", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"}),
                        arch_map_entry("SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}),
                        arch_map_entry("SCMP_ARCH_RISCV64", {}),
                    })},
        {"syscalls", std::move(rules)},
    };
}

Result<json> seccomp_profile_to_oci(const json& profile, const SeccompTarget& target) {
    if (!profile.is_object()) return fail("Decoding seccomp profile failed: expected a JSON object");
    const bool has_arches = profile.contains("architectures") && profile["architectures"].is_array() &&
                            !profile["architectures"].empty();
    const bool has_arch_map =
        profile.contains("archMap") && profile["archMap"].is_array() && !profile["archMap"].empty();
    if (has_arches && has_arch_map)
        return fail("both 'architectures' and 'archMap' are specified in the seccomp profile, "
                    "use either 'architectures' or 'archMap'");
    // Docker: no default action and no rules means no filter at all.
    const bool has_rules = profile.contains("syscalls") && profile["syscalls"].is_array() &&
                           !profile["syscalls"].empty();
    const json no_action = profile.value("defaultAction", json());
    if ((no_action.is_null() || no_action == "") && !has_rules) return json();
    if (!profile.contains("defaultAction") || !profile["defaultAction"].is_string())
        return fail("Decoding seccomp profile failed: defaultAction must be a string");

    json oci = {{"defaultAction", profile["defaultAction"]}};
    if (auto ret = profile.find("defaultErrnoRet"); ret != profile.end() && !ret->is_null()) {
        if (!ret->is_number_unsigned())
            return fail("Decoding seccomp profile failed: defaultErrnoRet must be an unsigned integer");
        oci["defaultErrnoRet"] = *ret;
    }

    json arches = json::array();
    if (has_arch_map) {
        // Only the native architecture's entry counts: it and its 32-bit companions.
        for (const auto& entry : profile["archMap"]) {
            if (!entry.is_object() || entry.value("architecture", "") != target.native_arch) continue;
            arches.push_back(entry["architecture"]);
            if (auto subs = entry.find("subArchitectures"); subs != entry.end() && subs->is_array())
                for (const auto& sub : *subs)
                    if (sub.is_string() && (target.x32_abi || sub != "SCMP_ARCH_X32")) arches.push_back(sub);
        }
    } else if (has_arches) {
        for (const auto& a : profile["architectures"]) {
            if (!a.is_string()) return fail("Decoding seccomp profile failed: architectures must be strings");
            arches.push_back(a);
        }
    }
    if (!arches.empty()) oci["architectures"] = std::move(arches);

    for (const char* key : {"flags", "listenerPath", "listenerMetadata"}) {
        auto v = profile.find(key);
        if (v == profile.end() || v->is_null()) continue;
        if (std::string_view(key) == "listenerMetadata") continue;  // not in the OCI schema
        if (std::string_view(key) == "flags" && v->empty()) continue;
        oci[key] = *v;
    }

    json syscalls = json::array();
    if (auto list = profile.find("syscalls"); list != profile.end() && !list->is_null()) {
        if (!list->is_array()) return fail("Decoding seccomp profile failed: syscalls must be an array");
        for (size_t i = 0; i < list->size(); ++i) {
            const std::string where = "seccomp profile syscalls[" + std::to_string(i) + "]";
            const json& rule = (*list)[i];
            if (!rule.is_object()) return fail(where + ": expected an object");
            SKIFF_TRY(applies, rule_applies(rule, target, where));
            if (!applies) continue;
            SKIFF_TRY(converted, convert_rule(rule, target, where));
            if (!converted.is_null()) syscalls.push_back(std::move(converted));
        }
    }
    if (!syscalls.empty()) oci["syscalls"] = std::move(syscalls);
    return oci;
}

Result<json> cached_default_seccomp_oci(const SeccompTarget& target, const std::string& cache_dir) {
    auto exe = file_identity("/proc/self/exe");
    if (cache_dir.empty() || !exe) return seccomp_profile_to_oci(default_seccomp_profile(), target);
    const scmp_version* lib = seccomp_version();
    std::string key = "skiff default seccomp, OCI form, v2\n" + target.arch + " " + target.native_arch +
                      (target.x32_abi ? " x32 " : " no-x32 ") + std::to_string(target.kernel_major) + "." +
                      std::to_string(target.kernel_minor) + "\n";
    for (const auto& cap : target.capabilities) key += cap + " ";
    key += "\nexe " + std::to_string(exe->device) + ":" + std::to_string(exe->inode) + " " +
           std::to_string(exe->size) + " " + std::to_string(exe->modified.tv_sec) + "." +
           std::to_string(exe->modified.tv_nsec) + "\nlibseccomp " + std::to_string(lib->major) + "." +
           std::to_string(lib->minor) + "." + std::to_string(lib->micro) +
           (target.syscall_known ? " known names only" : " every name") + "\n";
    const std::string path = path_join(cache_dir, "seccomp-" + sha256_digest(key).substr(7, 32) + ".json");
    if (auto text = read_file_limited(path, 1 << 20)) {
        json cached = json::parse(*text, nullptr, false);
        if (cached.is_object() && cached.contains("defaultAction")) return cached;
    }
    SKIFF_TRY(oci, seccomp_profile_to_oci(default_seccomp_profile(), target));
    // A cache: failing to keep it fails nothing.
    if (mkdir_p(cache_dir, 0700)) (void)write_file_atomic(path, oci.dump(), 0600, Durability::atomic);
    return oci;
}

}  // namespace skiff::engine
