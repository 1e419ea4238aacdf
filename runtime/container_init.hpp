// The child half of the launch handshake (runtime/sync.hpp): everything the container's
// first process does to itself between clone and execve.
#pragma once

#include <sys/types.h>

#include "runtime/launcher.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/sync.hpp"

namespace skiff::runtime {

struct ChildContext {
    const LaunchRequest* request;
    const NamespacePlan* namespaces;
    SyncChannel* channel;
    SeccompFilter* seccomp;  // may be null
    // O_PATH fd of the exec fifo, opened by the parent: the child may be unable to search the
    // state directory (a user namespace, a non-root process.user) and reopens it through
    // /proc/self/fd.
    int exec_fifo = -1;
    // Sealed memfd of the exec stub (runtime/cloned_binary.hpp), or -1: exec directly.
    int exec_stub = -1;
};

// Runs in the freshly cloned child; reports failure over the channel and exits.
[[noreturn]] void run_container_child(ChildContext& ctx);

// Join namespaces by path: all fds are opened first (paths are host paths, and joining the
// mount namespace changes what a path means), then joined in order.
Status join_namespaces(const std::vector<std::pair<int, std::string>>& joins);

// Update the "status" field of a state JSON document (hooks at later phases).
std::string with_status(const std::string& state_json, const char* status);

}  // namespace skiff::runtime
