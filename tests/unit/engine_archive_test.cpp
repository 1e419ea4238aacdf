#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/archive.hpp"
#include "engine/store.hpp"
#include "image/manifest.hpp"
#include "image/manifest_write.hpp"

using skiff::UniqueFd;
namespace engine = skiff::engine;
namespace image = skiff::image;

namespace {

// A small tar built in memory with libarchive.
class Tar {
public:
    explicit Tar(bool gzip = false) : a_(archive_write_new()) {
        archive_write_set_format_pax_restricted(a_);
        if (gzip) archive_write_add_filter_gzip(a_);
        archive_write_set_bytes_in_last_block(a_, 1);
        REQUIRE(archive_write_open(a_, &out_, nullptr, &Tar::append, nullptr) == ARCHIVE_OK);
    }
    ~Tar() { archive_write_free(a_); }
    Tar& file(const std::string& path, const std::string& content) { return add(path, AE_IFREG, content); }
    Tar& dir(const std::string& path) { return add(path, AE_IFDIR, ""); }
    Tar& symlink(const std::string& path, const std::string& target) { return add(path, AE_IFLNK, "", target); }
    std::string finish() {
        REQUIRE(archive_write_close(a_) == ARCHIVE_OK);
        return out_;
    }

private:
    static la_ssize_t append(struct archive*, void* client, const void* buf, size_t n) {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    }
    Tar& add(const std::string& path, unsigned type, const std::string& content, const std::string& link = "") {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, path.c_str());
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_mtime(e, 1'600'000'000, 0);
        if (!link.empty()) archive_entry_set_symlink(e, link.c_str());
        archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
        REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
        if (!content.empty()) REQUIRE(archive_write_data(a_, content.data(), content.size()) == (la_ssize_t)content.size());
        archive_entry_free(e);
        return *this;
    }
    struct archive* a_;
    std::string out_;
};

struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/skiff-archive-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { (void)skiff::remove_tree(path); }
    std::string path;
};

engine::Store make_store(const std::string& dir) {
    engine::Store store(engine::StoreOptions{dir + "/root", dir + "/run"});
    REQUIRE(store.prepare());
    return store;
}

void write_file(const std::string& path, const std::string& content) {
    REQUIRE(skiff::write_file_atomic(path, content));
}

UniqueFd open_read(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    return fd;
}

UniqueFd open_write(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    REQUIRE(fd);
    return fd;
}

std::string read_all(const std::string& path) {
    auto r = skiff::read_file(path);
    REQUIRE(r);
    return *r;
}

image::RunConfig changed(const std::vector<std::string>& changes) {
    image::RunConfig c;
    for (const auto& ch : changes) {
        auto r = engine::apply_change(c, ch);
        INFO(ch << ": " << (r ? "" : r.error().message()));
        REQUIRE(r);
    }
    return c;
}

std::string change_error(const std::string& change) {
    image::RunConfig c;
    auto r = engine::apply_change(c, change);
    REQUIRE_FALSE(r);
    return r.error().message();
}

using Strings = std::vector<std::string>;

const char kRootfsMarker[] = "hello from a skiff import, unique-marker-7f3a";

// A rootfs tarball imported into `store` as docker.io/library/imported:1.
image::ImageRecord import_sample(const engine::Store& store, const std::string& dir, bool gzip) {
    std::string tar = Tar(gzip)
                          .dir("etc/")
                          .file("etc/hello", kRootfsMarker)
                          .dir("bin/")
                          .symlink("bin/sh", "busybox")
                          .file("bin/busybox", std::string(100000, 'x'))
                          .finish();
    write_file(dir + "/rootfs.tar", tar);
    engine::ImportOptions options;
    options.changes = {"CMD [\"/bin/sh\"]", "ENV A=1", "LABEL x=y", "EXPOSE 8080"};
    options.message = "test import";
    options.tag = "docker.io/library/imported:1";
    auto fd = open_read(dir + "/rootfs.tar");
    auto record = engine::import_rootfs(store, fd.get(), options);
    INFO((record ? "" : record.error().message()));
    REQUIRE(record);
    return *record;
}

