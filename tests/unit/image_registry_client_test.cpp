// image/registry_client against tests/fixtures/fake_registry.py on loopback: auth flows,
// retries, redirects, resumption, stalls, size limits, uploads and mounts.
#include "image/registry_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.hpp"
#include "common/fs.hpp"

using namespace skiff;
using namespace skiff::image;
using nlohmann::json;

namespace {

// The fixture lives next to this file; meson compiles with paths relative to the build
// directory, which is three levels above the test binary.
std::string fixture_script() {
    if (const char* env = std::getenv("SKIFF_FAKE_REGISTRY")) return env;
    std::string relative = dirname_of(__FILE__) + "/../fixtures/fake_registry.py";
    if (relative.starts_with("/")) return relative;
    char exe[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        std::string build_dir = dirname_of(dirname_of(dirname_of(std::string(exe, static_cast<size_t>(n)))));
        std::string candidate = build_dir + "/" + relative;
        if (path_exists(candidate)) return candidate;
    }
    return relative;
}

std::string python() { return path_exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

// One fake registry process for one test, killed when the test ends however it ends.
class FakeRegistry {
public:
    explicit FakeRegistry(std::vector<std::string> args) {
        char tmpl[] = "/tmp/skiff-fake-registry-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir_ = tmpl;
        log_ = dir_ + "/requests.log";
        std::vector<std::string> argv = {python(), fixture_script(), "--log", log_};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);

        int pipefd[2];
        REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::dup2(pipefd[1], STDOUT_FILENO);
            ::execvp(cargv[0], cargv.data());
            ::_exit(127);
        }
        ::close(pipefd[1]);
        UniqueFd out(pipefd[0]);
        std::string line;
        while (line.find('\n') == std::string::npos) {
            pollfd p{out.get(), POLLIN, 0};
            REQUIRE(::poll(&p, 1, 10'000) == 1);
            char buf[128];
            ssize_t got = ::read(out.get(), buf, sizeof buf);
            REQUIRE(got > 0);
            line.append(buf, static_cast<size_t>(got));
        }
        std::istringstream(line) >> port_ >> storage_port_;
        REQUIRE(port_ > 0);
    }
    ~FakeRegistry() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        (void)remove_tree(dir_);
    }
    FakeRegistry(const FakeRegistry&) = delete;
    FakeRegistry& operator=(const FakeRegistry&) = delete;

    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    int storage_port() const { return storage_port_; }
    Endpoint endpoint(const std::string& repository) const {
        return Endpoint{host(), repository, "latest", true, false};
    }
    std::vector<json> requests() const {
        std::vector<json> out;
        auto text = read_file(log_);
        if (!text) return out;
        std::istringstream in(*text);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) out.push_back(json::parse(line));
        return out;
    }
    // Requests whose path contains `fragment`.
    std::vector<json> requests_to(const std::string& fragment) const {
        std::vector<json> out;
        for (auto& r : requests())
            if (r["path"].get<std::string>().find(fragment) != std::string::npos) out.push_back(r);
        return out;
    }

private:
    pid_t pid_ = -1;
    int port_ = 0;
    int storage_port_ = 0;
    std::string dir_;
    std::string log_;
};

ClientOptions fast_options() {
    ClientOptions options;
    options.initial_backoff_ms = 20;
    options.connect_timeout_seconds = 5;
    options.stall_timeout_seconds = 5;
    return options;
}

RegistryClient make_client(const FakeRegistry& registry, const std::string& repository,
                           ClientOptions options = fast_options()) {
    auto client = RegistryClient::create(registry.endpoint(repository), std::move(options));
    REQUIRE(client.has_value());
    return std::move(*client);
}

Fetched get_manifest_ok(RegistryClient& client, const std::string& reference = "latest") {
    auto fetched = client.get_manifest(reference, 4u << 20);
    INFO((fetched ? "" : fetched.error().message()));
    REQUIRE(fetched.has_value());
    return *fetched;
}

struct ManifestDigests {
    std::string config;
    std::string layer;
    int64_t layer_size = 0;
};

ManifestDigests digests_of(const Fetched& fetched) {
    auto doc = json::parse(fetched.body);
    return {doc["config"]["digest"], doc["layers"][0]["digest"], doc["layers"][0]["size"]};
}

// Streams a blob and returns the digest of what arrived (and its size through `size`).
Result<std::string> stream_digest(RegistryClient& client, const std::string& digest, int64_t* size = nullptr,
                                  int64_t offset = 0) {
    Sha256 sha;
    int64_t total = 0;
    auto st = client.stream_blob(
        digest,
        [&](const char* data, size_t n) {
            sha.update(std::string_view(data, n));
            total += static_cast<int64_t>(n);
            return ok();
        },
        offset);
    if (size) *size = total;
    if (!st) return std::unexpected(st.error());
    return sha.finish();
}

