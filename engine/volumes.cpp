#include "engine/volumes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "common/digest.hpp"
#include "common/clock.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/containers.hpp"
#include "image/store.hpp"

namespace skiff::engine {
namespace {

constexpr size_t kMaxVolumeJson = 1 << 20;

std::string volumes_dir(const Store& store) { return path_join(store.options.root, "volumes"); }
std::string volume_dir(const Store& store, std::string_view name) {
    return path_join(volumes_dir(store), std::string(name));
}

bool is_hex64(std::string_view text) {
    return text.size() == 64 &&
           std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::string> random_name() { return random_hex(32); }

// Creation, removal and pruning exclude each other, so a prune never deletes a volume that a
// concurrent create is just writing.
Result<image::StoreLock> lock_volumes(const Store& store) {
    SKIFF_CHECK(mkdir_p(volumes_dir(store), 0700));
    return image::StoreLock::acquire(path_join(volumes_dir(store), ".lock"), image::StoreLock::Mode::exclusive);
}

std::string mtime_rfc3339(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "";
    std::time_t t = st.st_mtim.tv_sec;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

nlohmann::json string_map_json(const std::map<std::string, std::string>& values) {
    // Docker prints null, not {}, for a volume without labels or options.
    if (values.empty()) return nullptr;
    return nlohmann::json(values);
}

std::map<std::string, std::string> string_map(const nlohmann::json& value) {
    std::map<std::string, std::string> out;
    if (!value.is_object()) return out;
    for (const auto& [k, v] : value.items())
        if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

// The volume stored under `name` (which must exist as a directory).
Result<Volume> load_volume(const Store& store, const std::string& name) {
    std::string dir = volume_dir(store, name);
    Volume volume;
    volume.name = name;
    volume.mountpoint = path_join(dir, "_data");
    std::string meta = path_join(dir, "volume.json");
    if (!path_exists(meta)) {
        volume.created_at = mtime_rfc3339(dir);
        volume.anonymous = is_hex64(name);
        return volume;
    }
    SKIFF_TRY(body, read_file_limited(meta, kMaxVolumeJson));
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) return fail(meta + ": not a JSON object");
    if (j.contains("Driver") && j["Driver"].is_string()) volume.driver = j["Driver"].get<std::string>();
    if (j.contains("CreatedAt") && j["CreatedAt"].is_string()) volume.created_at = j["CreatedAt"].get<std::string>();
    if (j.contains("Scope") && j["Scope"].is_string()) volume.scope = j["Scope"].get<std::string>();
    if (j.contains("Labels")) volume.labels = string_map(j["Labels"]);
    if (j.contains("Options")) volume.options = string_map(j["Options"]);
    volume.anonymous = volume.labels.contains(std::string(kAnonymousVolumeLabel));
    return volume;
}

// Called with the volumes lock held. Nothing is visible under `name` until volume.json and
// _data are both in place (built under a temp name, then renamed).
Result<Volume> create_locked(const Store& store, const std::string& name,
                             const std::map<std::string, std::string>& labels) {
    std::string dir = volume_dir(store, name);
    if (is_directory(dir)) return load_volume(store, name);
    Volume volume;
    volume.name = name;
    volume.mountpoint = path_join(dir, "_data");
    // Whole seconds, as Docker shows a volume's CreatedAt.
    volume.created_at = rfc3339_now();
    if (auto dot = volume.created_at.find('.'); dot != std::string::npos)
        volume.created_at = volume.created_at.substr(0, dot) + "Z";
    volume.labels = labels;
    volume.anonymous = labels.contains(std::string(kAnonymousVolumeLabel));
    std::string tmp = path_join(volumes_dir(store), ".tmp-" + name + "-" + std::to_string(::getpid()));
    (void)remove_tree(tmp);
    auto built = [&]() -> Status {
        SKIFF_CHECK(mkdir_p(path_join(tmp, "_data"), 0755));
        SKIFF_CHECK(write_file_atomic(path_join(tmp, "volume.json"), volume_json(volume).dump(2) + "\n", 0644));
        if (::rename(tmp.c_str(), dir.c_str()) != 0) return sys_error("rename " + tmp + " to " + dir);
        return ok();
    }();
    if (!built) {
        (void)remove_tree(tmp);
        return std::unexpected(built.error().context("create volume " + name));
    }
    fsync_directory(volumes_dir(store));
    return volume;
}

// Delete with the volumes lock held: renamed away first so a half-deleted volume is never
// listed.
Status delete_locked(const Store& store, const std::string& name) {
    std::string dir = volume_dir(store, name);
    std::string gone = path_join(volumes_dir(store), ".removing-" + name + "-" + std::to_string(::getpid()));
    if (::rename(dir.c_str(), gone.c_str()) != 0) return sys_error("remove volume " + name);
    return remove_tree(gone);
}

bool has_label(const std::map<std::string, std::string>& labels, std::string_view filter) {
    auto eq = filter.find('=');
    std::string key(filter.substr(0, eq));
    auto it = labels.find(key);
    if (it == labels.end()) return false;
    return eq == std::string_view::npos || it->second == filter.substr(eq + 1);
}

int64_t size_at(int dir_fd, std::set<std::pair<dev_t, ino_t>>& seen, dev_t device) {
    int64_t total = 0;
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        return 0;
    }
    while (auto* entry = ::readdir(d)) {
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != device) continue;  // another mount: not ours to count
            int sub = ::openat(::dirfd(d), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue;
            total += size_at(sub, seen, device);
            ::close(sub);
            continue;
        }
        if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        total += st.st_size;
    }
    ::closedir(d);
    return total;
}

}  // namespace

Status validate_volume_name(std::string_view name) {
    auto valid_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '-';
    };
    bool good = name.size() >= 2 && valid_char(name[0]) && name[0] != '_' && name[0] != '.' && name[0] != '-' &&
                std::all_of(name.begin(), name.end(), valid_char);
    if (!good)
        return fail("create " + std::string(name) + ": \"" + std::string(name) +
                    "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
                    "are allowed. If you intended to pass a host directory, use absolute path");
    return ok();
}

