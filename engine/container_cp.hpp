// `cp`: files and directories between a container and the host, both ways, for running,
// created and stopped containers, with Docker's path rules:
//
//   SRC file, DEST missing            -> a file at DEST (its parent must exist)
//   SRC file, DEST missing, ends "/"  -> error "no such directory"
//   SRC file, DEST an existing file   -> DEST overwritten
//   SRC any,  DEST an existing dir    -> DEST/basename(SRC)
//   SRC dir,  DEST missing            -> DEST made as a copy of SRC
//   SRC dir,  DEST an existing file   -> error "cannot copy directory"
//   SRC "dir/." and DEST a dir        -> the contents of dir into DEST
//   "-" as SRC: a tar on stdin extracted into DEST (a directory); as DEST: a tar on stdout.
//
// Every path inside the container is resolved in the container's scope: component by
// component, each one opened with openat2(RESOLVE_IN_ROOT) under the root it lives in (the
// rootfs, or the host source of a bind mount or volume the container has there), symlinks
// read and followed as the container would see them, ".." stopping at "/". Nothing a
// container holds (a symlink to /etc/shadow, "../../../..") can make skiff read or write a
// host file. The copy itself is a tar written by overlay/layer_diff (never following
// symlinks) and extracted by overlay/unpack (confined to the destination directory).
//
// A stopped or created container has its rootfs mounted for the copy and unmounted after;
// its lock is held throughout (as for export), so a start waits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "engine/store.hpp"

namespace skiff::engine {

struct CopyOptions {
    // -a: keep the uid/gid of the source. Without it, files copied into a container belong
    // to its root, files copied out to the user running skiff (as in Docker).
    bool archive = false;
    // -L: a symlink named as SRC is followed (the copy keeps the link's name).
    bool follow_link = false;
};

// CONTAINER:SRC -> DEST on the host; DEST "-" writes a tar to out_fd. Returns the bytes of
// tar copied. Err "No such container:path: CONTAINER:SRC" (ENOENT) when the container or the
// path is not there.
Result<int64_t> copy_from_container(const Store& store, std::string_view container, const std::string& src,
                                    const std::string& dest, const CopyOptions& options, int out_fd);

// SRC on the host -> CONTAINER:DEST; SRC "-" reads a tar from in_fd. Returns the bytes of
// tar copied (0 for "-"). Err "No such container: NAME", "Could not find the file DIR in
// container NAME", "container rootfs is marked read-only", "mounted volume is marked
// read-only".
Result<int64_t> copy_to_container(const Store& store, std::string_view container, const std::string& src,
                                  const std::string& dest, const CopyOptions& options, int in_fd);

}  // namespace skiff::engine
