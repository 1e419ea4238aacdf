// Terminals for containers: a pty made inside the container's devpts, its master handed to
// the caller over a unix socket (--console-socket, SCM_RIGHTS, as runc does) or relayed to
// our own stdio (`run`/`exec` with a terminal in the foreground).
#pragma once

#include <string>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::runtime {

struct Pty {
    UniqueFd master;
    UniqueFd slave;
    std::string slave_path;  // "/dev/pts/N" inside the container
};

// Open a new pty from /dev/ptmx of the current mount namespace.
Result<Pty> open_pty();
Status set_window_size(int fd, unsigned rows, unsigned cols);
// Make `slave` the controlling terminal and stdin/stdout/stderr of this process.
Status attach_to_terminal(int slave);

// Connect to a listening unix socket (the --console-socket path).
Result<UniqueFd> connect_unix(const std::string& path);
// Send one fd with a short name payload (runc's console protocol).
Status send_fd(int socket, int fd, const std::string& name);
Result<UniqueFd> receive_fd(int socket);

// Copy between our stdio and `master` until the container side hangs up. When stdin is a
// terminal it is put in raw mode for the duration and its size copied to the pty.
void relay_terminal(int master);

}  // namespace skiff::runtime
