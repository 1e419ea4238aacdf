#include "state/container_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "common/digest.hpp"
#include "common/clock.hpp"
#include "common/fs.hpp"
#include "common/json_fields.hpp"

namespace skiff::state {

namespace {

using nlohmann::json;
namespace jf = json_fields;

// The config member may carry a whole run request (env, mounts, ...): generous, but bounded.
constexpr size_t kMaxRecordBytes = size_t(16) << 20;
constexpr size_t kMaxNamesBytes = size_t(64) << 20;

constexpr std::string_view kStatusNames[] = {"created", "running", "paused",
                                             "exited",  "dead",    "removing"};

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::unexpected<Error> no_such_container(std::string_view text) {
    return sys_error(ENOENT, "No such container: " + std::string(text));
}

std::unexpected<Error> name_conflict(std::string_view name, std::string_view id) {
    return sys_error(EEXIST, "Conflict. The container name \"/" + std::string(name) +
                                 "\" is already in use by container \"" + std::string(id) +
                                 "\". You have to remove (or rename) that container to be able "
                                 "to reuse that name.");
}

std::unexpected<Error> invalid_name(std::string_view name) {
    return sys_error(EINVAL, "Invalid container name (" + std::string(name) +
                                 "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
}

// 64 hex digits whose 12-digit short form is never all decimal digits, as Docker does, so a
// short id is not mistaken for a number.
Result<std::string> random_id() {
    for (;;) {
        SKIFF_TRY(id, with_context(random_hex(32), "a container id"));
        if (!std::all_of(id.begin(), id.begin() + 12, [](char c) { return c <= '9'; })) return id;
    }
}

// Blocking exclusive flock, creating the file when missing.
Result<UniqueFd> flock_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sys_error("open lock " + path);
    while (::flock(fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR) return sys_error("lock " + path);
    }
    return fd;
}

bool older_than(const std::string& path, time_t seconds) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return false;
    return timestamp_older_than(st.st_mtim, seconds);
}

// ---- names.json ----

using Names = std::map<std::string, std::string>;

// The names the records beside names.json carry: what an empty names.json stands for.
Names names_from_records(const std::string& containers) {
    Names names;
    for (const auto& entry : dir_entries(containers).value_or(std::vector<std::string>{})) {
        if (!valid_id(entry)) continue;
        auto text = read_file_limited(path_join(path_join(containers, entry), "record.json"), kMaxRecordBytes);
        if (!text) continue;
        json doc = json::parse(*text, nullptr, false);
        if (doc.is_object() && doc.contains("name") && doc["name"].is_string())
            names[doc["name"].get<std::string>()] = entry;
    }
    return names;
}

Result<Names> load_names(const std::string& path) {
    auto text = read_file_limited(path, kMaxNamesBytes);
    if (!text) {
        if (text.error().code == ENOENT) return Names{};
        return std::unexpected(std::move(text).error());
    }
    // names.json is swapped in without fsync for --rm containers (common/fs.hpp): after a
    // power loss it may be empty. The records still say who is called what.
    if (text->empty()) return names_from_records(dirname_of(path));
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return fail(path + ": not a JSON object");
    Names names;
    for (const auto& [name, id] : doc.items()) {
        if (!id.is_string()) return fail(path + ": " + name + ": expected string");
        names[name] = id.get<std::string>();
    }
    return names;
}

skiff::Status save_names(const std::string& path, const Names& names,
                         Durability durability = Durability::synced) {
    json doc = json::object();
    for (const auto& [name, id] : names) doc[name] = id;
    return write_file_atomic(path, doc.dump(2) + "\n", 0600, durability);
}

// ---- mounts ----

// Undo mountinfo's octal escapes ("\040" for a space).
std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            auto octal = field.substr(i + 1, 3);
            if (std::all_of(octal.begin(), octal.end(), [](char c) { return c >= '0' && c <= '7'; })) {
                out.push_back(static_cast<char>((octal[0] - '0') * 64 + (octal[1] - '0') * 8 +
                                                (octal[2] - '0')));
                i += 3;
                continue;
            }
        }
        out.push_back(field[i]);
    }
    return out;
}