Result<std::string> ensure_volume(const Store& store, std::string& name) {
    std::map<std::string, std::string> labels;
    if (name.empty()) {
        SKIFF_TRY(generated, random_name());
        name = generated;
        labels[std::string(kAnonymousVolumeLabel)] = "";
    }
    SKIFF_CHECK(validate_volume_name(name));
    std::string data = path_join(volume_dir(store, name), "_data");
    if (is_directory(data)) return data;  // the common case needs no lock
    SKIFF_TRY(lock, lock_volumes(store));
    SKIFF_TRY(volume, create_locked(store, name, labels));
    // An old directory without _data (never made by this code, but cheap to mend).
    SKIFF_CHECK(mkdir_p(volume.mountpoint, 0755));
    return volume.mountpoint;
}

Result<Volume> create_volume(const Store& store, std::string name, const std::map<std::string, std::string>& labels) {
    if (name.empty()) {
        SKIFF_TRY(generated, random_name());
        name = generated;
    }
    SKIFF_CHECK(validate_volume_name(name));
    SKIFF_TRY(lock, lock_volumes(store));
    return create_locked(store, name, labels);
}

Result<Volume> find_volume(const Store& store, std::string_view name) {
    if (name.empty() || name.starts_with('.') || name.find('/') != std::string_view::npos ||
        !is_directory(volume_dir(store, name)))
        return sys_error(ENOENT, "No such volume: " + std::string(name));
    return load_volume(store, std::string(name));
}

Result<std::vector<Volume>> list_volumes(const Store& store) {
    std::vector<Volume> out;
    std::string dir = volumes_dir(store);
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        return sys_error("open " + dir);
    }
    std::vector<std::string> names;
    while (auto* entry = ::readdir(d)) {
        std::string name = entry->d_name;
        if (name.starts_with('.')) continue;  // ., .., .lock, .tmp-*, .removing-*
        if (is_directory(path_join(dir, name))) names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        auto volume = load_volume(store, name);
        // Removed meanwhile: not listed; a broken volume.json is listed without its metadata.
        if (!volume && !is_directory(volume_dir(store, name))) continue;
        if (!volume) {
            Volume bare;
            bare.name = name;
            bare.mountpoint = path_join(volume_dir(store, name), "_data");
            out.push_back(bare);
            continue;
        }
        out.push_back(*volume);
    }
    return out;
}

