// Serialising the manifests, indexes and image configs skiff creates (import, load of a
// docker-archive, save of an OCI layout). The bytes are what gets digested, so output is
// deterministic: fixed key order, no whitespace, empty optional fields left out as Docker
// does. Invalid UTF-8 in user-supplied strings (labels, env) becomes U+FFFD, as in Go.
#pragma once

#include <string>

#include "image/manifest.hpp"

namespace skiff::image {

// schemaVersion 2, mediaType, config, layers, annotations (when any). The media type decides
// the flavour; callers set Docker v2s2 or OCI media types on the descriptors to match.
std::string manifest_json(const Manifest& manifest);

// schemaVersion 2, mediaType, manifests (with platform when set), annotations (when any).
std::string index_json(const Index& index);

// created, architecture, os, os.version, variant, config {User, ExposedPorts, Env,
// Entrypoint, Cmd, Volumes, WorkingDir, Labels, StopSignal}, rootfs {type, diff_ids}, history.
std::string image_config_json(const ImageConfig& config);

}  // namespace skiff::image