// The first mount point at or under dir, or "". remove_tree crosses mount points, so a
// volume still bind-mounted into the rootfs would lose the user's data.
Result<std::string> mount_under(const std::string& path) {
    // mountinfo holds canonical paths; the root may be relative or reached through a symlink.
    char resolved[PATH_MAX];
    const std::string dir = ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
    SKIFF_TRY(text, read_file_limited("/proc/self/mountinfo", size_t(64) << 20));
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        // Field 5 is the mount point.
        std::istringstream fields(line);
        std::string field;
        for (int i = 0; i < 5 && fields >> field; ++i) {
        }
        std::string point = unescape_mountinfo(field);
        if (point == dir || point.starts_with(dir + "/")) return point;
    }
    return std::string();
}

skiff::Status check_unmounted(const std::string& dir, std::string_view id) {
    SKIFF_TRY(point, mount_under(dir));
    if (!point.empty())
        return sys_error(EBUSY, "container " + std::string(id) + " still has a mount on " + point);
    return ok();
}

// ---- JSON ----

json mount_to_json(const MountRecord& m) {
    return json{{"type", m.type},   {"source", m.source}, {"destination", m.destination},
                {"mode", m.mode},   {"rw", m.rw},         {"volume_name", m.volume_name}};
}

Result<MountRecord> mount_from_json(const json& value, const std::string& path) {
    SKIFF_CHECK(jf::expect_object(value, path));
    MountRecord m;
    SKIFF_CHECK(jf::read_optional(value, path, "type", m.type, jf::as_string));
    SKIFF_CHECK(jf::read_optional(value, path, "source", m.source, jf::as_string));
    SKIFF_CHECK(jf::read_optional(value, path, "destination", m.destination, jf::as_string));
    SKIFF_CHECK(jf::read_optional(value, path, "mode", m.mode, jf::as_string));
    SKIFF_CHECK(jf::read_optional(value, path, "rw", m.rw, jf::as_bool));
    SKIFF_CHECK(jf::read_optional(value, path, "volume_name", m.volume_name, jf::as_string));
    return m;
}

Result<std::map<std::string, std::string>> string_map(const json& value, const std::string& path) {
    SKIFF_CHECK(jf::expect_object(value, path));
    std::map<std::string, std::string> out;
    for (const auto& [key, item] : value.items()) {
        SKIFF_TRY(text, jf::as_string(item, jf::member_path(path, key)));
        out[key] = std::move(text);
    }
    return out;
}

Result<Status> status_from_json(const json& value, const std::string& path) {
    SKIFF_TRY(text, jf::as_string(value, path));
    return with_context(parse_status(text), path);
}

Result<json> any_json(const json& value, const std::string&) { return value; }

}  // namespace

std::string_view to_string(Status status) {
    auto index = static_cast<size_t>(status);
    return index < std::size(kStatusNames) ? kStatusNames[index] : "unknown";
}

Result<Status> parse_status(std::string_view text) {
    for (size_t i = 0; i < std::size(kStatusNames); ++i)
        if (kStatusNames[i] == text) return static_cast<Status>(i);
    return fail("unknown container status \"" + std::string(text) + "\"");
}

bool valid_id(std::string_view id) { return id.size() == 64 && is_lower_hex(id); }

