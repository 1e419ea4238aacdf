// The last steps before execve, shared by a container's first process and by `exec`:
// rlimits, user and groups, capabilities, no_new_privs, seccomp, the executable lookup and
// the working directory check.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

Status apply_rlimits(const std::vector<Rlimit>& rlimits);

// setgroups/setgid/setuid with capabilities kept as the spec asks; bounding set dropped
// first. `setgroups_allowed` is false in a user namespace whose setgroups file says deny.
// `seccomp` (may be null) is loaded at the right moment: before the uid change when
// no_new_privs is off (loading then needs CAP_SYS_ADMIN), else last, after no_new_privs.
Status apply_identity_and_security(const Process& process, SeccompFilter* seccomp,
                                   bool setgroups_allowed);

// Resolve args[0] the way execvpe would, with PATH from the process env (or the default
// PATH). Error (ENOENT/EACCES) reads like: exec: "foo": executable file not found in $PATH.
Result<std::string> find_executable(const std::string& name, const std::vector<std::string>& env);

// chdir(cwd), then refuse a cwd that resolved outside the container's root (a leaked
// host fd as /proc/self/fd/N: CVE-2024-21626).
Status enter_working_directory(const std::string& cwd);

// Close every fd >= 3 except those in `keep` (and 3..3+preserve-1). Closed, not marked
// close-on-exec: execve would still resolve "/proc/self/fd/N/..." through them.
Status close_fds_on_exec(const std::vector<int>& keep, int preserve_fds);

// A NULL-terminated char* array view over strings (valid while `strings` lives).
std::vector<char*> to_argv(std::vector<std::string>& strings);

}  // namespace skiff::runtime