std::string error_of(const Status& status) {
    REQUIRE_FALSE(status.has_value());
    return status.error().message();
}
template <typename T>
std::string error_of(const Result<T>& result) {
    REQUIRE_FALSE(result.has_value());
    return result.error().message();
}

std::string header(const json& request, const std::string& name) {
    auto& headers = request["headers"];
    return headers.contains(name) ? headers[name].get<std::string>() : "";
}

}  // namespace

TEST_CASE("registry client: anonymous manifest, blobs, HEAD and errors", "[registry-client]") {
    FakeRegistry registry({});
    auto client = make_client(registry, "library/anon");
    CHECK(client.base_url() == "http://" + registry.host());
    REQUIRE(client.ping().has_value());

    Fetched manifest = get_manifest_ok(client);
    CHECK(manifest.content_type == "application/vnd.oci.image.manifest.v1+json");
    CHECK(manifest.docker_content_digest == sha256_digest(manifest.body));
    CHECK(client.last_http_status() == 200);
    auto accept = header(registry.requests_to("/manifests/latest").at(0), "accept");
    for (const char* type : {"application/vnd.docker.distribution.manifest.v2+json",
                             "application/vnd.docker.distribution.manifest.list.v2+json",
                             "application/vnd.oci.image.manifest.v1+json",
                             "application/vnd.oci.image.index.v1+json"})
        CHECK_THAT(accept, Catch::Contains(type));

    auto digests = digests_of(manifest);
    auto config = client.get_blob(digests.config, 1 << 20);
    REQUIRE(config.has_value());
    CHECK(sha256_digest(*config) == digests.config);
    CHECK_THAT(error_of(client.get_blob(digests.layer, 1000)), Catch::Contains("larger than 1000 bytes"));

    int64_t size = 0;
    auto streamed = stream_digest(client, digests.layer, &size);
    REQUIRE(streamed.has_value());
    CHECK(*streamed == digests.layer);
    CHECK(size == digests.layer_size);

    // The rest of a blob from an offset.
    int64_t tail = 0;
    REQUIRE(stream_digest(client, digests.layer, &tail, 1000).has_value());
    CHECK(tail == digests.layer_size - 1000);
    auto ranged = registry.requests_to("/blobs/" + digests.layer);
    CHECK(header(ranged.back(), "range") == "bytes=1000-");

    CHECK(client.blob_exists(digests.layer).value());
    CHECK_FALSE(client.blob_exists(sha256_digest("nope")).value());
    CHECK(client.last_http_status() == 404);

    CHECK(error_of(client.get_manifest("missing", 1 << 20)) ==
          "GET http://" + registry.host() +
              "/v2/library/anon/manifests/missing: 404 Not Found: MANIFEST_UNKNOWN: manifest unknown");
    CHECK(client.last_http_status() == 404);
    CHECK_THAT(error_of(client.stream_blob(sha256_digest("nope"), [](const char*, size_t) { return ok(); })),
               Catch::Contains("404 Not Found: BLOB_UNKNOWN: blob unknown to registry"));

    // A sink's error stops the transfer and is returned as is.
    CHECK(error_of(client.stream_blob(digests.layer, [](const char*, size_t) { return fail("disk full"); })) ==
          "disk full");
}

