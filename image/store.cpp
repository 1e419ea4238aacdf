#include "image/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "common/fs.hpp"

namespace skiff::image {

namespace {

using nlohmann::json;

constexpr size_t kMaxImagesJson = size_t(256) << 20;
constexpr time_t kStaleTempSeconds = 60;

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

mode_t dir_mode() { return ::geteuid() == 0 ? 0755 : 0700; }

// A temporary file's name: uniqueness, not secrecy, matters, so pid and time do when
// getrandom fails.
std::string temp_name() {
    if (auto hex = random_hex(16)) return *hex;
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::to_string(::getpid()) + "-" + std::to_string(ts.tv_nsec) + std::to_string(ts.tv_sec);
}

std::string blob_path(const std::string& root, std::string_view digest) {
    auto colon = digest.find(':');
    std::string algorithm = colon == std::string_view::npos ? "sha256" : std::string(digest.substr(0, colon));
    std::string hex = std::string(colon == std::string_view::npos ? digest : digest.substr(colon + 1));
    return path_join(path_join(path_join(root, "blobs"), algorithm), hex);
}

}  // namespace

// ---- StoreLock ----

Result<StoreLock> StoreLock::acquire(const std::string& path, Mode mode) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return sys_error("open lock " + path);
    int op = mode == Mode::shared ? LOCK_SH : LOCK_EX;
    while (::flock(fd.get(), op) != 0) {
        if (errno != EINTR) return sys_error("lock " + path);
    }
    return StoreLock(std::move(fd));
}

// ---- BlobStore ----

BlobStore::BlobStore(std::string root) : root_(std::move(root)) {}

std::string BlobStore::path(std::string_view digest) const { return blob_path(root_, digest); }

