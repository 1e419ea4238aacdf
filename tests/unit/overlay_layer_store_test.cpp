#include "overlay/layer_store.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/store.hpp"

using skiff::LayerRecord;
using skiff::LayerStore;
using skiff::UniqueFd;

namespace {

struct LayerStoreDir {
    std::string root;
    LayerStoreDir() {
        char tmpl[] = "/tmp/skiff-layer-store-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        root = tmpl;
    }
    ~LayerStoreDir() {
        // Layers may hold read-only dirs: LayerStore::remove knows how to delete them.
        LayerStore layers(root);
        if (auto all = layers.list())
            for (const auto& l : *all) (void)layers.remove(l.chain_id);
        (void)skiff::remove_tree(root);
    }
    std::string layers_dir() const { return root + "/layers"; }
};

std::set<std::string> dir_entries(const std::string& path) {
    std::set<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (auto* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..") out.insert(n);
    }
    ::closedir(d);
    return out;
}

struct Entry {
    std::string path;
    mode_t type;  // AE_IFREG / AE_IFDIR
    unsigned perm;
    std::string content;
};

// A small pax tar built with libarchive's writer.
std::string make_tar(const std::vector<Entry>& items) {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_set_bytes_in_last_block(a, 1);
    auto append = [](struct archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    };
    REQUIRE(archive_write_open(a, &out, nullptr, append, nullptr) == ARCHIVE_OK);
    for (const auto& it : items) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, it.path.c_str());
        archive_entry_set_filetype(e, it.type);
        archive_entry_set_perm(e, it.perm);
        archive_entry_set_mtime(e, 1'600'000'000, 0);
        archive_entry_set_size(e, static_cast<la_int64_t>(it.content.size()));
        REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
        if (!it.content.empty())
            REQUIRE(archive_write_data(a, it.content.data(), it.content.size()) == la_ssize_t(it.content.size()));
        archive_entry_free(e);
    }
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

UniqueFd fd_with(const std::string& data) {
    UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(skiff::write_all(fd.get(), data.data(), data.size()));
    REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
    return fd;
}

std::string sample_tar() {
    return make_tar({{"etc", AE_IFDIR, 0755, ""},
                     {"etc/hello", AE_IFREG, 0644, "hello world\n"},
                     {"bin", AE_IFDIR, 0555, ""},
                     {"bin/tool", AE_IFREG, 0755, "#!/bin/sh\n"}});
}

// Options a rootless run would use, so the tests pass without root too.
skiff::UnpackOptions unprivileged() {
    skiff::UnpackOptions o;
    o.privileged = false;
    o.set_owners = false;
    return o;
}

pid_t dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return pid;
}

}  // namespace

TEST_CASE("chain ids follow the OCI image spec", "[layer-store]") {
    std::string a = "sha256:" + std::string(64, 'a');
    std::string b = "sha256:" + std::string(64, 'b');
    std::string c = "sha256:" + std::string(64, 'c');
    CHECK(skiff::chain_id("", a) == a);  // the bottom layer's chain id is its diff id
    // Vectors computed with: printf '%s %s' <parent> <diff> | sha256sum
    std::string ab = "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c";
    std::string abc = "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588";
    CHECK(skiff::chain_id(a, b) == ab);
    CHECK(skiff::chain_ids({a, b, c}) == std::vector<std::string>{a, ab, abc});
    CHECK(skiff::chain_ids({}).empty());
}

