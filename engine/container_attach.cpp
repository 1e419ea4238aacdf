// `attach`: the client of a detached container's attach socket, served by its skiff-monitor
// (the protocol is monitor/attach_protocol.hpp), and the socket's place on disk.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "engine/containers.hpp"
#include "monitor/attach_protocol.hpp"

namespace skiff::engine {
namespace {

std::string socket_dir(const Store& store) { return path_join(store.options.runroot, attach::kSocketDir); }

// The socket's address through /proc/self/fd/N of its directory: a long runroot would not
// fit sun_path's 108 bytes otherwise.
Result<sockaddr_un> socket_address(int dir_fd, const std::string& id) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + id;
    if (path.size() >= sizeof addr.sun_path) return fail("attach socket name too long: " + id);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

// Docker's --detach-keys: "ctrl-p,ctrl-q", "ctrl-a", "a,b" (ctrl-@, ctrl-[ ... ctrl-_ too).
Result<std::string> parse_detach_keys(const std::string& text) {
    std::string keys;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string key = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (key.size() == 1) {
            keys += key;
        } else if (key.size() == 6 && key.starts_with("ctrl-")) {
            char c = key[5];
            if (c >= 'a' && c <= 'z') keys += static_cast<char>(c - 'a' + 1);
            else if (c >= '@' && c <= '_') keys += static_cast<char>(c - '@');
            else return fail("Invalid detach keys (" + text + ") provided");
        } else {
            return fail("Invalid detach keys (" + text + ") provided");
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return keys;
}

Status send_packet(int sock, char kind, const char* data, size_t len) {
    std::string packet(1, kind);
    packet.append(data, len);
    if (::send(sock, packet.data(), packet.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(packet.size()))
        return sys_error("write to the attach socket");
    return ok();
}

void send_window_size(int sock) {
    struct winsize ws {};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return;
    std::string size = std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col);
    (void)send_packet(sock, attach::kInResize, size.data(), size.size());
}

// Our terminal in raw mode while attached to a -t container, put back however we leave.
class RawTerminal {
public:
    void enter() {
        if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        struct termios raw = saved_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }

private:
    struct termios saved_ {};
    bool active_ = false;
};

// Signals handled through a signalfd while attached, unblocked again however we leave.
class BlockedSignals {
public:
    Result<int> block(const std::vector<int>& signals) {
        sigset_t set;
        sigemptyset(&set);
        for (int s : signals) sigaddset(&set, s);
        if (::sigprocmask(SIG_BLOCK, &set, &old_) != 0) return sys_error("block signals");
        blocked_ = true;
        fd_ = UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) return sys_error("signalfd");
        return fd_.get();
    }
    ~BlockedSignals() {
        if (blocked_) ::sigprocmask(SIG_SETMASK, &old_, nullptr);
    }

private:
    sigset_t old_{};
    bool blocked_ = false;
    UniqueFd fd_;
};

}  // namespace

Result<UniqueFd> listen_attach_socket(const Store& store, const std::string& id) {
    std::string dir = socket_dir(store);
    SKIFF_CHECK(mkdir_p(dir, 0700));
    UniqueFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return sys_error("open " + dir);
    ::unlinkat(dir_fd.get(), id.c_str(), 0);  // left by a monitor killed with -9
    SKIFF_TRY(addr, socket_address(dir_fd.get(), id));
    UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("attach socket");
    if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return sys_error("bind the attach socket in " + dir);
    if (::fchmodat(dir_fd.get(), id.c_str(), 0600, 0) != 0) return sys_error("chmod the attach socket");
    if (::listen(sock.get(), 16) != 0) return sys_error("listen on the attach socket");
    return sock;
}

void remove_attach_socket(const Store& store, const std::string& id) {
    ::unlink(path_join(socket_dir(store), id).c_str());
}

Result<int> attach_container(const Store& store, std::string_view container, const AttachOptions& options) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    if (record.status == state::Status::paused) return fail("You cannot attach to a paused container, unpause it first");
    if (record.status != state::Status::running) return fail("You cannot attach to a stopped container, start it first");
    SKIFF_TRY(keys, parse_detach_keys(options.detach_keys.empty() ? "ctrl-p,ctrl-q" : options.detach_keys));
    bool forward_stdin = record.interactive && !options.no_stdin;
    bool terminal = record.tty && ::isatty(STDIN_FILENO);
    if (record.tty && forward_stdin && !terminal) return fail("the input device is not a TTY");

