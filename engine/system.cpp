#include "engine/system.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "common/fs.hpp"
#include "common/log.hpp"
#include "engine/container_network.hpp"
#include "engine/containers.hpp"

namespace skiff::engine {
namespace {

int64_t upper_size(const state::ContainerStore& containers, const std::string& id) {
    return directory_size(path_join(containers.dir_of(id), "upper"));
}

}  // namespace

bool is_stopped(const state::ContainerRecord& record) {
    return record.status != state::Status::running && record.status != state::Status::paused &&
           record.status != state::Status::removing;
}

Result<DiskUsage> disk_usage(const Store& store) {
    DiskUsage usage;

    // Containers first: image and volume activity is derived from their records.
    auto containers = container_store(store);
    SKIFF_TRY(records, containers.list());
    std::map<std::string, int> image_users;
    for (const auto& found : records) {
        auto record = reconcile(store, found);
        DiskUsage::ContainerUsage row;
        row.record = record ? *record : found;
        row.size = upper_size(containers, row.record.id);
        for (const auto& m : row.record.mounts)
            if (m.type == "volume") ++row.volumes;
        ++image_users[row.record.image_id];
        usage.containers.push_back(std::move(row));
    }

    SKIFF_TRY(images, store.images.list());
    std::map<std::string, int> layer_images;  // chain id -> images using it
    std::map<std::string, int64_t> layer_size;
    for (const auto& image : images) {
        for (const auto& layer : std::set<std::string>(image.layers.begin(), image.layers.end())) {
            ++layer_images[layer];
            if (!layer_size.contains(layer)) {
                auto record = store.layers.get(layer);
                layer_size[layer] = record ? record->size : 0;
            }
        }
    }
    std::set<std::string> active_layers;
    for (const auto& image : images)
        if (image_users.contains(image.id)) active_layers.insert(image.layers.begin(), image.layers.end());
    for (const auto& [layer, size] : layer_size) {
        usage.images_size += size;
        if (!active_layers.contains(layer)) usage.images_reclaimable += size;
    }

    // One row per image, named by its first tag as Docker's `df -v` does.
    SKIFF_TRY(rows, list_images(store, ImageFilters{}));
    std::set<std::string> listed;
    for (const auto& row : rows) {
        if (!listed.insert(row.record.id).second) continue;
        DiskUsage::ImageUsage u;
        u.record = row.record;
        u.repository = row.repository;
        u.tag = row.tag;
        for (const auto& layer : std::set<std::string>(row.record.layers.begin(), row.record.layers.end())) {
            u.size += layer_size[layer];
            if (layer_images[layer] > 1) u.shared_size += layer_size[layer];
        }
        if (auto it = image_users.find(row.record.id); it != image_users.end()) u.containers = it->second;
        if (u.containers > 0) ++usage.active_images;
        usage.images.push_back(std::move(u));
    }

    SKIFF_TRY(volumes, list_volumes(store));
    auto users = volume_users(store);
    for (auto& volume : volumes) {
        DiskUsage::VolumeUsage u;
        u.size = directory_size(volume.mountpoint);
        if (auto it = users.find(volume.name); it != users.end()) u.links = static_cast<int>(it->second.size());
        u.volume = std::move(volume);
        usage.volumes.push_back(std::move(u));
    }
    return usage;
}

Result<ContainerPruneReport> prune_containers(const Store& store) {
    ContainerPruneReport report;
    auto containers = container_store(store);
    // What killed removals left (a `run --rm` whose remover died, an `rm` killed midway),
    // untouched for a minute so a live remover is spared.
    if (auto swept = containers.remove_stale(); !swept) report.failures.push_back(swept.error());
    if (auto swept = runtime::remove_stale_state(runtime_options(store)); !swept)
        report.failures.push_back(swept.error());
    SKIFF_TRY(records, containers.list());
    for (const auto& found : records) {
        auto record = reconcile(store, found);
        if (!record) {
            report.failures.push_back(record.error());
            continue;
        }
        if (!is_stopped(*record)) continue;
        int64_t size = upper_size(containers, record->id);
        // Not forced: a container started since the listing is refused, not killed.
        auto removed = remove_container(store, record->id, false, false);
        if (!removed) {
            // Gone meanwhile (its own --rm, another prune): nothing to report.
            if (removed.error().code != ENOENT) report.failures.push_back(removed.error());
            continue;
        }
        report.deleted.push_back(record->id);
        report.reclaimed += size;
    }
    return report;
}

Result<SystemPruneReport> prune_system(const Store& store, bool all_images, bool volumes) {
    SystemPruneReport report;
    SKIFF_TRY(containers, prune_containers(store));
    report.containers = std::move(containers);
    SKIFF_TRY(networks, prune_networks(store));
    report.networks = std::move(networks);
    if (volumes) {
        SKIFF_TRY(pruned, prune_volumes(store, false));
        report.volumes = std::move(pruned);
    }
    SKIFF_TRY(images, prune_images(store, all_images));
    report.images = std::move(images);
    // A start reading an entry as it goes finds it missing and builds it again. One writing
    // an entry meanwhile can make the removal fail: only a warning, the rest is done.
    for (const std::string& cache : {seccomp_oci_cache_dir(store), runtime::seccomp_cache_dir(runtime_options(store).root)}) {
        const int64_t size = directory_size(cache);
        if (auto removed = remove_tree(cache); !removed)
            log::warn("seccomp cache not dropped: " + removed.error().message());
        else
            report.caches_reclaimed += size;
    }
    return report;
}

}  // namespace skiff::engine
