// skiff pull: manifest (and index) -> config -> layers, each layer streamed once from the
// registry through the blob store's digest check and into the layer store's unpacker.
//
// Per layer, two threads: the downloader writes each chunk to the blob file (hashed) and to
// a socket; the unpacker reads that socket with libarchive (decompress, hash the tar for the
// diff id, create entries). Nothing is read back from disk. Up to parallel_layers layers move
// at once. The image is recorded only when every blob matched its digest and every layer its
// diff id; blobs already verified stay, so a later pull resumes from them.
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "engine/images.hpp"
#include "engine/registry_access.hpp"
#include "image/manifest.hpp"
#include "image/registries.hpp"
#include "image/registry_client.hpp"

namespace skiff::engine {
namespace {

struct LayerJob {
    image::Descriptor blob;
    std::string diff_id;
    std::string chain_id;
    std::string parent;
    size_t progress_item = 0;
};

std::string short_hex(std::string_view digest) {
    auto colon = digest.find(':');
    return std::string(digest.substr(colon == std::string_view::npos ? 0 : colon + 1, 12));
}

// Send to the unpacker without SIGPIPE when it has stopped reading (it failed: its error is
// the one to report).
Status send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("hand layer data to the unpacker");
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
    return ok();
}

class LayerPuller {
public:
    LayerPuller(const Store& store, image::RegistryClient& client, Progress& progress, std::atomic<bool>& cancelled)
        : store_(store), client_(client), progress_(progress), cancelled_(cancelled) {}

    Status pull(const LayerJob& job) {
        if (store_.layers.has(job.chain_id)) {
            progress_.finish(job.progress_item, "Already exists");
            return ok();
        }
        if (store_.blobs.has(job.blob.digest)) {
            // Verified earlier (an interrupted pull, or another image): unpack from the store.
            progress_.set_state(job.progress_item, "Extracting");
            SKIFF_TRY(fd, store_.blobs.open(job.blob.digest));
            SKIFF_CHECK(store_.layers.unpack(fd.get(), job.diff_id, job.parent));
            progress_.finish(job.progress_item, "Pull complete");
            return ok();
        }
        return download_and_unpack(job);
    }

private:
    Status download_and_unpack(const LayerJob& job) {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return sys_error("socketpair");
        UniqueFd reader(pair[0]), writer_end(pair[1]);
        SKIFF_TRY(blob, store_.blobs.begin_write());

        // The unpacked layer is published only after the blob it came from matched its
        // digest and size: the downloader commits the blob before it ends the stream, and
        // the unpacker asks for that verdict before renaming the layer into place.
        std::promise<Status> blob_verdict;
        auto verdict = blob_verdict.get_future();
        Result<LayerRecord> unpacked = fail("not unpacked");
        std::thread unpacker([&] {
            unpacked = store_.layers.unpack(reader.get(), job.diff_id, job.parent, UnpackOptions{},
                                            [&]() -> Status { return verdict.get(); });
            // Stop the downloader early when the layer was refused.
            ::shutdown(reader.get(), SHUT_RDWR);
        });
        progress_.set_state(job.progress_item, "Downloading");
        // When the unpacker refuses the layer, the download still runs to its end into the
        // blob file only: a blob that does not match its digest is the cause to report (the
        // unpacker just saw garbage), a blob that does was refused for what it contains.
        bool unpacker_gone = false;
        auto streamed = client_.stream_blob(job.blob.digest, [&](const char* data, size_t size) -> Status {
            if (cancelled_) return fail("cancelled");
            SKIFF_CHECK(blob.write(data, size));
            if (blob.written() > job.blob.size)
                return fail("blob " + job.blob.digest + " is larger than the " + std::to_string(job.blob.size) +
                            " bytes the manifest says");
            if (!unpacker_gone && !send_all(writer_end.get(), data, size)) unpacker_gone = true;
            progress_.advance(job.progress_item, static_cast<int64_t>(size));
            return ok();
        });
        Status committed = streamed ? blob.commit(job.blob.digest, job.blob.size) : Status(std::unexpected(streamed.error()));
        blob_verdict.set_value(committed);
        ::shutdown(writer_end.get(), SHUT_WR);  // end of stream for the unpacker
        unpacker.join();

        if (!streamed) return std::unexpected(streamed.error());
        // The registry sent other bytes than the manifest names: refused, and no layer made.
        if (!committed) return std::unexpected(committed.error());
        if (!unpacked) {
            (void)store_.blobs.remove(job.blob.digest);  // verified, but its content was refused
            return std::unexpected(unpacked.error().context("layer " + job.blob.digest));
        }
        progress_.finish(job.progress_item, "Pull complete");
        return ok();
    }

