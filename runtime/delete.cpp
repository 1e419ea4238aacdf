// `delete`: remove a stopped (or, with --force, any) container: its processes, cgroup and
// state, then run the poststop hooks.
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "cgroups/cgroups.hpp"
#include "common/fs.hpp"
#include "common/pidfd.hpp"
#include "common/log.hpp"
#include "runtime/hooks.hpp"
#include "runtime/runtime.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

namespace {

// Wait (bounded) for a process we may not be the parent of to exit.
void wait_for_exit(pid_t pid, uint64_t start_time, int timeout_ms) {
    UniqueFd pidfd = open_pidfd(pid);
    if (!pidfd || !process_alive(pid, start_time)) return;
    (void)wait_pidfd_exit(pidfd.get(), timeout_ms);
}

}  // namespace

Status delete_container(const RuntimeOptions& rt, const std::string& id, bool force) {
    SKIFF_CHECK(validate_container_id(id));
    StateStore store(rt.root);
    if (!store.exists(id)) return fail("container \"" + id + "\" does not exist");
    auto loaded = store.load(id);
    if (!loaded) {
        // `create` was killed before it wrote any state: only the directory is left.
        if (!force) return std::unexpected(loaded.error());
        return store.remove(id);
    }
    SKIFF_TRY(lock, store.lock(id));
    ContainerRecord record = *loaded;
    auto status = store.status(record);
    // Only a stopped container goes without --force (runtime spec: deleting one that is not
    // stopped is an error; runc also deletes created ones).
    if (status != ContainerStatus::stopped && !force)
        return fail("cannot delete container \"" + id + "\": it is " + status_name(status) + " (stop it or use --force)");

    std::optional<cgroups::Group> group;
    if (!record.cgroup_path.empty()) group.emplace(record.cgroup_root, record.cgroup_path);
    if (status != ContainerStatus::stopped || (group && group->exists())) {
        if (process_alive(record.pid, record.pid_start_time)) {
            if (UniqueFd pidfd = open_pidfd(record.pid); pidfd && process_alive(record.pid, record.pid_start_time))
                (void)signal_pidfd(pidfd.get(), SIGKILL);
        }
        if (group && group->exists()) SKIFF_CHECK(group->kill_all());
        wait_for_exit(record.pid, record.pid_start_time, 5000);
    }
    if (group) SKIFF_CHECK(group->remove());

    auto hooks = store.load_hooks(id);
    SKIFF_CHECK(store.remove(id, rt.deferred_removal));
    if (hooks && *hooks)
        run_hooks_warning_on_failure((*hooks)->poststop, "poststop", state_json(record, ContainerStatus::stopped));
    return ok();
}

std::string seccomp_cache_dir(const std::string& state_root) { return path_join(state_root, ".seccomp-cache"); }

Status remove_stale_state(const RuntimeOptions& rt, int min_age_seconds) {
    if (!is_directory(rt.root)) return ok();
    SKIFF_TRY(entries, dir_entries(rt.root));
    for (const auto& entry : entries) {
        const std::string path = path_join(rt.root, entry);
        if (entry.starts_with(kRemovingPrefix) && changed_before(path, min_age_seconds)) SKIFF_CHECK(remove_tree(path));
    }
    return ok();
}

}  // namespace skiff::runtime
