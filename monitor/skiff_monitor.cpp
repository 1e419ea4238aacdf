// skiff-monitor: owns the PID 1 of a detached container while it runs.
//
// skiff's monitor process (double-forked, subreaper; engine/containers.cpp) launches PID 1
// with the runtime code and then execs this small static program in place, so that:
//   - PID 1 stays its child (reaped here) and still dies with it (PR_SET_PDEATHSIG is tied
//     to the parent task, which execve keeps);
//   - the subreaper flag stays set (execve keeps it);
//   - what stays resident per running container is this program, not the whole engine.
// Only libc and syscalls here (no C++ library objects): the RSS is the point.
//
// It writes PID 1's stdout and stderr (or the pty of -t) to the container's log in Docker's
// json-file format (monitor/log_record.hpp, shared with the engine), serves the attach
// socket (monitor/attach_protocol.hpp), reaps every child, and once PID 1 has exited and its
// output is drained, execs back into the full skiff:
//   SKIFF --root R --runroot RR container-exited ID CODE
// which records the exit, unmounts, applies --rm, or --restart (launching PID 1 again and
// exec'ing this program again).
//
// Started by skiff only:
//   skiff-monitor --root R --runroot RR --skiff PATH --id ID --pid PID --log FD --attach FD
//                 (--stdout FD --stderr FD | --pty FD) [--stdin FD]
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <initializer_list>

#include "common/seqpacket.hpp"
#include "monitor/attach_protocol.hpp"
#include "monitor/log_record.hpp"

namespace {

using skiff::logfmt::kLinePieceBytes;

struct Args {
    const char* root = nullptr;
    const char* runroot = nullptr;
    const char* skiff = nullptr;
    const char* id = nullptr;
    pid_t pid = 0;
    int log = -1, attach = -1, out = -1, err = -1, pty = -1, in = -1;
};

bool parse_fd(const char* text, int& out) {
    char* end = nullptr;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 0 || v > 1 << 20) return false;
    out = static_cast<int>(v);
    return true;
}

bool parse_args(int argc, char** argv, Args& a) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const char* k = argv[i];
        const char* v = argv[i + 1];
        int n = -1;
        if (!strcmp(k, "--root")) a.root = v;
        else if (!strcmp(k, "--runroot")) a.runroot = v;
        else if (!strcmp(k, "--skiff")) a.skiff = v;
        else if (!strcmp(k, "--id")) a.id = v;
        else if (!strcmp(k, "--pid") && parse_fd(v, n)) a.pid = n;
        else if (!strcmp(k, "--log") && parse_fd(v, n)) a.log = n;
        else if (!strcmp(k, "--attach") && parse_fd(v, n)) a.attach = n;
        else if (!strcmp(k, "--stdout") && parse_fd(v, n)) a.out = n;
        else if (!strcmp(k, "--stderr") && parse_fd(v, n)) a.err = n;
        else if (!strcmp(k, "--pty") && parse_fd(v, n)) a.pty = n;
        else if (!strcmp(k, "--stdin") && parse_fd(v, n)) a.in = n;
        else return false;
    }
    return (argc % 2) == 1 && a.root && a.runroot && a.skiff && a.id && a.pid > 0 && a.log >= 0 &&
           (a.pty >= 0 || (a.out >= 0 && a.err >= 0));
}

bool write_all(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

long long now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// --- the log ------------------------------------------------------------------------------

int g_log = -1;
// One record at a time; a line is at most two pieces long (see Stream).
char g_record[skiff::logfmt::record_capacity(2 * kLinePieceBytes)];

void log_line(const char* stream, const char* text, size_t len) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char time[32];
    skiff::logfmt::format_rfc3339(ts, time);
    size_t n = skiff::logfmt::encode_record(g_record, stream, text, len, time);
    // One write per record on an O_APPEND file: a `logs -f` reader never sees half of one.
    (void)write_all(g_log, g_record, n);
}

// One of PID 1's output streams, split into lines as engine/container_log.cpp's LogSink does:
// complete lines are records, and a rest reaching kLinePieceBytes is written as it is.
// (No initializers: the two buffers stay in .bss, out of the binary; main() sets the rest.)
struct Stream {
    const char* name;
    char kind;  // attach::kOutStdout / kOutStderr
    int fd;     // -1 once at its end
    size_t len;
    char partial[2 * kLinePieceBytes];

    // Takes `n` new bytes already read into partial + len.
    void take(size_t n) {
        len += n;
        size_t start = 0;
        for (size_t i = len - n; i < len; ++i) {
            if (partial[i] != '\n') continue;
            log_line(name, partial + start, i + 1 - start);
            start = i + 1;
        }
        memmove(partial, partial + start, len - start);
        len -= start;
        if (len >= kLinePieceBytes) flush();
    }
    void flush() {
        if (len > 0) log_line(name, partial, len);
        len = 0;
    }
};

Stream g_out;
Stream g_err;

// --- attached clients ----------------------------------------------------------------------