    const Store& store_;
    image::RegistryClient& client_;
    Progress& progress_;
    std::atomic<bool>& cancelled_;
};

Status pull_layers(const Store& store, image::RegistryClient& client, std::vector<LayerJob>& jobs,
                   int parallel, Progress& progress) {
    std::atomic<size_t> next{0};
    std::atomic<bool> cancelled{false};
    std::vector<Status> results(jobs.size());
    auto worker = [&] {
        LayerPuller puller(store, client, progress, cancelled);
        for (size_t i; (i = next++) < jobs.size();) {
            if (cancelled) {
                results[i] = fail("cancelled");
                continue;
            }
            results[i] = puller.pull(jobs[i]);
            if (!results[i]) cancelled = true;
        }
    };
    size_t threads = std::min<size_t>(std::max(parallel, 1), jobs.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    if (threads > 0) worker();
    for (auto& t : pool) t.join();
    // The first real failure, not a "cancelled" that followed it.
    for (auto& r : results)
        if (!r && r.error().what != "cancelled") return r;
    for (auto& r : results)
        if (!r) return r;
    return ok();
}

struct Resolved {
    std::string top_digest;  // what the reference points at (an index or the manifest)
    std::string top_body;
    std::string top_media_type;
    std::string manifest_digest;
    std::string manifest_body;
    image::Manifest manifest;
};

Result<Resolved> resolve_manifest(image::RegistryClient& client, const image::Endpoint& endpoint,
                                  const image::Reference& reference, const image::Platform& platform) {
    Resolved out;
    SKIFF_TRY(fetched, client.get_manifest(endpoint.reference, image::kMaxManifestBytes));
    out.top_digest = sha256_digest(fetched.body);
    if (!reference.digest.empty() && out.top_digest != reference.digest)
        return fail("manifest for " + reference.familiar() + " hashed to " + out.top_digest + ", not the digest asked for");
    SKIFF_TRY(parsed, image::parse_manifest(fetched.body, fetched.content_type));
    out.top_body = fetched.body;
    if (auto* manifest = std::get_if<image::Manifest>(&parsed)) {
        out.top_media_type = manifest->media_type;
        out.manifest_digest = out.top_digest;
        out.manifest_body = std::move(fetched.body);
        out.manifest = std::move(*manifest);
        return out;
    }
    auto& index = std::get<image::Index>(parsed);
    out.top_media_type = index.media_type;
    SKIFF_TRY(chosen, image::choose_platform(index, platform));
    SKIFF_TRY(inner, client.get_manifest(chosen.digest, image::kMaxManifestBytes));
    SKIFF_CHECK(verify_digest(inner.body, chosen.digest));
    if (static_cast<int64_t>(inner.body.size()) != chosen.size)
        return fail("manifest " + chosen.digest + " is " + std::to_string(inner.body.size()) + " bytes, the index says " +
                    std::to_string(chosen.size));
    SKIFF_TRY(inner_parsed, image::parse_manifest(inner.body, chosen.media_type));
    auto* manifest = std::get_if<image::Manifest>(&inner_parsed);
    if (!manifest) return fail("index entry " + chosen.digest + " is itself an index");
    out.manifest_digest = chosen.digest;
    out.manifest_body = std::move(inner.body);
    out.manifest = std::move(*manifest);
    return out;
}

Result<PullResult> pull_from(const Store& store, const image::Endpoint& endpoint, std::string_view registry_key,
                             const image::Reference& reference, const PullOptions& options, Progress& progress) {
    SKIFF_TRY(client, connect_endpoint(endpoint, registry_key, options.registry));
    image::Platform platform = options.platform ? *options.platform : image::host_platform();
    SKIFF_TRY(resolved, resolve_manifest(client, endpoint, reference, platform));

    const std::string& config_digest = resolved.manifest.config.digest;
    std::string config_body;
    if (store.blobs.has(config_digest)) {
        SKIFF_TRY(body, store.blobs.read(config_digest, image::kMaxConfigBytes));
        config_body = std::move(body);
    } else {
        if (resolved.manifest.config.size > static_cast<int64_t>(image::kMaxConfigBytes))
            return fail("image config " + config_digest + " is larger than " + std::to_string(image::kMaxConfigBytes) + " bytes");
        SKIFF_TRY(body, client.get_blob(config_digest, image::kMaxConfigBytes));
        SKIFF_CHECK(verify_digest(body, config_digest));
        config_body = std::move(body);
    }
    if (static_cast<int64_t>(config_body.size()) != resolved.manifest.config.size) {
        return fail("image config " + config_digest + " is " + std::to_string(config_body.size()) +
                    " bytes, the manifest says " + std::to_string(resolved.manifest.config.size));
    }
    SKIFF_TRY(config, image::parse_image_config(config_body));
    SKIFF_CHECK(image::check_diff_ids(config, resolved.manifest));
    for (const auto& layer : resolved.manifest.layers) SKIFF_CHECK(image::layer_compression(layer.media_type));
    // An index may say one platform and the config another: trust the config, never run a
    // foreign image silently.
    image::Platform got = image::normalize_platform({config.os, config.architecture, config.variant, "", {}});
    if (got.os != platform.os || got.architecture != platform.architecture)
        return fail("image " + reference.familiar() + " is for " + got.to_string() + ", not " + platform.to_string());

    PullResult result;
    result.digest = resolved.top_digest;
    auto chains = chain_ids(config.diff_ids);
    std::vector<LayerJob> jobs;
    for (size_t i = 0; i < resolved.manifest.layers.size(); ++i) {
        LayerJob job{resolved.manifest.layers[i], config.diff_ids[i], chains[i], i == 0 ? "" : chains[i - 1], 0};
        job.progress_item = progress.add(short_hex(job.blob.digest), job.blob.size);
        if (!store.layers.has(job.chain_id)) result.downloaded = true;
        jobs.push_back(std::move(job));
    }
    SKIFF_CHECK(pull_layers(store, client, jobs, options.parallel_layers, progress));

    SKIFF_CHECK(store.blobs.put(config_body, config_digest));
    SKIFF_CHECK(store.blobs.put(resolved.manifest_body, resolved.manifest_digest));
    if (resolved.top_digest != resolved.manifest_digest) SKIFF_CHECK(store.blobs.put(resolved.top_body, resolved.top_digest));
    std::vector<std::string> tags;
    if (reference.digest.empty()) tags.push_back(reference.to_string());
    std::vector<std::string> digests{reference.name() + "@" + resolved.top_digest};
    SKIFF_TRY(record, record_image(store, resolved.manifest_digest, resolved.manifest.media_type, config_digest,
                                   config, tags, digests));
    result.record = std::move(record);
    return result;
}

}  // namespace

Result<PullResult> pull_image(const Store& store, const image::Reference& reference, const PullOptions& options,
                              Progress& progress) {
    SKIFF_TRY(config, registries_config(options.registry));
    auto resolved = image::resolve(config, reference);
    if (resolved.blocked()) return fail("registry " + reference.registry + " is blocked in registries.conf");
    SKIFF_CHECK(store.prepare());
    SKIFF_TRY(lock, store.lock_for_adding());
    for (size_t i = 0; i < resolved.endpoints.size(); ++i) {
        const auto& endpoint = resolved.endpoints[i];
        bool origin = i + 1 == resolved.endpoints.size();
        auto pulled = pull_from(store, endpoint, origin ? std::string_view(reference.registry) : std::string_view(endpoint.host),
                                reference, options, progress);
        if (pulled || origin) {
            if (!pulled) return std::unexpected(pulled.error().context("pull " + reference.familiar()));
            return pulled;
        }
        // A mirror that fails is skipped, as in podman and Docker; the origin decides.
        progress.message("mirror " + endpoint.host + ": " + pulled.error().message() + "; trying the next endpoint");
    }
    return fail("pull " + reference.familiar() + ": no endpoint to pull from");
}

}  // namespace skiff::engine
