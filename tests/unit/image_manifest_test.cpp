#include <catch2/catch.hpp>

#include <string>

#include "image/manifest.hpp"

using namespace skiff::image;

namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

std::string descriptor(const std::string& media_type, const std::string& digest, int size,
                       const std::string& extra = "") {
    return R"({"mediaType":")" + media_type + R"(","digest":")" + digest + R"(","size":)" +
           std::to_string(size) + extra + "}";
}

std::string image_manifest(const std::string& media_type, const std::string& config_type,
                           const std::string& layer_type) {
    std::string mt = media_type.empty() ? "" : R"("mediaType":")" + media_type + R"(",)";
    return R"({"schemaVersion":2,)" + mt + R"("config":)" + descriptor(config_type, kD1, 100) +
           R"(,"layers":[)" + descriptor(layer_type, kD2, 2000) + "," + descriptor(layer_type, kD3, 3000) +
           R"(],"annotations":{"org.opencontainers.image.title":"t"}})";
}

std::string platform_entry(const std::string& digest, const std::string& os, const std::string& arch,
                           const std::string& variant = "") {
    std::string v = variant.empty() ? "" : R"(,"variant":")" + variant + "\"";
    return descriptor(std::string(kOciManifest), digest, 500,
                      R"(,"platform":{"os":")" + os + R"(","architecture":")" + arch + "\"" + v + "}");
}

std::string error_of(std::string_view body) {
    auto r = parse_manifest(body);
    REQUIRE(!r);
    return r.error().what;
}

Index index_of(std::initializer_list<std::pair<std::string, std::string>> platforms) {
    Index idx;
    idx.media_type = std::string(kOciIndex);
    int n = 0;
    for (const auto& [name, digest] : platforms) {
        auto p = parse_platform(name);
        REQUIRE(p);
        Descriptor d;
        d.media_type = std::string(kOciManifest);
        d.digest = digest.empty() ? "sha256:" + std::string(63, 'a') + std::to_string(n) : digest;
        d.platform = *p;
        // parse_platform normalises; keep the raw spelling to test matching normalises too.
        auto slash = name.find('/');
        auto rest = name.substr(slash + 1);
        auto slash2 = rest.find('/');
        d.platform->architecture = rest.substr(0, slash2);
        d.platform->variant = slash2 == std::string::npos ? "" : rest.substr(slash2 + 1);
        idx.manifests.push_back(d);
        ++n;
    }
    return idx;
}

std::string chosen(const Index& idx, const std::string& wanted) {
    auto p = parse_platform(wanted);
    REQUIRE(p);
    auto d = choose_platform(idx, *p);
    if (!d) return "error: " + d.error().what;
    return d->platform->to_string();
}

}  // namespace

TEST_CASE("Docker v2 schema 2 manifest", "[image][manifest]") {
    auto r = parse_manifest(image_manifest(std::string(kDockerManifest), std::string(kDockerConfig),
                                           "application/vnd.docker.image.rootfs.diff.tar.gzip"));
    REQUIRE(r);
    REQUIRE(std::holds_alternative<Manifest>(*r));
    const auto& m = std::get<Manifest>(*r);
    CHECK(m.media_type == kDockerManifest);
    CHECK(m.config.digest == kD1);
    CHECK(m.config.size == 100);
    REQUIRE(m.layers.size() == 2);
    CHECK(m.layers[1].digest == kD3);
    CHECK(m.layers[1].size == 3000);
    CHECK(m.annotations.at("org.opencontainers.image.title") == "t");
}

TEST_CASE("OCI manifest, with and without mediaType", "[image][manifest]") {
    const std::string layer = "application/vnd.oci.image.layer.v1.tar+zstd";
    auto with = parse_manifest(image_manifest(std::string(kOciManifest), std::string(kOciConfig), layer));
    REQUIRE(with);
    CHECK(std::get<Manifest>(*with).media_type == kOciManifest);

    auto shape = parse_manifest(image_manifest("", std::string(kOciConfig), layer));
    REQUIRE(shape);
    CHECK(std::get<Manifest>(*shape).media_type == kOciManifest);

    // The registry's Content-Type (with parameters) decides when the body is silent.
    auto header = parse_manifest(image_manifest("", std::string(kDockerConfig),
                                                "application/vnd.docker.image.rootfs.diff.tar.gzip"),
                                 std::string(kDockerManifest) + "; charset=utf-8");
    REQUIRE(header);
    CHECK(std::get<Manifest>(*header).media_type == kDockerManifest);
}