json to_json(const ContainerRecord& r) {
    json mounts = json::array();
    for (const auto& m : r.mounts) mounts.push_back(mount_to_json(m));
    json doc{
        {"id", r.id},
        {"name", r.name},
        {"image_id", r.image_id},
        {"image", r.image},
        {"command", r.command},
        {"created", r.created},
        {"started", r.started},
        {"finished", r.finished},
        {"status", to_string(r.status)},
        {"pid", r.pid},
        {"pid_start_time", r.pid_start_time},
        {"exit_code", r.exit_code},
        {"oom_killed", r.oom_killed},
        {"monitor_pid", r.monitor_pid},
        {"monitor_start_time", r.monitor_start_time},
        {"restart_policy", r.restart_policy},
        {"restart_count", r.restart_count},
        {"auto_remove", r.auto_remove},
        {"labels", r.labels},
        {"mounts", std::move(mounts)},
        {"ports", r.ports},
        {"hostname", r.hostname},
        {"log_path", r.log_path},
        {"network_mode", r.network_mode},
        {"stop_signal", r.stop_signal},
        {"stop_timeout", r.stop_timeout},
        {"tty", r.tty},
        {"interactive", r.interactive},
    };
    if (!r.config.is_null()) doc["config"] = r.config;
    return doc;
}

Result<ContainerRecord> from_json(const json& v) {
    if (!v.is_object()) return fail("container record: expected object, got " + jf::json_type_name(v));
    const std::string top;
    ContainerRecord r;
    auto strings = jf::array_of(jf::as_string);
    SKIFF_CHECK(jf::read_optional(v, top, "id", r.id, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "name", r.name, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "image_id", r.image_id, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "image", r.image, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "command", r.command, strings));
    SKIFF_CHECK(jf::read_optional(v, top, "created", r.created, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "started", r.started, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "finished", r.finished, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "status", r.status, status_from_json));
    SKIFF_CHECK(jf::read_optional(v, top, "pid", r.pid, jf::as_integer<pid_t>));
    SKIFF_CHECK(jf::read_optional(v, top, "pid_start_time", r.pid_start_time, jf::as_integer<uint64_t>));
    SKIFF_CHECK(jf::read_optional(v, top, "exit_code", r.exit_code, jf::as_integer<int>));
    SKIFF_CHECK(jf::read_optional(v, top, "oom_killed", r.oom_killed, jf::as_bool));
    SKIFF_CHECK(jf::read_optional(v, top, "monitor_pid", r.monitor_pid, jf::as_integer<pid_t>));
    SKIFF_CHECK(jf::read_optional(v, top, "monitor_start_time", r.monitor_start_time,
                                  jf::as_integer<uint64_t>));
    SKIFF_CHECK(jf::read_optional(v, top, "restart_policy", r.restart_policy, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "restart_count", r.restart_count, jf::as_integer<int>));
    SKIFF_CHECK(jf::read_optional(v, top, "auto_remove", r.auto_remove, jf::as_bool));
    SKIFF_CHECK(jf::read_optional(v, top, "labels", r.labels, string_map));
    SKIFF_CHECK(jf::read_optional(v, top, "mounts", r.mounts, jf::array_of(mount_from_json)));
    SKIFF_CHECK(jf::read_optional(v, top, "ports", r.ports, strings));
    SKIFF_CHECK(jf::read_optional(v, top, "hostname", r.hostname, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "log_path", r.log_path, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "network_mode", r.network_mode, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "stop_signal", r.stop_signal, jf::as_string));
    SKIFF_CHECK(jf::read_optional(v, top, "stop_timeout", r.stop_timeout, jf::as_integer<int>));
    SKIFF_CHECK(jf::read_optional(v, top, "tty", r.tty, jf::as_bool));
    SKIFF_CHECK(jf::read_optional(v, top, "interactive", r.interactive, jf::as_bool));
    SKIFF_CHECK(jf::read_optional(v, top, "config", r.config, any_json));
    return r;
}

// ---- ContainerStore ----

ContainerStore::ContainerStore(std::string root) : root_(std::move(root)) {}

std::string ContainerStore::containers_dir() const { return path_join(root_, "containers"); }

std::string ContainerStore::dir_of(std::string_view id) const {
    return path_join(containers_dir(), std::string(id));
}