constexpr int kMaxClients = 16;
int g_clients[kMaxClients];
int g_client_count = 0;
char g_packet[1 + skiff::attach::kMaxPayload + 1];

void drop_client(int index) {
    close(g_clients[index]);
    g_clients[index] = g_clients[--g_client_count];
}

void broadcast(char kind, const char* data, size_t len) {
    if (len > skiff::attach::kMaxPayload) len = skiff::attach::kMaxPayload;
    g_packet[0] = kind;
    memcpy(g_packet + 1, data, len);
    for (int i = g_client_count - 1; i >= 0; --i) {
        // SO_SNDTIMEO bounds the wait for a slow client; one that cannot keep up goes.
        if (send(g_clients[i], g_packet, len + 1, MSG_NOSIGNAL) != static_cast<ssize_t>(len + 1)) drop_client(i);
    }
}

void accept_client(int listener) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    if (g_client_count == kMaxClients) {
        close(fd);
        return;
    }
    struct timeval timeout {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    g_clients[g_client_count++] = fd;
}

// What clients sent for PID 1's stdin and it has not read yet. Clients are not read while
// this cannot take a whole packet: a container that does not read its stdin slows the
// clients that write it, never the monitor.
char g_pending[4 * skiff::attach::kMaxPayload];
size_t g_pending_len = 0;

bool room_for_input() { return g_pending_len + skiff::attach::kMaxPayload <= sizeof g_pending; }

// One packet from client `index`; false when it hung up.
bool read_client(int index, const Args& a, int stdin_fd, bool pid1_alive) {
    ssize_t n = skiff::recv_packet(g_clients[index], g_packet, sizeof g_packet, MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) return false;
    const char* payload = g_packet + 1;
    size_t len = static_cast<size_t>(n) - 1;
    if (len > skiff::attach::kMaxPayload) return false;  // not our protocol
    char text[32];
    size_t copy = len < sizeof text - 1 ? len : sizeof text - 1;
    switch (g_packet[0]) {
    case skiff::attach::kInStdin:
        if (stdin_fd >= 0) {
            memcpy(g_pending + g_pending_len, payload, len);
            g_pending_len += len;
        }
        break;
    case skiff::attach::kInResize:
        if (a.pty >= 0) {
            memcpy(text, payload, copy);
            text[copy] = '\0';
            struct winsize ws {};
            char* end = nullptr;
            unsigned long rows = strtoul(text, &end, 10);
            unsigned long cols = strtoul(end, nullptr, 10);
            if (rows > 0 && cols > 0 && rows < 65536 && cols < 65536) {
                ws.ws_row = static_cast<unsigned short>(rows);
                ws.ws_col = static_cast<unsigned short>(cols);
                // The kernel tells the pty's foreground process group (SIGWINCH).
                ioctl(a.pty, TIOCSWINSZ, &ws);
            }
        }
        break;
    case skiff::attach::kInSignal: {
        memcpy(text, payload, copy);
        text[copy] = '\0';
        long sig = strtol(text, nullptr, 10);
        if (pid1_alive && sig > 0 && sig < NSIG) kill(a.pid, static_cast<int>(sig));
        break;
    }
    default:
        break;
    }
    return true;
}

// --- the end of the run --------------------------------------------------------------------

[[noreturn]] void exec_skiff(const Args& a, int code) {
    char code_text[16];
    int i = 15;
    code_text[i] = '\0';
    unsigned v = static_cast<unsigned>(code);
    do {
        code_text[--i] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0);
    const char* argv[] = {"skiff",          "--root", a.root, "--runroot", a.runroot, "container-exited",
                          a.id,             code_text + i,    nullptr};
    // Nothing of ours reaches skiff (and, on --restart, the next PID 1): no blocked or
    // ignored signal, no fd but stdio (everything else here is close-on-exec).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execv(a.skiff, const_cast<char* const*>(argv));
    // Without skiff nobody can record the exit: the next `ps` finds PID 1 and us gone and
    // records Exited (255).
    _exit(127);
}