TEST_CASE("Docker manifest list and OCI index", "[image][manifest]") {
    std::string entries = platform_entry(kD1, "linux", "amd64") + "," + platform_entry(kD2, "linux", "arm64", "v8");
    auto list = parse_manifest(R"({"schemaVersion":2,"mediaType":")" + std::string(kDockerManifestList) +
                               R"(","manifests":[)" + entries + "]}");
    REQUIRE(list);
    REQUIRE(std::holds_alternative<Index>(*list));
    const auto& idx = std::get<Index>(*list);
    CHECK(idx.media_type == kDockerManifestList);
    REQUIRE(idx.manifests.size() == 2);
    REQUIRE(idx.manifests[1].platform);
    CHECK(idx.manifests[1].platform->to_string() == "linux/arm64/v8");

    auto oci = parse_manifest(R"({"schemaVersion":2,"mediaType":")" + std::string(kOciIndex) +
                              R"(","manifests":[)" + entries + "]}");
    REQUIRE(oci);
    CHECK(std::get<Index>(*oci).media_type == kOciIndex);

    auto shape = parse_manifest(R"({"schemaVersion":2,"manifests":[)" + entries + "]}");
    REQUIRE(shape);
    CHECK(std::get<Index>(*shape).media_type == kOciIndex);

    auto features = parse_manifest(R"({"schemaVersion":2,"manifests":[)" +
                                   descriptor(std::string(kOciManifest), kD1, 1,
                                              R"(,"platform":{"os":"windows","architecture":"amd64",)"
                                              R"("os.version":"10.0.17763.1","os.features":["win32k"]})") +
                                   "]}");
    REQUIRE(features);
    const auto& wp = *std::get<Index>(*features).manifests[0].platform;
    CHECK(wp.os_version == "10.0.17763.1");
    CHECK(wp.features == std::vector<std::string>{"win32k"});
}

TEST_CASE("unsupported manifest media types", "[image][manifest]") {
    CHECK(error_of(R"({"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"})")
              .find("unsupported manifest media type application/vnd.docker.distribution.manifest.v1+prettyjws") == 0);
    CHECK(error_of(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})")
              .find("unsupported manifest media type application/vnd.docker.distribution.manifest.v1+json") == 0);
    CHECK(error_of(R"({"mediaType":"application/x-whatever"})") ==
          "unsupported manifest media type application/x-whatever");
    CHECK(error_of(R"({"schemaVersion":2})").find("neither a manifest nor an index") != std::string::npos);
}

