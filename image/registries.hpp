// registries.conf (v2 TOML, containers-registries.conf(5)): where to pull a reference from.
//
//   [[registry]]
//   prefix = "example.com/foo"        # or "*.example.com"; defaults to location
//   location = "internal.example.com/foo"
//   insecure = false                  # plain HTTP (and no TLS verification)
//   blocked = false
//   [[registry.mirror]]
//   location = "mirror.example.com/foo"
//   insecure = false
//
// unqualified-search-registries is parsed but not used: short names always mean docker.io,
// as in Docker (no short-name prompts, no search across registries). Drop-in directories
// (registries.conf.d) and the v1 format are not read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "image/reference.hpp"

namespace skiff::image {

inline constexpr std::string_view kSystemRegistriesConf = "/etc/containers/registries.conf";
// What to connect to for docker.io.
inline constexpr std::string_view kDockerHubEndpoint = "registry-1.docker.io";

struct RegistryMirror {
    std::string location;
    bool insecure = false;
};

struct RegistryEntry {
    std::string prefix;    // "example.com/foo", "*.example.com"
    std::string location;  // "" only for wildcard prefixes (the matched host is kept)
    bool insecure = false;
    bool blocked = false;
    std::vector<RegistryMirror> mirrors;
};

struct RegistriesConfig {
    std::vector<RegistryEntry> registries;
    std::vector<std::string> unqualified_search_registries;  // parsed, ignored (see above)
};

struct Endpoint {
    std::string host;        // "registry-1.docker.io", "localhost:5000", "mirror.example.com"
    std::string repository;  // after location rewriting: "library/busybox", "proxy/library/busybox"
    std::string reference;   // tag or digest to ask this endpoint for
    bool insecure = false;   // plain HTTP
    bool blocked = false;    // a blocked [[registry]] refuses the pull on every endpoint
};

struct ResolvedRegistry {
    std::vector<Endpoint> endpoints;  // mirrors in configured order, then the origin last
    bool blocked() const { return !endpoints.empty() && endpoints.back().blocked; }
};

// Parse one file. Errors name the file and, for bad values, the key:
// "/etc/containers/registries.conf: registry[1].mirror[0].location: must be a string".
Result<RegistriesConfig> load_registries_config(const std::string& path);

// The per-user file (${XDG_CONFIG_HOME:-~/.config}/containers/registries.conf) when it exists,
// replacing the system one entirely as containers-registries.conf(5) says; else `system_path`;
// else an empty config (every reference goes to its own registry).
Result<RegistriesConfig> load_default_registries_config(
    const std::string& system_path = std::string(kSystemRegistriesConf),
    const std::optional<std::string>& user_path = std::nullopt);

// The endpoints to try for `ref`: the [[registry]] with the longest matching prefix supplies
// mirrors and a location that replaces the matched prefix. Loopback registries (localhost,
// 127.0.0.0/8, ::1) are insecure even when not configured so, as in Docker.
ResolvedRegistry resolve(const RegistriesConfig& config, const Reference& ref);

}  // namespace skiff::image
