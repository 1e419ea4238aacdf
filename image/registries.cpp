#include "image/registries.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

// The Debian package ships only a shared library, and skiff links statically: compile the
// parser into this one translation unit instead. Parse errors come back as values.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

namespace skiff::image {
namespace {

// `where` is the table's path with a trailing '.', e.g. "registry[1].mirror[0].".
std::string table_name(const std::string& where) { return where.substr(0, where.size() - 1); }

// Read an optional string key; a present key of another type is an error.
Result<std::optional<std::string>> optional_string(const toml::table& table, std::string_view key,
                                                   const std::string& where) {
    const toml::node* node = table.get(key);
    if (!node) return std::optional<std::string>{};
    if (!node->is_string()) return fail(where + std::string(key) + ": must be a string");
    return std::optional<std::string>{node->as_string()->get()};
}

Result<bool> optional_bool(const toml::table& table, std::string_view key, const std::string& where) {
    const toml::node* node = table.get(key);
    if (!node) return false;
    if (!node->is_boolean()) return fail(where + std::string(key) + ": must be true or false");
    return node->as_boolean()->get();
}

// Trailing '/' is dropped (as containers/image does); a '*' may only open a "*.host" prefix.
Result<std::string> normalise_prefix(std::string prefix, const std::string& where) {
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.empty()) return fail(where + "prefix: must not be empty");
    auto star = prefix.find('*');
    if (star != std::string::npos) {
        bool wildcard_host = star == 0 && prefix.starts_with("*.") && prefix.size() > 2 &&
                             prefix.find_first_of("*/:@", 1) == std::string::npos;
        if (!wildcard_host)
            return fail(where + "prefix: a wildcard must be of the form \"*.example.com\" (got \"" + prefix + "\")");
    }
    return prefix;
}

Result<RegistryMirror> parse_mirror(const toml::node& node, const std::string& where) {
    const toml::table* table = node.as_table();
    if (!table) return fail(table_name(where) + ": must be a table");
    RegistryMirror mirror;
    SKIFF_TRY(location, optional_string(*table, "location", where));
    if (!location || location->empty()) return fail(where + "location: must be set");
    mirror.location = std::move(*location);
    while (mirror.location.size() > 1 && mirror.location.back() == '/') mirror.location.pop_back();
    SKIFF_TRY(insecure, optional_bool(*table, "insecure", where));
    mirror.insecure = insecure;
    return mirror;
}

Result<RegistryEntry> parse_registry(const toml::node& node, const std::string& where) {
    const toml::table* table = node.as_table();
    if (!table) return fail(table_name(where) + ": must be a table");
    RegistryEntry entry;
    SKIFF_TRY(prefix, optional_string(*table, "prefix", where));
    SKIFF_TRY(location, optional_string(*table, "location", where));
    if (location) {
        entry.location = std::move(*location);
        while (!entry.location.empty() && entry.location.back() == '/') entry.location.pop_back();
    }
    if (!prefix || prefix->empty()) {
        if (entry.location.empty()) return fail(where + "prefix: prefix and location are both unset");
        entry.prefix = entry.location;
    } else {
        SKIFF_TRY(normalised, normalise_prefix(std::move(*prefix), where));
        entry.prefix = std::move(normalised);
    }
    bool wildcard = entry.prefix.starts_with("*.");
    if (wildcard && !entry.location.empty())
        return fail(where + "location: must be unset when prefix is a wildcard (\"" + entry.prefix + "\")");
    if (!wildcard && entry.location.empty()) entry.location = entry.prefix;

    SKIFF_TRY(insecure, optional_bool(*table, "insecure", where));
    SKIFF_TRY(blocked, optional_bool(*table, "blocked", where));
    entry.insecure = insecure;
    entry.blocked = blocked;

    if (const toml::node* mirrors = table->get("mirror")) {
        const toml::array* list = mirrors->as_array();
        if (!list) return fail(where + "mirror: must be an array of tables ([[registry.mirror]])");
        for (std::size_t i = 0; i < list->size(); ++i) {
            SKIFF_TRY(mirror, parse_mirror(*list->get(i), where + "mirror[" + std::to_string(i) + "]."));
            entry.mirrors.push_back(std::move(mirror));
        }
    }
    return entry;
}

Result<RegistriesConfig> parse_config(const toml::table& root) {
    RegistriesConfig config;
    // v1 ([registries.search] ...) would otherwise be silently ignored and surprise its author.
    if (root.contains("registries"))
        return fail("registries: the v1 format ([registries.*]) is not supported; use [[registry]] tables");

    if (const toml::node* search = root.get("unqualified-search-registries")) {
        const toml::array* list = search->as_array();
        if (!list) return fail("unqualified-search-registries: must be an array of strings");
        for (const toml::node& item : *list) {
            if (!item.is_string()) return fail("unqualified-search-registries: must be an array of strings");
            config.unqualified_search_registries.push_back(item.as_string()->get());
        }
    }

    if (const toml::node* registries = root.get("registry")) {
        const toml::array* list = registries->as_array();
        if (!list) return fail("registry: must be an array of tables ([[registry]])");
        for (std::size_t i = 0; i < list->size(); ++i) {
            SKIFF_TRY(entry, parse_registry(*list->get(i), "registry[" + std::to_string(i) + "]."));
            config.registries.push_back(std::move(entry));
        }
    }
    return config;
}

// containers/image's refMatchingPrefix: the prefix must end at a boundary of `ref`
// ('/', ':', '@' or its end). Returns how much of `ref` matched, or nothing.
std::optional<std::size_t> matched_length(std::string_view ref, std::string_view prefix) {
    auto at_boundary = [&](std::size_t end) {
        return end == ref.size() || ref[end] == '/' || ref[end] == ':' || ref[end] == '@';
    };
    if (prefix.starts_with("*.")) {
        // "*.example.com" matches any subdomain of example.com in the host part, never example.com itself.
        std::string_view suffix = prefix.substr(1);  // ".example.com"
        std::size_t host_end = ref.find('/');
        std::string_view host = ref.substr(0, host_end);
        std::size_t found = host.find(suffix);
        if (found == std::string_view::npos || found == 0) return std::nullopt;
        std::size_t end = found + suffix.size();
        if (!at_boundary(end)) return std::nullopt;
        return end;
    }
    if (!ref.starts_with(prefix) || !at_boundary(prefix.size())) return std::nullopt;
    return prefix.size();
}

// Docker trusts plain HTTP to registries on this machine only.
bool is_loopback(std::string_view host_port) {
    std::string host;
    if (host_port.starts_with('[')) {
        host = host_port.substr(1, host_port.find(']') - 1);
    } else {
        host = host_port.substr(0, host_port.find(':'));
    }
    if (strcasecmp(host.c_str(), "localhost") == 0) return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

// "host/repo/path:tag" (or "@digest") -> endpoint; docker.io's API lives at registry-1.docker.io.
Endpoint make_endpoint(std::string_view rewritten, bool insecure, bool blocked) {
    Endpoint endpoint;
    std::size_t slash = rewritten.find('/');
    endpoint.host = rewritten.substr(0, slash);
    std::string_view rest = slash == std::string_view::npos ? std::string_view{} : rewritten.substr(slash + 1);
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        // name:tag@digest: the digest wins, and the tag is no part of the repository path.
        endpoint.reference = rest.substr(at + 1);
        rest = rest.substr(0, at);
        if (auto colon = rest.rfind(':'); colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos)
            rest = rest.substr(0, colon);
    } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        endpoint.reference = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
    }
    endpoint.repository = rest;
    if (endpoint.host == kDockerHubRegistry) {
        if (endpoint.repository.find('/') == std::string::npos) endpoint.repository.insert(0, "library/");
        endpoint.host = kDockerHubEndpoint;
    }
    endpoint.insecure = insecure || is_loopback(endpoint.host);
    endpoint.blocked = blocked;
    return endpoint;
}