TEST_CASE("registry client: bearer token flow with credentials", "[registry-client]") {
    FakeRegistry registry({"--auth", "bearer", "--user", "alice:wonder"});
    ClientOptions options = fast_options();
    options.credentials = Credentials{"alice", "wonder"};
    auto client = make_client(registry, "team/app", options);

    REQUIRE(client.ping().has_value());
    Fetched manifest = get_manifest_ok(client);
    auto digests = digests_of(manifest);
    auto streamed = stream_digest(client, digests.layer);
    REQUIRE(streamed.has_value());
    CHECK(*streamed == digests.layer);

    auto tokens = registry.requests_to("/token");
    // One for ping (no scope), one for pulls of team/app: cached afterwards.
    REQUIRE(tokens.size() == 2);
    std::string pull = tokens[1]["path"];
    CHECK_THAT(pull, Catch::Contains("service=fake-registry"));
    CHECK_THAT(pull, Catch::Contains("scope=repository%3Ateam%2Fapp%3Apull"));
    CHECK(header(tokens[1], "authorization") == "Basic " + base64_encode("alice:wonder"));
    auto blob_requests = registry.requests_to("/blobs/" + digests.layer);
    REQUIRE_FALSE(blob_requests.empty());
    CHECK_THAT(header(blob_requests.back(), "authorization"), Catch::StartsWith("Bearer tok."));

    // Pushing needs a pull,push token.
    REQUIRE(client.put_manifest("v1", "application/vnd.oci.image.manifest.v1+json", manifest.body).has_value());
    CHECK_THAT(registry.requests_to("/token").back()["path"].get<std::string>(),
               Catch::Contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"));

    // A token server answering "access_token".
    auto alt = make_client(registry, "alt/app", options);
    get_manifest_ok(alt);

    // Without credentials the token server refuses.
    auto anonymous = make_client(registry, "team/app");
    auto refused = anonymous.get_manifest("latest", 1 << 20);
    CHECK_THAT(error_of(refused), Catch::Contains("401 Unauthorized: incorrect username or password"));
    CHECK_THAT(error_of(refused), Catch::Contains("/token?"));
}

TEST_CASE("registry client: basic auth", "[registry-client]") {
    FakeRegistry registry({"--auth", "basic", "--user", "bob:builder"});
    auto anonymous = make_client(registry, "team/app");
    CHECK(error_of(anonymous.get_manifest("latest", 1 << 20)) ==
          "GET http://" + registry.host() + "/v2/team/app/manifests/latest: 401 Unauthorized: authentication required");
    CHECK(anonymous.last_http_status() == 401);

    ClientOptions wrong = fast_options();
    wrong.credentials = Credentials{"bob", "nope"};
    auto wrong_client = make_client(registry, "team/app", wrong);
    CHECK_THAT(error_of(wrong_client.ping()), Catch::Contains("401 Unauthorized: UNAUTHORIZED: authentication required"));

    ClientOptions right = fast_options();
    right.credentials = Credentials{"bob", "builder"};
    auto client = make_client(registry, "team/app", right);
    REQUIRE(client.ping().has_value());
    auto digests = digests_of(get_manifest_ok(client));
    CHECK(stream_digest(client, digests.layer).value() == digests.layer);
    // After the first challenge credentials go with every request: one 401 in all.
    int challenged = 0;
    for (auto& r : registry.requests())
        if (header(r, "authorization") == "Basic " + base64_encode("bob:builder")) ++challenged;
    CHECK(challenged == 3);
}

TEST_CASE("registry client: 5xx is retried with backoff, then reported", "[registry-client]") {
    FakeRegistry registry({});
    auto client = make_client(registry, "flaky/app");
    Fetched manifest = get_manifest_ok(client);
    CHECK(registry.requests_to("/manifests/latest").size() == 3);
    auto digests = digests_of(manifest);
    CHECK(stream_digest(client, digests.layer).value() == digests.layer);
    CHECK(registry.requests_to("/blobs/" + digests.layer).size() == 3);

    ClientOptions once = fast_options();
    once.retries = 1;
    auto impatient = make_client(registry, "flaky/other", once);
    CHECK_THAT(error_of(impatient.get_manifest("latest", 1 << 20)),
               Catch::EndsWith("/v2/flaky/other/manifests/latest: 500 Internal Server Error: UNKNOWN: flaky backend"));
    CHECK(impatient.last_http_status() == 500);
    CHECK(registry.requests_to("/flaky/other/manifests/latest").size() == 2);
}

TEST_CASE("registry client: 429 honours Retry-After", "[registry-client]") {
    FakeRegistry registry({});
    auto client = make_client(registry, "ratelimit/app");
    auto start = std::chrono::steady_clock::now();
    get_manifest_ok(client);
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= std::chrono::milliseconds(900));
    CHECK(waited < std::chrono::seconds(5));
    CHECK(registry.requests_to("/manifests/latest").size() == 2);
}

TEST_CASE("registry client: redirects keep credentials on the registry's origin only", "[registry-client]") {
    FakeRegistry registry({"--auth", "bearer"});
    auto client = make_client(registry, "redirect/app");
    auto digests = digests_of(get_manifest_ok(client));

    // Config: relative Location on the same origin, token still sent.
    auto config = client.get_blob(digests.config, 1 << 20);
    INFO((config ? "" : config.error().message()));
    REQUIRE(config.has_value());
    CHECK(sha256_digest(*config) == digests.config);
    auto same_origin = registry.requests_to("/storage/" + digests.config);
    REQUIRE(same_origin.size() == 1);
    CHECK(same_origin[0]["port"] == registry.port());
    CHECK_THAT(header(same_origin[0], "authorization"), Catch::StartsWith("Bearer "));

    // Layer: another port, no Authorization there.
    CHECK(stream_digest(client, digests.layer).value() == digests.layer);
    CHECK(client.blob_exists(digests.layer).value());
    auto elsewhere = registry.requests_to("/storage/" + digests.layer);
    REQUIRE(elsewhere.size() == 2);
    for (auto& r : elsewhere) {
        CHECK(r["port"] == registry.storage_port());
        CHECK(header(r, "authorization").empty());
    }
}

