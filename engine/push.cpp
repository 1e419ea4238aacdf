// skiff push: every blob the image's manifest names (skipped when the registry has it,
// mounted from another repository of the same registry when it came from there), then the
// manifest under the destination tag. Also login/logout, which check credentials the same way.
#include <unistd.h>

#include <algorithm>
#include <variant>

#include "engine/images.hpp"
#include "engine/registry_access.hpp"
#include "image/manifest.hpp"
#include "image/registries.hpp"

namespace skiff::engine {
namespace {

std::string short_hex(std::string_view digest) {
    auto colon = digest.find(':');
    return std::string(digest.substr(colon == std::string_view::npos ? 0 : colon + 1, 12));
}

// Repositories on `registry` this image was pulled from or pushed to: blobs can be mounted
// from them instead of uploaded again.
std::vector<std::string> mount_sources(const image::ImageRecord& record, const image::Reference& destination) {
    std::vector<std::string> sources;
    auto consider = [&](const std::string& text) {
        auto ref = image::parse_reference(text);
        if (!ref || ref->registry != destination.registry || ref->repository == destination.repository) return;
        if (std::find(sources.begin(), sources.end(), ref->repository) == sources.end())
            sources.push_back(ref->repository);
    };
    for (const auto& t : record.repo_tags) consider(t);
    for (const auto& d : record.repo_digests) consider(d);
    return sources;
}

Status push_blob(const Store& store, image::RegistryClient& client, const image::Descriptor& blob,
                 const std::vector<std::string>& sources, Progress& progress) {
    size_t item = progress.add(short_hex(blob.digest), blob.size);
    SKIFF_TRY(present, client.blob_exists(blob.digest));
    if (present) {
        progress.finish(item, "Layer already exists");
        return ok();
    }
    for (const auto& source : sources) {
        SKIFF_TRY(mounted, client.mount_blob(blob.digest, source));
        if (mounted) {
            progress.finish(item, "Mounted from " + source);
            return ok();
        }
    }
    if (!store.blobs.has(blob.digest))
        return fail("blob " + blob.digest + " is not in the store (run `skiff system check`)");
    SKIFF_TRY(fd, store.blobs.open(blob.digest));
    progress.set_state(item, "Pushing");
    int raw = fd.get();
    SKIFF_CHECK(client.upload_blob(blob.digest, blob.size, [&](char* buffer, size_t capacity) -> Result<size_t> {
        for (;;) {
            ssize_t n = ::read(raw, buffer, capacity);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return sys_error("read blob " + blob.digest);
            progress.advance(item, n);
            return static_cast<size_t>(n);
        }
    }));
    progress.finish(item, "Pushed");
    return ok();
}

// "https://index.docker.io/v1/" and friends -> "docker.io"; "http://127.0.0.1:5000/" -> host.
std::string registry_key(std::string_view text) {
    std::string s(text);
    for (std::string_view scheme : {"https://", "http://"})
        if (s.starts_with(scheme)) s.erase(0, scheme.size());
    if (auto slash = s.find('/'); slash != std::string::npos) s.resize(slash);
    if (s == "index.docker.io" || s == "registry-1.docker.io") s = "docker.io";
    return s;
}

Result<image::Endpoint> origin_endpoint(const RegistryOptions& options, const image::Reference& ref) {
    SKIFF_TRY(config, registries_config(options));
    auto resolved = image::resolve(config, ref);
    if (resolved.blocked()) return fail("registry " + ref.registry + " is blocked in registries.conf");
    if (resolved.endpoints.empty()) return fail("no endpoint for " + ref.registry);
    return resolved.endpoints.back();  // mirrors are for pulling only
}

}  // namespace

Result<PushResult> push_image(const Store& store, std::string_view source, const image::Reference& destination,
                              const RegistryOptions& options, Progress& progress) {
    if (!destination.digest.empty()) return fail("cannot push to a digest reference: " + destination.familiar());
    SKIFF_TRY(record, find_image(store, source));
    SKIFF_TRY(manifest_body, store.blobs.read(record.manifest_digest, image::kMaxManifestBytes));
    SKIFF_TRY(parsed, image::parse_manifest(manifest_body, record.manifest_media_type));
    auto* manifest = std::get_if<image::Manifest>(&parsed);
    if (!manifest) return fail("image " + record.id + " is recorded with an index, not a manifest");

    SKIFF_TRY(endpoint, origin_endpoint(options, destination));
    SKIFF_TRY(client, connect_endpoint(endpoint, destination.registry, options));
    auto sources = mount_sources(record, destination);
    for (const auto& layer : manifest->layers) SKIFF_CHECK(push_blob(store, client, layer, sources, progress));
    SKIFF_CHECK(push_blob(store, client, manifest->config, sources, progress));
    SKIFF_CHECK(client.put_manifest(destination.tag, manifest->media_type, manifest_body));

    // Docker records where an image was pushed: `images --digests` and later mounts use it.
    {
        SKIFF_TRY(lock, store.lock_for_adding());
        image::ImageRecord updated = record;
        updated.repo_tags.clear();
        updated.repo_digests = {destination.name() + "@" + record.manifest_digest};
        SKIFF_CHECK(store.images.add(updated));
    }
    return PushResult{record.manifest_digest, static_cast<int64_t>(manifest_body.size())};
}

Status login(std::string_view registry, const image::Credentials& credentials, const RegistryOptions& options) {
    std::string key = registry_key(registry);
    if (key.empty()) return fail("login: registry name must not be empty");
    // Any repository will do: only /v2/ is asked, with the credentials.
    SKIFF_TRY(ref, image::parse_reference(key + "/skiff-login-check"));
    SKIFF_TRY(endpoint, origin_endpoint(options, ref));
    RegistryOptions with_credentials = options;
    with_credentials.credentials = credentials;
    SKIFF_TRY(client, connect_endpoint(endpoint, key, with_credentials));
    (void)client;
    std::string file = options.auth_file.empty() ? image::default_login_file() : options.auth_file;
    return image::store_credentials(file, key, credentials);
}

Status logout(std::string_view registry, const RegistryOptions& options) {
    std::string file = options.auth_file.empty() ? image::default_login_file() : options.auth_file;
    return image::store_credentials(file, registry_key(registry), std::nullopt);
}

}  // namespace skiff::engine
