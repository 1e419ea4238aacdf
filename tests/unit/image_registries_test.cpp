// image/registries: registries.conf parsing and endpoint resolution against temp files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "common/fs.hpp"
#include "image/registries.hpp"

using namespace skiff;
using namespace skiff::image;

namespace {
struct TempDir {
    std::string dir;
    TempDir() {
        char tmpl[] = "/tmp/skiff-registries-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir = tmpl;
    }
    ~TempDir() { (void)remove_tree(dir); }
    std::string file(const std::string& name, const std::string& content) const {
        std::string path = dir + "/" + name;
        REQUIRE(write_file_atomic(path, content).has_value());
        return path;
    }
};

RegistriesConfig load(const TempDir& tmp, const std::string& toml) {
    auto config = load_registries_config(tmp.file("registries.conf", toml));
    INFO((config ? "" : config.error().message()));
    REQUIRE(config.has_value());
    return *config;
}

std::string load_error(const TempDir& tmp, const std::string& toml) {
    auto config = load_registries_config(tmp.file("registries.conf", toml));
    REQUIRE_FALSE(config.has_value());
    return config.error().message();
}

ResolvedRegistry resolved(const RegistriesConfig& config, const std::string& text) {
    auto ref = parse_reference(text);
    REQUIRE(ref.has_value());
    return resolve(config, *ref);
}
}  // namespace

TEST_CASE("registries: without configuration a reference goes to its own registry", "[image][registries]") {
    RegistriesConfig empty;
    auto hub = resolved(empty, "busybox");
    REQUIRE(hub.endpoints.size() == 1);
    CHECK(hub.endpoints[0].host == "registry-1.docker.io");
    CHECK(hub.endpoints[0].repository == "library/busybox");
    CHECK(hub.endpoints[0].reference == "latest");
    CHECK_FALSE(hub.endpoints[0].insecure);
    CHECK_FALSE(hub.blocked());

    auto quay = resolved(empty, "quay.io/x/y@sha256:" + std::string(64, 'a'));
    CHECK(quay.endpoints[0].host == "quay.io");
    CHECK(quay.endpoints[0].repository == "x/y");
    CHECK(quay.endpoints[0].reference == "sha256:" + std::string(64, 'a'));

    // name:tag@digest asks for the digest; the tag is not part of the repository path.
    auto both = resolved(empty, "localhost:5000/d/img:v1@sha256:" + std::string(64, 'b'));
    CHECK(both.endpoints[0].host == "localhost:5000");
    CHECK(both.endpoints[0].repository == "d/img");
    CHECK(both.endpoints[0].reference == "sha256:" + std::string(64, 'b'));
}

TEST_CASE("registries: loopback registries are insecure by default", "[image][registries]") {
    RegistriesConfig empty;
    for (const char* text : {"localhost/a", "localhost:5000/a", "LocalHost:5000/a", "127.0.0.1:5000/a:1", "127.8.9.10/a", "[::1]:5000/a"}) {
        INFO(text);
        CHECK(resolved(empty, text).endpoints[0].insecure);
    }
    for (const char* text : {"128.0.0.1:5000/a", "10.0.0.1/a", "localhost.example.com/a", "[::2]:5000/a"}) {
        INFO(text);
        CHECK_FALSE(resolved(empty, text).endpoints[0].insecure);
    }
}

TEST_CASE("registries: longest prefix wins and its location replaces it", "[image][registries]") {
    TempDir tmp;
    auto config = load(tmp, R"(
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]

[[registry]]
prefix = "example.com"
location = "plain.example.net"

[[registry]]
prefix = "example.com/foo/"
location = "internal.example.net/mirrored-foo"
insecure = true

[[registry]]
location = "quay.io"
)");
    REQUIRE(config.registries.size() == 3);
    CHECK(config.registries[1].prefix == "example.com/foo");  // trailing '/' dropped
    CHECK(config.registries[2].prefix == "quay.io");          // prefix defaults to location
    CHECK(config.unqualified_search_registries.size() == 2);

    auto deep = resolved(config, "example.com/foo/bar:1");
    REQUIRE(deep.endpoints.size() == 1);
    CHECK(deep.endpoints[0].host == "internal.example.net");
    CHECK(deep.endpoints[0].repository == "mirrored-foo/bar");
    CHECK(deep.endpoints[0].reference == "1");
    CHECK(deep.endpoints[0].insecure);

    // "example.com/foobar" is not under "example.com/foo": prefixes end at a '/' boundary.
    auto sibling = resolved(config, "example.com/foobar");
    CHECK(sibling.endpoints[0].host == "plain.example.net");
    CHECK(sibling.endpoints[0].repository == "foobar");
    CHECK_FALSE(sibling.endpoints[0].insecure);

    CHECK(resolved(config, "example.community/x").endpoints[0].host == "example.community");
    // Short names still mean docker.io whatever unqualified-search-registries says.
    CHECK(resolved(config, "busybox").endpoints[0].host == "registry-1.docker.io");
}

TEST_CASE("registries: wildcard prefixes match subdomains only", "[image][registries]") {
    TempDir tmp;
    auto config = load(tmp, R"(
[[registry]]
prefix = "*.example.com"
insecure = true

[[registry]]
prefix = "*.corp.example.com"
blocked = true
)");
    auto sub = resolved(config, "a.example.com/x");
    CHECK(sub.endpoints[0].host == "a.example.com");
    CHECK(sub.endpoints[0].repository == "x");
    CHECK(sub.endpoints[0].insecure);
    CHECK(resolved(config, "b.a.example.com:5000/x").endpoints[0].insecure);
    CHECK_FALSE(resolved(config, "example.com/x").endpoints[0].insecure);
    CHECK_FALSE(resolved(config, "notexample.com/x").endpoints[0].insecure);
    CHECK_FALSE(resolved(config, "quay.io/a.example.com/x").endpoints[0].insecure);
    // The more specific wildcard matches more of the host.
    CHECK(resolved(config, "build.corp.example.com/x").blocked());
    CHECK_FALSE(resolved(config, "build.example.com/x").blocked());
}

