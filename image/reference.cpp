#include "image/reference.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace skiff::image {
namespace {

constexpr std::string_view kLegacyDockerHubRegistry = "index.docker.io";
constexpr std::string_view kOfficialNamespace = "library/";
constexpr std::string_view kDefaultTag = "latest";
constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

std::unexpected<Error> invalid(std::string_view detail = {}) {
    std::string what = "invalid reference format";
    if (!detail.empty()) what += ": " + std::string(detail);
    return fail(std::move(what));
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }

bool has_upper(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*: separators sit between alphanumerics.
bool valid_path_component(std::string_view part) {
    std::size_t i = 0;
    while (true) {
        std::size_t run_start = i;
        while (i < part.size() && is_lower_alnum(part[i])) ++i;
        if (i == run_start) return false;
        if (i == part.size()) return true;
        std::size_t sep_start = i;
        while (i < part.size() && !is_lower_alnum(part[i])) ++i;
        std::string_view sep = part.substr(sep_start, i - sep_start);
        bool dashes = std::all_of(sep.begin(), sep.end(), [](char c) { return c == '-'; });
        if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    }
}

// Hostname label: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9].
bool valid_domain_label(std::string_view label) {
    if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
    return std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// host[:port], host being dotted labels or a bracketed IPv6 address.
bool valid_registry(std::string_view registry) {
    std::string_view host = registry;
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        auto address = host.substr(1, close - 1);
        if (!std::all_of(address.begin(), address.end(), [](char c) { return is_hex(c) || c == ':'; }))
            return false;
        host = host.substr(close + 1);
        if (host.empty()) return true;
        if (host.front() != ':') return false;
    } else {
        auto colon = host.find(':');
        std::string_view name = host.substr(0, colon);
        for (std::size_t start = 0;;) {
            auto dot = name.find('.', start);
            if (!valid_domain_label(name.substr(start, dot - start))) return false;
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
        if (colon == std::string_view::npos) return true;
        host = host.substr(colon);
    }
    auto port = host.substr(1);  // after ':'
    return !port.empty() && std::all_of(port.begin(), port.end(), is_digit);
}

// [\w][\w.-]{0,127}
bool valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > kMaxTagLength || !is_word(tag.front())) return false;
    return std::all_of(tag.begin(), tag.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

// algorithm ":" hex, checked first against the reference grammar, then (as go-digest does)
// for a known algorithm, the exact hex length and lowercase hex.
Status validate_digest(std::string_view digest) {
    auto colon = digest.find(':');
    if (colon == std::string_view::npos) return invalid();
    std::string_view algorithm = digest.substr(0, colon);
    std::string_view hex = digest.substr(colon + 1);

    // [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*
    bool algorithm_ok = !algorithm.empty();
    bool component_start = true;
    for (char c : algorithm) {
        if (component_start) {
            algorithm_ok = algorithm_ok && std::isalpha(static_cast<unsigned char>(c));
            component_start = false;
        } else if (c == '-' || c == '_' || c == '+' || c == '.') {
            component_start = true;
        } else {
            algorithm_ok = algorithm_ok && is_alnum(c);
        }
    }
    algorithm_ok = algorithm_ok && !component_start;
    if (!algorithm_ok || hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), is_hex)) return invalid();

    struct Known { std::string_view name; std::size_t hex_length; };
    constexpr std::array<Known, 3> known{{{"sha256", 64}, {"sha384", 96}, {"sha512", 128}}};
    auto it = std::find_if(known.begin(), known.end(), [&](const Known& k) { return k.name == algorithm; });
    if (it == known.end()) return invalid("unsupported digest algorithm \"" + std::string(algorithm) + "\"");
    if (hex.size() != it->hex_length) return invalid("invalid checksum digest length");
    if (has_upper(hex)) return invalid("invalid checksum digest format");
    return ok();
}

bool is_image_id(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) && is_hex(c); });
}

}  // namespace

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::to_string() const {
    std::string out = name();
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

std::string Reference::familiar() const {
    std::string out;
    if (registry != kDockerHubRegistry) {
        out = name();
    } else if (repository.starts_with(kOfficialNamespace) &&
               repository.find('/', kOfficialNamespace.size()) == std::string::npos) {
        out = repository.substr(kOfficialNamespace.size());
    } else {
        out = repository;
    }
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

Result<Reference> parse_reference(std::string_view text) {
    if (text.empty()) return invalid("repository name must have at least one component");
    // A bare 64-hex string is an image ID, never a name (Docker refuses it the same way).
    if (is_image_id(text)) return invalid("repository name cannot be a 64-byte hexadecimal string");

    Reference ref;
    std::string_view remainder = text;
    // Only the part before the first '/' can be a registry, and only when it looks like a
    // host: a '.' or ':' in it, "localhost", or an uppercase letter (repositories are lowercase).
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        std::string_view first = text.substr(0, slash);
        if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || has_upper(first)) {
            ref.registry = first;
            remainder = text.substr(slash + 1);
        }
    }
    if (ref.registry.empty() || ref.registry == kLegacyDockerHubRegistry) ref.registry = kDockerHubRegistry;
    if (!valid_registry(ref.registry)) return invalid();

    bool has_digest = false;
    if (auto at = remainder.find('@'); at != std::string_view::npos) {
        has_digest = true;
        ref.digest = remainder.substr(at + 1);
        remainder = remainder.substr(0, at);
    }
    std::string_view path = remainder;
    if (auto colon = remainder.rfind(':'); colon != std::string_view::npos) {
        ref.tag = remainder.substr(colon + 1);
        path = remainder.substr(0, colon);
        if (!valid_tag(ref.tag)) return invalid();
    }

    if (has_upper(path)) return invalid("repository name must be lowercase");
    for (std::size_t start = 0;;) {
        auto slash = path.find('/', start);
        if (!valid_path_component(path.substr(start, slash - start))) return invalid();
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    ref.repository = path;
    if (ref.registry == kDockerHubRegistry && path.find('/') == std::string_view::npos)
        ref.repository = std::string(kOfficialNamespace) + ref.repository;

    if (ref.name().size() > kMaxNameLength)
        return invalid("repository name must not be more than 255 characters");
    if (has_digest) SKIFF_CHECK(validate_digest(ref.digest));
    if (ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
    return ref;
}

}  // namespace skiff::image
