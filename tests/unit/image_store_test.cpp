#include "image/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.hpp"
#include "common/fs.hpp"

using skiff::image::BlobStore;
using skiff::image::ImageRecord;
using skiff::image::ImageStore;
using skiff::image::StoreLock;

namespace {

struct StoreDir {
    std::string root;
    StoreDir() {
        char tmpl[] = "/tmp/skiff-store-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        root = tmpl;
    }
    ~StoreDir() { (void)skiff::remove_tree(root); }
};

std::set<std::string> entries(const std::string& path) {
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

// Run fn in n forked children; true when every child exited 0.
template <typename F>
bool run_forked(int n, F fn) {
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) ::_exit(fn(i) ? 0 : 1);
        if (pid < 0) return false;
        pids.push_back(pid);
    }
    bool all_ok = true;
    for (pid_t pid : pids) {
        int status = 0;
        if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) all_ok = false;
    }
    return all_ok;
}

std::string fake_id(char c) { return "sha256:" + std::string(64, c); }

ImageRecord record(const std::string& id, std::vector<std::string> tags = {},
                   std::vector<std::string> digests = {}) {
    ImageRecord r;
    r.id = id;
    r.manifest_digest = "sha256:" + std::string(64, '9');
    r.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
    r.repo_tags = std::move(tags);
    r.repo_digests = std::move(digests);
    r.layers = {"sha256:" + std::string(64, '1')};
    r.diff_ids = r.layers;
    r.created = "2024-01-01T00:00:00Z";
    r.added = "2024-01-02T00:00:00Z";
    r.size = 1234;
    return r;
}

}  // namespace

TEST_CASE("blob put, read, open, size, list, remove", "[store]") {
    StoreDir dir;
    BlobStore blobs(dir.root);
    auto digest = blobs.put_computed("hello blob");
    REQUIRE(digest);
    CHECK(*digest == skiff::sha256_digest("hello blob"));
    CHECK(blobs.path(*digest) == dir.root + "/blobs/sha256/" + digest->substr(7));
    CHECK(blobs.has(*digest));
    CHECK(!blobs.has(fake_id('a')));
    auto data = blobs.read(*digest, 1024);
    REQUIRE(data);
    CHECK(*data == "hello blob");
    CHECK(!blobs.read(*digest, 3));  // larger than allowed
    auto size = blobs.size(*digest);
    REQUIRE(size);
    CHECK(*size == 10);
    auto fd = blobs.open(*digest);
    REQUIRE(fd);
    CHECK(blobs.verify(*digest));
    auto all = blobs.list();
    REQUIRE(all);
    CHECK(*all == std::vector<std::string>{*digest});
    struct stat st;
    REQUIRE(::stat(blobs.path(*digest).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);

    // Putting again (content-addressed) is fine; putting wrong bytes under the name is not.
    CHECK(blobs.put("hello blob", *digest));
    CHECK(!blobs.put("other bytes", *digest));

    auto missing = blobs.read(fake_id('b'), 1024);
    REQUIRE(!missing);
    CHECK(missing.error().code == ENOENT);

    REQUIRE(blobs.remove(*digest));
    CHECK(!blobs.has(*digest));
    CHECK(blobs.remove(*digest));  // already gone is fine
    CHECK(entries(dir.root + "/blobs/tmp").empty());
}

TEST_CASE("blob writer streams and commits under the expected digest", "[store]") {
    StoreDir dir;
    BlobStore blobs(dir.root);
    std::string content(300000, 'x');
    auto w = blobs.begin_write();
    REQUIRE(w);
    REQUIRE(w->write(content.data(), 100000));
    REQUIRE(w->write(content.data() + 100000, 200000));
    CHECK(w->written() == 300000);
    std::string digest = skiff::sha256_digest(content);
    REQUIRE(w->commit(digest, 300000));
    CHECK(blobs.has(digest));
    CHECK(entries(dir.root + "/blobs/tmp").empty());

    // Moved writers keep working and the moved-from one owns nothing.
    auto w2 = blobs.begin_write();
    REQUIRE(w2);
    BlobStore::Writer moved = std::move(*w2);
    REQUIRE(moved.write("abc", 3));
    auto computed = moved.commit_computed();
    REQUIRE(computed);
    CHECK(*computed == skiff::sha256_digest("abc"));
    CHECK(blobs.has(*computed));
}

TEST_CASE("blob digest or size mismatch, or an abandoned writer, leaves nothing", "[store]") {
    StoreDir dir;
    BlobStore blobs(dir.root);
    std::string wrong = fake_id('c');
    {
        auto w = blobs.begin_write();
        REQUIRE(w);
        REQUIRE(w->write("abc", 3));
        auto r = w->commit(wrong);
        REQUIRE(!r);
        CHECK(r.error().what == "digest mismatch for " + wrong + ": got " + skiff::sha256_digest("abc"));
        CHECK(!w->commit(skiff::sha256_digest("abc")));  // spent
    }
    {
        auto w = blobs.begin_write();
        REQUIRE(w);
        REQUIRE(w->write("abc", 3));
        auto r = w->commit(skiff::sha256_digest("abc"), 4);
        REQUIRE(!r);
        CHECK(r.error().what.find("size mismatch") == 0);
    }
    {
        auto w = blobs.begin_write();
        REQUIRE(w);
        REQUIRE(w->write("abc", 3));
        CHECK(entries(dir.root + "/blobs/tmp").size() == 1);
    }
    CHECK(!blobs.put("abc", wrong));
    CHECK(entries(dir.root + "/blobs/tmp").empty());
    CHECK(entries(dir.root + "/blobs/sha256").empty());
    CHECK(!blobs.has(skiff::sha256_digest("abc")));
}

TEST_CASE("blob read and verify detect corruption", "[store]") {
    StoreDir dir;
    BlobStore blobs(dir.root);
    auto digest = blobs.put_computed("original content");
    REQUIRE(digest);
    // Same length, different bytes, written behind the store's back.
    REQUIRE(skiff::write_file(blobs.path(*digest), "0riginal content"));
    auto r = blobs.read(*digest, 1024);
    REQUIRE(!r);
    CHECK(r.error().message().find(skiff::sha256_digest("0riginal content")) != std::string::npos);
    auto v = blobs.verify(*digest);
    REQUIRE(!v);
    CHECK(v.error().what.find("hashed to " + skiff::sha256_digest("0riginal content")) != std::string::npos);
}

TEST_CASE("parallel writers of one blob all succeed", "[store]") {
    StoreDir dir;
    std::string content(1 << 20, '\0');
    for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
    std::string digest = skiff::sha256_digest(content);

    CHECK(run_forked(8, [&](int) {
        BlobStore blobs(dir.root);
        auto w = blobs.begin_write();
        if (!w) return false;
        for (size_t off = 0; off < content.size(); off += 4096)
            if (!w->write(content.data() + off, 4096)) return false;
        return bool(w->commit(digest, static_cast<int64_t>(content.size())));
    }));

    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&] {
            BlobStore blobs(dir.root);
            if (!blobs.put(content, digest)) ++failures;
        });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);

    BlobStore blobs(dir.root);
    CHECK(blobs.verify(digest));
    CHECK(entries(dir.root + "/blobs/sha256").size() == 1);
    CHECK(entries(dir.root + "/blobs/tmp").empty());
}

