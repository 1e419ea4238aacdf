// skiff-init: the init of `run --init`, bound into the container at /sbin/docker-init (as
// Docker binds its docker-init, which is tini). As PID 1 it
//   - runs the command as its only direct child, in a process group of its own that it
//     makes the terminal's foreground group (with -t), so a ^C reaches the command once;
//   - forwards every signal it can catch to that child (a `stop` sends SIGTERM to PID 1: the
//     command gets it, and PID 1 with the default disposition would have ignored it);
//   - reaps every process that ends up as its child (orphans of the container);
//   - exits with the child's code, 128+N when the child was killed by signal N.
//
//   skiff-init [--] COMMAND [ARG...]
//
// Static, libc only: it is bound into images that may have no libc at all.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <initializer_list>

int main(int argc, char** argv) {
    int first = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
    if (first >= argc) {
        fprintf(stderr, "usage: skiff-init [--] COMMAND [ARG...]\n");
        return 1;
    }
    // Every signal waits for us in sigtimedwait, except the ones the kernel raises for a
    // fault of our own (they must kill us, not queue) and the terminal's stop signals.
    sigset_t forwarded;
    sigfillset(&forwarded);
    for (int sig : {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU})
        sigdelset(&forwarded, sig);
    sigset_t original;
    sigprocmask(SIG_SETMASK, &forwarded, &original);
    // Blocked, not default: a pid namespace's init never receives a signal it leaves at the
    // default disposition, but a blocked one is queued for sigtimedwait.
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);

    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "skiff-init: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        setpgid(0, 0);
        // Not a terminal (ENOTTY) or none at all: nothing to hand over.
        (void)tcsetpgrp(STDIN_FILENO, getpgrp());
        signal(SIGTTIN, SIG_DFL);
        signal(SIGTTOU, SIG_DFL);
        sigprocmask(SIG_SETMASK, &original, nullptr);
        execvp(argv[first], argv + first);
        int code = errno == ENOENT ? 127 : errno == EACCES ? 126 : 1;
        fprintf(stderr, "skiff-init: exec %s: %s\n", argv[first], strerror(errno));
        _exit(code);
    }

    for (;;) {
        siginfo_t info;
        struct timespec tick {1, 0};
        int sig = sigtimedwait(&forwarded, &info, &tick);
        if (sig > 0 && sig != SIGCHLD) kill(child, sig);
        // SIGCHLD, or a timeout (signals of several children may have merged into one).
        int status = 0;
        for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
            if (pid != child) continue;  // an orphan: reaped, nothing more
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        }
    }
}
