#include "engine/store.hpp"

#include "image/manifest_write.hpp"

#include <unistd.h>

#include <cstdlib>

#include "common/clock.hpp"
#include "common/digest.hpp"
#include "common/fs.hpp"

namespace skiff::engine {

namespace {

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

}  // namespace

StoreOptions default_store_options() {
    StoreOptions o;
    uid_t uid = ::geteuid();
    if (uid == 0) {
        o.root = "/var/lib/skiff";
        o.runroot = "/run/skiff";
    } else {
        std::string data = env_or_empty("XDG_DATA_HOME");
        if (data.empty()) {
            std::string home = env_or_empty("HOME");
            // Without HOME there is no per-user place; a uid-named dir in /tmp at least
            // keeps users apart.
            data = home.empty() ? "/tmp/skiff-" + std::to_string(uid) + "-data" : path_join(home, ".local/share");
        }
        o.root = path_join(data, "skiff");
        std::string runtime = env_or_empty("XDG_RUNTIME_DIR");
        o.runroot = runtime.empty() ? "/tmp/skiff-" + std::to_string(uid) : path_join(runtime, "skiff");
    }
    if (auto v = env_or_empty("SKIFF_ROOT"); !v.empty()) o.root = v;
    if (auto v = env_or_empty("SKIFF_RUNROOT"); !v.empty()) o.runroot = v;
    return o;
}

Store::Store(StoreOptions store_options)
    : options(std::move(store_options)), blobs(options.root), images(options.root), layers(options.root) {}

Status Store::prepare() const {
    // Rootless: other users must not read the images (they may hold secrets).
    mode_t mode = ::geteuid() == 0 ? 0755 : 0700;
    for (const char* sub : {"", "blobs", "blobs/sha256", "blobs/tmp", "layers"})
        SKIFF_CHECK(with_context(mkdir_p(*sub ? path_join(options.root, sub) : options.root, mode),
                                 "prepare store"));
    return ok();
}

Result<image::StoreLock> Store::lock_for_adding() const {
    return image::StoreLock::acquire(path_join(options.root, "store.lock"), image::StoreLock::Mode::shared);
}

Result<image::StoreLock> Store::lock_for_collecting() const {
    return image::StoreLock::acquire(path_join(options.root, "store.lock"), image::StoreLock::Mode::exclusive);
}

Result<image::ImageRecord> record_image(const Store& store, const std::string& manifest_digest,
                                        const std::string& manifest_media_type,
                                        const std::string& config_digest,
                                        const image::ImageConfig& config,
                                        const std::vector<std::string>& repo_tags,
                                        const std::vector<std::string>& repo_digests,
                                        const std::string& parent) {
    SKIFF_CHECK(with_context(parse_digest(config_digest), "image config"));
    image::ImageRecord r;
    r.id = config_digest;
    r.manifest_digest = manifest_digest;
    r.manifest_media_type = manifest_media_type;
    r.repo_tags = repo_tags;
    r.repo_digests = repo_digests;
    r.diff_ids = config.diff_ids;
    r.layers = chain_ids(config.diff_ids);
    r.parent = parent;
    r.created = config.created;
    for (const auto& id : r.layers) {
        auto layer = store.layers.get(id);
        if (!layer) return std::unexpected(std::move(layer).error().context("record image " + config_digest));
        r.size += layer->size;
    }
    r.added = rfc3339_now();
    SKIFF_CHECK(store.images.add(r));
    return r;
}

Result<image::ImageRecord> store_oci_image(const Store& store, const image::ImageConfig& config,
                                           const std::vector<image::Descriptor>& layers,
                                           const std::vector<std::string>& repo_tags, const std::string& parent) {
    std::string config_bytes = image::image_config_json(config);
    SKIFF_TRY(config_digest, store.blobs.put_computed(config_bytes));
    image::Manifest manifest;
    manifest.media_type = std::string(image::kOciManifest);
    manifest.config = {std::string(image::kOciConfig), config_digest, static_cast<int64_t>(config_bytes.size()),
                       std::nullopt, {}};
    manifest.layers = layers;
    SKIFF_TRY(manifest_digest, store.blobs.put_computed(image::manifest_json(manifest)));
    return record_image(store, manifest_digest, manifest.media_type, config_digest, config, repo_tags, {}, parent);
}

}  // namespace skiff::engine
