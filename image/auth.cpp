#include "image/auth.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace skiff::image {

namespace {

using nlohmann::json;

// Auth files are small; anything larger is not one.
constexpr size_t kMaxAuthFileBytes = 1u << 20;

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
}

std::string home_dir() {
    std::string home = env_or_empty("HOME");
    if (!home.empty()) return home;
    if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
    return "/";
}

std::string config_home() {
    std::string xdg = env_or_empty("XDG_CONFIG_HOME");
    return xdg.empty() ? path_join(home_dir(), ".config") : xdg;
}

// The registry an auths key names: Docker writes "https://index.docker.io/v1/", podman
// "docker.io"; keys with a scheme are reduced to their host, and Docker Hub's other host
// names to "docker.io".
std::string normalize_registry(std::string_view key) {
    std::string out(key);
    bool had_scheme = false;
    for (std::string_view scheme : {"https://", "http://"}) {
        if (out.starts_with(scheme)) {
            out.erase(0, scheme.size());
            had_scheme = true;
            break;
        }
    }
    if (had_scheme) {
        if (size_t slash = out.find('/'); slash != std::string::npos) out.resize(slash);
    }
    while (out.ends_with('/')) out.pop_back();
    if (out == "index.docker.io" || out == "registry-1.docker.io") out = "docker.io";
    return out;
}

Result<json> load_json_file(const std::string& file) {
    auto text = read_file_limited(file, kMaxAuthFileBytes);
    if (!text) return std::unexpected(text.error());
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) return fail(file + ": not valid JSON");
    if (!doc.is_object()) return fail(file + ": expected a JSON object");
    return doc;
}

Result<Credentials> decode_auth(const std::string& file, const std::string& key, const json& entry) {
    const std::string where = file + ": auths." + key + ".auth";
    const json& auth = entry.at("auth");
    if (!auth.is_string()) return fail(where + ": expected a string");
    auto decoded = base64_decode(auth.get<std::string>());
    if (!decoded) return fail(where + ": " + decoded.error().what);
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return fail(where + ": expected base64 of \"user:password\"");
    return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 7230 tchar.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 7235 token68 characters (before the trailing '=' padding).
bool is_token68_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("-._~+/").find(c) != std::string_view::npos;
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

class ChallengeParser {
public:
    explicit ChallengeParser(std::string_view text) : s_(text) {}

    Result<std::vector<AuthChallenge>> parse() {
        std::vector<AuthChallenge> out;
        for (;;) {
            skip_list_separators();
            if (at_end()) break;
            std::string scheme = read_token();
            if (scheme.empty()) return error("expected an auth scheme");
            AuthChallenge challenge{lowercase(scheme), {}};
            size_t before_space = pos_;
            skip_spaces();
            if (!at_end() && s_[pos_] != ',' && pos_ == before_space)
                return error("expected a space after the scheme");
            SKIFF_CHECK(parse_params(challenge));
            out.push_back(std::move(challenge));
        }
        if (out.empty()) return error("no challenge");
        return out;
    }

private:
    // After the scheme: token68, or a comma-separated list of name=value pairs that ends
    // where the next challenge's scheme (a token not followed by '=') begins.
    Status parse_params(AuthChallenge& challenge) {
        bool first = true;
        for (;;) {
            skip_list_separators();
            if (at_end()) return ok();
            size_t start = pos_;
            std::string name = read_token();
            if (name.empty()) return error("expected a parameter name");
            skip_spaces();
            bool has_equals = !at_end() && s_[pos_] == '=';
            if (has_equals) {
                ++pos_;
                skip_spaces();
                if (!at_end() && s_[pos_] == '"') {
                    SKIFF_TRY(value, read_quoted());
                    challenge.params[lowercase(name)] = std::move(value);
                } else if (!at_end() && is_tchar(s_[pos_]) && s_[pos_] != '=') {
                    challenge.params[lowercase(name)] = read_token();
                } else if (first) {
                    // token68 with '=' padding: "Negotiate YWJj==".
                    pos_ = start;
                    SKIFF_CHECK(read_token68(challenge));
                } else {
                    return error("expected a value for parameter \"" + name + "\"");
                }
            } else if (first && (at_end() || s_[pos_] == ',')) {
                // token68 without padding.
                pos_ = start;
                SKIFF_CHECK(read_token68(challenge));
            } else {
                // A new challenge starts here.
                pos_ = start;
                return ok();
            }
            first = false;
            skip_spaces();
            if (at_end()) return ok();
            if (s_[pos_] != ',') return error("expected ',' after parameter \"" + name + "\"");
        }
    }

    Status read_token68(AuthChallenge& challenge) {
        size_t start = pos_;
        while (!at_end() && is_token68_char(s_[pos_])) ++pos_;
        if (pos_ == start) return error("expected token68");
        while (!at_end() && s_[pos_] == '=') ++pos_;
        challenge.params[""] = std::string(s_.substr(start, pos_ - start));
        skip_spaces();
        if (!at_end() && s_[pos_] != ',') return error("unexpected text after token68");
        return ok();
    }

    Result<std::string> read_quoted() {
        ++pos_;  // opening quote
        std::string out;
        while (!at_end()) {
            char c = s_[pos_++];
            if (c == '"') return out;
            if (c == '\\') {
                if (at_end()) break;
                c = s_[pos_++];
            }
            out += c;
        }
        return error("unterminated quoted string");
    }

    std::string read_token() {
        size_t start = pos_;
        while (!at_end() && is_tchar(s_[pos_])) ++pos_;
        return std::string(s_.substr(start, pos_ - start));
    }

    void skip_spaces() {
        while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    }
    void skip_list_separators() {
        while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == ',')) ++pos_;
    }
    bool at_end() const { return pos_ >= s_.size(); }

    std::unexpected<Error> error(const std::string& why) const {
        return fail("malformed WWW-Authenticate header \"" + std::string(s_) + "\": " + why +
                    " at offset " + std::to_string(pos_));
    }

    std::string_view s_;
    size_t pos_ = 0;
};

}  // namespace