void set_cloexec(int fd) {
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, a)) {
        static const char usage[] = "skiff-monitor: started by skiff only (see monitor/skiff_monitor.cpp)\n";
        (void)write_all(2, usage, sizeof usage - 1);
        return 2;
    }
    // Kept from skiff's monitor across execve; asserted again, it costs nothing.
    int subreaper = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) != 0 || !subreaper) prctl(PR_SET_CHILD_SUBREAPER, 1);
    for (int fd : {a.log, a.attach, a.out, a.err, a.pty, a.in}) set_cloexec(fd);
    g_log = a.log;
    signal(SIGPIPE, SIG_IGN);  // a stdin pipe whose reader is gone is EPIPE, not our death

    // SIGCHLD through a signalfd; then reap what exited before we were here to be told.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, nullptr);
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

    g_out.name = "stdout";
    g_out.kind = skiff::attach::kOutStdout;
    g_out.fd = a.pty >= 0 ? a.pty : a.out;
    g_err.name = "stderr";
    g_err.kind = skiff::attach::kOutStderr;
    g_err.fd = a.pty >= 0 ? -1 : a.err;
    int stdin_fd = a.pty >= 0 ? (a.in >= 0 ? a.pty : -1) : a.in;
    if (stdin_fd >= 0) fcntl(stdin_fd, F_SETFL, fcntl(stdin_fd, F_GETFL) | O_NONBLOCK);
    if (a.pty >= 0) fcntl(a.pty, F_SETFL, fcntl(a.pty, F_GETFL) | O_NONBLOCK);

    bool pid1_alive = true;
    int exit_code = 255;
    long long drain_deadline = 0;
    for (;;) {
        if (pid1_alive) {
            int status = 0;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid != a.pid) continue;  // an orphan handed to us as subreaper
                pid1_alive = false;
                exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
                // Its output may still be in the pipes: read them to their end, but do not
                // wait for ever on a process that kept them open.
                drain_deadline = now_ms() + 2000;
            }
        } else {
            while (waitpid(-1, nullptr, WNOHANG) > 0) {
            }
        }
        if (!pid1_alive && g_out.fd < 0 && g_err.fd < 0) break;
        int timeout = -1;
        if (!pid1_alive) {
            long long left = drain_deadline - now_ms();
            if (left <= 0) break;
            timeout = static_cast<int>(left);
        }

        enum { kSig, kOut, kErr, kListen, kStdin, kFirstClient };
        struct pollfd fds[kFirstClient + kMaxClients];
        fds[kSig] = {sigfd, POLLIN, 0};
        fds[kOut] = {g_out.fd, POLLIN, 0};
        fds[kErr] = {g_err.fd, POLLIN, 0};
        fds[kListen] = {a.attach, POLLIN, 0};
        fds[kStdin] = {g_pending_len > 0 ? stdin_fd : -1, POLLOUT, 0};
        short client_events = room_for_input() ? POLLIN : 0;
        for (int i = 0; i < g_client_count; ++i) fds[kFirstClient + i] = {g_clients[i], client_events, 0};
        int clients_polled = g_client_count;
        int r = poll(fds, static_cast<nfds_t>(kFirstClient + clients_polled), timeout);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;

        if (fds[kSig].revents & POLLIN) {
            struct signalfd_siginfo info[8];
            while (read(sigfd, info, sizeof info) > 0) {
            }
        }
        for (Stream* s : {&g_out, &g_err}) {
            struct pollfd& p = s == &g_out ? fds[kOut] : fds[kErr];
            if (s->fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(s->fd, s->partial + s->len, kLinePieceBytes);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                // End of file; EIO from a pty master: every slave is closed, the container is gone.
                if (s->fd != a.pty) close(s->fd);
                s->fd = -1;
                continue;
            }
            broadcast(s->kind, s->partial + s->len, static_cast<size_t>(n));
            s->take(static_cast<size_t>(n));
        }
        if (fds[kStdin].fd >= 0 && (fds[kStdin].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(stdin_fd, g_pending, g_pending_len);
            if (n > 0) {
                memmove(g_pending, g_pending + n, g_pending_len - static_cast<size_t>(n));
                g_pending_len -= static_cast<size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                // The container closed its stdin: what clients send from now on goes nowhere.
                if (stdin_fd != a.pty) close(stdin_fd);
                stdin_fd = -1;
                g_pending_len = 0;
            }
        }
        for (int i = clients_polled - 1; i >= 0; --i) {
            short ev = fds[kFirstClient + i].revents;
            if (!ev || i >= g_client_count || g_clients[i] != fds[kFirstClient + i].fd) continue;
            bool keep = true;
            if (ev & POLLIN) keep = read_client(i, a, stdin_fd, pid1_alive);
            else if (ev & (POLLHUP | POLLERR)) keep = false;
            if (!keep) drop_client(i);
        }
        if (fds[kListen].revents & POLLIN) accept_client(a.attach);
    }

    g_out.flush();
    g_err.flush();
    char code[16];
    int len = 0;
    for (unsigned v = static_cast<unsigned>(exit_code);; v /= 10) {
        code[len++] = static_cast<char>('0' + v % 10);
        if (v < 10) break;
    }
    for (int i = 0; i < len / 2; ++i) {
        char t = code[i];
        code[i] = code[len - 1 - i];
        code[len - 1 - i] = t;
    }
    broadcast(skiff::attach::kOutExit, code, static_cast<size_t>(len));
    while (g_client_count > 0) drop_client(g_client_count - 1);
    // The socket file goes with the run; a restart makes a new one.
    close(a.attach);
    char path[4096];
    size_t used = 0;
    for (const char* part : {a.runroot, "/", skiff::attach::kSocketDir, "/", a.id}) {
        size_t l = strlen(part);
        if (used + l >= sizeof path) break;
        memcpy(path + used, part, l);
        used += l;
    }
    path[used] = '\0';
    unlink(path);
    exec_skiff(a, exit_code);
}
