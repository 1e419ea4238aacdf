// Image references, parsed and normalised exactly as Docker does (distribution/reference's
// ParseNormalizedNamed plus its "familiar" short forms), so every name a Docker user types
// means the same image here:
//   "busybox"                -> docker.io/library/busybox:latest
//   "user/app:1"             -> docker.io/user/app:1
//   "localhost:5000/a"       -> localhost:5000/a:latest   (first part with '.' or ':', or
//   "quay.io/x/y@sha256:..." -> quay.io/x/y@sha256:...     "localhost", is a registry)
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff::image {

inline constexpr std::string_view kDockerHubRegistry = "docker.io";

struct Reference {
    std::string registry;    // "docker.io", "localhost:5000", "[::1]:5000"
    std::string repository;  // "library/busybox", "user/app"
    std::string tag;         // "latest" when neither tag nor digest was given; "" with a bare digest
    std::string digest;      // "sha256:<hex>" or ""; wins over the tag when pulling

    // "docker.io/library/busybox:latest", "quay.io/x/y:1@sha256:..." (tag kept when given).
    std::string to_string() const;
    // registry + "/" + repository: "docker.io/library/busybox".
    std::string name() const;
    // What Docker prints: "busybox:latest", "user/app:1", "quay.io/x/y@sha256:...".
    std::string familiar() const;
    // What to ask the registry for: the digest when there is one, else the tag.
    const std::string& pull_ref() const { return digest.empty() ? tag : digest; }

    bool operator==(const Reference&) const = default;
};

// Errors read "invalid reference format: <what is wrong>", e.g.
// "invalid reference format: repository name must be lowercase".
Result<Reference> parse_reference(std::string_view text);

}  // namespace skiff::image