void check_loaded_image(const engine::Store& store, const image::ImageRecord& original) {
    auto found = store.images.find("docker.io/library/imported:1");
    INFO((found ? "" : found.error().message()));
    REQUIRE(found);
    CHECK(found->id == original.id);
    CHECK(found->diff_ids == original.diff_ids);
    CHECK(found->layers == original.layers);
    REQUIRE(found->layers.size() == 1);
    std::string diff = store.layers.diff_path(found->layers[0]);
    CHECK(read_all(diff + "/etc/hello") == kRootfsMarker);
    CHECK(read_all(diff + "/bin/busybox").size() == 100000);
    auto config = store.blobs.read(found->id, image::kMaxConfigBytes);
    REQUIRE(config);
    auto parsed = image::parse_image_config(*config);
    REQUIRE(parsed);
    CHECK(parsed->config.cmd == Strings{"/bin/sh"});
    CHECK(parsed->config.labels.at("x") == "y");
}

// Flip one byte at `offset` of the file.
void corrupt(const std::string& path, size_t offset) {
    std::string bytes = read_all(path);
    REQUIRE(offset < bytes.size());
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x55);
    write_file(path, bytes);
}

}  // namespace

TEST_CASE("apply_change: Dockerfile instructions", "[archive]") {
    CHECK(changed({"CMD [\"sh\", \"-c\", \"echo hi\"]"}).cmd == Strings{"sh", "-c", "echo hi"});
    CHECK(changed({"CMD echo hi there"}).cmd == Strings{"/bin/sh", "-c", "echo hi there"});
    CHECK(changed({"cmd [not json"}).cmd == Strings{"/bin/sh", "-c", "[not json"});
    CHECK(changed({"ENTRYPOINT [\"/app\"]"}).entrypoint == Strings{"/app"});
    CHECK(changed({"ENTRYPOINT /app --flag"}).entrypoint == Strings{"/bin/sh", "-c", "/app --flag"});

    CHECK(changed({"ENV A=1 B=\"two words\" C=x\\ y"}).env == Strings{"A=1", "B=two words", "C=x y"});
    CHECK(changed({"ENV PATH /usr/bin:/bin  "}).env == Strings{"PATH=/usr/bin:/bin"});
    CHECK(changed({"ENV A=1", "ENV B=2", "ENV A=3"}).env == Strings{"A=3", "B=2"});
    CHECK(changed({"ENV K legacy value with spaces"}).env == Strings{"K=legacy value with spaces"});

    CHECK(changed({"EXPOSE 80 443/udp 8000-8001/TCP"}).exposed_ports ==
          Strings{"443/udp", "80/tcp", "8000/tcp", "8001/tcp"});
    CHECK(changed({"EXPOSE 80", "EXPOSE 80/tcp"}).exposed_ports == Strings{"80/tcp"});

    auto labels = changed({"LABEL a=b \"c d\"=\"e f\"", "LABEL version 1.0"}).labels;
    CHECK(labels == std::map<std::string, std::string>{{"a", "b"}, {"c d", "e f"}, {"version", "1.0"}});

    CHECK(changed({"USER nobody:nogroup"}).user == "nobody:nogroup");
    CHECK(changed({"WORKDIR /app"}).working_dir == "/app");
    CHECK(changed({"WORKDIR /app", "WORKDIR sub/dir", "WORKDIR ../x"}).working_dir == "/app/sub/x");
    CHECK(changed({"WORKDIR rel"}).working_dir == "/rel");
    CHECK(changed({"VOLUME [\"/data\", \"/logs\"]"}).volumes == Strings{"/data", "/logs"});
    CHECK(changed({"VOLUME /b /a", "VOLUME /a"}).volumes == Strings{"/a", "/b"});
    CHECK(changed({"STOPSIGNAL SIGQUIT"}).stop_signal == "SIGQUIT");
    CHECK(changed({"STOPSIGNAL 9"}).stop_signal == "9");

    CHECK(change_error("RUN echo hi") == "--change: unsupported instruction RUN");
    CHECK(change_error("onbuild RUN x") == "--change: unsupported instruction ONBUILD");
    CHECK(change_error("FROM busybox") == "--change: unsupported instruction FROM");
    CHECK(change_error("FOO bar") == "--change: unknown instruction FOO");
    CHECK(change_error("") == "--change: empty instruction");
    CHECK(change_error("EXPOSE 0").find("invalid port") != std::string::npos);
    CHECK(change_error("EXPOSE 80/xyz").find("invalid protocol") != std::string::npos);
    CHECK(change_error("ENV =x").find("names can not be blank") != std::string::npos);
    CHECK(change_error("ENV A=1 B").find("can't find =") != std::string::npos);
    CHECK(change_error("ENV A=\"open").find("unterminated") != std::string::npos);
    CHECK(change_error("STOPSIGNAL SIGNOPE").find("invalid signal") != std::string::npos);
    CHECK(change_error("CMD").find("requires") != std::string::npos);
    CHECK(change_error("VOLUME [\"\"]").find("empty string") != std::string::npos);
}