Result<ContainerRecord> ContainerStore::create(ContainerRecord record) {
    // An empty name is generated below, under names.lock.
    if (!record.name.empty()) {
        if (!valid_name(record.name)) return invalid_name(record.name);
        if (record.name.starts_with('/')) record.name.erase(0, 1);
    }
    if (record.id.empty()) {
        SKIFF_TRY(id, random_id());
        record.id = std::move(id);
    } else if (!valid_id(record.id)) {
        return fail("invalid container id \"" + record.id + "\": expected 64 lowercase hex digits");
    }
    if (record.created.empty()) record.created = rfc3339_now();

    const std::string containers = containers_dir();
    SKIFF_CHECK(mkdir_p(containers, 0711));
    SKIFF_TRY(names_lock, flock_file(path_join(containers, "names.lock")));
    const std::string names_path = path_join(containers, "names.json");
    SKIFF_TRY(names, load_names(names_path));

    // A name whose container has no record was left by a crash (nothing is half-created
    // while we hold names.lock): it is free.
    auto taken_by = [&](const std::string& name) -> const std::string* {
        auto it = names.find(name);
        if (it == names.end() || !path_exists(path_join(dir_of(it->second), "record.json")))
            return nullptr;
        return &it->second;
    };
    if (record.name.empty()) {
        for (int attempt = 0;; ++attempt) {
            std::string name = random_name();
            // Docker's way out of a crowded namespace: a number on the end.
            if (attempt >= 16) name += std::to_string(attempt);
            if (!taken_by(name)) {
                record.name = std::move(name);
                break;
            }
        }
    } else if (const std::string* owner = taken_by(record.name)) {
        return name_conflict(record.name, *owner);
    }

    const std::string dir = dir_of(record.id);
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) return sys_error(EEXIST, "container " + record.id + " already exists");
        return sys_error("create container directory " + dir);
    }
    auto undo = [&](Error error) -> std::unexpected<Error> {
        (void)remove_tree(dir);
        return std::unexpected(std::move(error));
    };
    // A --rm container does not outlive its run, so a power loss has nothing of it to keep.
    const Durability durability = record.auto_remove ? Durability::atomic : Durability::synced;
    if (auto saved = save(record, durability); !saved) return undo(std::move(saved).error());
    names[record.name] = record.id;
    if (auto saved = save_names(names_path, names, durability); !saved) return undo(std::move(saved).error());
    if (durability == Durability::synced) fsync_directory(containers);
    return record;
}

Result<ContainerRecord> ContainerStore::find(std::string_view text) const {
    if (text.empty()) return no_such_container(text);
    if (valid_id(text) && path_exists(path_join(dir_of(text), "record.json"))) return load(text);

    std::string_view name = text;
    if (name.starts_with('/')) name.remove_prefix(1);
    SKIFF_TRY(names, load_names(path_join(containers_dir(), "names.json")));
    if (auto it = names.find(std::string(name)); it != names.end()) {
        auto found = load(it->second);
        // A stale name (its container removed by a killed process) falls through.
        if (found || found.error().code != ENOENT) return found;
    }

    if (text.size() > 64 || !is_lower_hex(text)) return no_such_container(text);
    SKIFF_TRY(entries, dir_entries(containers_dir()));
    std::string match;
    for (const auto& entry : entries) {
        if (!valid_id(entry) || !entry.starts_with(text)) continue;
        if (!path_exists(path_join(dir_of(entry), "record.json"))) continue;
        if (!match.empty())
            return fail("multiple IDs found with provided prefix: " + std::string(text));
        match = entry;
    }
    if (match.empty()) return no_such_container(text);
    return load(match);
}

Result<std::vector<ContainerRecord>> ContainerStore::list() const {
    SKIFF_TRY(entries, dir_entries(containers_dir()));
    // Only to name corrupt records; a listing never fails for want of names.
    auto names = load_names(path_join(containers_dir(), "names.json"));
    std::vector<ContainerRecord> out;
    for (const auto& entry : entries) {
        if (!valid_id(entry)) continue;
        if (!path_exists(path_join(dir_of(entry), "record.json"))) continue;
        auto record = load(entry);
        if (record) {
            out.push_back(std::move(*record));
            continue;
        }
        if (record.error().code == ENOENT) continue;  // removed while we looked
        ContainerRecord dead;
        dead.id = entry;
        dead.status = Status::dead;
        if (names)
            for (const auto& [name, id] : *names)
                if (id == entry) dead.name = name;
        out.push_back(std::move(dead));
    }
    std::sort(out.begin(), out.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
        if (a.created != b.created) return a.created > b.created;
        return a.id < b.id;
    });
    return out;
}

