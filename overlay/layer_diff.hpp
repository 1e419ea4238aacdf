// A stopped container's upper dir back into an OCI layer (commit, build), its changes as
// `skiff diff` prints them, and a tar of a whole rootfs (export).
//
// The upper dir holds every change as a whole file (mount_rootfs turns redirect_dir and
// metacopy off), deletions as overlayfs whiteouts (0/0 char devices) and replaced
// directories as opaque dirs (trusted.overlay.opaque=y, user.overlay.opaque with
// userxattr). In the tar these become the OCI forms: ".wh.NAME" and "DIR/.wh..wh..opq".
// Nothing here follows a symlink: every node is opened or read relative to its parent's fd
// with O_NOFOLLOW or the l*xattr/readlinkat calls, so a container cannot make us read
// host files.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace skiff {

enum class LayerCompression { none, gzip };

struct DiffOptions {
    LayerCompression compression = LayerCompression::none;
    // The upper was mounted with userxattr (rootless): opaque dirs carry user.overlay.opaque,
    // and user.overlay.* are overlayfs's bookkeeping rather than the container's xattrs.
    bool userxattr = false;
    // Paths relative to the upper ("etc/hosts", "etc") left out of the layer, with
    // everything below them: the mount points the engine made (see engine commit).
    std::set<std::string> exclude;
};

struct DiffResult {
    std::string diff_id;      // "sha256:<hex>" of the uncompressed tar
    int64_t size = 0;         // bytes of the uncompressed tar
    std::string blob_digest;  // "sha256:<hex>" of what was written (== diff_id when uncompressed)
    int64_t blob_size = 0;    // bytes written to out_fd
};

// Write the layer tar of upper_dir to out_fd (not closed). Entries in sorted name order, each
// directory before its contents, numeric owners, mtimes in whole seconds, no atime/ctime:
// the same upper gives the same bytes. Xattrs as Docker keeps them: all but trusted.overlay.*
// (user.overlay.* with userxattr), system.* and security.* other than security.capability.
// Files hardlinked to each other inside the upper become tar hardlinks; sockets are skipped.
Result<DiffResult> write_layer_diff(const std::string& upper_dir, int out_fd, const DiffOptions& options = {});

struct Change {
    enum class Kind { added, changed, deleted };
    Kind kind;
    std::string path;  // "/etc/passwd"

    // Docker's letter: 'A', 'C' or 'D'.
    char letter() const;
    // "C /etc/passwd", as `docker diff` prints it.
    std::string to_string() const;
    bool operator==(const Change&) const = default;
};

// The container's changes for `skiff diff`; lower_dirs top first (as for mount_rootfs).
// A: not in the lower layers; C: in them, or a directory with changes inside; D: deleted
// (a whiteout, or a name a replaced (opaque) directory hides). Deleting a directory is one
// D for it, not one per file. In the order Docker prints: a walk of the upper, names sorted
// within each directory, each directory before its contents.
// Whether the lower layers (top first) show a node at rel ("etc/hosts"), looked up without
// following symlinks, whiteouts and opaque directories applied; *st is filled when so.
bool lower_layers_have(const std::vector<std::string>& lower_dirs, const std::string& rel, struct stat* st);

Result<std::vector<Change>> list_changes(const std::string& upper_dir, const std::vector<std::string>& lower_dirs);

// A tar of the whole tree at rootfs_dir (a mounted container rootfs) for `export`: no
// whiteout handling, never following symlinks, and not descending into other mounts below
// it (the tree's own filesystem only, like tar --one-file-system).
Status export_rootfs(const std::string& rootfs_dir, int out_fd);

// `cp`: a tar of the node `name` in the directory parent_fd ("." for parent_fd itself),
// never followed when it is a symlink, its entry named `as`; a directory goes with
// everything below it (symlinks below are never followed either). as == ".": a directory's
// contents, as "./" and "./NAME...". Returns the bytes of tar written to out_fd.
Result<int64_t> write_copy_tar(int parent_fd, const std::string& name, const std::string& as, int out_fd);

}  // namespace skiff
