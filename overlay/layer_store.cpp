#include "overlay/layer_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "common/path.hpp"

namespace skiff {

namespace {

using nlohmann::json;

constexpr size_t kMaxLayerJson = size_t(64) << 20;  // whiteout lists can be long

std::string_view hex_of(std::string_view digest) {
    auto colon = digest.find(':');
    return colon == std::string_view::npos ? digest : digest.substr(colon + 1);
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Temp names carry our pid (so remove_stale_temps can tell a killed pull from a live one) and
// a per-process counter (so threads of one process never share a temp dir).
std::string temp_suffix() {
    static std::atomic<unsigned> counter{0};
    return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

// Without root, a layer may hold directories without owner write/search permission (a tar
// entry with mode 0555): give them back to the owner so the tree can be deleted.
void make_removable_at(int parent, const char* name) {
    struct stat st;
    if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) return;
    if ((st.st_mode & 0700) != 0700) (void)::fchmodat(parent, name, (st.st_mode & 07777) | 0700, 0);
    int dfd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return;
    DIR* dir = ::fdopendir(dfd);
    if (!dir) {
        ::close(dfd);
        return;
    }
    while (auto* ent = ::readdir(dir)) {
        std::string_view child = ent->d_name;
        if (child == "." || child == "..") continue;
        if (ent->d_type == DT_DIR || ent->d_type == DT_UNKNOWN) make_removable_at(::dirfd(dir), ent->d_name);
    }
    ::closedir(dir);
}

Status remove_layer_tree(const std::string& path) {
    if (::geteuid() != 0) make_removable_at(AT_FDCWD, path.c_str());
    return remove_tree(path);
}

json to_json(const LayerRecord& r) {
    return json{{"chain_id", r.chain_id},   {"diff_id", r.diff_id},       {"parent", r.parent},
                {"size", r.size},           {"privileged", r.privileged}, {"whiteouts", r.whiteouts},
                {"opaque_dirs", r.opaque_dirs}, {"markers_made", r.markers_made}};
}

Result<LayerRecord> from_json(const json& j) {
    if (!j.is_object()) return fail("not a JSON object");
    LayerRecord r;
    try {
        r.chain_id = j.at("chain_id").get<std::string>();
        r.diff_id = j.at("diff_id").get<std::string>();
        r.parent = j.value("parent", "");
        r.size = j.value("size", int64_t{0});
        r.privileged = j.value("privileged", true);
        r.whiteouts = j.value("whiteouts", std::vector<std::string>{});
        r.opaque_dirs = j.value("opaque_dirs", std::vector<std::string>{});
        r.markers_made = j.value("markers_made", false);
    } catch (const json::exception& e) {
        return fail(e.what());
    }
    return r;
}

Result<LayerRecord> read_record(const std::string& layer_dir) {
    std::string path = path_join(layer_dir, "layer.json");
    SKIFF_TRY(text, read_file_limited(path, kMaxLayerJson));
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail(path + ": invalid JSON");
    return with_context(from_json(doc), path);
}

// ".tmp-<hex>-<pid>-<n>" / ".tmp-remove-<hex>-<pid>-<n>" -> pid, or 0 when not ours.
pid_t temp_owner(std::string_view name) {
    if (name.starts_with(".tmp-remove-")) name.remove_prefix(12);
    else if (name.starts_with(".tmp-")) name.remove_prefix(5);
    else return 0;
    auto dash = name.find('-');
    if (dash != 64 || !is_lower_hex(name.substr(0, 64))) return 0;
    name.remove_prefix(65);
    pid_t pid = 0;
    size_t i = 0;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
        if (pid > 100'000'000) return 0;
        pid = pid * 10 + (name[i] - '0');
    }
    if (i == 0 || (i < name.size() && name[i] != '-')) return 0;
    return pid;
}

}  // namespace

std::string chain_id(std::string_view parent_chain_id, std::string_view diff_id) {
    if (parent_chain_id.empty()) return std::string(diff_id);
    std::string text;
    text.reserve(parent_chain_id.size() + 1 + diff_id.size());
    text.append(parent_chain_id).append(" ").append(diff_id);
    return sha256_digest(text);
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
    std::vector<std::string> out;
    out.reserve(diff_ids.size());
    std::string parent;
    for (const auto& d : diff_ids) {
        parent = chain_id(parent, d);
        out.push_back(parent);
    }
    return out;
}

LayerStore::LayerStore(std::string root) : root_(std::move(root)) {}

namespace {

std::string layers_dir_of(const std::string& root) { return path_join(root, "layers"); }

void drain(int fd) {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
    }
}

Status check_layer_digest(std::string_view what, std::string_view digest) {
    auto parsed = parse_digest(digest);
    if (!parsed) return std::unexpected(std::move(parsed).error().context(std::string(what)));
    if (parsed->algorithm != "sha256")
        return fail(std::string(what) + " " + std::string(digest) + ": only sha256 is supported");
    return ok();
}

}  // namespace