bool file_exists(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0;
}

std::string default_user_path() {
    if (const char* config_home = std::getenv("XDG_CONFIG_HOME"); config_home && *config_home)
        return std::string(config_home) + "/containers/registries.conf";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::string(home) + "/.config/containers/registries.conf";
    return {};
}

}  // namespace

Result<RegistriesConfig> load_registries_config(const std::string& path) {
    // Open it ourselves so a missing or unreadable file reports its errno.
    std::ifstream in(path);
    if (!in) return sys_error("read " + path);
    toml::parse_result parsed = toml::parse(in, path);
    if (!parsed) {
        const toml::parse_error& error = parsed.error();
        return fail(path + ":" + std::to_string(error.source().begin.line) + ":" +
                    std::to_string(error.source().begin.column) + ": " + std::string(error.description()));
    }
    return with_context(parse_config(parsed.table()), path);
}

Result<RegistriesConfig> load_default_registries_config(const std::string& system_path,
                                                        const std::optional<std::string>& user_path) {
    std::string user = user_path ? *user_path : default_user_path();
    if (!user.empty() && file_exists(user)) return load_registries_config(user);
    if (file_exists(system_path)) return load_registries_config(system_path);
    return RegistriesConfig{};
}

ResolvedRegistry resolve(const RegistriesConfig& config, const Reference& ref) {
    const std::string full = ref.to_string();
    // As containers/image: the longest prefix (as written) wins, so "*.corp.example.com"
    // beats "*.example.com"; the first of equal length wins.
    const RegistryEntry* best = nullptr;
    std::size_t best_length = 0;
    for (const RegistryEntry& entry : config.registries) {
        auto length = matched_length(full, entry.prefix);
        if (length && (!best || entry.prefix.size() > best->prefix.size())) {
            best = &entry;
            best_length = *length;
        }
    }

    ResolvedRegistry resolved;
    if (!best) {
        resolved.endpoints.push_back(make_endpoint(full, false, false));
        return resolved;
    }
    // The matched prefix is replaced by each location; a wildcard entry keeps the host as is.
    std::string_view rest = std::string_view(full).substr(best_length);
    auto rewrite = [&](const std::string& location) {
        return location.empty() ? full : location + std::string(rest);
    };
    for (const RegistryMirror& mirror : best->mirrors)
        resolved.endpoints.push_back(make_endpoint(rewrite(mirror.location), mirror.insecure, best->blocked));
    resolved.endpoints.push_back(make_endpoint(rewrite(best->location), best->insecure, best->blocked));
    return resolved;
}

}  // namespace skiff::image