TEST_CASE("registries: mirrors come first, in order, then the origin", "[image][registries]") {
    TempDir tmp;
    auto config = load(tmp, R"(
[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "mirror-a.example.com/hub"

[[registry.mirror]]
location = "localhost:5001"
)");
    auto hub = resolved(config, "busybox:1.36");
    REQUIRE(hub.endpoints.size() == 3);
    CHECK(hub.endpoints[0].host == "mirror-a.example.com");
    CHECK(hub.endpoints[0].repository == "hub/library/busybox");
    CHECK(hub.endpoints[0].reference == "1.36");
    CHECK_FALSE(hub.endpoints[0].insecure);
    CHECK(hub.endpoints[1].host == "localhost:5001");
    CHECK(hub.endpoints[1].repository == "library/busybox");
    CHECK(hub.endpoints[1].insecure);  // loopback
    CHECK(hub.endpoints[2].host == "registry-1.docker.io");
    CHECK(hub.endpoints[2].repository == "library/busybox");
}

TEST_CASE("registries: blocked and insecure registries", "[image][registries]") {
    TempDir tmp;
    auto config = load(tmp, R"(
[[registry]]
prefix = "bad.example.com"
blocked = true

[[registry.mirror]]
location = "mirror.example.com"
insecure = true

[[registry]]
location = "http-only.example.com:8080"
insecure = true
)");
    auto bad = resolved(config, "bad.example.com/x");
    CHECK(bad.blocked());
    for (const Endpoint& endpoint : bad.endpoints) CHECK(endpoint.blocked);
    CHECK(bad.endpoints[0].insecure);
    CHECK_FALSE(bad.endpoints[1].insecure);

    auto plain = resolved(config, "http-only.example.com:8080/x");
    CHECK(plain.endpoints[0].insecure);
    CHECK_FALSE(plain.blocked());
    // A port is part of the host: another port is another registry.
    CHECK_FALSE(resolved(config, "http-only.example.com:8081/x").endpoints[0].insecure);
}

TEST_CASE("registries: errors name the file and the key", "[image][registries]") {
    TempDir tmp;
    std::string path = tmp.dir + "/registries.conf";

    auto malformed = load_error(tmp, "[[registry]]\nprefix = \"unterminated\n");
    CHECK(malformed.starts_with(path + ":2:"));

    CHECK(load_error(tmp, "[[registry]]\nprefix = 5\n") == path + ": registry[0].prefix: must be a string");
    CHECK(load_error(tmp, "[[registry]]\nlocation = \"a.com\"\ninsecure = \"yes\"\n") ==
          path + ": registry[0].insecure: must be true or false");
    CHECK(load_error(tmp, "[[registry]]\nlocation = \"a.com\"\n[[registry]]\nblocked = true\n") ==
          path + ": registry[1].prefix: prefix and location are both unset");
    CHECK(load_error(tmp, "[[registry]]\nlocation = \"a.com\"\n[[registry.mirror]]\ninsecure = true\n") ==
          path + ": registry[0].mirror[0].location: must be set");
    CHECK(load_error(tmp, "[[registry]]\nprefix = \"*.a.com\"\nlocation = \"b.com\"\n")
              .starts_with(path + ": registry[0].location: must be unset"));
    CHECK(load_error(tmp, "[[registry]]\nprefix = \"a.*.com\"\n").starts_with(path + ": registry[0].prefix:"));
    CHECK(load_error(tmp, "[[registry]]\nlocation = \"a.com\"\nmirror = [1]\n") ==
          path + ": registry[0].mirror[0]: must be a table");
    CHECK(load_error(tmp, "registry = 5\n") == path + ": registry: must be an array of tables ([[registry]])");
    CHECK(load_error(tmp, "unqualified-search-registries = \"docker.io\"\n") ==
          path + ": unqualified-search-registries: must be an array of strings");
    CHECK(load_error(tmp, "[registries.search]\nregistries = [\"docker.io\"]\n")
              .starts_with(path + ": registries: the v1 format"));

    auto missing = load_registries_config(tmp.dir + "/nope.conf");
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().message().starts_with("read " + tmp.dir + "/nope.conf"));
}

TEST_CASE("registries: the per-user file replaces the system one", "[image][registries]") {
    TempDir tmp;
    std::string system = tmp.file("system.conf", "[[registry]]\nlocation = \"system.example.com\"\n");
    std::string user = tmp.dir + "/user.conf";

    auto only_system = load_default_registries_config(system, user);
    REQUIRE(only_system.has_value());
    REQUIRE(only_system->registries.size() == 1);
    CHECK(only_system->registries[0].prefix == "system.example.com");

    tmp.file("user.conf", "[[registry]]\nlocation = \"user.example.com\"\n");
    auto with_user = load_default_registries_config(system, user);
    REQUIRE(with_user.has_value());
    REQUIRE(with_user->registries.size() == 1);
    CHECK(with_user->registries[0].prefix == "user.example.com");

    auto neither = load_default_registries_config(tmp.dir + "/none.conf", tmp.dir + "/none-either.conf");
    REQUIRE(neither.has_value());
    CHECK(neither->registries.empty());
}