TEST_CASE("malformed manifests name the field", "[image][manifest]") {
    const std::string gz = "application/vnd.oci.image.layer.v1.tar+gzip";
    const std::string oci = std::string(kOciManifest);
    const std::string cfg = descriptor(std::string(kOciConfig), kD1, 1);
    auto body = [&](const std::string& rest) { return R"({"mediaType":")" + oci + R"(",)" + rest + "}"; };

    CHECK(error_of("not json") == "manifest: invalid JSON");
    CHECK(error_of("[1,2]") == "manifest: must be a JSON object");
    CHECK(error_of(body(R"("layers":[])")) == "manifest: config: missing");
    CHECK(error_of(body(R"("config":)" + cfg)) == "manifest: layers: missing");
    CHECK(error_of(body(R"("config":)" + cfg + R"(,"layers":{})")) == "manifest: layers: must be an array");
    CHECK(error_of(body(R"("config":)" + cfg + R"(,"layers":[{"mediaType":")" + gz + R"(","size":1}])")) ==
          "manifest: layers[0].digest: missing");
    CHECK(error_of(body(R"("config":)" + cfg + R"(,"layers":[{"mediaType":")" + gz + R"(","digest":")" + kD2 +
                        R"("}])")) == "manifest: layers[0].size: missing");
    CHECK(error_of(body(R"("config":)" + cfg + R"(,"layers":[)" + descriptor(gz, kD2, -1) + "]")) ==
          "manifest: layers[0].size: must be a non-negative integer");
    CHECK(error_of(body(R"("config":)" + cfg + R"(,"layers":[)" + descriptor(gz, "sha256:zz", 1) + "]"))
              .find("manifest: layers[0].digest: invalid digest") == 0);
    CHECK(error_of(body(R"("config":{"digest":")" + kD1 + R"(","size":1},"layers":[])")) ==
          "manifest: config.mediaType: missing");
    CHECK(error_of(body(R"("config":)" + descriptor("application/vnd.cncf.helm.config.v1+json", kD1, 1) +
                        R"(,"layers":[])")) ==
          "manifest: config.mediaType: unsupported config media type application/vnd.cncf.helm.config.v1+json");
    CHECK(error_of(body(R"("config":)" + cfg + R"(,"layers":[)" + descriptor("application/x-tar-bz2", kD2, 1) + "]")) ==
          "manifest: layers[0].mediaType: unsupported layer media type application/x-tar-bz2");
    CHECK(error_of(R"({"mediaType":")" + std::string(kOciIndex) + R"(","manifests":[{"mediaType":")" + oci +
                   R"(","digest":")" + kD1 + R"(","size":1,"platform":{"os":"linux"}}]})") ==
          "index: manifests[0].platform.architecture: missing");
}

TEST_CASE("oversize documents are refused before parsing", "[image][manifest]") {
    std::string big(kMaxManifestBytes + 1, ' ');
    auto r = parse_manifest(big);
    REQUIRE(!r);
    CHECK(r.error().what == "manifest is 4194305 bytes, over the 4 MiB limit");

    std::string cfg_big(kMaxConfigBytes + 1, ' ');
    auto c = parse_image_config(cfg_big);
    REQUIRE(!c);
    CHECK(c.error().what == "image config: image config is 8388609 bytes, over the 8 MiB limit");
}

TEST_CASE("layer media types", "[image][manifest]") {
    using C = Compression;
    const std::pair<const char*, C> cases[] = {
        {"application/vnd.docker.image.rootfs.diff.tar", C::none},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", C::gzip},
        {"application/vnd.docker.image.rootfs.diff.tar.zstd", C::zstd},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", C::gzip},
        {"application/vnd.oci.image.layer.v1.tar", C::none},
        {"application/vnd.oci.image.layer.v1.tar+gzip", C::gzip},
        {"application/vnd.oci.image.layer.v1.tar+zstd", C::zstd},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", C::none},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", C::gzip},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", C::zstd},
    };
    for (const auto& [type, want] : cases) {
        INFO(type);
        auto c = layer_compression(type);
        REQUIRE(c);
        CHECK(*c == want);
    }
    auto bad = layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2");
    REQUIRE(!bad);
    CHECK(bad.error().what == "unsupported layer media type application/vnd.oci.image.layer.v1.tar+bzip2");
}