TEST_CASE("unpack a layer, get, list, remove", "[layer-store]") {
    LayerStoreDir dir;
    LayerStore layers(dir.root);
    std::string tar = sample_tar();
    std::string diff_id = skiff::sha256_digest(tar);
    auto fd = fd_with(tar);
    auto rec = layers.unpack(fd.get(), diff_id, "", unprivileged());
    REQUIRE(rec);
    CHECK(rec->chain_id == diff_id);
    CHECK(rec->diff_id == diff_id);
    CHECK(rec->parent.empty());
    CHECK(rec->size == 22);
    CHECK(!rec->privileged);
    CHECK(layers.has(diff_id));
    std::string hex = diff_id.substr(7);
    CHECK(layers.diff_path(diff_id) == dir.root + "/layers/" + hex + "/diff");
    CHECK(skiff::read_file(layers.diff_path(diff_id) + "/etc/hello").value_or("") == "hello world\n");
    CHECK(dir_entries(dir.layers_dir()) == std::set<std::string>{hex});
    CHECK(dir_entries(dir.layers_dir() + "/" + hex) == std::set<std::string>{"diff", "layer.json"});

    auto got = layers.get(diff_id);
    REQUIRE(got);
    CHECK(got->size == 22);
    CHECK(got->privileged == false);

    // A second layer on top: its chain id, parent recorded.
    std::string tar2 = make_tar({{"etc/hello", AE_IFREG, 0644, "changed\n"}});
    std::string diff2 = skiff::sha256_digest(tar2);
    auto fd2 = fd_with(tar2);
    auto rec2 = layers.unpack(fd2.get(), diff2, diff_id, unprivileged());
    REQUIRE(rec2);
    CHECK(rec2->chain_id == skiff::chain_id(diff_id, diff2));
    CHECK(rec2->parent == diff_id);
    auto all = layers.list();
    REQUIRE(all);
    CHECK(all->size() == 2);

    // Unpacking a present layer returns it, still reading the stream to its end.
    auto fd3 = fd_with(tar);
    auto again = layers.unpack(fd3.get(), diff_id, "", unprivileged());
    REQUIRE(again);
    CHECK(again->chain_id == diff_id);
    CHECK(::lseek(fd3.get(), 0, SEEK_CUR) == static_cast<off_t>(tar.size()));

    REQUIRE(layers.remove(diff_id));  // holds a 0555 dir: must still go
    CHECK(!layers.has(diff_id));
    auto missing = layers.get(diff_id);
    REQUIRE(!missing);
    CHECK(missing.error().code == ENOENT);
    CHECK(layers.remove(diff_id));  // already gone
    REQUIRE(layers.remove(rec2->chain_id));
    CHECK(dir_entries(dir.layers_dir()).empty());
}

TEST_CASE("unpack with the wrong diff id leaves nothing", "[layer-store]") {
    LayerStoreDir dir;
    LayerStore layers(dir.root);
    std::string tar = sample_tar();
    std::string wrong = "sha256:" + std::string(64, 'd');
    auto fd = fd_with(tar);
    auto rec = layers.unpack(fd.get(), wrong, "", unprivileged());
    REQUIRE(!rec);
    CHECK(rec.error().what == "layer " + wrong + ": content hashed to " + skiff::sha256_digest(tar));
    CHECK(!layers.has(wrong));
    CHECK(dir_entries(dir.layers_dir()).empty());

    // Garbage is an error too, and also leaves nothing.
    auto junk = fd_with(std::string(4096, 'z'));
    CHECK(!layers.unpack(junk.get(), wrong, "", unprivileged()));
    CHECK(dir_entries(dir.layers_dir()).empty());
    CHECK(!layers.unpack(junk.get(), "sha256:nothex", "", unprivileged()));
}

TEST_CASE("unprivileged unpack records whiteouts and opaque dirs", "[layer-store]") {
    LayerStoreDir dir;
    LayerStore layers(dir.root);
    std::string tar = make_tar({{"etc", AE_IFDIR, 0755, ""},
                                {"etc/.wh.old.conf", AE_IFREG, 0644, ""},
                                {"var", AE_IFDIR, 0755, ""},
                                {"var/.wh..wh..opq", AE_IFREG, 0644, ""}});
    auto fd = fd_with(tar);
    auto rec = layers.unpack(fd.get(), skiff::sha256_digest(tar), "", unprivileged());
    REQUIRE(rec);
    CHECK(rec->whiteouts == std::vector<std::string>{"etc/old.conf"});
    CHECK(rec->opaque_dirs == std::vector<std::string>{"var"});
    auto got = layers.get(rec->chain_id);
    REQUIRE(got);
    CHECK(got->whiteouts == rec->whiteouts);
    CHECK(got->opaque_dirs == rec->opaque_dirs);
    CHECK(!got->privileged);
}

