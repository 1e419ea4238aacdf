// image/auth: base64, WWW-Authenticate parsing, auth.json lookup and editing.
#include "image/auth.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/fs.hpp"

using namespace skiff;
using namespace skiff::image;

namespace {

struct TempDir {
    std::string dir;
    TempDir() {
        char tmpl[] = "/tmp/skiff-auth-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir = tmpl;
    }
    ~TempDir() { (void)remove_tree(dir); }
    std::string file(const std::string& name, const std::string& content) const {
        std::string path = dir + "/" + name;
        REQUIRE(mkdir_p(dirname_of(path)).has_value());
        REQUIRE(write_file_atomic(path, content).has_value());
        return path;
    }
};

// Sets environment variables for one test and puts the old values back.
struct EnvGuard {
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    void set(const std::string& name, const std::optional<std::string>& value) {
        const char* old = std::getenv(name.c_str());
        saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
        if (value)
            ::setenv(name.c_str(), value->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
    ~EnvGuard() {
        for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
            if (it->second)
                ::setenv(it->first.c_str(), it->second->c_str(), 1);
            else
                ::unsetenv(it->first.c_str());
        }
    }
};

std::vector<AuthChallenge> parse_ok(const std::string& header) {
    auto parsed = parse_www_authenticate(header);
    INFO((parsed ? "" : parsed.error().message()));
    REQUIRE(parsed.has_value());
    return *parsed;
}

std::string auth_entry(const std::string& user_pass) {
    return R"({"auth": ")" + base64_encode(user_pass) + R"("})";
}

}  // namespace

TEST_CASE("base64 encodes and decodes RFC 4648 vectors", "[auth]") {
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CHECK(base64_encode(plain) == encoded);
        auto decoded = base64_decode(encoded);
        REQUIRE(decoded.has_value());
        CHECK(*decoded == plain);
    }
    std::string binary("\x00\xff\x10:pass", 8);
    CHECK(base64_decode(base64_encode(binary)).value() == binary);
    CHECK(base64_decode("Zm8").value() == "fo");  // padding omitted
    CHECK_FALSE(base64_decode("Zm9v!").has_value());
    CHECK_FALSE(base64_decode("Z").has_value());
}

TEST_CASE("WWW-Authenticate: Docker Hub's bearer challenge", "[auth]") {
    auto challenges = parse_ok(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
    REQUIRE(challenges.size() == 1);
    CHECK(challenges[0].scheme == "bearer");
    CHECK(challenges[0].params.at("realm") == "https://auth.docker.io/token");
    CHECK(challenges[0].params.at("service") == "registry.docker.io");
    CHECK(challenges[0].params.at("scope") == "repository:library/busybox:pull");
}

TEST_CASE("WWW-Authenticate: several challenges, case, escapes, bare tokens", "[auth]") {
    auto challenges = parse_ok(
        R"(Basic realm="my \"quoted\" realm", charset=UTF-8, BEARER Realm = "https://x/token" , error="insufficient_scope",scope="a:b:pull,push")");
    REQUIRE(challenges.size() == 2);
    CHECK(challenges[0].scheme == "basic");
    CHECK(challenges[0].params.at("realm") == R"(my "quoted" realm)");
    CHECK(challenges[0].params.at("charset") == "UTF-8");
    CHECK(challenges[1].scheme == "bearer");
    CHECK(challenges[1].params.at("realm") == "https://x/token");
    CHECK(challenges[1].params.at("error") == "insufficient_scope");
    CHECK(challenges[1].params.at("scope") == "a:b:pull,push");

    auto bare = parse_ok("Basic");
    REQUIRE(bare.size() == 1);
    CHECK(bare[0].scheme == "basic");
    CHECK(bare[0].params.empty());
}

TEST_CASE("WWW-Authenticate: token68 is tolerated", "[auth]") {
    auto padded = parse_ok("Negotiate YWJjZA==, Basic realm=\"r\"");
    REQUIRE(padded.size() == 2);
    CHECK(padded[0].scheme == "negotiate");
    CHECK(padded[0].params.at("") == "YWJjZA==");
    CHECK(padded[1].scheme == "basic");
    CHECK(padded[1].params.at("realm") == "r");

    auto unpadded = parse_ok("Negotiate abc.def");
    REQUIRE(unpadded.size() == 1);
    CHECK(unpadded[0].params.at("") == "abc.def");
}

TEST_CASE("WWW-Authenticate: malformed headers are errors naming the header", "[auth]") {
    for (const char* header : {"", "   ", R"(Bearer realm="unterminated)", R"(Bearer realm="a",,=x)", "=foo",
                               R"(Bearer realm="a" junk)", "Bearer a=b, c="}) {
        INFO(header);
        auto parsed = parse_www_authenticate(header);
        REQUIRE_FALSE(parsed.has_value());
        CHECK_THAT(parsed.error().message(), Catch::Contains("malformed WWW-Authenticate header"));
    }
}

TEST_CASE("find_credentials: first file with the registry wins, missing files skipped", "[auth]") {
    TempDir tmp;
    std::string first = tmp.file("first.json", R"({"auths": {"localhost:5000": )" + auth_entry("alice:s3cr:et") + "}}");
    std::string second = tmp.file("second.json",
                                  R"({"auths": {"localhost:5000": )" + auth_entry("bob:pw") +
                                      R"(, "quay.io": )" + auth_entry("carol:pw2") + "}}");
    std::vector<std::string> files = {tmp.dir + "/missing.json", first, second};

    auto local = find_credentials("localhost:5000", files);
    REQUIRE(local.has_value());
    REQUIRE(local->has_value());
    CHECK((*local)->username == "alice");
    CHECK((*local)->password == "s3cr:et");  // only the first ':' separates

    auto quay = find_credentials("quay.io", files);
    REQUIRE(quay.has_value());
    REQUIRE(quay->has_value());
    CHECK((*quay)->username == "carol");

    auto none = find_credentials("ghcr.io", files);
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());
}