TEST_CASE("manifest_write: round trip and determinism", "[archive]") {
    const std::string d1 = "sha256:" + std::string(64, 'a');
    const std::string d2 = "sha256:" + std::string(64, 'b');
    const std::string d3 = "sha256:" + std::string(64, 'c');

    image::ImageConfig config;
    config.architecture = "arm";
    config.os = "linux";
    config.variant = "v7";
    config.created = "2024-01-02T03:04:05Z";
    config.config.user = "1000";
    config.config.env = {"PATH=/bin", "A=\xff"};  // invalid UTF-8 is replaced, not thrown on
    config.config.entrypoint = {"/init"};
    config.config.cmd = {"serve", "--port", "80"};
    config.config.working_dir = "/srv";
    config.config.exposed_ports = {"80/tcp", "53/udp"};
    config.config.volumes = {"/data"};
    config.config.labels = {{"b", "2"}, {"a", "1"}};
    config.config.stop_signal = "SIGTERM";
    config.diff_ids = {d1, d2};
    config.history = {{"2024-01-02T03:04:05Z", "skiff import", "", "hi", false},
                      {"2024-01-02T03:04:06Z", "ENV x", "", "", true}};

    std::string bytes = image::image_config_json(config);
    CHECK(bytes == image::image_config_json(config));
    CHECK(bytes.find('\n') == std::string::npos);
    auto parsed = image::parse_image_config(bytes);
    REQUIRE(parsed);
    CHECK(parsed->architecture == "arm");
    CHECK(parsed->variant == "v7");
    CHECK(parsed->created == config.created);
    CHECK(parsed->config.user == "1000");
    CHECK(parsed->config.env[0] == "PATH=/bin");
    CHECK(parsed->config.env[1] == "A=\xef\xbf\xbd");
    CHECK(parsed->config.entrypoint == config.config.entrypoint);
    CHECK(parsed->config.cmd == config.config.cmd);
    CHECK(parsed->config.working_dir == "/srv");
    CHECK(parsed->config.exposed_ports == Strings{"53/udp", "80/tcp"});
    CHECK(parsed->config.volumes == Strings{"/data"});
    CHECK(parsed->config.labels == config.config.labels);
    CHECK(parsed->config.stop_signal == "SIGTERM");
    CHECK(parsed->diff_ids == config.diff_ids);
    REQUIRE(parsed->history.size() == 2);
    CHECK(parsed->history[0].comment == "hi");
    CHECK(parsed->history[1].empty_layer);
    // Serialising what was parsed gives the same bytes (hence the same image id).
    parsed->config.env[1] = "A=\xef\xbf\xbd";
    CHECK(image::image_config_json(*parsed) == bytes);

    // Empty fields are left out, as Docker does.
    image::ImageConfig minimal;
    minimal.architecture = "amd64";
    minimal.os = "linux";
    CHECK(image::image_config_json(minimal) ==
          R"({"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}})");

    for (std::string_view media_type : {image::kOciManifest, image::kDockerManifest}) {
        bool oci = media_type == image::kOciManifest;
        image::Manifest m;
        m.media_type = std::string(media_type);
        m.config = {std::string(oci ? image::kOciConfig : image::kDockerConfig), d1, 123, std::nullopt, {}};
        m.layers.push_back({oci ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                : "application/vnd.docker.image.rootfs.diff.tar.gzip",
                            d2, 456, std::nullopt, {{"k", "v"}}});
        std::string mbytes = image::manifest_json(m);
        CHECK(mbytes == image::manifest_json(m));
        CHECK(mbytes.starts_with(R"({"schemaVersion":2,"mediaType":")"));
        auto pm = image::parse_manifest(mbytes);
        REQUIRE(pm);
        REQUIRE(std::holds_alternative<image::Manifest>(*pm));
        const auto& back = std::get<image::Manifest>(*pm);
        CHECK(back.media_type == media_type);
        CHECK(back.config.digest == d1);
        CHECK(back.config.size == 123);
        REQUIRE(back.layers.size() == 1);
        CHECK(back.layers[0].digest == d2);
        CHECK(back.layers[0].size == 456);
        CHECK(back.layers[0].annotations.at("k") == "v");
        CHECK(image::manifest_json(back) == mbytes);
    }

    image::Index index;
    index.media_type = std::string(image::kOciIndex);
    image::Descriptor entry{std::string(image::kOciManifest), d3, 789, image::Platform{"linux", "arm64", "v8", "", {}},
                            {{"org.opencontainers.image.ref.name", "1.0"}}};
    index.manifests.push_back(entry);
    std::string ibytes = image::index_json(index);
    auto pi = image::parse_manifest(ibytes);
    REQUIRE(pi);
    REQUIRE(std::holds_alternative<image::Index>(*pi));
    const auto& back = std::get<image::Index>(*pi);
    REQUIRE(back.manifests.size() == 1);
    CHECK(back.manifests[0].digest == d3);
    REQUIRE(back.manifests[0].platform);
    CHECK(back.manifests[0].platform->variant == "v8");
    CHECK(back.manifests[0].annotations.at("org.opencontainers.image.ref.name") == "1.0");
    CHECK(image::index_json(back) == ibytes);
}

