// Receiving from a SOCK_SEQPACKET unix socket (the launch handshake, the attach socket),
// where 0 means the peer is gone. Header-only and libc-only: skiff-monitor uses it too.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

namespace skiff {

// recv(2), except that a 0 is looked at again. Linux's receive looks at the queue, then at
// the peer's shutdown, so a peer that sends its last packet and closes in between reads as
// gone with that packet still queued (an exec process sends kReady and closes at once). The
// packet was queued before the shutdown that was seen, so a second look finds it; 0 again
// is the real end.
inline ssize_t recv_packet(int socket, void* buf, size_t size, int flags) {
    ssize_t n = ::recv(socket, buf, size, flags);
    if (n == 0) n = ::recv(socket, buf, size, flags | MSG_DONTWAIT);
    return n;
}

}  // namespace skiff