std::vector<std::string> default_auth_files() {
    std::vector<std::string> files;
    if (std::string file = env_or_empty("REGISTRY_AUTH_FILE"); !file.empty()) files.push_back(file);
    if (std::string runtime = env_or_empty("XDG_RUNTIME_DIR"); !runtime.empty())
        files.push_back(path_join(runtime, "containers/auth.json"));
    files.push_back(path_join(config_home(), "containers/auth.json"));
    // Docker's own override of ~/.docker.
    std::string docker_config = env_or_empty("DOCKER_CONFIG");
    files.push_back(docker_config.empty() ? path_join(home_dir(), ".docker/config.json")
                                          : path_join(docker_config, "config.json"));
    return files;
}

std::string default_login_file() {
    if (std::string file = env_or_empty("REGISTRY_AUTH_FILE"); !file.empty()) return file;
    if (std::string runtime = env_or_empty("XDG_RUNTIME_DIR"); !runtime.empty())
        return path_join(runtime, "containers/auth.json");
    return path_join(config_home(), "containers/auth.json");
}

Result<std::optional<Credentials>> find_credentials(std::string_view registry,
                                                    const std::vector<std::string>& files) {
    const std::string wanted = normalize_registry(registry);
    for (const std::string& file : files) {
        auto doc = load_json_file(file);
        if (!doc) {
            if (doc.error().code == ENOENT) continue;
            return std::unexpected(doc.error());
        }
        // A helper configured for this registry holds the secret; we cannot run it.
        if (auto helpers = doc->find("credHelpers"); helpers != doc->end() && helpers->is_object()) {
            for (auto& [key, helper] : helpers->items()) {
                if (normalize_registry(key) != wanted) continue;
                std::string name = helper.is_string() ? helper.get<std::string>() : "?";
                return fail(file + ": credentials for " + wanted + " are kept by credential helper "
                            "\"docker-credential-" + name + "\" (credHelpers), which skiff does "
                            "not run: use `skiff login` or an auth.json entry instead");
            }
        }
        auto auths = doc->find("auths");
        if (auths == doc->end()) continue;
        if (!auths->is_object()) return fail(file + ": auths: expected an object");
        for (auto& [key, entry] : auths->items()) {
            if (normalize_registry(key) != wanted) continue;
            if (!entry.is_object()) return fail(file + ": auths." + key + ": expected an object");
            auto auth = entry.find("auth");
            if (auth != entry.end() && !(auth->is_string() && auth->get<std::string>().empty())) {
                SKIFF_TRY(credentials, decode_auth(file, key, entry));
                return std::optional<Credentials>(std::move(credentials));
            }
            if (auto store = doc->find("credsStore"); store != doc->end() && store->is_string())
                return fail(file + ": credentials for " + wanted + " are kept by credential helper "
                            "\"docker-credential-" + store->get<std::string>() +
                            "\" (credsStore), which skiff does not run: use `skiff login` or an "
                            "auth.json entry instead");
            // An empty entry: nothing here, keep looking.
        }
    }
    return std::optional<Credentials>();
}

Status store_credentials(const std::string& file, std::string_view registry,
                         const std::optional<Credentials>& credentials) {
    const std::string wanted = normalize_registry(registry);
    json doc = json::object();
    if (auto loaded = load_json_file(file)) {
        doc = std::move(*loaded);
    } else if (loaded.error().code != ENOENT) {
        return std::unexpected(loaded.error());
    }
    json& auths = doc["auths"];
    if (auths.is_null()) auths = json::object();
    if (!auths.is_object()) return fail(file + ": auths: expected an object");

    // Drop every spelling of this registry so the new entry is the only one.
    std::vector<std::string> matching;
    for (auto& [key, entry] : auths.items())
        if (normalize_registry(key) == wanted) matching.push_back(key);
    if (!credentials && matching.empty()) return fail("not logged in to " + std::string(registry));
    for (const std::string& key : matching) auths.erase(key);
    if (credentials)
        auths[std::string(registry)] =
            json{{"auth", base64_encode(credentials->username + ":" + credentials->password)}};

    SKIFF_CHECK(mkdir_p(dirname_of(file), 0700));
    return with_context(write_file_atomic(file, doc.dump(1, '\t') + "\n", 0600),
                        "write credentials");
}

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(data[k])); };
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        for (int shift : {18, 12, 6, 0}) out += kBase64Alphabet[(v >> shift) & 63];
    }
    size_t rest = data.size() - i;
    if (rest == 1) {
        uint32_t v = byte(i) << 16;
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += "==";
    } else if (rest == 2) {
        uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
        out += kBase64Alphabet[(v >> 18) & 63];
        out += kBase64Alphabet[(v >> 12) & 63];
        out += kBase64Alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    // Padding is optional (some writers omit it); whitespace is not expected.
    while (text.ends_with('=')) text.remove_suffix(1);
    if (text.size() % 4 == 1) return fail("invalid base64: bad length");
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        size_t v = kBase64Alphabet.find(c);
        if (v == std::string_view::npos) return fail("invalid base64: unexpected character");
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header) {
    return ChallengeParser(header).parse();
}

}  // namespace skiff::image
