// The engine's view of one store: where it lives (--root/--runroot, or the defaults for this
// user) and the three parts of it the image commands use together.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "image/manifest.hpp"
#include "image/store.hpp"
#include "overlay/layer_store.hpp"

namespace skiff::engine {

struct StoreOptions {
    std::string root;     // /var/lib/skiff as root; ${XDG_DATA_HOME:-~/.local/share}/skiff otherwise
    std::string runroot;  // /run/skiff as root; ${XDG_RUNTIME_DIR:-/tmp/skiff-<uid>}/skiff otherwise
};

// The defaults for the effective user (design.md section 4). SKIFF_ROOT / SKIFF_RUNROOT in
// the environment override them (tests and benchmarks use --root, users may prefer these).
StoreOptions default_store_options();

struct Store {
    explicit Store(StoreOptions store_options);
    StoreOptions options;
    image::BlobStore blobs;
    image::ImageStore images;
    // Mutable: a LayerStore holds only its root path, its operations act on the disk (the
    // engine passes a const Store everywhere, as the blob and image stores' methods are const).
    mutable LayerStore layers;

    // Creates the directories (mode 0700 for a rootless store). Call before writing.
    Status prepare() const;
    // Held while adding content (pull, load, import, commit).
    Result<image::StoreLock> lock_for_adding() const;
    // Held while deleting content nothing references (rmi, prune, system check --repair).
    Result<image::StoreLock> lock_for_collecting() const;
};

// Record an image whose manifest and config blobs are stored and whose layers are unpacked
// (layers = chain ids of config.diff_ids). Tags/digests are full references
// ("docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:..."). The record's
// size is the sum of its layers' sizes. The image id is config_digest ("sha256:<hex>" of the
// config blob, as in Docker).
Result<image::ImageRecord> record_image(const Store& store, const std::string& manifest_digest,
                                        const std::string& manifest_media_type,
                                        const std::string& config_digest,
                                        const image::ImageConfig& config,
                                        const std::vector<std::string>& repo_tags,
                                        const std::vector<std::string>& repo_digests,
                                        const std::string& parent = "");

// For images skiff makes itself (import, commit): the config and an OCI manifest naming
// `layers` (their blobs already stored, lowest first) are written to the blob store, then the
// image is recorded as above.
Result<image::ImageRecord> store_oci_image(const Store& store, const image::ImageConfig& config,
                                           const std::vector<image::Descriptor>& layers,
                                           const std::vector<std::string>& repo_tags,
                                           const std::string& parent = "");

}  // namespace skiff::engine