bool BlobStore::has(std::string_view digest) const {
    struct stat st;
    return ::stat(path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::string> BlobStore::read(std::string_view digest, size_t max_bytes) const {
    auto data = read_file_limited(path(digest), max_bytes);
    if (!data) {
        if (data.error().code == ENOENT)
            return sys_error(ENOENT, "blob " + std::string(digest) + " not found");
        return std::unexpected(std::move(data).error().context("read blob " + std::string(digest)));
    }
    if (auto v = verify_digest(*data, digest); !v)
        return std::unexpected(std::move(v).error().context("blob store corrupted"));
    return data;
}

Result<UniqueFd> BlobStore::open(std::string_view digest) const {
    UniqueFd fd(::open(path(digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return sys_error(ENOENT, "blob " + std::string(digest) + " not found");
        return sys_error("open blob " + std::string(digest));
    }
    return fd;
}

Result<int64_t> BlobStore::size(std::string_view digest) const {
    struct stat st;
    if (::stat(path(digest).c_str(), &st) != 0) {
        if (errno == ENOENT) return sys_error(ENOENT, "blob " + std::string(digest) + " not found");
        return sys_error("stat blob " + std::string(digest));
    }
    return static_cast<int64_t>(st.st_size);
}

BlobStore::Writer::Writer(std::string temp_path, std::string blobs_dir, UniqueFd fd)
    : temp_path_(std::move(temp_path)), blobs_dir_(std::move(blobs_dir)), fd_(std::move(fd)) {}

BlobStore::Writer::Writer(Writer&& other) noexcept
    : temp_path_(std::move(other.temp_path_)),
      blobs_dir_(std::move(other.blobs_dir_)),
      fd_(std::move(other.fd_)),
      hash_(std::move(other.hash_)),
      written_(other.written_),
      done_(other.done_) {
    other.done_ = true;  // the moved-from writer owns no temp file any more
    other.temp_path_.clear();
}

BlobStore::Writer& BlobStore::Writer::operator=(Writer&& other) noexcept {
    if (this != &other) {
        if (!done_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
        temp_path_ = std::move(other.temp_path_);
        blobs_dir_ = std::move(other.blobs_dir_);
        fd_ = std::move(other.fd_);
        hash_ = std::move(other.hash_);
        written_ = other.written_;
        done_ = other.done_;
        other.done_ = true;
        other.temp_path_.clear();
    }
    return *this;
}

BlobStore::Writer::~Writer() {
    if (!done_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status BlobStore::Writer::write(const void* data, size_t size) {
    if (done_) return fail("blob writer: write after commit");
    if (auto r = write_all(fd_.get(), data, size); !r)
        return std::unexpected(std::move(r).error().context("write " + temp_path_));
    hash_.update(std::string_view(static_cast<const char*>(data), size));
    written_ += static_cast<int64_t>(size);
    return ok();
}

namespace {

// Rename a verified temp file to blobs/<algo>/<hex>; the temp is gone afterwards either way.
Status install_blob(const std::string& temp_path, int fd, const std::string& blobs_dir,
                    const std::string& digest) {
    auto drop = [&] { ::unlink(temp_path.c_str()); };
    auto colon = digest.find(':');
    std::string algo_dir = path_join(blobs_dir, digest.substr(0, colon));
    std::string final_path = path_join(algo_dir, digest.substr(colon + 1));
    struct stat st;
    if (::stat(final_path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        drop();  // content-addressed: an existing blob has the same bytes
        return ok();
    }
    // Readable by all as root (blob content is not secret; the store root guards access).
    if (::fchmod(fd, 0644) != 0) {
        auto e = sys_error("chmod " + temp_path);
        drop();
        return e;
    }
    if (::fsync(fd) != 0) {
        auto e = sys_error("fsync " + temp_path);
        drop();
        return e;
    }
    if (auto r = mkdir_p(algo_dir, dir_mode()); !r) {
        drop();
        return r;
    }
    if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
        auto e = sys_error("rename " + temp_path + " to " + final_path);
        drop();
        return e;
    }
    fsync_directory(algo_dir);
    return ok();
}

}  // namespace

Status BlobStore::Writer::commit(std::string_view expected_digest, int64_t expected_size) {
    if (done_) return fail("blob writer: already committed");
    done_ = true;  // from here on the temp file is removed on every path
    auto drop = [&] { ::unlink(temp_path_.c_str()); };
    auto parsed = parse_digest(expected_digest);
    if (!parsed) {
        drop();
        return std::unexpected(std::move(parsed).error());
    }
    if (parsed->algorithm != "sha256") {
        drop();
        return fail("blob " + std::string(expected_digest) + ": only sha256 blobs can be stored");
    }
    std::string actual = hash_.finish();
    if (expected_size >= 0 && written_ != expected_size) {
        drop();
        return fail("size mismatch for " + std::string(expected_digest) + ": expected " +
                    std::to_string(expected_size) + " bytes, got " + std::to_string(written_));
    }
    if (actual != expected_digest) {
        drop();
        return fail("digest mismatch for " + std::string(expected_digest) + ": got " + actual);
    }
    return install_blob(temp_path_, fd_.get(), blobs_dir_, actual);
}

Result<std::string> BlobStore::Writer::commit_computed() {
    if (done_) return fail("blob writer: already committed");
    done_ = true;
    std::string actual = hash_.finish();
    SKIFF_CHECK(install_blob(temp_path_, fd_.get(), blobs_dir_, actual));
    return actual;
}

Result<BlobStore::Writer> BlobStore::begin_write() const {
    std::string blobs_dir = path_join(root_, "blobs");
    std::string tmp_dir = path_join(blobs_dir, "tmp");
    SKIFF_CHECK(mkdir_p(tmp_dir, dir_mode()));
    for (int attempt = 0;; ++attempt) {
        std::string temp_path = path_join(tmp_dir, temp_name());
        UniqueFd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (fd) return Writer(std::move(temp_path), std::move(blobs_dir), std::move(fd));
        if (errno != EEXIST || attempt > 8) return sys_error("create " + temp_path);
    }
}

Status BlobStore::put(std::string_view bytes, std::string_view expected_digest) const {
    SKIFF_TRY(parsed, parse_digest(expected_digest));
    (void)parsed;
    if (has(expected_digest)) {
        // Still check the bytes: a caller must not believe wrong content was stored.
        return verify_digest(bytes, expected_digest);
    }
    SKIFF_TRY(writer, begin_write());
    SKIFF_CHECK(writer.write(bytes.data(), bytes.size()));
    return writer.commit(expected_digest, static_cast<int64_t>(bytes.size()));
}

Result<std::string> BlobStore::put_computed(std::string_view bytes) const {
    std::string digest = sha256_digest(bytes);
    SKIFF_CHECK(put(bytes, digest));
    return digest;
}

// Ok when the blob is already gone: a concurrent collector may have removed it.
Status BlobStore::remove(std::string_view digest) const {
    std::string p = path(digest);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return sys_error("remove blob " + std::string(digest));
    return ok();
}

Result<std::vector<std::string>> BlobStore::list() const {
    std::vector<std::string> out;
    for (const char* algorithm : {"sha256", "sha512"}) {
        std::string dir = path_join(path_join(root_, "blobs"), algorithm);
        DIR* d = ::opendir(dir.c_str());
        if (!d) {
            if (errno == ENOENT) continue;
            return sys_error("open " + dir);
        }
        size_t want = std::string_view(algorithm) == "sha256" ? 64 : 128;
        while (auto* ent = ::readdir(d)) {
            std::string_view name = ent->d_name;
            if (name.size() == want && is_lower_hex(name))
                out.push_back(std::string(algorithm) + ":" + std::string(name));
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

Status BlobStore::verify(std::string_view digest) const {
    SKIFF_TRY(parsed, parse_digest(digest));
    if (parsed.algorithm != "sha256") {
        SKIFF_TRY(data, read_file(path(digest)));
        return verify_digest(data, digest);
    }
    SKIFF_TRY(fd, open(digest));
    Sha256 hash;
    std::string buf(1 << 16, '\0');
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read blob " + std::string(digest));
        }
        if (n == 0) break;
        hash.update(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    std::string actual = hash.finish();
    if (actual != digest) return fail("blob " + std::string(digest) + " is corrupted: content hashed to " + actual);
    return ok();
}

Status BlobStore::remove_stale_temps() const {
    std::string dir = path_join(path_join(root_, "blobs"), "tmp");
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) {
        if (errno == ENOENT) return ok();
        return sys_error("open " + dir);
    }
    DIR* d = ::fdopendir(dfd.get());
    if (!d) return sys_error("opendir " + dir);
    dfd.release();
    Status result = ok();
    while (auto* ent = ::readdir(d)) {
        std::string_view name = ent->d_name;
        if (name == "." || name == "..") continue;
        struct stat st;
        if (::fstatat(::dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        // A live writer keeps touching its temp; one idle for a minute was left by a crash.
        if (!S_ISREG(st.st_mode) || !timestamp_older_than(st.st_mtim, kStaleTempSeconds)) continue;
        if (::unlinkat(::dirfd(d), ent->d_name, 0) != 0 && errno != ENOENT && result)
            result = sys_error("remove " + path_join(dir, std::string(name)));
    }
    ::closedir(d);
    return result;
}

// ---- ImageStore ----

namespace {

json to_json(const ImageRecord& r) {
    return json{{"id", r.id},
                {"manifest_digest", r.manifest_digest},
                {"manifest_media_type", r.manifest_media_type},
                {"repo_tags", r.repo_tags},
                {"repo_digests", r.repo_digests},
                {"layers", r.layers},
                {"diff_ids", r.diff_ids},
                {"parent", r.parent},
                {"created", r.created},
                {"added", r.added},
                {"size", r.size}};
}

Result<ImageRecord> from_json(const json& j) {
    if (!j.is_object()) return fail("image record is not an object");
    ImageRecord r;
    try {
        r.id = j.at("id").get<std::string>();
        r.manifest_digest = j.value("manifest_digest", "");
        r.manifest_media_type = j.value("manifest_media_type", "");
        r.repo_tags = j.value("repo_tags", std::vector<std::string>{});
        r.repo_digests = j.value("repo_digests", std::vector<std::string>{});
        r.layers = j.value("layers", std::vector<std::string>{});
        r.diff_ids = j.value("diff_ids", std::vector<std::string>{});
        r.parent = j.value("parent", "");
        r.created = j.value("created", "");
        r.added = j.value("added", "");
        r.size = j.value("size", int64_t{0});
    } catch (const json::exception& e) {
        return fail(std::string("image record: ") + e.what());
    }
    return r;
}

Result<std::vector<ImageRecord>> load_images(const std::string& path) {
    auto text = read_file_limited(path, kMaxImagesJson);
    if (!text) {
        if (text.error().code == ENOENT) return std::vector<ImageRecord>{};
        return std::unexpected(std::move(text).error());
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return fail(path + ": not a JSON object");
    std::vector<ImageRecord> out;
    auto it = doc.find("images");
    if (it == doc.end() || it->is_null()) return out;
    if (!it->is_array()) return fail(path + ": \"images\" is not an array");
    for (const auto& item : *it) {
        auto rec = from_json(item);
        if (!rec) return std::unexpected(std::move(rec).error().context(path));
        out.push_back(std::move(*rec));
    }
    return out;
}

Status save_images(const std::string& path, const std::vector<ImageRecord>& images) {
    json arr = json::array();
    for (const auto& r : images) arr.push_back(to_json(r));
    json doc{{"images", std::move(arr)}};
    return write_file_atomic(path, doc.dump(2) + "\n", 0644);
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

void erase_value(std::vector<std::string>& v, std::string_view s) {
    v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

void append_unique(std::vector<std::string>& v, const std::string& s) {
    if (!contains(v, s)) v.push_back(s);
}

std::unexpected<Error> no_such_image(std::string_view text) {
    return sys_error(ENOENT, "No such image: " + std::string(text));
}

Result<ImageRecord> find_in(const std::vector<ImageRecord>& images, std::string_view text) {
    if (text.empty()) return no_such_image(text);
    for (const auto& r : images)
        if (r.id == text || contains(r.repo_tags, text) || contains(r.repo_digests, text)) return r;

    std::string_view hex = text;
    if (hex.starts_with("sha256:")) hex.remove_prefix(7);
    if (hex.size() < 3 || hex.size() > 64 || !is_lower_hex(hex)) return no_such_image(text);
    const ImageRecord* found = nullptr;
    for (const auto& r : images) {
        std::string_view id = r.id;
        if (id.starts_with("sha256:")) id.remove_prefix(7);
        if (!id.starts_with(hex)) continue;
        if (found && found->id != r.id) return fail("ambiguous image id prefix " + std::string(text));
        found = &r;
    }
    if (!found) return no_such_image(text);
    return *found;
}

}  // namespace

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {}

Result<std::vector<ImageRecord>> ImageStore::list() const {
    return load_images(path_join(root_, "images.json"));
}

Result<ImageRecord> ImageStore::find(std::string_view text) const {
    SKIFF_TRY(images, list());
    return find_in(images, text);
}

namespace {

// Read-modify-write of images.json under images.lock: parallel CLI runs never lose updates.
template <typename F>
Status mutate_images(const std::string& root, F&& apply) {
    SKIFF_TRY(lock, StoreLock::acquire(path_join(root, "images.lock"), StoreLock::Mode::exclusive));
    std::string path = path_join(root, "images.json");
    SKIFF_TRY(images, load_images(path));
    SKIFF_CHECK(apply(images));
    return save_images(path, images);
}

}  // namespace

Status ImageStore::add(const ImageRecord& record) const {
    SKIFF_CHECK(parse_digest(record.id));
    return mutate_images(root_, [&](std::vector<ImageRecord>& images) -> Status {
        for (auto& other : images) {
            if (other.id == record.id) continue;
            for (const auto& t : record.repo_tags) erase_value(other.repo_tags, t);
            for (const auto& d : record.repo_digests) erase_value(other.repo_digests, d);
        }
        auto it = std::find_if(images.begin(), images.end(),
                               [&](const ImageRecord& r) { return r.id == record.id; });
        if (it == images.end()) {
            ImageRecord fresh = record;
            fresh.repo_tags.clear();
            fresh.repo_digests.clear();
            for (const auto& t : record.repo_tags) append_unique(fresh.repo_tags, t);
            for (const auto& d : record.repo_digests) append_unique(fresh.repo_digests, d);
            images.push_back(std::move(fresh));
            return ok();
        }
        // Merge: names accumulate (pulling a second tag of the same image keeps the first).
        ImageRecord merged = record;
        merged.repo_tags = it->repo_tags;
        merged.repo_digests = it->repo_digests;
        for (const auto& t : record.repo_tags) append_unique(merged.repo_tags, t);
        for (const auto& d : record.repo_digests) append_unique(merged.repo_digests, d);
        *it = std::move(merged);
        return ok();
    });
}

Status ImageStore::tag(std::string_view id, std::string_view full_reference) const {
    std::string ref(full_reference);
    return mutate_images(root_, [&](std::vector<ImageRecord>& images) -> Status {
        auto it = std::find_if(images.begin(), images.end(), [&](const ImageRecord& r) { return r.id == id; });
        if (it == images.end()) return no_such_image(id);
        for (auto& other : images)
            if (other.id != it->id) erase_value(other.repo_tags, ref);
        append_unique(it->repo_tags, ref);
        return ok();
    });
}

Result<ImageRecord> ImageStore::untag(std::string_view full_reference) const {
    ImageRecord changed;
    SKIFF_CHECK(mutate_images(root_, [&](std::vector<ImageRecord>& images) -> Status {
        for (auto& r : images) {
            if (contains(r.repo_tags, full_reference) || contains(r.repo_digests, full_reference)) {
                erase_value(r.repo_tags, full_reference);
                erase_value(r.repo_digests, full_reference);
                changed = r;
                return ok();
            }
        }
        return no_such_image(full_reference);
    }));
    return changed;
}

Status ImageStore::remove(std::string_view id) const {
    return mutate_images(root_, [&](std::vector<ImageRecord>& images) -> Status {
        auto it = std::find_if(images.begin(), images.end(), [&](const ImageRecord& r) { return r.id == id; });
        if (it == images.end()) return no_such_image(id);
        images.erase(it);
        return ok();
    });
}

}  // namespace skiff::image
