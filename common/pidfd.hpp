// pidfds: a handle on one process (never a later one with a recycled pid), for processes
// we may not be the parent of: signal it, wait (bounded) for it to exit.
#pragma once

#include <sys/types.h>

#include "common/fd.hpp"

namespace skiff {

// A pidfd for `pid`; invalid (errno set) when it is gone or pidfds are unavailable.
UniqueFd open_pidfd(pid_t pid);
// pidfd_send_signal; false (errno set) when it failed, e.g. the process has exited.
bool signal_pidfd(int pidfd, int signal);
// Wait until the process has exited, at most timeout_ms (< 0: no limit; an interrupted wait
// goes on for what is left). True when it has exited.
bool wait_pidfd_exit(int pidfd, int timeout_ms);

}  // namespace skiff