TEST_CASE("registry client: dropped downloads resume with Range", "[registry-client]") {
    FakeRegistry registry({});
    auto client = make_client(registry, "drop/app");
    auto digests = digests_of(get_manifest_ok(client));
    int64_t size = 0;
    auto streamed = stream_digest(client, digests.layer, &size);
    INFO((streamed ? "" : streamed.error().message()));
    REQUIRE(streamed.has_value());
    CHECK(*streamed == digests.layer);
    CHECK(size == digests.layer_size);
    auto attempts = registry.requests_to("/blobs/" + digests.layer);
    REQUIRE(attempts.size() == 3);
    CHECK(header(attempts[0], "range").empty());
    CHECK(header(attempts[1], "range") == "bytes=1048576-");
    CHECK(header(attempts[2], "range") == "bytes=2097152-");

    // A server that ignores Range cannot resume once bytes reached the sink.
    auto norange = make_client(registry, "norange/app");
    int64_t partial = 0;
    auto failed = stream_digest(norange, digests.layer, &partial);
    CHECK_THAT(error_of(failed), Catch::Contains("does not resume"));
    CHECK(partial == 1048576);
}

TEST_CASE("registry client: a hanging registry times out", "[registry-client]") {
    FakeRegistry registry({});
    ClientOptions options = fast_options();
    options.stall_timeout_seconds = 2;
    options.retries = 0;
    auto client = make_client(registry, "hang/app", options);
    auto start = std::chrono::steady_clock::now();
    auto result = client.get_manifest("latest", 1 << 20);
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK_THAT(error_of(result), Catch::StartsWith("GET http://" + registry.host() + "/v2/hang/app/manifests/latest: "));
    CHECK(waited < std::chrono::seconds(6));
    CHECK(client.last_http_status() == 0);
}

TEST_CASE("registry client: manifests over max_bytes are refused", "[registry-client]") {
    FakeRegistry registry({});
    auto client = make_client(registry, "library/big");
    CHECK_THAT(error_of(client.get_manifest("big", 1 << 20)), Catch::Contains("larger than 1048576 bytes"));
    CHECK_THAT(error_of(client.get_manifest("bigchunked", 1 << 20)), Catch::Contains("larger than 1048576 bytes"));
    CHECK(get_manifest_ok(client, "big").body.size() > (2u << 20));
    CHECK(get_manifest_ok(client, "bigchunked").body.size() > (2u << 20));
}

