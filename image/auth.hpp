// Registry credentials and authentication challenges.
//
// Credentials are read as podman and Docker read them, first match wins:
//   $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
//   ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json, ~/.docker/config.json
// Each is {"auths": {"<registry>": {"auth": base64("user:password")}}} (Docker also writes
// "https://index.docker.io/v1/" for docker.io; both spellings are matched). Credential
// helpers (credsStore/credHelpers) are not run: an entry that only names one is reported.
// `skiff login` writes the first of these paths that the user may write (auth.json), 0600.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace skiff::image {

struct Credentials {
    std::string username;
    std::string password;       // or an identity token when username is "<token>"
};

// Where credentials are looked up, in order (paths that do not exist are skipped).
std::vector<std::string> default_auth_files();
// The file `login` writes and `logout` edits: $REGISTRY_AUTH_FILE, else
// ${XDG_RUNTIME_DIR}/containers/auth.json when XDG_RUNTIME_DIR is set, else
// ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json.
std::string default_login_file();

// Credentials for `registry` ("localhost:5000", "docker.io") from the first file that has
// them; nullopt when none does. A malformed file is an error naming it.
Result<std::optional<Credentials>> find_credentials(std::string_view registry,
                                                    const std::vector<std::string>& files);
// Add/replace, or remove (nullopt), the entry for `registry` in `file`, keeping every other
// key of the file; written atomically with mode 0600. Removing a missing entry is an error
// "not logged in to <registry>".
Status store_credentials(const std::string& file, std::string_view registry,
                         const std::optional<Credentials>& credentials);

std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

// One WWW-Authenticate challenge: `Bearer realm="https://auth.docker.io/token",
// service="registry.docker.io",scope="repository:library/busybox:pull"` or `Basic realm="x"`.
struct AuthChallenge {
    std::string scheme;  // lowercase: "bearer", "basic"
    std::map<std::string, std::string> params;  // keys lowercase
};
// Every challenge in a header value (RFC 7235: quoted strings with escapes, commas between
// params and between challenges). Err on a malformed header, naming it.
Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header);

}  // namespace skiff::image