TEST_CASE("import, save and load round trip through both archive formats", "[archive]") {
    TempDir tmp;
    auto store = make_store(tmp.path + "/a");
    bool gzip_input = GENERATE(false, true);
    auto original = import_sample(store, tmp.path, gzip_input);
    CHECK(original.repo_tags == Strings{"docker.io/library/imported:1"});
    REQUIRE(original.layers.size() == 1);
    CHECK(read_all(store.layers.diff_path(original.layers[0]) + "/etc/hello") == kRootfsMarker);

    // Imported: OCI manifest, gzip layer, config from the changes.
    auto manifest_bytes = store.blobs.read(original.manifest_digest, image::kMaxManifestBytes);
    REQUIRE(manifest_bytes);
    auto manifest = image::parse_manifest(*manifest_bytes);
    REQUIRE(manifest);
    const auto& m = std::get<image::Manifest>(*manifest);
    CHECK(m.media_type == image::kOciManifest);
    CHECK(m.config.digest == original.id);
    REQUIRE(m.layers.size() == 1);
    CHECK(m.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
    auto config = image::parse_image_config(*store.blobs.read(original.id, image::kMaxConfigBytes));
    REQUIRE(config);
    CHECK(config->config.env == Strings{"A=1"});
    CHECK(config->config.exposed_ports == Strings{"8080/tcp"});
    REQUIRE(config->history.size() == 1);
    CHECK(config->history[0].created_by == "skiff import");
    CHECK(config->history[0].comment == "test import");
    CHECK(config->os == image::host_platform().os);
    CHECK(config->architecture == image::host_platform().architecture);

    auto format = GENERATE(engine::ArchiveFormat::docker_archive, engine::ArchiveFormat::oci_archive);
    std::string archive = tmp.path + "/saved.tar";
    {
        auto out = open_write(archive);
        auto saved = engine::save_images(store, {"docker.io/library/imported:1"}, format, out.get());
        INFO((saved ? "" : saved.error().message()));
        REQUIRE(saved);
    }
    // Deterministic: saving again gives the same bytes.
    {
        auto out = open_write(archive + ".again");
        REQUIRE(engine::save_images(store, {"docker.io/library/imported:1"}, format, out.get()));
        CHECK(read_all(archive) == read_all(archive + ".again"));
    }

    SECTION("loads into an empty store") {
        auto store2 = make_store(tmp.path + "/b");
        auto in = open_read(archive);
        auto loaded = engine::load_images(store2, in.get());
        INFO((loaded ? "" : loaded.error().message()));
        REQUIRE(loaded);
        REQUIRE(loaded->size() == 1);
        CHECK((*loaded)[0].id == original.id);
        CHECK((*loaded)[0].repo_tags == Strings{"docker.io/library/imported:1"});
        check_loaded_image(store2, original);
        CHECK_FALSE(skiff::path_exists(store2.options.root + "/tmp-load-" + std::to_string(::getpid())));

        // Loading again (layers present) is fine and changes nothing.
        auto again_fd = open_read(archive);
        auto again = engine::load_images(store2, again_fd.get());
        REQUIRE(again);
        CHECK((*again)[0].id == original.id);
        CHECK(store2.images.list()->size() == 1);
    }

    SECTION("saved by id: untagged") {
        auto out = open_write(archive);
        REQUIRE(engine::save_images(store, {original.id}, format, out.get()));
        out.reset();
        auto store2 = make_store(tmp.path + "/c");
        auto in = open_read(archive);
        auto loaded = engine::load_images(store2, in.get());
        REQUIRE(loaded);
        REQUIRE(loaded->size() == 1);
        CHECK((*loaded)[0].id == original.id);
        CHECK((*loaded)[0].repo_tags.empty());
    }

    SECTION("a corrupted layer fails and records nothing") {
        std::string bytes = read_all(archive);
        size_t offset;
        if (format == engine::ArchiveFormat::docker_archive) {
            // layer.tar is stored uncompressed: the file content is there verbatim.
            offset = bytes.find(kRootfsMarker);
        } else {
            // The gzip blob's content follows its 512-byte tar header.
            offset = bytes.find("blobs/sha256/" + m.layers[0].digest.substr(7));
            REQUIRE(offset != std::string::npos);
            offset += 512 + 40;
        }
        REQUIRE(offset != std::string::npos);
        corrupt(archive, offset);
        auto store2 = make_store(tmp.path + "/d");
        auto in = open_read(archive);
        auto loaded = engine::load_images(store2, in.get());
        REQUIRE_FALSE(loaded);
        INFO(loaded.error().message());
        CHECK(loaded.error().message().starts_with("load: "));
        CHECK(store2.images.list()->empty());
        CHECK_FALSE(skiff::path_exists(store2.options.root + "/tmp-load-" + std::to_string(::getpid())));
    }
}

TEST_CASE("load: bad archives are refused with one line naming the problem", "[archive]") {
    TempDir tmp;
    auto store = make_store(tmp.path);
    auto load = [&](const std::string& tar) {
        write_file(tmp.path + "/in.tar", tar);
        auto fd = open_read(tmp.path + "/in.tar");
        auto r = engine::load_images(store, fd.get());
        REQUIRE_FALSE(r);
        return r.error().message();
    };
    CHECK(load(Tar().file("hello", "x").finish()).find("neither manifest.json") != std::string::npos);
    CHECK(load(Tar().file("../evil", "x").finish()).find("..") != std::string::npos);
    CHECK(load(Tar().file("manifest.json", "{").finish()) == "load: manifest.json: invalid JSON");
    CHECK(load(Tar().file("manifest.json", R"([{"Config":"c.json","Layers":[]}])").finish()) ==
          "load: c.json: not in the archive");
    // A symlink leading out of the archive resolves inside it, to nothing.
    CHECK(load(Tar().symlink("c.json", "/etc/passwd")
                   .file("manifest.json", R"([{"Config":"c.json","Layers":[]}])")
                   .finish()) == "load: c.json: not in the archive");
    CHECK(load(Tar().file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")
                   .file("index.json", R"({"schemaVersion":2,"manifests":[{"mediaType":")" +
                                           std::string(image::kOciManifest) + R"(","digest":"sha256:)" +
                                           std::string(64, 'a') + R"(","size":2}]})")
                   .finish())
              .find("blobs/sha256/aaaa") != std::string::npos);
    CHECK(store.images.list()->empty());
}