TEST_CASE("image config parsing and diff_ids check", "[image][manifest]") {
    const std::string config = R"({
      "created": "2024-01-02T03:04:05Z",
      "architecture": "arm", "variant": "v7", "os": "linux",
      "config": {
        "User": "app", "Env": ["PATH=/usr/bin", "A=1"], "Entrypoint": ["/init"], "Cmd": null,
        "WorkingDir": "/srv", "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
        "Volumes": {"/data": {}}, "Labels": {"k": "v"}, "StopSignal": "SIGQUIT"
      },
      "rootfs": {"type": "layers", "diff_ids": [")" + kD1 + R"(", ")" + kD2 + R"("]},
      "history": [{"created_by": "ADD x /", "created": "2024"}, {"created_by": "ENV A=1", "empty_layer": true}]
    })";
    auto r = parse_image_config(config);
    REQUIRE(r);
    CHECK(r->architecture == "arm");
    CHECK(r->variant == "v7");
    CHECK(r->os == "linux");
    CHECK(r->created == "2024-01-02T03:04:05Z");
    CHECK(r->config.user == "app");
    CHECK(r->config.env == std::vector<std::string>{"PATH=/usr/bin", "A=1"});
    CHECK(r->config.entrypoint == std::vector<std::string>{"/init"});
    CHECK(r->config.cmd.empty());
    CHECK(r->config.working_dir == "/srv");
    CHECK(r->config.exposed_ports == std::vector<std::string>{"53/udp", "80/tcp"});
    CHECK(r->config.volumes == std::vector<std::string>{"/data"});
    CHECK(r->config.labels.at("k") == "v");
    CHECK(r->config.stop_signal == "SIGQUIT");
    CHECK(r->diff_ids == std::vector<std::string>{kD1, kD2});
    REQUIRE(r->history.size() == 2);
    CHECK(r->history[0].created_by == "ADD x /");
    CHECK(!r->history[0].empty_layer);
    CHECK(r->history[1].empty_layer);

    auto m = parse_manifest(image_manifest(std::string(kOciManifest), std::string(kOciConfig),
                                           "application/vnd.oci.image.layer.v1.tar"));
    REQUIRE(m);
    const auto& manifest = std::get<Manifest>(*m);
    CHECK(check_diff_ids(*r, manifest));
    Manifest one = manifest;
    one.layers.pop_back();
    auto mismatch = check_diff_ids(*r, one);
    REQUIRE(!mismatch);
    CHECK(mismatch.error().what == "image config has 2 diff_ids but the manifest has 1 layers");

    auto err = [](const std::string& body) {
        auto c = parse_image_config(body);
        REQUIRE(!c);
        return c.error().what;
    };
    const std::string rootfs = R"("rootfs":{"type":"layers","diff_ids":[]})";
    CHECK(err(R"({"os":"linux",)" + rootfs + "}") == "image config: architecture: missing");
    CHECK(err(R"({"architecture":"amd64",)" + rootfs + "}") == "image config: os: missing");
    CHECK(err(R"({"architecture":"amd64","os":"linux"})") == "image config: rootfs: missing");
    CHECK(err(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"tarballs","diff_ids":[]}})") ==
          "image config: rootfs.type: must be \"layers\", got \"tarballs\"");
    CHECK(err(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})") ==
          "image config: rootfs.diff_ids: missing");
    CHECK(err(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}})")
              .find("image config: rootfs.diff_ids[0]: invalid digest") == 0);
    CHECK(err(R"({"architecture":"amd64","os":"linux","config":{"Env":"A=1"},)" + rootfs + "}") ==
          "image config: config.Env: must be an array of strings");
    CHECK(err(R"({"architecture":"amd64","os":"linux","config":{"Cmd":["a",1]},)" + rootfs + "}") ==
          "image config: config.Cmd[1]: must be a string");
    CHECK(err(R"({"architecture":"amd64","os":"linux","history":[{"empty_layer":"yes"}],)" + rootfs + "}") ==
          "image config: history[0].empty_layer: must be a boolean");
}

TEST_CASE("platform parsing and normalisation", "[image][platform]") {
    auto check = [](const std::string& in, const std::string& out) {
        INFO(in);
        auto p = parse_platform(in);
        REQUIRE(p);
        CHECK(p->to_string() == out);
    };
    check("linux/arm64/v8", "linux/arm64/v8");
    check("linux/aarch64", "linux/arm64");
    check("linux/x86_64", "linux/amd64");
    check("linux/amd64/v1", "linux/amd64");
    check("linux/armhf", "linux/arm/v7");
    check("linux/armel", "linux/arm/v6");
    check("linux/arm", "linux/arm/v7");
    check("linux/arm/6", "linux/arm/v6");
    check("linux/i386", "linux/386");
    check("Linux/AMD64", "linux/amd64");
    check("linux", host_platform().to_string());
    check("riscv64", "linux/riscv64");
    CHECK(!parse_platform("linux//v7"));
    CHECK(!parse_platform("a/b/c/d"));
    CHECK(!parse_platform(""));

#if defined(__x86_64__)
    CHECK(host_platform().to_string() == "linux/amd64");
#elif defined(__aarch64__)
    CHECK(host_platform().to_string() == "linux/arm64");
#endif
}