    UniqueFd dir_fd(::open(socket_dir(store).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return sys_error("container " + record.id.substr(0, 12) + " has no attach socket (not started with -d?)");
    SKIFF_TRY(addr, socket_address(dir_fd.get(), record.id));
    UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!sock) return sys_error("attach socket");
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return sys_error("attach to container " + record.id.substr(0, 12));

    // With -t: SIGWINCH becomes the container's terminal size; signals reach PID 1 as
    // characters of the terminal. Without: --sig-proxy hands ours on to PID 1.
    std::vector<int> signals;
    if (record.tty) {
        if (terminal) signals.push_back(SIGWINCH);
    } else if (options.sig_proxy) {
        signals = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM};
    }
    BlockedSignals blocked;
    int sig_fd = -1;
    if (!signals.empty()) {
        SKIFF_TRY(fd, blocked.block(signals));
        sig_fd = fd;
    }
    RawTerminal raw;
    if (terminal) {
        if (forward_stdin) raw.enter();
        send_window_size(sock.get());
    }

    bool stdin_open = forward_stdin;
    size_t matched = 0;  // detach keys seen so far (with -t), held back until they differ
    std::vector<char> buf(1 + attach::kMaxPayload + 1);
    for (;;) {
        struct pollfd fds[3] = {{sock.get(), POLLIN, 0},
                                {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                                {sig_fd, POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            return sys_error("poll");
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::recv(sock.get(), buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                // The monitor went without saying how PID 1 ended (killed?): ask the record.
                auto settled = containers.load(record.id);
                if (settled && settled->status == state::Status::exited) return settled->exit_code;
                return fail("the monitor of container " + record.id.substr(0, 12) + " went away");
            }
            size_t len = static_cast<size_t>(n) - 1;
            if (buf[0] == attach::kOutExit) return std::atoi(std::string(buf.data() + 1, len).c_str());
            int out = buf[0] == attach::kOutStderr ? STDERR_FILENO : STDOUT_FILENO;
            if (!write_all(out, buf.data() + 1, len)) return sys_error("write the container's output");
        }
        if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char in[attach::kMaxPayload];
            ssize_t n = ::read(STDIN_FILENO, in, sizeof in);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                // Our end of input is not the container's: its stdin stays open for the next
                // attach (Docker's -i without --attach-stdin-once), and we keep showing output.
                stdin_open = false;
            } else if (!record.tty) {
                SKIFF_CHECK(send_packet(sock.get(), attach::kInStdin, in, static_cast<size_t>(n)));
            } else {
                std::string forward;
                for (ssize_t i = 0; i < n; ++i) {
                    char c = in[i];
                    if (c == keys[matched]) {
                        if (++matched == keys.size()) {
                            if (!forward.empty()) (void)send_packet(sock.get(), attach::kInStdin, forward.data(), forward.size());
                            return 0;  // detached; the container goes on
                        }
                        continue;
                    }
                    forward.append(keys, 0, matched);
                    matched = 0;
                    if (c == keys[0]) matched = 1;
                    else forward += c;
                }
                if (!forward.empty()) SKIFF_CHECK(send_packet(sock.get(), attach::kInStdin, forward.data(), forward.size()));
            }
        }
        if (sig_fd >= 0 && (fds[2].revents & POLLIN)) {
            struct signalfd_siginfo info;
            while (::read(sig_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                if (info.ssi_signo == SIGWINCH) {
                    send_window_size(sock.get());
                } else {
                    std::string signo = std::to_string(info.ssi_signo);
                    (void)send_packet(sock.get(), attach::kInSignal, signo.data(), signo.size());
                }
            }
        }
    }
}

}  // namespace skiff::engine
