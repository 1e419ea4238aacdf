// Path resolution confined to a root directory.
//
// Container rootfs contents are untrusted: a symlink at /proc inside the rootfs may point to
// /etc on the host. Every lookup below resolves with openat2(RESOLVE_IN_ROOT), so ".." and
// absolute symlinks stop at the root, and returns an fd (O_PATH where asked) that later
// operations use through /proc/self/fd/N, closing the window for a swap (CVE-2021-30465).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff {

// Open `path` (absolute or relative, either way taken inside root) under root_fd.
// Symlinks are followed, but never out of root. `flags` are open(2) flags.
Result<UniqueFd> open_in_root(int root_fd, const std::string& path, int flags, mode_t mode = 0);

// Ensure a directory exists at `path` inside root (mkdir -p, each step resolved in root).
// Returns an O_PATH fd of the directory.
Result<UniqueFd> mkdir_in_root(int root_fd, const std::string& path, mode_t mode = 0755);

// Ensure a regular file exists at `path` inside root (parents created); returns an O_PATH fd.
Result<UniqueFd> mkfile_in_root(int root_fd, const std::string& path, mode_t mode = 0644);

// "/proc/self/fd/N": the path through which mount(2) and friends reach an fd's file.
std::string fd_path(int fd);

// Lexically clean a path: collapse "//", ".", and ".." (never above "/" for absolute paths).
std::string clean_path(const std::string& path);
// "a//b/c/" -> {"a", "b", "c"}: the names between slashes, empty ones skipped.
std::vector<std::string> split_components(const std::string& path);
// A sysctl's file: "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward"; nothing when
// the key would name another path ("..", empty parts).
std::optional<std::string> sysctl_file(const std::string& key);

// The real path an fd refers to (readlink of /proc/self/fd/N).
Result<std::string> fd_real_path(int fd);

}  // namespace skiff
