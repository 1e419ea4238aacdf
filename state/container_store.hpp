// The engine's container records on disk (design.md section 4):
//
//   <root>/containers/<id>/record.json   one ContainerRecord, replaced atomically (tmp + rename)
//   <root>/containers/<id>/lock          flock: read-modify-write of that record
//   <root>/containers/<id>/container.log the container's output (written by others)
//   <root>/containers/names.json         {name: id}, the booking of every name
//   <root>/containers/names.lock         flock: create, rename, remove and remove_stale
//   <root>/containers/.removing-<id>     a container being deleted (never listed)
//
// Lock order: names.lock before a container's lock. flock excludes other open files even in
// the same process, so never call create/rename/remove_stale while holding a Lock.
// (The OCI runtime's own per-container state is runtime/state_store, under the runroot.)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/result.hpp"
#include "runtime/state_store.hpp"
#include "state/names.hpp"

namespace skiff::state {

// Liveness is pid plus /proc/<pid>/stat start time (field 22): one implementation, the
// runtime's, so `ps` and `skiff-runtime state` never disagree about a container.
using runtime::process_alive;
using runtime::process_start_time;

// Inside skiff::state this enum hides skiff::Status (the error-or-nothing result), so the
// declarations here spell that one skiff::Status.
enum class Status { created, running, paused, exited, dead, removing };
std::string_view to_string(Status status);
// Err "unknown container status \"x\"".
Result<Status> parse_status(std::string_view text);

struct MountRecord {
    std::string type;         // "bind", "volume" or "tmpfs"
    std::string source;       // host path; for a volume its _data dir
    std::string destination;  // path inside the container
    std::string mode;         // options as the user gave them ("z", "ro,Z", ...)
    bool rw = true;
    std::string volume_name;  // for type "volume"
};

struct ContainerRecord {
    std::string id;        // 64 lowercase hex
    std::string name;      // without Docker's leading '/'
    std::string image_id;  // "sha256:<hex>"
    std::string image;     // what the user asked for: normalised reference or an id
    std::vector<std::string> command;  // entrypoint + cmd as run
    std::string created;   // RFC 3339; "" when never
    std::string started;
    std::string finished;
    Status status = Status::created;
    pid_t pid = 0;                  // 0 when not running
    uint64_t pid_start_time = 0;    // /proc/<pid>/stat field 22
    int exit_code = 0;
    bool oom_killed = false;
    pid_t monitor_pid = 0;
    uint64_t monitor_start_time = 0;
    std::string restart_policy = "no";  // "no", "on-failure:N", "always", "unless-stopped"
    int restart_count = 0;
    bool auto_remove = false;           // --rm
    std::map<std::string, std::string> labels;
    std::vector<MountRecord> mounts;
    std::vector<std::string> ports;     // as published, e.g. "0.0.0.0:8080->80/tcp"
    std::string hostname;
    std::string log_path;
    std::string network_mode;
    std::string stop_signal;
    int stop_timeout = 10;              // seconds
    bool tty = false;
    bool interactive = false;
    nlohmann::json config;              // the engine's own request/options; opaque here
};

nlohmann::json to_json(const ContainerRecord& record);
// Missing members keep their defaults; a wrong-typed one is an error naming it
// ("labels.app: expected string, got integer").
Result<ContainerRecord> from_json(const nlohmann::json& value);

// True for 64 lowercase hex digits, the only ids the store makes or accepts.
bool valid_id(std::string_view id);

class ContainerStore {
public:
    explicit ContainerStore(std::string root);  // the engine root, not the containers dir

    // An exclusive flock on one container's lock file, released by the destructor.
    class Lock {
    public:
        Lock(Lock&&) noexcept = default;
        Lock& operator=(Lock&&) noexcept = default;
        const std::string& id() const { return id_; }

    private:
        friend class ContainerStore;
        Lock(std::string id, UniqueFd fd) : id_(std::move(id)), fd_(std::move(fd)) {}
        std::string id_;
        UniqueFd fd_;
    };

    // Book the name and write the record. An empty id is generated, an empty name too (a
    // free random_name()). Err "Invalid container name (NAME), only [a-zA-Z0-9][a-zA-Z0-9_.-]
    // are allowed" (EINVAL) / Docker's "Conflict. The container name \"/NAME\" is already in
    // use by container \"ID\". ..." (EEXIST). On failure nothing is left behind.
    Result<ContainerRecord> create(ContainerRecord record);

    // By full id, then exact name (with or without '/'), then unique id prefix.
    // Err "No such container: TEXT" (ENOENT) / "multiple IDs found with provided prefix: TEXT".
    Result<ContainerRecord> find(std::string_view text) const;

    // Newest created first. Directories without a record (being created or removed) are
    // skipped; an unreadable record is listed by its id with status dead.
    Result<std::vector<ContainerRecord>> list() const;

    // Blocks until granted. Err "No such container: ID" (ENOENT) when it does not exist.
    Result<Lock> lock(std::string_view id) const;
    Result<ContainerRecord> load(std::string_view id) const;
    // Replace record.json atomically; the caller holds lock(record.id).
    skiff::Status save(const ContainerRecord& record, Durability durability = Durability::synced) const;
    // lock + load + apply + save; returns the record as saved. Nothing is saved when apply fails.
    // Not fsynced: what updates change (status, pid, times) is reconciled after a power loss,
    // and a record left unreadable is listed as dead, never lost silently.
    Result<ContainerRecord> update(std::string_view id,
                                   const std::function<skiff::Status(ContainerRecord&)>& apply) const;

    // Move the container to new_name (validated and checked for conflicts as in create).
    // Takes names.lock, then the container's lock.
    skiff::Status rename(std::string_view id, std::string_view new_name);

    // Free the name and delete the directory (renamed to .removing-<id> first, so a
    // half-deleted container is never listed). Refused (EBUSY) while anything is mounted at
    // or under the directory: deleting through a bind mount would delete a volume's data.
    // Does not take the container's lock: a caller that must exclude updates holds it.
    // With `deferred`, returns once the container is out of sight and its name free: the
    // renamed tree goes on the list, for the caller's detached remover.
    skiff::Status remove(std::string_view id, skiff::DeferredRemoval* deferred = nullptr);

    // Clean up after killed processes: .removing-* leftovers, directories without a record
    // and temp files, each untouched for min_age_seconds (so a live remove or save is
    // spared; 0 is for tests), names of containers that are gone, and names of records that
    // a crash left unbooked (when still free).
    skiff::Status remove_stale(int min_age_seconds = 60);

    std::string containers_dir() const;
    std::string dir_of(std::string_view id) const;
    std::string log_path_of(std::string_view id) const { return dir_of(id) + "/container.log"; }

private:
    std::string root_;
};

}  // namespace skiff::state