TEST_CASE("two processes unpacking the same layer both succeed", "[layer-store]") {
    LayerStoreDir dir;
    std::vector<Entry> items{{"data", AE_IFDIR, 0755, ""}};
    for (int i = 0; i < 200; ++i)
        items.push_back({"data/f" + std::to_string(i), AE_IFREG, 0644, std::string(1000, char('a' + i % 26))});
    std::string tar = make_tar(items);
    std::string diff_id = skiff::sha256_digest(tar);

    std::vector<pid_t> pids;
    for (int i = 0; i < 4; ++i) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            LayerStore layers(dir.root);
            int fd = ::memfd_create("layer", 0);
            if (fd < 0 || !skiff::write_all(fd, tar.data(), tar.size()) || ::lseek(fd, 0, SEEK_SET) != 0)
                ::_exit(2);
            auto rec = layers.unpack(fd, diff_id, "", unprivileged());
            ::_exit(rec && rec->chain_id == diff_id && rec->size == 200000 ? 0 : 1);
        }
        pids.push_back(pid);
    }
    for (pid_t pid : pids) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    CHECK(dir_entries(dir.layers_dir()) == std::set<std::string>{diff_id.substr(7)});
    LayerStore layers(dir.root);
    CHECK(dir_entries(layers.diff_path(diff_id) + "/data").size() == 200);
}

TEST_CASE("adopt moves an unpacked dir into the store", "[layer-store]") {
    LayerStoreDir dir;
    LayerStore layers(dir.root);
    std::string src = dir.root + "/work";
    REQUIRE(skiff::mkdir_p(src + "/sub"));
    REQUIRE(skiff::write_file_atomic(src + "/sub/file", "abc"));
    skiff::LayerStats stats;
    stats.bytes = 3;
    std::string diff_id = "sha256:" + std::string(64, 'e');
    std::string parent = "sha256:" + std::string(64, 'f');
    auto rec = layers.adopt(src, diff_id, parent, stats);
    REQUIRE(rec);
    CHECK(rec->chain_id == skiff::chain_id(parent, diff_id));
    CHECK(rec->size == 3);
    CHECK(!skiff::path_exists(src));
    CHECK(skiff::read_file(layers.diff_path(rec->chain_id) + "/sub/file").value_or("") == "abc");

    // Adopting the same layer again keeps the stored one and consumes the input.
    REQUIRE(skiff::mkdir_p(src));
    auto again = layers.adopt(src, diff_id, parent, stats);
    REQUIRE(again);
    CHECK(!skiff::path_exists(src));
    stats.diff_id = "sha256:" + std::string(64, '0');
    CHECK(!layers.adopt(src, diff_id, parent, stats));
}

TEST_CASE("stale layer temps of dead processes are removed", "[layer-store]") {
    LayerStoreDir dir;
    LayerStore layers(dir.root);
    CHECK(layers.remove_stale_temps());  // no layers dir yet
    std::string hex(64, 'a');
    std::string dead = std::to_string(dead_pid());
    std::string live = std::to_string(::getpid());
    for (const std::string& name : {".tmp-" + hex + "-" + dead + "-0", ".tmp-" + hex + "-" + live + "-0",
                                    ".tmp-remove-" + hex + "-" + dead + "-3", ".tmp-remove-" + hex + "-" + live + "-1"})
        REQUIRE(skiff::mkdir_p(dir.layers_dir() + "/" + name + "/diff/x"));
    REQUIRE(skiff::mkdir_p(dir.layers_dir() + "/" + hex + "/diff"));
    REQUIRE(layers.remove_stale_temps());
    CHECK(dir_entries(dir.layers_dir()) == std::set<std::string>{".tmp-" + hex + "-" + live + "-0",
                                                                 ".tmp-remove-" + hex + "-" + live + "-1", hex});
}