TEST_CASE("stale blob temps are removed, fresh ones kept", "[store]") {
    StoreDir dir;
    BlobStore blobs(dir.root);
    CHECK(blobs.remove_stale_temps());  // no tmp dir yet
    REQUIRE(skiff::mkdir_p(dir.root + "/blobs/tmp"));
    std::string old_temp = dir.root + "/blobs/tmp/old";
    std::string new_temp = dir.root + "/blobs/tmp/new";
    REQUIRE(skiff::write_file_atomic(old_temp, "x"));
    REQUIRE(skiff::write_file_atomic(new_temp, "y"));
    struct timespec times[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
    REQUIRE(::utimensat(AT_FDCWD, old_temp.c_str(), times, 0) == 0);
    REQUIRE(blobs.remove_stale_temps());
    CHECK(entries(dir.root + "/blobs/tmp") == std::set<std::string>{"new"});
}

TEST_CASE("store lock: exclusive excludes shared, shared admits shared", "[store]") {
    StoreDir dir;
    std::string path = dir.root + "/store.lock";
    auto try_lock = [&](int op) {
        return run_forked(1, [&](int) {
            int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
            return fd >= 0 && ::flock(fd, op | LOCK_NB) == 0;
        });
    };
    {
        auto lock = StoreLock::acquire(path, StoreLock::Mode::exclusive);
        REQUIRE(lock);
        CHECK(!try_lock(LOCK_SH));
    }
    CHECK(try_lock(LOCK_EX));  // released by the destructor
    {
        auto lock = StoreLock::acquire(path, StoreLock::Mode::shared);
        REQUIRE(lock);
        CHECK(try_lock(LOCK_SH));
        CHECK(!try_lock(LOCK_EX));
    }
}

TEST_CASE("images.json add, merge, list and find", "[store]") {
    StoreDir dir;
    ImageStore images(dir.root);
    auto empty = images.list();
    REQUIRE(empty);
    CHECK(empty->empty());

    std::string a = fake_id('a');
    REQUIRE(images.add(record(a, {"docker.io/library/busybox:latest"},
                              {"docker.io/library/busybox@sha256:" + std::string(64, '9')})));
    auto merged = record(a, {"docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"});
    merged.size = 99;
    REQUIRE(images.add(merged));
    auto all = images.list();
    REQUIRE(all);
    REQUIRE(all->size() == 1);
    const auto& r = all->front();
    CHECK(r.repo_tags ==
          std::vector<std::string>{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"});
    CHECK(r.repo_digests.size() == 1);
    CHECK(r.size == 99);  // non-name fields replaced
    CHECK(r.layers == record(a).layers);
    CHECK(r.manifest_media_type == "application/vnd.oci.image.manifest.v1+json");
    CHECK(r.created == "2024-01-01T00:00:00Z");

    auto by_tag = images.find("docker.io/library/busybox:1.36");
    REQUIRE(by_tag);
    CHECK(by_tag->id == a);
    CHECK(images.find("docker.io/library/busybox@sha256:" + std::string(64, '9')));
    CHECK(images.find(a));
    CHECK(images.find(std::string(64, 'a')));
    CHECK(images.find("aaa"));
    CHECK(images.find("sha256:aaaa"));
    auto none = images.find("docker.io/library/alpine:latest");
    REQUIRE(!none);
    CHECK(none.error().code == ENOENT);
    CHECK(none.error().what == "No such image: docker.io/library/alpine:latest");
    CHECK(!images.find("aa"));  // too short a prefix
    CHECK(!images.find("bbb"));
}

TEST_CASE("images: prefix ambiguity", "[store]") {
    StoreDir dir;
    ImageStore images(dir.root);
    std::string one = "sha256:abc1" + std::string(60, '0');
    std::string two = "sha256:abc2" + std::string(60, '0');
    REQUIRE(images.add(record(one)));
    REQUIRE(images.add(record(two)));
    auto r = images.find("abc");
    REQUIRE(!r);
    CHECK(r.error().what == "ambiguous image id prefix abc");
    auto unique = images.find("abc2");
    REQUIRE(unique);
    CHECK(unique->id == two);
}

TEST_CASE("images: tags move between images, untag and remove", "[store]") {
    StoreDir dir;
    ImageStore images(dir.root);
    std::string a = fake_id('a');
    std::string b = fake_id('b');
    REQUIRE(images.add(record(a, {"docker.io/library/app:latest", "docker.io/library/app:v1"})));
    // A newer pull of app:latest takes the tag away from the old image.
    REQUIRE(images.add(record(b, {"docker.io/library/app:latest"})));
    CHECK(images.find("docker.io/library/app:latest")->id == b);
    CHECK(images.find(a)->repo_tags == std::vector<std::string>{"docker.io/library/app:v1"});

    REQUIRE(images.tag(b, "docker.io/library/app:v1"));
    CHECK(images.find(a)->repo_tags.empty());  // dangling, still present
    CHECK(images.find("docker.io/library/app:v1")->id == b);
    REQUIRE(images.tag(b, "docker.io/library/app:v1"));  // idempotent
    CHECK(images.find(b)->repo_tags.size() == 2);
    auto bad = images.tag(fake_id('c'), "docker.io/library/app:x");
    REQUIRE(!bad);
    CHECK(bad.error().code == ENOENT);

    auto after = images.untag("docker.io/library/app:latest");
    REQUIRE(after);
    CHECK(after->id == b);
    CHECK(after->repo_tags == std::vector<std::string>{"docker.io/library/app:v1"});
    auto missing = images.untag("docker.io/library/app:latest");
    REQUIRE(!missing);
    CHECK(missing.error().code == ENOENT);

    REQUIRE(images.remove(a));
    CHECK(!images.find(a));
    CHECK(!images.remove(a));
    CHECK(images.list()->size() == 1);
}

TEST_CASE("images: concurrent adds from several processes lose nothing", "[store]") {
    StoreDir dir;
    constexpr int kProcs = 8;
    constexpr int kTags = 10;
    CHECK(run_forked(kProcs, [&](int p) {
        ImageStore images(dir.root);
        for (int t = 0; t < kTags; ++t) {
            // Every process adds to one shared image and to its own: merges must all land.
            std::string tag = "docker.io/library/p" + std::to_string(p) + ":t" + std::to_string(t);
            if (!images.add(record(fake_id('e'), {tag + "-shared"}))) return false;
            if (!images.add(record(fake_id(static_cast<char>('0' + p)), {tag}))) return false;
        }
        return true;
    }));
    ImageStore images(dir.root);
    auto all = images.list();
    REQUIRE(all);
    CHECK(all->size() == kProcs + 1);
    auto shared = images.find(fake_id('e'));
    REQUIRE(shared);
    CHECK(shared->repo_tags.size() == kProcs * kTags);
    for (int p = 0; p < kProcs; ++p) CHECK(images.find(fake_id(static_cast<char>('0' + p)))->repo_tags.size() == kTags);
    // Only images.json and its lock remain: no temp files.
    CHECK(entries(dir.root) == std::set<std::string>{"images.json", "images.lock"});
}