nlohmann::json volume_json(const Volume& volume) {
    return {{"CreatedAt", volume.created_at}, {"Driver", volume.driver},
            {"Labels", string_map_json(volume.labels)}, {"Mountpoint", volume.mountpoint},
            {"Name", volume.name}, {"Options", string_map_json(volume.options)},
            {"Scope", volume.scope}};
}

std::map<std::string, std::vector<std::string>> volume_users(const Store& store) {
    std::map<std::string, std::vector<std::string>> users;
    auto records = container_store(store).list();
    if (!records) return users;
    for (const auto& record : *records) {
        for (const auto& m : record.mounts) {
            if (m.type != "volume" || m.volume_name.empty()) continue;
            auto& ids = users[m.volume_name];
            if (std::find(ids.begin(), ids.end(), record.id) == ids.end()) ids.push_back(record.id);
        }
    }
    return users;
}

Status remove_volume(const Store& store, std::string_view name) {
    SKIFF_TRY(volume, find_volume(store, name));
    SKIFF_TRY(lock, lock_volumes(store));
    if (!is_directory(volume_dir(store, volume.name)))
        return sys_error(ENOENT, "No such volume: " + volume.name);
    auto users = volume_users(store);
    if (auto it = users.find(volume.name); it != users.end()) {
        std::string ids;
        for (const auto& id : it->second) ids += (ids.empty() ? "" : ", ") + id;
        return fail("remove " + volume.name + ": volume is in use - [" + ids + "]");
    }
    return delete_locked(store, volume.name);
}

Status add_volume_filter(VolumeFilters& filters, std::string_view text) {
    auto eq = text.find('=');
    if (eq == std::string_view::npos) return fail("bad format of filter (expected name=value)");
    std::string key(text.substr(0, eq));
    std::string value(text.substr(eq + 1));
    if (key == "dangling") {
        if (value == "true" || value == "1") filters.dangling = true;
        else if (value == "false" || value == "0") filters.dangling = false;
        else return fail("invalid filter 'dangling=" + value + "'");
    } else if (key == "name") {
        filters.names.push_back(value);
    } else if (key == "label") {
        filters.labels.push_back(value);
    } else if (key == "driver") {
        filters.drivers.push_back(value);
    } else {
        return fail("invalid filter '" + key + "'");
    }
    return ok();
}

bool volume_matches(const Volume& volume, bool in_use, const VolumeFilters& filters) {
    if (filters.dangling && *filters.dangling == in_use) return false;
    // Several values of one filter: any may match; different filters: all must.
    if (!filters.names.empty() &&
        std::none_of(filters.names.begin(), filters.names.end(),
                     [&](const std::string& n) { return volume.name.find(n) != std::string::npos; }))
        return false;
    if (!filters.drivers.empty() &&
        std::find(filters.drivers.begin(), filters.drivers.end(), volume.driver) == filters.drivers.end())
        return false;
    // Labels: every one given must be present (Docker's semantics).
    for (const auto& label : filters.labels)
        if (!has_label(volume.labels, label)) return false;
    return true;
}

Result<VolumePruneReport> prune_volumes(const Store& store, bool all) {
    VolumePruneReport report;
    if (!is_directory(volumes_dir(store))) return report;
    SKIFF_TRY(lock, lock_volumes(store));
    SKIFF_TRY(volumes, list_volumes(store));
    auto users = volume_users(store);
    for (const auto& volume : volumes) {
        if (users.contains(volume.name)) continue;
        if (!all && !volume.anonymous) continue;
        int64_t size = directory_size(volume.mountpoint);
        SKIFF_CHECK(delete_locked(store, volume.name));
        report.deleted.push_back(volume.name);
        report.reclaimed += size;
    }
    return report;
}

int64_t directory_size(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st {};
    int64_t total = 0;
    if (::fstat(fd, &st) == 0) {
        std::set<std::pair<dev_t, ino_t>> seen;
        total = size_at(fd, seen, st.st_dev);
    }
    ::close(fd);
    return total;
}

}  // namespace skiff::engine