TEST_CASE("registry client: blob upload in chunks and manifest push", "[registry-client]") {
    FakeRegistry registry({"--auth", "bearer", "--user", "u:p"});
    ClientOptions options = fast_options();
    options.credentials = Credentials{"u", "p"};
    auto client = make_client(registry, "push/app", options);

    // 17 MiB + 5: three PATCHes of at most 8 MiB; the source hands out odd-sized pieces.
    std::string data;
    for (int i = 0; data.size() < (17u << 20) + 5; ++i) data += sha256_digest(std::to_string(i));
    data.resize((17u << 20) + 5);
    const std::string digest = sha256_digest(data);
    size_t pos = 0;
    auto source = [&](char* buffer, size_t capacity) -> Result<size_t> {
        size_t n = std::min({capacity, data.size() - pos, size_t(1000003)});
        std::memcpy(buffer, data.data() + pos, n);
        pos += n;
        return n;
    };
    auto uploaded = client.upload_blob(digest, static_cast<int64_t>(data.size()), source);
    INFO((uploaded ? "" : uploaded.error().message()));
    REQUIRE(uploaded.has_value());

    std::vector<json> upload_requests;
    for (auto& r : registry.requests_to("/push/app/blobs/uploads/"))
        if (r["headers"].contains("authorization")) upload_requests.push_back(r);
    REQUIRE(upload_requests.size() == 5);
    CHECK(upload_requests[0]["method"] == "POST");
    CHECK(upload_requests[1]["method"] == "PATCH");
    CHECK(header(upload_requests[1], "content-range") == "0-8388607");
    CHECK(header(upload_requests[1], "content-type") == "application/octet-stream");
    CHECK(upload_requests[2]["method"] == "PATCH");
    CHECK(header(upload_requests[3], "content-range") == "16777216-17825796");
    CHECK(upload_requests[3]["body_len"] == 1048581);
    CHECK(upload_requests[4]["method"] == "PUT");
    std::string put_path = upload_requests[4]["path"];
    CHECK_THAT(put_path, Catch::Contains("?_state=s17825797&digest=sha256%3A"));

    CHECK(stream_digest(client, digest).value() == digest);
    CHECK(client.blob_exists(digest).value());

    // Empty blob: no PATCH at all.
    REQUIRE(client.upload_blob(sha256_digest(""), 0, [](char*, size_t) -> Result<size_t> { return 0; }).has_value());
    // A source that ends early.
    CHECK_THAT(error_of(client.upload_blob(sha256_digest("0123456789"), 10,
                                           [](char* buffer, size_t) -> Result<size_t> {
                                               static bool once = false;
                                               if (once) return size_t(0);
                                               once = true;
                                               std::memcpy(buffer, "01234", 5);
                                               return size_t(5);
                                           })),
               Catch::Contains("data ended after 5 of 10 bytes"));
    // A wrong digest is the registry's error.
    CHECK_THAT(error_of(client.upload_blob(sha256_digest("other"), 3,
                                           [](char* buffer, size_t) -> Result<size_t> {
                                               std::memcpy(buffer, "abc", 3);
                                               return size_t(3);
                                           })),
               Catch::Contains("400 Bad Request: DIGEST_INVALID"));

    std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"})";
    REQUIRE(client.put_manifest("v2", "application/vnd.docker.distribution.manifest.v2+json", manifest).has_value());
    CHECK(client.last_http_status() == 201);
    auto puts = registry.requests_to("/push/app/manifests/v2");
    REQUIRE_FALSE(puts.empty());
    CHECK(header(puts.back(), "content-type") == "application/vnd.docker.distribution.manifest.v2+json");
    Fetched back = get_manifest_ok(client, "v2");
    CHECK(back.body == manifest);
    CHECK(back.content_type == "application/vnd.docker.distribution.manifest.v2+json");
}

TEST_CASE("registry client: cross-repository mount", "[registry-client]") {
    FakeRegistry registry({"--auth", "bearer"});
    auto client = make_client(registry, "dest/app");
    auto source = make_client(registry, "library/anon");
    auto digests = digests_of(get_manifest_ok(source));

    auto mounted = client.mount_blob(digests.layer, "library/anon");
    INFO((mounted ? "" : mounted.error().message()));
    REQUIRE(mounted.has_value());
    CHECK(*mounted);
    CHECK_THAT(registry.requests_to("/token").back()["path"].get<std::string>(),
               Catch::Contains("scope=repository%3Alibrary%2Fanon%3Apull"));

    auto started = client.mount_blob(sha256_digest("unknown"), "library/anon");
    REQUIRE(started.has_value());
    CHECK_FALSE(*started);
    bool cancelled = false;
    for (auto& r : registry.requests_to("/dest/app/blobs/uploads/"))
        if (r["method"] == "DELETE" && !header(r, "authorization").empty()) cancelled = true;
    CHECK(cancelled);
}

TEST_CASE("registry client: one client streams from several threads", "[registry-client]") {
    FakeRegistry registry({"--auth", "bearer"});
    auto client = make_client(registry, "library/threads");
    auto digests = digests_of(get_manifest_ok(client));
    std::vector<std::string> results(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i)
        threads.emplace_back([&, i] {
            auto d = stream_digest(client, digests.layer);
            results[i] = d ? *d : d.error().message();
        });
    for (auto& t : threads) t.join();
    for (auto& r : results) CHECK(r == digests.layer);
}

TEST_CASE("registry client: connection refused is retried then reported", "[registry-client]") {
    // A port nobody listens on: bind one, close it.
    int port = 0;
    {
        FakeRegistry registry({});
        port = registry.port();
    }
    ClientOptions options = fast_options();
    options.retries = 2;
    auto client = RegistryClient::create(Endpoint{"127.0.0.1:" + std::to_string(port), "x/y", "latest", true, false},
                                         options);
    REQUIRE(client.has_value());
    auto message = error_of(client->ping());
    CHECK_THAT(message, Catch::StartsWith("GET http://127.0.0.1:" + std::to_string(port) + "/v2/: "));
    CHECK_THAT(message, Catch::Contains("gave up after 3 attempts"));
    CHECK(client->last_http_status() == 0);
}
