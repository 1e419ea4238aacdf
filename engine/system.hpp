// `system df`, `system prune` and `container prune`: what the store holds, and removing what
// nothing uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "engine/images.hpp"
#include "engine/store.hpp"
#include "engine/volumes.hpp"
#include "image/store.hpp"
#include "state/container_store.hpp"

namespace skiff::engine {

struct DiskUsage {
    struct ImageUsage {
        image::ImageRecord record;
        std::string repository = "<none>";  // familiar name of its first tag
        std::string tag = "<none>";
        int64_t size = 0;         // all its layers
        int64_t shared_size = 0;  // its layers that other images use too
        int containers = 0;       // records using it
    };
    struct ContainerUsage {
        state::ContainerRecord record;  // reconciled (a dead PID 1 shows as exited)
        int64_t size = 0;               // its upper dir (Docker's SizeRw)
        int volumes = 0;                // volume mounts
    };
    struct VolumeUsage {
        Volume volume;
        int links = 0;  // containers mounting it
        int64_t size = 0;
    };
    std::vector<ImageUsage> images;  // newest first
    std::vector<ContainerUsage> containers;
    std::vector<VolumeUsage> volumes;
    int64_t images_size = 0;         // layers counted once however many images share them
    int64_t images_reclaimable = 0;  // layers no image in use needs
    int active_images = 0;
};
Result<DiskUsage> disk_usage(const Store& store);

// The engine's notion of "stopped": anything not running or paused (Docker's !IsRunning).
bool is_stopped(const state::ContainerRecord& record);

struct ContainerPruneReport {
    std::vector<std::string> deleted;  // full ids
    int64_t reclaimed = 0;             // bytes of their upper dirs
    std::vector<Error> failures;       // containers that could not go (Docker goes on too)
};
// `container prune`: every stopped container, through remove_container (volumes kept).
Result<ContainerPruneReport> prune_containers(const Store& store);

struct SystemPruneReport {
    ContainerPruneReport containers;
    VolumePruneReport volumes;
    RemovalReport images;
    std::vector<std::string> networks;  // user networks no container uses (names)
    int64_t caches_reclaimed = 0;       // bytes of the seccomp caches dropped
    int64_t reclaimed() const {
        return containers.reclaimed + volumes.reclaimed + images.reclaimed + caches_reclaimed;
    }
};
// Docker's order: stopped containers, then user networks no container uses, then (with
// `volumes`) unused anonymous volumes, then dangling images (every unused image with `all_images`) and unreferenced layers and blobs.
// Last, the seccomp caches (the default profile's OCI form, compiled programs): they keep
// one entry per skiff build and profile ever used, and the next start makes what it needs.
Result<SystemPruneReport> prune_system(const Store& store, bool all_images, bool volumes);

}  // namespace skiff::engine
