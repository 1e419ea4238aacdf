#include "runtime/console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd_passing.hpp"
#include "common/fs.hpp"

namespace skiff::runtime {

Result<Pty> open_pty() {
    Pty pty;
    pty.master.reset(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty.master) return sys_error("open /dev/ptmx");
    int unlock = 0;
    if (::ioctl(pty.master.get(), TIOCSPTLCK, &unlock) != 0) return sys_error("unlock pty");
    unsigned number = 0;
    if (::ioctl(pty.master.get(), TIOCGPTN, &number) != 0) return sys_error("get pty number");
    pty.slave_path = "/dev/pts/" + std::to_string(number);
    // TIOCGPTPEER opens the peer through the master, never through a path someone could swap.
    int slave = ::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) slave = ::open(pty.slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) return sys_error("open " + pty.slave_path);
    pty.slave.reset(slave);
    return pty;
}

Status set_window_size(int fd, unsigned rows, unsigned cols) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    if (::ioctl(fd, TIOCSWINSZ, &ws) != 0) return sys_error("set terminal size");
    return ok();
}

Status attach_to_terminal(int slave) {
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) return sys_error("make the pty our controlling terminal");
    for (int target = 0; target <= 2; ++target)
        if (::dup2(slave, target) < 0) return sys_error("dup pty onto fd " + std::to_string(target));
    return ok();
}

Result<UniqueFd> connect_unix(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sys_error("socket");
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return fail("console socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0)
        return sys_error("connect to console socket " + path);
    return fd;
}

Status send_fd(int socket, int fd, const std::string& name) {
    // runc's console protocol: the pty's name as the payload (never empty).
    std::string payload = name.empty() ? std::string(1, '\0') : name;
    return with_context(send_with_fd(socket, payload.data(), payload.size(), fd), "send terminal fd");
}

Result<UniqueFd> receive_fd(int socket) {
    char name[256];
    UniqueFd fd;
    SKIFF_CHECK(with_context(receive_with_fd(socket, name, sizeof name, fd), "receive terminal fd"));
    if (!fd) return fail("no terminal fd received");
    return fd;
}

void relay_terminal(int master) {
    struct termios saved {};
    bool raw = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        ::cfmakeraw(&t);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
        struct winsize ws {};
        if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
    }
    bool stdin_open = true;
    char buf[16384];
    for (;;) {
        struct pollfd fds[2] = {{master, POLLIN, 0}, {STDIN_FILENO, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
        int r = ::poll(fds, stdin_open ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(master, buf, sizeof buf);
            if (n <= 0) break;  // EIO: every slave fd closed, the container side is gone
            if (!write_all(STDOUT_FILENO, buf, static_cast<size_t>(n))) break;
        }
        if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                stdin_open = false;
                // Pass end-of-file on as the terminal's EOF character.
                char eof = 4;
                (void)write_all(master, &eof, 1);
            } else {
                (void)write_all(master, buf, static_cast<size_t>(n));
            }
        }
    }
    if (raw) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

}  // namespace skiff::runtime