TEST_CASE("choose_platform follows containerd's matcher", "[image][platform]") {
    const Index idx = index_of({{"linux/amd64", ""}, {"linux/arm64/v8", ""}, {"linux/arm/v6", ""},
                                {"linux/arm/v7", ""}, {"linux/386", ""}, {"windows/amd64", ""}});
    const std::pair<const char*, const char*> table[] = {
        {"linux/amd64", "linux/amd64"},
        {"linux/x86_64", "linux/amd64"},
        {"linux/aarch64", "linux/arm64/v8"},
        {"linux/arm64", "linux/arm64/v8"},
        {"linux/arm64/v8", "linux/arm64/v8"},
        {"linux/armhf", "linux/arm/v7"},
        {"linux/arm/v7", "linux/arm/v7"},
        {"linux/armel", "linux/arm/v6"},
        {"linux/arm/v5", "error: no image for platform linux/arm/v5 in index (available: linux/amd64, "
                         "linux/arm64/v8, linux/arm/v6, linux/arm/v7, linux/386, windows/amd64)"},
        {"linux/i386", "linux/386"},
        {"windows/amd64", "windows/amd64"},
        {"linux/amd64/v3", "linux/amd64"},  // v3 host runs the v1 baseline
    };
    for (const auto& [wanted, want] : table) {
        INFO(wanted);
        CHECK(chosen(idx, wanted) == want);
    }

    // arm/v7 host prefers v7, then v6, then v5.
    CHECK(chosen(index_of({{"linux/arm/v5", ""}, {"linux/arm/v6", ""}}), "linux/arm/v7") == "linux/arm/v6");
    CHECK(chosen(index_of({{"linux/arm/v5", ""}}), "linux/arm/v7") == "linux/arm/v5");
    // An arm image without variant is v7: not for a v6 host.
    CHECK(chosen(index_of({{"linux/arm", ""}}), "linux/arm/v6").starts_with("error: "));
    // arm64 without variant suits a v8 host, and an arm64 host with none given takes v8.
    CHECK(chosen(index_of({{"linux/arm64", ""}}), "linux/arm64/v8") == "linux/arm64");
    // amd64 variants: the highest the host runs wins, never one above it.
    const Index amd = index_of({{"linux/amd64", ""}, {"linux/amd64/v2", ""}, {"linux/amd64/v4", ""}});
    CHECK(chosen(amd, "linux/amd64/v3") == "linux/amd64/v2");
    CHECK(chosen(amd, "linux/amd64") == "linux/amd64");
    CHECK(chosen(index_of({{"linux/amd64/v3", ""}}), "linux/amd64").starts_with("error: "));

    // The first matching entry wins among equals.
    const std::string first = "sha256:" + std::string(64, 'b');
    auto dup = index_of({{"linux/amd64", first}, {"linux/amd64", ""}});
    auto d = choose_platform(dup, *parse_platform("linux/amd64"));
    REQUIRE(d);
    CHECK(d->digest == first);
}

TEST_CASE("choose_platform never falls back silently", "[image][platform]") {
    Index idx = index_of({{"linux/amd64", ""}, {"linux/arm64/v8", ""}});
    // BuildKit attestations and entries without a platform are not offered.
    Descriptor att;
    att.media_type = std::string(kOciManifest);
    att.digest = "sha256:" + std::string(64, 'c');
    att.platform = Platform{"unknown", "unknown", "", "", {}};
    idx.manifests.push_back(att);
    Descriptor bare = att;
    bare.platform.reset();
    idx.manifests.push_back(bare);

    CHECK(chosen(idx, "linux/riscv64") ==
          "error: no image for platform linux/riscv64 in index (available: linux/amd64, linux/arm64/v8)");
    CHECK(chosen(Index{}, "linux/amd64") == "error: no image for platform linux/amd64 in index (available: none)");
}
