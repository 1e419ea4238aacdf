// Manifests, indexes and image configs as registries serve them: Docker v2 schema 2
// manifests and manifest lists, OCI image manifests and indexes. Parsing validates what the
// store relies on (digests, sizes, layer media types) and names the offending field; picking
// a manifest from an index follows containerd's platform matcher and never falls back to a
// platform the host cannot run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"

namespace skiff::image {

inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";

// Bigger documents are refused before parsing: a registry could otherwise make us hold an
// arbitrarily large JSON tree (containerd uses the same 4 MiB manifest bound).
inline constexpr size_t kMaxManifestBytes = 4u << 20;
inline constexpr size_t kMaxConfigBytes = 8u << 20;

struct Platform {
    std::string os;            // "linux"
    std::string architecture;  // "amd64", "arm64", "arm", "386", ...
    std::string variant;       // "v7", "v8", "" ...
    std::string os_version;    // "os.version" (Windows builds)
    std::vector<std::string> features;  // "os.features"

    // "linux/arm64/v8", "linux/amd64" (no trailing slash without a variant).
    std::string to_string() const;
};

struct Descriptor {
    std::string media_type;
    std::string digest;  // validated "sha256:<hex>" / "sha512:<hex>"
    int64_t size = 0;
    std::optional<Platform> platform;  // index entries only
    std::map<std::string, std::string> annotations;
};

struct Manifest {
    std::string media_type;  // kDockerManifest or kOciManifest
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

struct Index {
    std::string media_type;  // kDockerManifestList or kOciIndex
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

using ManifestOrIndex = std::variant<Manifest, Index>;

// Parse a manifest or index. The kind comes from the body's mediaType, else from
// `content_type` (the registry's Content-Type header), else, for OCI documents that omit
// both, from the shape ("manifests" -> index, "config"+"layers" -> manifest). Schema 1 and
// other media types fail with "unsupported manifest media type X".
Result<ManifestOrIndex> parse_manifest(std::string_view body, std::string_view content_type = "");

enum class Compression { none, gzip, zstd };

// Layer media type -> compression: tar, tar+gzip, tar+zstd in Docker and OCI spellings,
// including nondistributable/foreign variants; anything else is an error naming it.
Result<Compression> layer_compression(std::string_view media_type);

struct HistoryEntry {
    std::string created;
    std::string created_by;
    std::string author;
    std::string comment;
    bool empty_layer = false;
};

// The container defaults an image carries ("config" in the OCI image config).
struct RunConfig {
    std::string user;
    std::vector<std::string> env;         // "KEY=value"
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::string working_dir;
    std::vector<std::string> exposed_ports;  // "80/tcp", sorted (JSON object keys)
    std::vector<std::string> volumes;        // "/data", sorted
    std::map<std::string, std::string> labels;
    std::string stop_signal;
};

struct ImageConfig {
    std::string architecture;
    std::string os;
    std::string variant;
    std::string os_version;
    std::string created;
    RunConfig config;
    std::vector<std::string> diff_ids;  // validated digests of the uncompressed layers
    std::vector<HistoryEntry> history;
};

// Parse an image config (Docker's container.image.v1 is the same shape). Requires
// architecture, os and rootfs {type "layers", diff_ids}.
Result<ImageConfig> parse_image_config(std::string_view body);

// One diff id per layer, or the image cannot be unpacked consistently.
Status check_diff_ids(const ImageConfig& config, const Manifest& manifest);

// Normalise as containerd does: x86_64 -> amd64, aarch64 -> arm64 (variant v8), armhf ->
// arm/v7, armel -> arm/v6, arm without variant -> arm/v7, i386 -> 386, lowercase os.
Platform normalize_platform(Platform p);

// "os/arch[/variant]", normalised. A single component is an os ("linux") when it names one,
// else an architecture on the host's os.
Result<Platform> parse_platform(std::string_view text);

// This machine (uname), normalised: linux/amd64 on x86_64.
Platform host_platform();

// The index entry to pull for `wanted`: os and architecture must match, variants by
// preference (arm/v7 takes v7, then v6, then v5; arm64 treats "" and v8 alike; amd64/vN takes
// vN down to v1). Entries earlier in the index win among equals. No match is an error listing
// what the index offers.
Result<Descriptor> choose_platform(const Index& index, const Platform& wanted);

}  // namespace skiff::image