Result<ContainerStore::Lock> ContainerStore::lock(std::string_view id) const {
    if (!valid_id(id)) return no_such_container(id);
    const std::string path = path_join(dir_of(id), "lock");
    auto fd = flock_file(path);
    if (!fd) {
        if (fd.error().code == ENOENT) return no_such_container(id);
        return std::unexpected(std::move(fd).error());
    }
    // remove() may have renamed the directory away while we waited: then we hold the lock
    // of a container that no longer exists.
    struct stat held, now;
    if (::fstat(fd->get(), &held) != 0) return sys_error("stat " + path);
    if (::stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino || held.st_dev != now.st_dev)
        return no_such_container(id);
    return Lock(std::string(id), std::move(*fd));
}

Result<ContainerRecord> ContainerStore::load(std::string_view id) const {
    if (!valid_id(id)) return no_such_container(id);
    const std::string path = path_join(dir_of(id), "record.json");
    auto text = read_file_limited(path, kMaxRecordBytes);
    if (!text) {
        if (text.error().code == ENOENT) return no_such_container(id);
        return std::unexpected(std::move(text).error());
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) return fail(path + ": not valid JSON");
    SKIFF_TRY(record, with_context(from_json(doc), path));
    if (record.id != id) return fail(path + ": records container \"" + record.id + "\"");
    return record;
}

skiff::Status ContainerStore::save(const ContainerRecord& record, Durability durability) const {
    if (!valid_id(record.id)) return no_such_container(record.id);
    auto written = write_file_atomic(path_join(dir_of(record.id), "record.json"),
                                     to_json(record).dump(2) + "\n", 0600, durability);
    if (!written && written.error().code == ENOENT) return no_such_container(record.id);
    return written;
}

Result<ContainerRecord> ContainerStore::update(
    std::string_view id, const std::function<skiff::Status(ContainerRecord&)>& apply) const {
    SKIFF_TRY(held, lock(id));
    SKIFF_TRY(record, load(id));
    SKIFF_CHECK(apply(record));
    record.id = std::string(id);  // apply may not move a record to another container
    SKIFF_CHECK(save(record, Durability::atomic));
    return record;
}

skiff::Status ContainerStore::rename(std::string_view id, std::string_view new_name) {
    if (!valid_name(new_name)) return invalid_name(new_name);
    std::string name(new_name.starts_with('/') ? new_name.substr(1) : new_name);
    if (!valid_id(id)) return no_such_container(id);

    const std::string containers = containers_dir();
    SKIFF_TRY(names_lock, flock_file(path_join(containers, "names.lock")));
    const std::string names_path = path_join(containers, "names.json");
    SKIFF_TRY(names, load_names(names_path));

    SKIFF_TRY(held, lock(id));
    SKIFF_TRY(record, load(id));
    if (record.name == name)
        return sys_error(EINVAL, "Renaming a container with the same name as its current name");
    if (auto it = names.find(name); it != names.end() && it->second != record.id &&
                                    path_exists(path_join(dir_of(it->second), "record.json")))
        return name_conflict(name, it->second);

    const std::string old_name = record.name;
    record.name = name;
    SKIFF_CHECK(save(record));
    if (auto it = names.find(old_name); it != names.end() && it->second == record.id) names.erase(it);
    names[name] = record.id;
    if (auto saved = save_names(names_path, names); !saved) {
        record.name = old_name;
        (void)save(record);
        return saved;
    }
    return ok();
}