bool LayerStore::has(std::string_view id) const {
    struct stat st;
    std::string p = path_join(path_join(layers_dir_of(root_), std::string(hex_of(id))), "layer.json");
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string LayerStore::diff_path(std::string_view id) const {
    return path_join(path_join(layers_dir_of(root_), std::string(hex_of(id))), "diff");
}

Result<LayerRecord> LayerStore::get(std::string_view id) const {
    std::string_view hex = hex_of(id);
    if (hex.size() != 64 || !is_lower_hex(hex)) return fail("invalid layer id \"" + std::string(id) + "\"");
    auto rec = read_record(path_join(layers_dir_of(root_), std::string(hex)));
    if (!rec && rec.error().code == ENOENT) return sys_error(ENOENT, "layer " + std::string(id) + " not found");
    return rec;
}

Result<std::vector<LayerRecord>> LayerStore::list() const {
    std::string dir = layers_dir_of(root_);
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return std::vector<LayerRecord>{};
        return sys_error("open " + dir);
    }
    std::vector<std::string> names;
    while (auto* ent = ::readdir(d)) {
        std::string_view name = ent->d_name;
        if (name.size() == 64 && is_lower_hex(name)) names.emplace_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::vector<LayerRecord> out;
    for (const auto& name : names) {
        auto rec = read_record(path_join(dir, name));
        if (!rec) {
            // Removed by a concurrent collector between readdir and now.
            if (rec.error().code == ENOENT && !path_exists(path_join(dir, name))) continue;
            return std::unexpected(std::move(rec).error());
        }
        out.push_back(std::move(*rec));
    }
    return out;
}

namespace {

// Write layer.json into the complete temp dir and rename it to layers/<hex>. When another
// process got there first, ours is dropped and theirs returned.
Result<LayerRecord> install_layer(const LayerStore& store, const std::string& layers_dir,
                                  const std::string& temp_dir, const LayerRecord& record) {
    if (auto r = write_file_atomic(path_join(temp_dir, "layer.json"), to_json(record).dump(2) + "\n", 0644);
        !r) {
        (void)remove_layer_tree(temp_dir);
        return std::unexpected(std::move(r).error());
    }
    fsync_directory(temp_dir);
    std::string final_dir = path_join(layers_dir, std::string(hex_of(record.chain_id)));
    if (::rename(temp_dir.c_str(), final_dir.c_str()) != 0) {
        int err = errno;
        (void)remove_layer_tree(temp_dir);
        if (err == ENOTEMPTY || err == EEXIST) return store.get(record.chain_id);
        return sys_error(err, "rename " + temp_dir + " to " + final_dir);
    }
    fsync_directory(layers_dir);
    return record;
}

}  // namespace

Result<LayerRecord> LayerStore::unpack(int fd, std::string_view diff_id, std::string_view parent_chain_id,
                                       const UnpackOptions& options, const std::function<Status()>& before_publish) {
    SKIFF_CHECK(check_layer_digest("diff id", diff_id));
    if (!parent_chain_id.empty()) SKIFF_CHECK(check_layer_digest("parent chain id", parent_chain_id));
    LayerRecord record;
    record.chain_id = chain_id(parent_chain_id, diff_id);
    record.diff_id = std::string(diff_id);
    record.parent = std::string(parent_chain_id);
    if (has(record.chain_id)) {
        // Still read the stream to its end, as unpacking would: a writer feeding us through a
        // pipe (pull streams the download) must not block or fail because we stopped early.
        drain(fd);
        return get(record.chain_id);
    }

    std::string layers_dir = layers_dir_of(root_);
    SKIFF_CHECK(mkdir_p(layers_dir, ::geteuid() == 0 ? 0755 : 0700));
    std::string hex(hex_of(record.chain_id));
    std::string temp_dir = path_join(layers_dir, ".tmp-" + hex + "-" + temp_suffix());
    if (::mkdir(temp_dir.c_str(), 0755) != 0) return sys_error("create " + temp_dir);

    auto stats = unpack_layer(fd, path_join(temp_dir, "diff"), options);
    if (!stats) {
        (void)remove_layer_tree(temp_dir);
        return std::unexpected(std::move(stats).error().context("layer " + record.diff_id));
    }
    if (stats->diff_id != diff_id) {
        (void)remove_layer_tree(temp_dir);
        return fail("layer " + record.diff_id + ": content hashed to " + stats->diff_id);
    }
    if (before_publish) {
        if (auto go_on = before_publish(); !go_on) {
            (void)remove_layer_tree(temp_dir);
            return std::unexpected(go_on.error());
        }
    }
    record.size = static_cast<int64_t>(stats->bytes);
    record.privileged = options.privileged;
    record.whiteouts = std::move(stats->whiteouts);
    record.opaque_dirs = std::move(stats->opaque_dirs);
    return install_layer(*this, layers_dir, temp_dir, record);
}

Result<LayerRecord> LayerStore::adopt(const std::string& unpacked_dir, std::string_view diff_id,
                                      std::string_view parent_chain_id, const LayerStats& stats) {
    SKIFF_CHECK(check_layer_digest("diff id", diff_id));
    if (!parent_chain_id.empty()) SKIFF_CHECK(check_layer_digest("parent chain id", parent_chain_id));
    if (!stats.diff_id.empty() && stats.diff_id != diff_id)
        return fail("layer " + std::string(diff_id) + ": content hashed to " + stats.diff_id);
    LayerRecord record;
    record.chain_id = chain_id(parent_chain_id, diff_id);
    record.diff_id = std::string(diff_id);
    record.parent = std::string(parent_chain_id);
    record.size = static_cast<int64_t>(stats.bytes);
    // Unrecorded whiteouts mean they were written as overlayfs char devices (privileged).
    record.privileged = stats.whiteouts.empty() && stats.opaque_dirs.empty();
    record.whiteouts = stats.whiteouts;
    record.opaque_dirs = stats.opaque_dirs;
    if (has(record.chain_id)) {
        SKIFF_CHECK(remove_layer_tree(unpacked_dir));  // "moved into place": the input is consumed
        return get(record.chain_id);
    }

    std::string layers_dir = layers_dir_of(root_);
    SKIFF_CHECK(mkdir_p(layers_dir, ::geteuid() == 0 ? 0755 : 0700));
    std::string temp_dir = path_join(layers_dir, ".tmp-" + std::string(hex_of(record.chain_id)) + "-" + temp_suffix());
    if (::mkdir(temp_dir.c_str(), 0755) != 0) return sys_error("create " + temp_dir);
    std::string diff = path_join(temp_dir, "diff");
    if (::rename(unpacked_dir.c_str(), diff.c_str()) != 0) {
        auto e = sys_error("move " + unpacked_dir + " into the layer store");
        (void)::rmdir(temp_dir.c_str());
        return e;
    }
    return install_layer(*this, layers_dir, temp_dir, record);
}

namespace {

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_parent(const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return {"", rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// overlayfs's whiteout at rel (inside root_fd): a 0/0 char device, replacing a non-directory.
Status make_whiteout(int root_fd, const std::string& rel) {
    auto [parent_rel, name] = split_parent(rel);
    if (name.empty() || name == "." || name == "..") return fail("invalid whiteout " + rel);
    SKIFF_TRY(parent, mkdir_in_root(root_fd, parent_rel, 0755));
    struct stat st;
    if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) return ok();  // made before
        if (S_ISDIR(st.st_mode)) return fail("whiteout " + rel + ": a directory is in the way");
        if (::unlinkat(parent.get(), name.c_str(), 0) != 0) return sys_error("whiteout " + rel);
    }
    if (::mknodat(parent.get(), name.c_str(), S_IFCHR, makedev(0, 0)) != 0 && errno != EEXIST)
        return sys_error("mknod whiteout " + rel);
    return ok();
}

Status make_opaque(int root_fd, const std::string& rel) {
    SKIFF_TRY(dir, mkdir_in_root(root_fd, rel == "." ? "" : rel, 0755));
    if (::setxattr(fd_path(dir.get()).c_str(), "user.overlay.opaque", "y", 1, 0) != 0)
        return sys_error("set user.overlay.opaque on " + rel);
    return ok();
}

}  // namespace

Result<LayerRecord> LayerStore::materialize_markers(std::string_view id) {
    SKIFF_TRY(record, get(id));
    if (record.privileged || record.markers_made || (record.whiteouts.empty() && record.opaque_dirs.empty()))
        return record;
    std::string diff = diff_path(id);
    UniqueFd root(::open(diff.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open " + diff);
    for (const auto& rel : record.whiteouts)
        SKIFF_CHECK(with_context(make_whiteout(root.get(), rel), "layer " + record.chain_id));
    for (const auto& rel : record.opaque_dirs)
        SKIFF_CHECK(with_context(make_opaque(root.get(), rel), "layer " + record.chain_id));
    record.markers_made = true;
    std::string dir = path_join(layers_dir_of(root_), std::string(hex_of(id)));
    SKIFF_CHECK(write_file_atomic(path_join(dir, "layer.json"), to_json(record).dump(2) + "\n", 0644));
    return record;
}

// Ok when the layer is already gone (a concurrent collector removed it).
Status LayerStore::remove(std::string_view id) {
    std::string_view hex = hex_of(id);
    if (hex.size() != 64 || !is_lower_hex(hex)) return fail("invalid layer id \"" + std::string(id) + "\"");
    std::string layers_dir = layers_dir_of(root_);
    std::string dir = path_join(layers_dir, std::string(hex));
    // Renamed away first: a half-deleted tree must never look like a layer.
    std::string doomed = path_join(layers_dir, ".tmp-remove-" + std::string(hex) + "-" + temp_suffix());
    if (::rename(dir.c_str(), doomed.c_str()) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("remove layer " + std::string(id));
    }
    return with_context(remove_layer_tree(doomed), "remove layer " + std::string(id));
}

Status LayerStore::remove_stale_temps() {
    std::string dir = layers_dir_of(root_);
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return ok();
        return sys_error("open " + dir);
    }
    std::vector<std::string> stale;
    while (auto* ent = ::readdir(d)) {
        pid_t pid = temp_owner(ent->d_name);
        if (pid <= 0) continue;
        // EPERM means the pid lives (as another user): keep its temp.
        if (::kill(pid, 0) != 0 && errno == ESRCH) stale.emplace_back(ent->d_name);
    }
    ::closedir(d);
    Status result = ok();
    for (const auto& name : stale) {
        auto r = remove_layer_tree(path_join(dir, name));
        if (!r && result) result = std::move(r);
    }
    return result;
}

}  // namespace skiff
