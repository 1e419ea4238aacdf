// One message with an optional fd over a unix socket (SCM_RIGHTS): the launch handshake
// and the console socket both speak it.
#pragma once

#include <cstddef>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff {

// Send `size` bytes and, when fd >= 0, the fd with them. Retries on EINTR; no SIGPIPE.
Status send_with_fd(int socket, const void* data, size_t size, int fd);

// Receive one message into buf (at most size bytes); a passed fd lands in `fd`
// (close-on-exec). Returns the byte count, 0 at end of stream.
Result<size_t> receive_with_fd(int socket, void* buf, size_t size, UniqueFd& fd);

}  // namespace skiff
