/* Run a command and print "<elapsed ms> <peak RSS KiB> <exit status>".
 * A static, tiny launcher: peak RSS (ru_maxrss) survives exec, so the launcher's own
 * footprint must be negligible for the number to mean the command's.
 * It is also a child subreaper and returns only once every process the command left behind
 * has ended too (skiff's detached remover, anything podman's conmon leaves running): the
 * next command, of either tool, then starts on a machine the previous one no longer uses.
 * The time printed is the command's own, up to its exit.
 *
 *   spawn-rss [--netns PATH] COMMAND [ARG...]
 * --netns: join that network namespace first (untimed), so a peer whose networking edits
 * firewall tables does that in a namespace the bench made, never the host's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "--netns") == 0) {
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            perror(argv[2]);
            return 2;
        }
        close(fd);
        argc -= 2;
        argv += 2;
    }
    if (argc < 2) return 2;
    struct timespec a, b;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return 2;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    printf("%.3f %ld %d\n", ms, ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    fflush(stdout);
    while (wait(NULL) > 0) {
    }
    return 0;
}