TEST_CASE("load: OCI layouts tag from ref.name and io.containerd.image.name", "[archive]") {
    TempDir tmp;
    auto store = make_store(tmp.path + "/src");
    auto original = import_sample(store, tmp.path, false);
    auto mbytes = *store.blobs.read(original.manifest_digest, image::kMaxManifestBytes);
    const auto m = std::get<image::Manifest>(*image::parse_manifest(mbytes));

    // A layout written by hand, as other tools write it.
    auto layout = [&](const std::string& annotations) {
        Tar tar;
        tar.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
        for (const auto& d : {m.layers[0].digest, m.config.digest, original.manifest_digest})
            tar.file("blobs/sha256/" + d.substr(7), *store.blobs.read(d, 1 << 20));
        tar.file("index.json", R"({"schemaVersion":2,"manifests":[{"mediaType":")" + m.media_type +
                                   R"(","digest":")" + original.manifest_digest + R"(","size":)" +
                                   std::to_string(mbytes.size()) + R"(,"annotations":{)" + annotations + "}}]}");
        return tar.finish();
    };
    auto tags_of = [&](const std::string& annotations) {
        auto store2 = make_store(tmp.path + "/dst-" + std::to_string(std::hash<std::string>{}(annotations)));
        write_file(tmp.path + "/in.tar", layout(annotations));
        auto fd = open_read(tmp.path + "/in.tar");
        auto loaded = engine::load_images(store2, fd.get());
        INFO((loaded ? "" : loaded.error().message()));
        REQUIRE(loaded);
        REQUIRE(loaded->size() == 1);
        CHECK((*loaded)[0].id == original.id);
        return (*loaded)[0].repo_tags;
    };
    CHECK(tags_of(R"("org.opencontainers.image.ref.name":"quay.io/x/y:2")") == Strings{"quay.io/x/y:2"});
    CHECK(tags_of(R"("org.opencontainers.image.ref.name":"busybox:latest")") ==
          Strings{"docker.io/library/busybox:latest"});
    CHECK(tags_of(R"("org.opencontainers.image.ref.name":"3.1","io.containerd.image.name":"docker.io/library/a:latest")") ==
          Strings{"docker.io/library/a:3.1"});
    CHECK(tags_of(R"("io.containerd.image.name":"b:7")") == Strings{"docker.io/library/b:7"});
    CHECK(tags_of(R"("org.opencontainers.image.ref.name":"1.0")").empty());
    CHECK(tags_of("").empty());
}
