// Rootless containers: the user's own user + mount namespace, where overlayfs may be mounted.
//
// An unprivileged user cannot mount overlayfs on the host, but can in a user namespace it
// owns (Linux >= 5.11, with the userxattr option). As podman does, every rootless skiff
// command that mounts a container's rootfs first joins one long-lived namespace pair per
// user, held open by a tiny "pause" process (pid in <runroot>/pause.pid, made again when
// gone, under <runroot>/pause.lock). So a detached container's rootfs, mounted by `run -d`,
// is the one `exec`, `cp`, `diff`, `commit`, `stop` and `rm` see later.
//
// The namespace maps the user to itself ("U U 1", setgroups denied): inside it the user
// keeps its uid, so everything that asks "am I root?" (store paths, networking, cgroups)
// answers as before, and the joining process holds its capabilities there as ambient ones,
// so they survive skiff's own re-execs (sealed copy, skiff-monitor and back). Containers get
// a user namespace of their own mapping their root to the user (rootless_spec below).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace skiff::engine {

// True when this skiff command line (arguments after the program name) may mount a
// container's rootfs and so has to run in the user's namespace when not root.
// The first two words of a command line after skiff's global options ("container" skipped):
// {"run"}, {"network", "ls"}.
std::vector<std::string> command_words(const std::vector<std::string>& args);
bool rootless_command_needs_namespace(const std::vector<std::string>& args);

// Not root and not already in a user namespace: join the user's namespace (making its pause
// process first when there is none). args: the command line, for its --runroot.
// Must run while the process has a single thread.
Status enter_rootless_namespace(const std::vector<std::string>& args);

// The pid file of the user's pause process under runroot.
std::string pause_pid_file(const std::string& runroot);

// A rootless container's spec: its own user namespace mapping root to the user, no cgroup
// (none can be made here unless delegated), no uid=/gid= mount options naming unmapped ids.
// -m/--cpus/--pids-limit without a usable cgroup: an error. Nothing changes for root.
Status rootless_spec(nlohmann::json& spec);

}  // namespace skiff::engine
