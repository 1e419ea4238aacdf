// Shared by pull, push and login: connecting to a registry endpoint with the user's
// credentials and TLS choice.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "engine/images.hpp"
#include "image/registries.hpp"
#include "image/registry_client.hpp"

namespace skiff::engine {

// registries.conf as the options say (a given file, else the system/user defaults).
Result<image::RegistriesConfig> registries_config(const RegistryOptions& options);

// A client for `endpoint`, authenticated with the credentials for `registry_key` ("docker.io",
// "localhost:5000": what auth files are keyed by) and pinged. With tls_verify off, an https
// endpoint that does not answer TLS is retried over plain http, as podman does.
Result<image::RegistryClient> connect_endpoint(image::Endpoint endpoint, std::string_view registry_key,
                                               const RegistryOptions& options);

}  // namespace skiff::engine