skiff::Status ContainerStore::remove(std::string_view id, skiff::DeferredRemoval* deferred) {
    if (!valid_id(id)) return no_such_container(id);
    const std::string containers = containers_dir();
    const std::string dir = dir_of(id);
    const std::string doomed = path_join(containers, std::string(kRemovingPrefix) + std::string(id));
    {
        SKIFF_TRY(names_lock, flock_file(path_join(containers, "names.lock")));
        if (!is_directory(dir)) return no_such_container(id);
        SKIFF_CHECK(check_unmounted(dir, id));
        SKIFF_CHECK(remove_tree(doomed));
        // Out of sight first: a crash after this leaves at worst a name that points nowhere,
        // which create treats as free and remove_stale drops.
        // No fsync: a removal a power loss undoes brings back an exited container, which
        // rm removes again.
        if (::rename(dir.c_str(), doomed.c_str()) != 0) return sys_error("rename " + dir + " to " + doomed);
        const std::string names_path = path_join(containers, "names.json");
        auto dropped = [&]() -> skiff::Status {
            SKIFF_TRY(names, load_names(names_path));
            if (std::erase_if(names, [&](const auto& entry) { return entry.second == id; }) == 0)
                return ok();
            return save_names(names_path, names, Durability::atomic);
        }();
        if (!dropped) {
            (void)remove_tree(doomed);
            return dropped;
        }
    }
    // The tree may be large (the writable layer): names.lock is already released.
    if (deferred) {
        deferred->add(doomed);
        return ok();
    }
    return remove_tree(doomed);
}

skiff::Status ContainerStore::remove_stale(int min_age_seconds) {
    const std::string containers = containers_dir();
    if (!is_directory(containers)) return ok();
    SKIFF_TRY(names_lock, flock_file(path_join(containers, "names.lock")));
    SKIFF_TRY(entries, dir_entries(containers));

    std::vector<ContainerRecord> records;
    for (const auto& entry : entries) {
        const std::string path = path_join(containers, entry);
        if (entry.starts_with(kRemovingPrefix)) {
            // ctime moves on rename: a recent one may still be under a live remover.
            if (changed_before(path, min_age_seconds) &&
                check_unmounted(path, entry.substr(kRemovingPrefix.size())))
                SKIFF_CHECK(remove_tree(path));
            continue;
        }
        if (entry.starts_with("names.json.tmp-")) {
            if (older_than(path, min_age_seconds)) ::unlink(path.c_str());
            continue;
        }
        if (!valid_id(entry) || !is_directory(path)) continue;
        for (const auto& inner : dir_entries(path).value_or(std::vector<std::string>{}))
            if (inner.starts_with("record.json.tmp-") && older_than(path_join(path, inner), min_age_seconds))
                ::unlink(path_join(path, inner).c_str());
        if (!path_exists(path_join(path, "record.json"))) {
            // Nothing creates while we hold names.lock; the age spares a directory someone
            // made by hand a moment ago.
            if (older_than(path, min_age_seconds) && check_unmounted(path, entry))
                SKIFF_CHECK(remove_tree(path));
            continue;
        }
        if (auto record = load(entry)) records.push_back(std::move(*record));
    }

    const std::string names_path = path_join(containers, "names.json");
    SKIFF_TRY(names, load_names(names_path));
    bool changed = std::erase_if(names, [&](const auto& entry) {
        return !valid_id(entry.second) || !path_exists(path_join(dir_of(entry.second), "record.json"));
    }) > 0;
    // A crash between record.json and names.json leaves a record whose name is not booked.
    for (const auto& record : records) {
        if (record.name.empty() || names.contains(record.name)) continue;
        bool has_name = std::any_of(names.begin(), names.end(),
                                    [&](const auto& entry) { return entry.second == record.id; });
        if (has_name) continue;
        names[record.name] = record.id;
        changed = true;
    }
    if (changed) SKIFF_CHECK(save_names(names_path, names));
    return ok();
}

}  // namespace skiff::state
