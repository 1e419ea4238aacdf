// Safe unpacking of one image layer (tar, tar+gzip, tar+zstd) into a directory.
//
// Layer tars are untrusted: every entry is created under dest through fds resolved with
// openat2(RESOLVE_IN_ROOT) and *at() calls with O_NOFOLLOW, so no name, symlink or hardlink
// in the tar can make us write outside dest (design.md section 6).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

struct archive;

namespace skiff {

struct UnpackOptions {
    // Devices, whiteout char devices and trusted.* xattrs need root; without it they are
    // skipped (devices) or recorded in LayerStats (whiteouts, opaque dirs).
    bool privileged = ::geteuid() == 0;
    // chown entries to their tar owners (after map_owner, when set).
    bool set_owners = ::geteuid() == 0;
    // Rootless: map a tar uid/gid to the host ids to chown to (e.g. add a subuid offset).
    std::function<std::pair<uid_t, gid_t>(uid_t, gid_t)> map_owner;
    // Layers: ".wh.NAME" entries are whiteouts. false (cp): they are plain names.
    bool whiteouts = true;
    // cp: an existing directory is never replaced by a non-directory nor the other way round
    // (Docker's NoOverwriteDirNonDir); layers replace them as tar does.
    bool no_overwrite_dir_nondir = false;
};

struct LayerStats {
    uint64_t files = 0;          // regular files, hardlinks included
    uint64_t dirs = 0;
    uint64_t symlinks = 0;
    uint64_t hardlinks = 0;
    uint64_t bytes = 0;          // regular file content written
    uint64_t skipped_devices = 0;  // device nodes not created (not privileged)
    uint64_t skipped_xattrs = 0;   // security.*/trusted.* xattrs the kernel refused
    // Whiteouts not turned into 0/0 char devices / opaque xattrs (not privileged); paths
    // relative to the layer root, e.g. "etc/old.conf", "var/cache".
    std::vector<std::string> whiteouts;
    std::vector<std::string> opaque_dirs;
    // "sha256:<hex>" of the uncompressed tar stream: the OCI diff id, computed in the same pass.
    std::string diff_id;
};

// Let `reader` (a libarchive read handle) decompress what image layers and archives come as:
// gzip, zstd, bzip2, xz. Never support_filter_all: it would run external programs (lrzip,
// lzop, ...) on untrusted input.
void support_layer_compressions(struct archive* reader);

// Unpack the layer read from fd (not closed; read to its end) into dest_dir. Work happens in
// "<dest_dir>.tmp-<pid>", renamed to dest_dir only when complete; on error it is removed and
// the error names the entry.
Result<LayerStats> unpack_layer(int fd, const std::string& dest_dir, const UnpackOptions& options = {});

// `cp`: the tar (plain or compressed) read from fd extracted in place into the existing
// directory dir_fd (an O_PATH fd is enough), with the same confinement as unpack_layer:
// dir_fd is the root no entry, symlink or hardlink can leave. Set options.whiteouts = false
// for plain archives. Errors name the entry ("archive entry a/b: ..."); what was extracted
// before an error stays.
Result<LayerStats> extract_archive(int fd, int dir_fd, const UnpackOptions& options);

}  // namespace skiff