TEST_CASE("find_credentials: Docker Hub's spellings all mean docker.io", "[auth]") {
    TempDir tmp;
    for (const char* key : {"https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "docker.io"}) {
        INFO(key);
        std::string file = tmp.file("config.json", std::string(R"({"auths": {")") + key + R"(": )" +
                                                        auth_entry("hub:pw") + "}}");
        auto found = find_credentials("docker.io", {file});
        REQUIRE(found.has_value());
        REQUIRE(found->has_value());
        CHECK((*found)->username == "hub");
        CHECK((*found)->password == "pw");
    }
}

TEST_CASE("find_credentials: malformed files and credential helpers are errors", "[auth]") {
    TempDir tmp;
    std::string broken = tmp.file("broken.json", "{not json");
    auto r = find_credentials("quay.io", {broken});
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message(), Catch::Contains(broken));

    std::string no_colon = tmp.file("nocolon.json", R"({"auths": {"quay.io": )" + auth_entry("justuser") + "}}");
    r = find_credentials("quay.io", {no_colon});
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message(), Catch::Contains(no_colon));

    std::string store = tmp.file("store.json",
                                 R"({"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"})");
    r = find_credentials("docker.io", {store});
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message(), Catch::Contains("docker-credential-desktop"));
    CHECK_THAT(r.error().message(), Catch::Contains("not run"));

    std::string helpers = tmp.file("helpers.json", R"({"credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}})");
    r = find_credentials("123.dkr.ecr.us-east-1.amazonaws.com", {helpers});
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message(), Catch::Contains("docker-credential-ecr-login"));
    // Other registries in the same file are unaffected.
    auto other = find_credentials("quay.io", {helpers});
    REQUIRE(other.has_value());
    CHECK_FALSE(other->has_value());
}

TEST_CASE("store_credentials: creates 0600 in a 0700 directory, keeps other keys", "[auth]") {
    TempDir tmp;
    std::string file = tmp.dir + "/nested/containers/auth.json";
    REQUIRE(store_credentials(file, "localhost:5000", Credentials{"u", "p"}).has_value());
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    REQUIRE(::stat((tmp.dir + "/nested/containers").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);

    auto found = find_credentials("localhost:5000", {file});
    REQUIRE(found.has_value());
    REQUIRE(found->has_value());
    CHECK((*found)->username == "u");

    // A Docker-written file: unknown keys and other entries survive, the old Hub spelling is
    // replaced by the new entry.
    std::string docker = tmp.file("config.json", R"({
        "auths": {"https://index.docker.io/v1/": {"auth": "b2xkOm9sZA=="}, "quay.io": {"auth": "cTpx", "email": "x@y"}},
        "HttpHeaders": {"User-Agent": "Docker-Client"},
        "credHelpers": {"gcr.io": "gcloud"}
    })");
    REQUIRE(store_credentials(docker, "docker.io", Credentials{"new", "pw"}).has_value());
    auto doc = nlohmann::json::parse(read_file(docker).value());
    CHECK(doc["HttpHeaders"]["User-Agent"] == "Docker-Client");
    CHECK(doc["credHelpers"]["gcr.io"] == "gcloud");
    CHECK(doc["auths"]["quay.io"]["email"] == "x@y");
    CHECK_FALSE(doc["auths"].contains("https://index.docker.io/v1/"));
    CHECK(doc["auths"]["docker.io"]["auth"] == base64_encode("new:pw"));

    // logout
    REQUIRE(store_credentials(docker, "docker.io", std::nullopt).has_value());
    doc = nlohmann::json::parse(read_file(docker).value());
    CHECK_FALSE(doc["auths"].contains("docker.io"));
    CHECK(doc["auths"].contains("quay.io"));
    auto again = store_credentials(docker, "docker.io", std::nullopt);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().message() == "not logged in to docker.io");

    std::string broken = tmp.file("broken.json", "[1,2");
    auto bad = store_credentials(broken, "quay.io", Credentials{"a", "b"});
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.error().message(), Catch::Contains(broken));
}

TEST_CASE("default auth files and login file follow the environment", "[auth]") {
    EnvGuard env;
    env.set("HOME", "/home/tester");
    env.set("XDG_CONFIG_HOME", std::nullopt);
    env.set("DOCKER_CONFIG", std::nullopt);
    env.set("REGISTRY_AUTH_FILE", std::nullopt);
    env.set("XDG_RUNTIME_DIR", "/run/user/1000");
    CHECK(default_auth_files() == std::vector<std::string>{"/run/user/1000/containers/auth.json",
                                                           "/home/tester/.config/containers/auth.json",
                                                           "/home/tester/.docker/config.json"});
    CHECK(default_login_file() == "/run/user/1000/containers/auth.json");

    env.set("XDG_RUNTIME_DIR", std::nullopt);
    env.set("XDG_CONFIG_HOME", "/cfg");
    CHECK(default_login_file() == "/cfg/containers/auth.json");

    env.set("REGISTRY_AUTH_FILE", "/tmp/my-auth.json");
    CHECK(default_login_file() == "/tmp/my-auth.json");
    auto files = default_auth_files();
    REQUIRE_FALSE(files.empty());
    CHECK(files.front() == "/tmp/my-auth.json");
}
