// `state`, `list`, `ps` (pids), `pause`, `resume` and `features`.
#include <nlohmann/json.hpp>

#include "cgroups/cgroups.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/runtime.hpp"
#include "runtime/seccomp.hpp"

namespace skiff::runtime {

Result<std::string> container_state(const RuntimeOptions& rt, const std::string& id) {
    StateStore store(rt.root);
    SKIFF_TRY(record, store.load(id));
    return state_json(record, store.status(record));
}

Result<std::vector<ListEntry>> list_containers(const RuntimeOptions& rt) {
    StateStore store(rt.root);
    SKIFF_TRY(ids, store.list_ids());
    std::vector<ListEntry> out;
    for (const auto& id : ids) {
        auto record = store.load(id);
        if (!record) continue;  // being created or removed right now
        out.push_back({*record, store.status(*record)});
    }
    return out;
}

Result<std::vector<pid_t>> container_pids(const RuntimeOptions& rt, const std::string& id) {
    StateStore store(rt.root);
    SKIFF_TRY(record, store.load(id));
    if (!record.cgroup_path.empty()) {
        cgroups::Group group(record.cgroup_root, record.cgroup_path);
        if (group.exists()) return group.processes();
    }
    if (process_alive(record.pid, record.pid_start_time)) return std::vector<pid_t>{record.pid};
    return std::vector<pid_t>{};
}

Status pause_container(const RuntimeOptions& rt, const std::string& id) {
    StateStore store(rt.root);
    SKIFF_TRY(locked, store.lock_and_load(id));
    const ContainerRecord& record = locked.record;
    auto status = locked.status;
    if (status != ContainerStatus::running && status != ContainerStatus::created)
        return fail("cannot pause container \"" + id + "\": it is " + status_name(status));
    SKIFF_TRY(group, container_group(record));
    return group.freeze();
}

Status resume_container(const RuntimeOptions& rt, const std::string& id) {
    StateStore store(rt.root);
    SKIFF_TRY(locked, store.lock_and_load(id));
    const ContainerRecord& record = locked.record;
    auto status = locked.status;
    if (status != ContainerStatus::paused)
        return fail("cannot resume container \"" + id + "\": it is " + status_name(status) + ", not paused");
    SKIFF_TRY(group, container_group(record));
    return group.thaw();
}

std::string features_json() {
    using nlohmann::json;
    json mount_options = json::array();
    for (const char* o : {"acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
                          "iversion", "lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime",
                          "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
                          "nosuid", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount",
                          "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
                          "rnostrictatime", "rnosuid", "ro", "rprivate", "rrelatime", "rro", "rrw",
                          "rshared", "rslave", "rstrictatime", "rsuid", "runbindable", "rw", "shared",
                          "silent", "slave", "strictatime", "suid", "sync", "unbindable"})
        mount_options.push_back(o);
    json doc = {
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", "1.2.0"},
        {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
        {"mountOptions", mount_options},
        {"linux",
         {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
          {"capabilities", all_capability_names()},
          {"cgroup", {{"v1", false}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", false}}},
          {"seccomp",
           {{"enabled", true},
            {"actions", seccomp_known_actions()},
            {"operators", seccomp_known_operators()},
            {"archs", seccomp_known_architectures()},
            {"knownFlags", seccomp_known_flags()},
            {"supportedFlags", seccomp_known_flags()}}},
          {"apparmor", {{"enabled", false}}},
          {"selinux", {{"enabled", false}}},
          {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
        {"annotations", {{"org.opencontainers.runtime-spec.features", "skiff-runtime"}}},
    };
    return doc.dump(4);
}

}  // namespace skiff::runtime
