// The container commands beyond the lifecycle: commit, diff, export, pause, unpause, restart,
// rename, top and port (Docker's names and wording).
//
// commit turns the container's upper dir into one more layer on top of its image's: the
// layer blob (tar+gzip) goes to the blob store, the same blob is unpacked into the layer
// store (so its diff id is checked once more), and a new config and OCI manifest record the
// image with the old one as its parent.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "engine/store.hpp"
#include "overlay/layer_diff.hpp"

namespace skiff::engine {

struct CommitOptions {
    std::string reference;             // REPOSITORY[:TAG] as typed; "" = an untagged image
    std::string message;               // -m: the history entry's comment
    std::string author;                // -a
    std::vector<std::string> changes;  // -c: Dockerfile instructions, as for import
    bool pause = true;                 // -p: freeze a running container while its diff is taken
};
// The new image's id ("sha256:<hex>").
Result<std::string> commit_container(const Store& store, std::string_view container, const CommitOptions& options);

// `diff`: what the container changed against its image, in Docker's order. The files the
// engine bind-mounts over (/etc/hosts, /etc/hostname, /etc/resolv.conf) are left out: Docker
// keeps their mount points in an init layer below the container's own.
Result<std::vector<Change>> container_changes(const Store& store, std::string_view container);

// `export`: a tar of the container's whole file system to out_fd. A container that is not
// running has its rootfs mounted for the time of the export.
Status export_container(const Store& store, std::string_view container, int out_fd);

// `pause`/`unpause`: the runtime's freezer, and the record's status paused/running.
// Err "Container ID is not running" / "Container ID is already paused" / "Container ID is not paused".
Status pause_container(const Store& store, std::string_view container);
Status unpause_container(const Store& store, std::string_view container);

// `restart`: stop (timeout as for stop; -1 the container's own), then start detached.
Status restart_container(const Store& store, std::string_view container, int timeout);

// `rename OLD NEW`.
Status rename_container(const Store& store, std::string_view container, std::string_view new_name);

// `top`: the host pids of every process in a running container.
// Err "Container ID is not running".
Result<std::vector<pid_t>> container_processes(const Store& store, std::string_view container);

// `port`: the published ports as recorded ("0.0.0.0:8080->80/tcp").
Result<std::vector<std::string>> container_ports(const Store& store, std::string_view container);

}  // namespace skiff::engine