TEST_CASE("engine store: defaults, prepare, record_image", "[layer-store]") {
    LayerStoreDir dir;
    ::setenv("SKIFF_ROOT", dir.root.c_str(), 1);
    ::setenv("SKIFF_RUNROOT", (dir.root + "/run").c_str(), 1);
    auto opts = skiff::engine::default_store_options();
    ::unsetenv("SKIFF_ROOT");
    ::unsetenv("SKIFF_RUNROOT");
    CHECK(opts.root == dir.root);
    CHECK(opts.runroot == dir.root + "/run");
    if (::geteuid() == 0) CHECK(skiff::engine::default_store_options().root == "/var/lib/skiff");

    skiff::engine::Store store(opts);
    REQUIRE(store.prepare());
    for (const char* sub : {"blobs/sha256", "blobs/tmp", "layers"}) CHECK(skiff::is_directory(dir.root + "/" + sub));
    {
        auto add = store.lock_for_adding();
        REQUIRE(add);
        auto add2 = store.lock_for_adding();  // shared: a second pull proceeds
        REQUIRE(add2);
    }
    REQUIRE(store.lock_for_collecting());

    std::string tar1 = sample_tar();
    std::string tar2 = make_tar({{"x", AE_IFREG, 0644, "12345"}});
    skiff::image::ImageConfig config;
    config.architecture = "amd64";
    config.os = "linux";
    config.created = "2024-05-01T00:00:00Z";
    config.diff_ids = {skiff::sha256_digest(tar1), skiff::sha256_digest(tar2)};
    std::string config_digest = "sha256:" + std::string(64, '7');
    std::string manifest_digest = "sha256:" + std::string(64, '8');

    // Layers missing: refused.
    CHECK(!skiff::engine::record_image(store, manifest_digest, std::string(skiff::image::kOciManifest),
                                       config_digest, config, {"docker.io/library/t:latest"}, {}));
    auto fd1 = fd_with(tar1);
    auto l1 = store.layers.unpack(fd1.get(), config.diff_ids[0], "", unprivileged());
    REQUIRE(l1);
    auto fd2 = fd_with(tar2);
    REQUIRE(store.layers.unpack(fd2.get(), config.diff_ids[1], l1->chain_id, unprivileged()));

    auto rec = skiff::engine::record_image(store, manifest_digest, std::string(skiff::image::kOciManifest),
                                           config_digest, config, {"docker.io/library/t:latest"},
                                           {"docker.io/library/t@" + manifest_digest});
    REQUIRE(rec);
    CHECK(rec->id == config_digest);
    CHECK(rec->size == 22 + 5);
    CHECK(rec->layers == skiff::chain_ids(config.diff_ids));
    CHECK(rec->created == "2024-05-01T00:00:00Z");
    CHECK(!rec->added.empty());
    auto found = store.images.find("docker.io/library/t:latest");
    REQUIRE(found);
    CHECK(found->id == config_digest);
    CHECK(found->manifest_digest == manifest_digest);
}

TEST_CASE("an unprivileged layer's recorded whiteouts are made once for a rootless overlay", "[layer-store]") {
    LayerStoreDir dir;
    LayerStore layers(dir.root);
    std::string tar = make_tar({{"etc", AE_IFDIR, 0755, ""},
                                {"etc/.wh.gone", AE_IFREG, 0644, ""},
                                {"data/.wh..wh..opq", AE_IFREG, 0644, ""},
                                {"data/new", AE_IFREG, 0644, "n"},
                                {".wh..wh..opq", AE_IFREG, 0644, ""}});
    std::string diff_id = skiff::sha256_digest(tar);
    auto fd = fd_with(tar);
    auto rec = layers.unpack(fd.get(), diff_id, "", unprivileged());
    REQUIRE(rec);
    REQUIRE(rec->whiteouts == std::vector<std::string>{"etc/gone"});
    REQUIRE(rec->opaque_dirs.size() == 2);
    CHECK(!rec->markers_made);
    std::string diff = layers.diff_path(diff_id);
    struct stat st;
    CHECK(::lstat((diff + "/etc/gone").c_str(), &st) != 0);

    auto made = layers.materialize_markers(diff_id);
    REQUIRE(made);
    CHECK(made->markers_made);
    REQUIRE(::lstat((diff + "/etc/gone").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
    char v[4] = {};
    CHECK(::getxattr((diff + "/data").c_str(), "user.overlay.opaque", v, sizeof v) == 1);
    CHECK(v[0] == 'y');
    CHECK(::getxattr(diff.c_str(), "user.overlay.opaque", v, sizeof v) == 1);
    // Recorded: the next call does nothing, and layer.json says so.
    auto again = layers.get(diff_id);
    REQUIRE(again);
    CHECK(again->markers_made);
    CHECK(layers.materialize_markers(diff_id));
    // A layer without markers is left as it is.
    std::string plain = sample_tar();
    std::string plain_id = skiff::sha256_digest(plain);
    auto pfd = fd_with(plain);
    REQUIRE(layers.unpack(pfd.get(), plain_id, "", unprivileged()));
    auto p = layers.materialize_markers(plain_id);
    REQUIRE(p);
    CHECK(!p->markers_made);
}
