// CVE-2019-5736: a container process that execs /proc/self/exe while it is still a clone
// of the runtime runs the runtime's own binary, and could then rewrite it on the host.
// Before entering any container the runtime re-executes itself from a sealed memfd copy,
// so /proc/self/exe of everything it clones is a file nobody can write (runc and crun do
// the same).
#pragma once

#include "common/result.hpp"

namespace skiff::runtime {

// True when the running binary is already a sealed copy.
bool running_from_sealed_copy();

// Copy /proc/self/exe into a sealed memfd and fexecve it with the same argv and environ.
// Returns only on failure.
Status reexec_from_sealed_copy(char** argv);

}  // namespace skiff::runtime
