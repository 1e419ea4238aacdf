// CVE-2019-5736: a container process that execs /proc/self/exe while it is still a clone
// of the runtime runs the runtime's own binary, and could then rewrite it on the host.
// Before entering any container the runtime re-executes itself from a sealed memfd copy,
// so /proc/self/exe of everything it clones is a file nobody can write (runc and crun do
// the same).
//
// skiff's engine does not re-execute for `run`/`start` (it costs a copy of the whole binary
// and a second dynamic start, ~4 ms): its containers always get a new pid namespace, where
// nothing else can see PID 1 before it execs, and PID 1 is non-dumpable until then. What is
// left is the execve itself: an entrypoint that is (a link to) /proc/self/exe would run the
// host binary inside the container. So a process launched from a binary that is not a sealed
// copy execs through a sealed memfd holding a tiny stub (runtime/exec_stub) instead, which
// execs the real path: /proc/self/exe is then the stub, never a host file. `exec` into a
// running container and the OCI runtime's commands still re-execute from a sealed copy.
#pragma once

#include <string>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::runtime {

// True when the running binary is already a sealed copy.
bool running_from_sealed_copy();

// Copy /proc/self/exe into a sealed memfd and fexecve it with the same argv and environ.
// Returns only on failure.
Status reexec_from_sealed_copy(char** argv);

// A sealed memfd holding the exec stub, or an invalid fd when this binary is itself a
// sealed copy (nothing to guard). Close-on-exec: gone once the stub runs.
Result<UniqueFd> sealed_exec_stub_if_needed();

// A container process's last step: execve(path, argv, envp), through the stub when
// stub_fd >= 0. On failure: one line on stderr, exit 127 (not found) or 126.
[[noreturn]] void exec_container_process(const std::string& path, char* const argv[], char* const envp[], int stub_fd);

}  // namespace skiff::runtime
