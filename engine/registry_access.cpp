#include "engine/registry_access.hpp"

#include <cstdlib>
#include <string>

namespace skiff::engine {

Result<image::RegistriesConfig> registries_config(const RegistryOptions& options) {
    if (!options.registries_conf.empty()) return image::load_registries_config(options.registries_conf);
    return image::load_default_registries_config();
}

Result<image::RegistryClient> connect_endpoint(image::Endpoint endpoint, std::string_view registry_key,
                                               const RegistryOptions& options) {
    image::ClientOptions client_options;
    client_options.tls_verify = options.tls_verify;
    // SKIFF_REGISTRY_TIMEOUT: seconds to wait for a connection or for a stalled transfer to
    // move again (default 30), for slow links and for tests of registries that hang.
    if (const char* timeout = std::getenv("SKIFF_REGISTRY_TIMEOUT")) {
        int seconds = std::atoi(timeout);
        if (seconds <= 0) return fail(std::string("SKIFF_REGISTRY_TIMEOUT: expected seconds, got \"") + timeout + "\"");
        client_options.connect_timeout_seconds = seconds;
        client_options.stall_timeout_seconds = seconds;
    }
    if (options.credentials) {
        client_options.credentials = options.credentials;
    } else {
        auto files = options.auth_file.empty() ? image::default_auth_files()
                                               : std::vector<std::string>{options.auth_file};
        SKIFF_TRY(found, image::find_credentials(registry_key, files));
        client_options.credentials = found;
    }
    SKIFF_TRY(client, image::RegistryClient::create(endpoint, client_options));
    auto pinged = client.ping();
    if (pinged) return client;
    // No HTTP answer at all over https, and the user said TLS need not be verified: try http.
    if (!options.tls_verify && !endpoint.insecure && client.last_http_status() == 0) {
        endpoint.insecure = true;
        SKIFF_TRY(plain, image::RegistryClient::create(endpoint, client_options));
        SKIFF_CHECK(plain.ping());
        return plain;
    }
    return std::unexpected(pinged.error());
}

}  // namespace skiff::engine
