// Small file helpers: whole-file reads, atomic writes, directory creation.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff {

Result<std::string> read_file(const std::string& path);
// Read at most max_bytes; larger files are an error (protects against hostile inputs).
Result<std::string> read_file_limited(const std::string& path, size_t max_bytes);

// How far a replaced file must get before the call returns. `synced` survives a power loss
// (fsync before the rename). `atomic` survives a crash of any process, never half-written,
// but a power loss may bring back the old content or leave the file empty (it is swapped in
// without forcing its data out): for state the runroot holds (gone at boot anyway) and for
// records that reconcile rebuilds or that go with their container (--rm). Each fsync costs
// milliseconds on a VM disk, several of them per `run`.
enum class Durability { synced, atomic };
// Write to "<path>.tmp-<pid>", (fsync,) rename over path: readers see old or new, never half.
// (`atomic` swaps the two names and unlinks the old content: see fs.cpp.)
Status write_file_atomic(const std::string& path, const std::string& content, mode_t mode = 0644,
                         Durability durability = Durability::synced);
// Plain write (truncate) for kernel interfaces such as /proc/<pid>/uid_map and cgroup files.
Status write_file(const std::string& path, const std::string& content);
// Create or truncate and write in place (a symlink in the way is refused, not followed):
// no temporary and no rename, for files nobody reads before they are complete (a new
// container's hosts, hostname and resolv.conf, written at create).
Status write_file_in_place(const std::string& path, const std::string& content, mode_t mode = 0644);

Status mkdir_p(const std::string& path, mode_t mode = 0755);
// Remove a tree without following symlinks; ok when it does not exist.
Status remove_tree(const std::string& path);
// Remove trees from a process of its own, so the caller need not wait for the disk (a `run
// --rm` returns as soon as its container is out of sight, not after its writable layer is
// gone): `rm -rf --one-file-system` (coreutils) in a session of its own, stdio on /dev/null,
// no other fd, at low CPU and I/O priority; remove_tree here when it cannot be started. How
// it ends is nobody's business: hand over only trees already renamed out of sight, whose
// leftovers a later sweep removes (state::ContainerStore::remove_stale,
// runtime::remove_stale_state). The child is not waited for: the caller should be about to
// exit, which hands it to init.
Status remove_trees_detached(const std::vector<std::string>& paths);

// The name a store gives a tree it renamed out of sight for removal: `.removing-<id>` beside
// the live ones, never a valid name of its own (ids start with a letter or digit), so
// listings pass over it and prune sweeps find it.
inline constexpr std::string_view kRemovingPrefix = ".removing-";

// Trees a command renamed out of sight on its way, deleted together by one detached process
// (remove_trees_detached) when it is done: one process start for all of them. Each directory
// removed here is a synchronous discard on a disk mounted `discard` without a journal (0.5 ms
// and more), which is why a `run --rm` leaves even the runtime's small state directory here.
class DeferredRemoval {
public:
    DeferredRemoval() = default;
    DeferredRemoval(const DeferredRemoval&) = delete;
    DeferredRemoval& operator=(const DeferredRemoval&) = delete;
    ~DeferredRemoval() { (void)start(); }
    void add(std::string path) { paths_.push_back(std::move(path)); }
    const std::vector<std::string>& paths() const { return paths_; }
    // The remover, now (nothing added: nothing happens); the list is empty afterwards.
    Status start();

private:
    std::vector<std::string> paths_;
};

// The names in a directory but . and .. (none when it does not exist), in no set order.
Result<std::vector<std::string>> dir_entries(const std::string& path);
// Whether the inode at path (not followed) last changed at least `seconds` ago, by its ctime,
// which a rename moves too: how sweeps tell a killed remover's leftovers from a live one's.
bool changed_before(const std::string& path, time_t seconds);
// Whether a file timestamp is at least `seconds` old. Read against the precise clock: time()
// lags the coarse clock file timestamps come from by up to a tick, so a file made this very
// moment could look 1 s in the future.
bool timestamp_older_than(const struct timespec& stamp, time_t seconds);
// fsync a directory so a rename into it survives a crash (best effort: errors ignored).
void fsync_directory(const std::string& dir);

// What tells one version of a file from another without reading it, for caches of what a
// process wrote or read itself: device, inode, size and modification time.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const FileIdentity& o) const {
        return device == o.device && inode == o.inode && size == o.size && modified.tv_sec == o.modified.tv_sec &&
               modified.tv_nsec == o.modified.tv_nsec;
    }
};
std::optional<FileIdentity> file_identity(const std::string& path);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

// Write all bytes, retrying on EINTR and short writes.
Status write_all(int fd, const void* data, size_t size);

std::string dirname_of(const std::string& path);
std::string basename_of(const std::string& path);
// Join a and b with exactly one '/'.
std::string path_join(const std::string& a, const std::string& b);

}  // namespace skiff
