// The attach socket of a detached container, served by its skiff-monitor and used by
// `skiff attach` (and `start -a` of a running container): <runroot>/attach/<id>, a unix
// SOCK_SEQPACKET socket (mode 0600 in a 0700 directory), so every packet arrives whole and
// needs no framing of its own. Each packet is one type byte and its payload:
//
//   monitor -> client   kOutStdout / kOutStderr   output of the container (with -t: all
//                                                 of it is stdout, from the pty)
//                       kOutExit "CODE"           PID 1 ended with CODE; the socket closes
//   client -> monitor   kInStdin  bytes           for PID 1's stdin (only when the container
//                                                 has one: run -i; dropped otherwise)
//                       kInResize "ROWS COLS"     the client's terminal size (with -t)
//                       kInSignal "SIGNO"         --sig-proxy: a signal for PID 1
//
// A client that reads too slowly is dropped (the monitor never blocks the container's
// output for it, beyond a second); output before the client connected is in the log.
#pragma once

#include <cstddef>

namespace skiff::attach {

inline constexpr char kOutStdout = 1;
inline constexpr char kOutStderr = 2;
inline constexpr char kOutExit = 3;
inline constexpr char kInStdin = 16;
inline constexpr char kInResize = 17;
inline constexpr char kInSignal = 18;

// Largest payload of one packet.
inline constexpr size_t kMaxPayload = 16 * 1024;

// Directory of the sockets, under the engine's runroot.
inline constexpr const char* kSocketDir = "attach";

}  // namespace skiff::attach
