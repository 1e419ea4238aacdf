// skiff's exec stub: the first program a container process runs when skiff did not start
// from a sealed copy of itself (runtime/cloned_binary.hpp). It is run from a sealed memfd,
// so from here on /proc/self/exe is that memfd, never a host binary: a container image whose
// entrypoint is (a link to) /proc/self/exe reaches only this stub (CVE-2019-5736).
//
//   exec-stub PATH ARGV0 ARGS...   ->   execve(PATH, [ARGV0, ARGS...], environ)
//
// No libc (a few KB to copy at every container start): raw syscalls, x86_64 only.
// On failure: "skiff: exec PATH: REASON" on stderr, exit 127 (not found) or 126, as the
// runtime's own execve failure does.
namespace {

constexpr long kSysWrite = 1;
constexpr long kSysExecve = 59;
constexpr long kSysExit = 60;

long syscall3(long number, long a, long b, long c) {
    long result;
    asm volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return result;
}

unsigned long length(const char* text) {
    unsigned long n = 0;
    while (text[n]) ++n;
    return n;
}

void say(const char* text) { syscall3(kSysWrite, 2, reinterpret_cast<long>(text), static_cast<long>(length(text))); }

const char* reason(long error) {
    switch (error) {
        case 2: return "no such file or directory";
        case 13: return "permission denied";
        case 8: return "exec format error";
        case 20: return "not a directory";
        case 40: return "too many levels of symbolic links";
        case 7: return "argument list too long";
        case 26: return "text file busy";
        case 1: return "operation not permitted";
        case 12: return "cannot allocate memory";
        default: return "exec failed";
    }
}

}  // namespace

extern "C" [[noreturn]] void stub_main(long* stack) {
    long argc = stack[0];
    char** argv = reinterpret_cast<char**>(stack + 1);
    char** envp = argv + argc + 1;
    long error = 22;  // EINVAL: called without a path
    if (argc >= 3) {
        long result = syscall3(kSysExecve, reinterpret_cast<long>(argv[1]), reinterpret_cast<long>(argv + 2),
                               reinterpret_cast<long>(envp));
        error = -result;
        say("skiff: exec ");
        say(argv[1]);
        say(": ");
    } else {
        say("skiff exec stub: ");
    }
    say(reason(error));
    say("\n");
    syscall3(kSysExit, error == 2 ? 127 : 126, 0, 0);
    __builtin_unreachable();
}

// The kernel enters here with argc, argv, envp on the stack.
asm(".globl _start\n"
    "_start:\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call stub_main\n"
    "  hlt\n");
