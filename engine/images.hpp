// The image commands of the engine: what `skiff images/inspect/history/tag/rmi/prune/pull/
// push/login/logout/system check` do, apart from parsing flags and printing (cli/).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/progress.hpp"
#include "common/result.hpp"
#include "engine/store.hpp"
#include "image/auth.hpp"
#include "image/manifest.hpp"
#include "image/reference.hpp"

namespace skiff::engine {

// What a user typed for an image: a reference ("busybox", "localhost:5000/a:1",
// "name@sha256:..."), a full image id or a unique prefix of one. A reference wins over an id
// prefix, as in Docker. Err "No such image: <text>" (code ENOENT).
Result<image::ImageRecord> find_image(const Store& store, std::string_view text);

// One row of `skiff images`: one per tag (and one "<none>" row for an untagged image).
struct ImageRow {
    image::ImageRecord record;
    std::string repository;  // familiar: "busybox", "localhost:5000/app", "<none>"
    std::string tag;         // "latest", "<none>"
    std::string digest;      // "sha256:..." of the repository's manifest, "<none>"
    nlohmann::json labels;   // the config's labels (for filters and --format)
};

struct ImageFilters {
    std::optional<bool> dangling;
    std::vector<std::string> references;  // glob patterns on "name" or "name:tag" (familiar)
    std::optional<std::string> before;    // an image (reference or id): older than it
    std::optional<std::string> since;     // newer than it
    std::vector<std::string> labels;      // "key" or "key=value"
};
// Docker's --filter syntax "dangling=true", "reference=busy*", "before=img", "since=img",
// "label=k=v"; anything else is an error naming the filter.
Status add_image_filter(ImageFilters& filters, std::string_view text);

// Newest first. `name` restricts to one repository (optionally with a tag), as
// `images NAME[:TAG]`.
Result<std::vector<ImageRow>> list_images(const Store& store, const ImageFilters& filters,
                                          const std::optional<std::string>& name = std::nullopt);

// Docker's `image inspect` object: Id, RepoTags, RepoDigests, Parent, Comment, Created,
// Author, Config, Architecture, Variant, Os, Size, GraphDriver, RootFS, Metadata.
Result<nlohmann::json> inspect_image(const Store& store, std::string_view text);

struct HistoryRow {
    std::string id;  // image id on the top row, "<missing>" below (as Docker)
    std::string created;
    std::string created_by;
    int64_t size = 0;
    std::string comment;
};
Result<std::vector<HistoryRow>> image_history(const Store& store, std::string_view text);

// `tag SOURCE TARGET`: TARGET is normalised ("app" -> docker.io/library/app:latest).
Status tag_image(const Store& store, std::string_view source, std::string_view target);

// What rmi/prune did, in the order Docker prints it.
struct RemovalReport {
    std::vector<std::string> untagged;  // familiar references
    std::vector<std::string> deleted;   // image ids, then layer chain ids
    int64_t reclaimed = 0;              // bytes of layers and blobs removed
};
// Docker's rules: a reference with other tags left only untags; an id with several tags needs
// force; an image a container uses is refused unless force (then only untagged).
Result<RemovalReport> remove_image(const Store& store, std::string_view text, bool force);
// Dangling images (all unused ones with `all`), then unreferenced layers and blobs.
Result<RemovalReport> prune_images(const Store& store, bool all);

// Image ids used by containers recorded under <root>/containers/*/record.json ("image_id").
std::vector<std::string> images_in_use(const Store& store);

struct RegistryOptions {
    std::optional<image::Credentials> credentials;  // --creds / login; else auth files
    bool tls_verify = true;                        // false: https without checks, or http
    std::string registries_conf;                   // "" = the defaults (system/user file)
    std::string auth_file;                         // "" = the default lookup order
};

struct PullOptions {
    RegistryOptions registry;
    std::optional<image::Platform> platform;  // default: the host's
    int parallel_layers = 4;
};
struct PullResult {
    image::ImageRecord record;
    std::string digest;      // what the reference resolved to (index or manifest)
    bool downloaded = false; // false: the store had everything already
};
Result<PullResult> pull_image(const Store& store, const image::Reference& reference,
                              const PullOptions& options, Progress& progress);

struct PushResult {
    std::string digest;  // manifest digest at the destination
    int64_t size = 0;    // manifest bytes
};
// Push the image `source` (what the user typed) to `destination` (a reference with a tag).
Result<PushResult> push_image(const Store& store, std::string_view source,
                              const image::Reference& destination, const RegistryOptions& options,
                              Progress& progress);

// Check the credentials against the registry, then store them (auth file, 0600).
Status login(std::string_view registry, const image::Credentials& credentials,
             const RegistryOptions& options);
Status logout(std::string_view registry, const RegistryOptions& options);

// `system check`: every blob re-hashed, every image's manifest, config and layers present,
// every layer's record readable. With repair, broken blobs and layers are removed and so
// are the images that needed them.
struct CheckReport {
    std::vector<std::string> problems;  // one line each
    std::vector<std::string> repaired;
    int64_t blobs_checked = 0;
    int64_t layers_checked = 0;
    int64_t images_checked = 0;
};
Result<CheckReport> check_store(const Store& store, bool repair);

}  // namespace skiff::engine
