#include "runtime/state_store.hpp"

#include <dirent.h>
#include <algorithm>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cgroups/cgroups.hpp"
#include "common/fs.hpp"

namespace skiff::runtime {

using nlohmann::json;

const char* status_name(ContainerStatus s) {
    switch (s) {
        case ContainerStatus::creating: return "creating";
        case ContainerStatus::created: return "created";
        case ContainerStatus::running: return "running";
        case ContainerStatus::paused: return "paused";
        case ContainerStatus::stopped: return "stopped";
    }
    return "unknown";
}

Status validate_container_id(const std::string& id) {
    if (id.empty()) return fail("container id must not be empty");
    if (id.size() > 1024) return fail("container id is longer than 1024 characters");
    auto ok_char = [](char c, bool first) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
        return !first && (c == '_' || c == '.' || c == '-' || c == '+');
    };
    for (size_t i = 0; i < id.size(); ++i)
        if (!ok_char(id[i], i == 0))
            return fail("invalid container id \"" + id + "\": use letters, digits and _ . - + (not first)");
    if (id == "." || id == "..") return fail("invalid container id \"" + id + "\"");
    return ok();
}

uint64_t process_start_time(pid_t pid) {
    auto stat = read_file_limited("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return 0;
    // The command name (field 2) may hold spaces and parentheses: start after the last ')'.
    auto close = stat->rfind(')');
    if (close == std::string::npos) return 0;
    std::string rest = stat->substr(close + 2);
    // rest begins at field 3 (state); starttime is field 22.
    int field = 3;
    size_t pos = 0;
    while (field < 22 && pos != std::string::npos) {
        pos = rest.find(' ', pos);
        if (pos != std::string::npos) ++pos;
        ++field;
    }
    if (pos == std::string::npos) return 0;
    if (rest[0] == 'Z' || rest[0] == 'X') return 0;  // a zombie has exited
    return std::strtoull(rest.c_str() + pos, nullptr, 10);
}

uint64_t own_start_time() {
    static pid_t cached_pid = 0;
    static uint64_t cached = 0;
    pid_t self = ::getpid();
    if (self != cached_pid || cached == 0) {
        cached = process_start_time(self);
        cached_pid = self;
    }
    return cached;
}

bool process_alive(pid_t pid, uint64_t start_time) {
    if (pid <= 0) return false;
    uint64_t now = process_start_time(pid);
    return now != 0 && now == start_time;
}

Result<cgroups::Group> container_group(const ContainerRecord& record) {
    if (record.cgroup_path.empty()) return fail("container \"" + record.id + "\" has no cgroup");
    return cgroups::Group(record.cgroup_root, record.cgroup_path);
}

std::string StateStore::dir_of(const std::string& id) const { return path_join(root_, id); }

Status StateStore::reserve(const std::string& id) {
    SKIFF_CHECK(mkdir_p(root_, 0711));
    if (::mkdir(dir_of(id).c_str(), 0711) != 0) {
        if (errno == EEXIST) return fail("container \"" + id + "\" already exists");
        return sys_error("create state directory " + dir_of(id));
    }
    return ok();
}

static json record_to_json(const ContainerRecord& r) {
    return json{{"id", r.id},
                {"pid", r.pid},
                {"pidStartTime", r.pid_start_time},
                {"creatorPid", r.creator_pid},
                {"creatorStartTime", r.creator_start_time},
                {"created", r.created},
                {"bundle", r.bundle},
                {"rootfs", r.rootfs},
                {"createdAt", r.created_at},
                {"cgroupRoot", r.cgroup_root},
                {"cgroupPath", r.cgroup_path},
                {"ownPidNamespace", r.own_pid_namespace},
                {"owner", r.owner},
                {"annotations", r.annotations}};
}

Status StateStore::save(const ContainerRecord& record) const {
    // The runtime's root is volatile by design (gone at boot with the containers it describes).
    return write_file_atomic(dir_of(record.id) + "/state.json", record_to_json(record).dump(), 0644,
                             Durability::atomic);
}

Result<ContainerRecord> StateStore::load(const std::string& id) const {
    SKIFF_CHECK(validate_container_id(id));
    auto text = read_file_limited(dir_of(id) + "/state.json", 1 << 20);
    if (!text) {
        if (text.error().code == ENOENT) {
            if (is_directory(dir_of(id)))
                return sys_error(ENOENT, "container \"" + id + "\" has no state yet (create was interrupted; use delete --force)");
            return fail("container \"" + id + "\" does not exist");
        }
        return std::unexpected(text.error());
    }
    try {
        auto j = json::parse(*text);
        ContainerRecord r;
        r.id = j.at("id").get<std::string>();
        r.pid = j.at("pid").get<pid_t>();
        r.pid_start_time = j.at("pidStartTime").get<uint64_t>();
        r.creator_pid = j.value("creatorPid", 0);
        r.creator_start_time = j.value("creatorStartTime", uint64_t{0});
        r.created = j.value("created", false);
        r.bundle = j.value("bundle", "");
        r.rootfs = j.value("rootfs", "");
        r.created_at = j.value("createdAt", "");
        r.cgroup_root = j.value("cgroupRoot", "");
        r.cgroup_path = j.value("cgroupPath", "");
        r.own_pid_namespace = j.value("ownPidNamespace", true);
        r.owner = j.value("owner", 0u);
        r.annotations = j.value("annotations", std::map<std::string, std::string>{});
        return r;
    } catch (const std::exception& e) {
        return fail("state of container \"" + id + "\" is corrupt: " + e.what());
    }
}

Result<Spec> StateStore::load_config(const std::string& id) const {
    SKIFF_TRY(text, read_file_limited(config_of(id), 16 << 20));
    return parse_spec(text);
}

namespace {

struct RememberedHooks {
    FileIdentity file;
    std::optional<Hooks> hooks;
};

// Per process, by config path: one CLI creates, starts and deletes the same few containers.
std::map<std::string, RememberedHooks>& remembered_hooks() {
    static std::map<std::string, RememberedHooks> cache;
    return cache;
}

}  // namespace

void StateStore::remember_hooks(const std::string& id, const std::optional<Hooks>& hooks) const {
    std::string path = config_of(id);
    if (auto file = file_identity(path)) remembered_hooks()[path] = {*file, hooks};
}

Result<std::optional<Hooks>> StateStore::load_hooks(const std::string& id) const {
    std::string path = config_of(id);
    auto& cache = remembered_hooks();
    if (auto it = cache.find(path); it != cache.end()) {
        if (auto file = file_identity(path); file && *file == it->second.file) return it->second.hooks;
        cache.erase(it);
    }
    SKIFF_TRY(spec, load_config(id));
    return std::move(spec.hooks);
}

bool StateStore::exists(const std::string& id) const { return is_directory(dir_of(id)); }

Status StateStore::remove(const std::string& id, DeferredRemoval* deferred) const {
    if (!deferred) return remove_tree(dir_of(id));
    const std::string doomed = path_join(root_, std::string(kRemovingPrefix) + id);
    SKIFF_CHECK(remove_tree(doomed));  // a leftover of an earlier container of this id
    if (::rename(dir_of(id).c_str(), doomed.c_str()) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("rename " + dir_of(id) + " to " + doomed);
    }
    deferred->add(doomed);
    return ok();
}

Result<std::vector<std::string>> StateStore::list_ids() const {
    SKIFF_TRY(names, dir_entries(root_));
    std::vector<std::string> ids;
    for (auto& name : names)
        if (validate_container_id(name) && is_directory(dir_of(name))) ids.push_back(std::move(name));
    std::sort(ids.begin(), ids.end());
    return ids;
}

Result<UniqueFd> StateStore::lock(const std::string& id) const {
    UniqueFd fd(::open(dir_of(id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return fail("container \"" + id + "\" does not exist");
        return sys_error("open " + dir_of(id));
    }
    if (::flock(fd.get(), LOCK_EX) != 0) return sys_error("lock " + dir_of(id));
    return fd;
}

Result<StateStore::Locked> StateStore::lock_and_load(const std::string& id) const {
    SKIFF_CHECK(validate_container_id(id));
    SKIFF_TRY(held, lock(id));
    SKIFF_TRY(record, load(id));
    ContainerStatus current = status(record);
    return Locked{std::move(held), std::move(record), current};
}

ContainerStatus StateStore::status(const ContainerRecord& record) const {
    if (!record.created) {
        // `create` still at work, or killed midway (then only delete --force helps).
        if (process_alive(record.creator_pid, record.creator_start_time)) return ContainerStatus::creating;
        return ContainerStatus::stopped;
    }
    if (!process_alive(record.pid, record.pid_start_time)) return ContainerStatus::stopped;
    if (path_exists(fifo_of(record.id))) return ContainerStatus::created;
    if (!record.cgroup_path.empty()) {
        cgroups::Group group(record.cgroup_root, record.cgroup_path);
        if (auto frozen = group.is_frozen(); frozen && *frozen) return ContainerStatus::paused;
    }
    return ContainerStatus::running;
}

std::string state_json(const ContainerRecord& record, ContainerStatus status) {
    json j{{"ociVersion", "1.2.0"},
           {"id", record.id},
           {"status", status_name(status)},
           {"bundle", record.bundle},
           {"rootfs", record.rootfs},
           {"created", record.created_at},
           {"owner", ""}};
    if (status != ContainerStatus::stopped) j["pid"] = record.pid;
    else j["pid"] = 0;
    j["annotations"] = record.annotations.empty() ? json::object() : json(record.annotations);
    return j.dump(2);
}

}  // namespace skiff::runtime
