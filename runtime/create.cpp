// `create` and `run`.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "cgroups/cgroups.hpp"
#include "cgroups/resources.hpp"
#include "common/clock.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "runtime/console.hpp"
#include "runtime/hooks.hpp"
#include "runtime/launcher.hpp"
#include "runtime/runtime.hpp"
#include "runtime/spec.hpp"
#include "runtime/state_store.hpp"

namespace skiff::runtime {

std::string default_state_root() {
    if (::geteuid() == 0) return "/run/skiff-runtime";
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    if (xdg && *xdg) return std::string(xdg) + "/skiff-runtime";
    return "/tmp/skiff-runtime-" + std::to_string(::geteuid());
}

namespace {

Result<std::string> absolute_path(const std::string& path) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return sys_error("resolve " + path);
    return std::string(buf);
}

// Where the container's cgroup goes. Decided (and recorded) before it is made, so a
// `create` killed at any moment leaves a record `delete --force` can clean up from.
// No unified hierarchy: the container runs without its own group, with a warning.
Result<std::optional<cgroups::Group>> plan_group(const Spec& spec, const std::string& id) {
    auto root = cgroups::find_unified_root();
    if (!root) {
        log::warn(root.error().message() + "; container " + id + " runs without its own cgroup");
        return std::optional<cgroups::Group>();
    }
    std::string requested = spec.linux ? spec.linux->cgroups_path : "";
    auto parent = cgroups::own_group();
    SKIFF_TRY(rel, with_context(cgroups::resolve_cgroups_path(requested, parent ? *parent : "/", "skiff/" + id),
                                "linux.cgroupsPath"));
    return std::optional<cgroups::Group>(cgroups::Group(*root, rel));
}

// Make the group. An unprivileged user without a delegated group runs without one.
Result<bool> make_group(cgroups::Group& group, const Spec& spec, const std::string& id) {
    if (auto r = group.create(); !r) {
        bool requested = spec.linux && !spec.linux->cgroups_path.empty();
        if (requested || ::geteuid() == 0) return std::unexpected(r.error().context("linux.cgroupsPath"));
        log::warn(r.error().message() + "; container " + id + " runs without its own cgroup");
        return false;
    }
    if (spec.linux && spec.linux->resources.is_object()) {
        // Limits the host cannot apply (a controller absent or not delegated) are warnings,
        // as with Docker: the container still runs.
        std::vector<std::string> warnings;
        SKIFF_CHECK(cgroups::apply_resources(group, spec.linux->resources, warnings));
        for (const auto& w : warnings) log::warn(w);
    }
    return true;
}

// Everything `create` made, undone unless disarmed.
struct CreateRollback {
    StateStore* store = nullptr;
    std::string id;
    std::optional<cgroups::Group>* group = nullptr;
    bool armed = true;
    ~CreateRollback() {
        if (!armed) return;
        if (group && *group) {
            (void)(*group)->kill_all();
            (void)(*group)->remove();
        }
        if (store) (void)store->remove(id);
    }
};

struct Created {
    ContainerRecord record;
    Spec spec;
    UniqueFd console_master;
};

Result<Created> do_create(const RuntimeOptions& rt, const CreateOptions& options, bool outlive_parent,
                          bool console_to_parent) {
    SKIFF_CHECK(validate_container_id(options.id));
    SKIFF_TRY(bundle, with_context(absolute_path(options.bundle), "bundle"));
    SKIFF_TRY(loaded, load_spec_and_text(bundle));
    Spec& spec = loaded.spec;
    if (!spec.process) return fail("config.json: process: required to create a container");
    if (!spec.root) return fail("config.json: root: required to create a container");
    std::string rootfs_path = spec.root->path.starts_with("/") ? spec.root->path : bundle + "/" + spec.root->path;
    auto rootfs = absolute_path(rootfs_path);
    if (!rootfs || !is_directory(*rootfs))
        return sys_error(rootfs ? ENOTDIR : rootfs.error().code, "root.path: rootfs " + rootfs_path);

    UniqueFd console_socket;
    if (!options.console_socket.empty()) {
        SKIFF_TRY(fd, connect_unix(options.console_socket));
        console_socket = std::move(fd);
    } else if (spec.process->terminal && !console_to_parent) {
        return fail("process.terminal is true: --console-socket is required");
    }

    // Bad limits are refused before anything exists.
    if (spec.linux && spec.linux->resources.is_object()) SKIFF_CHECK(cgroups::validate_resources(spec.linux->resources));

    StateStore store(rt.root);
    SKIFF_CHECK(store.reserve(options.id));
    std::optional<cgroups::Group> group;
    CreateRollback rollback{&store, options.id, &group};

    // The text parsed above, not a second read: what runs is what is recorded.
    SKIFF_CHECK(write_file_atomic(store.config_of(options.id), loaded.text, 0600, Durability::atomic));
    store.remember_hooks(options.id, spec.hooks);
    if (::mkfifo(store.fifo_of(options.id).c_str(), 0622) != 0) return sys_error("mkfifo exec fifo");
    // Exactly 0622, not cut by our umask: the container process writes it as process.user,
    // or as an unmapped "other" from a user namespace.
    if (::chmod(store.fifo_of(options.id).c_str(), 0622) != 0) return sys_error("chmod exec fifo");

    ContainerRecord record;
    record.id = options.id;
    record.bundle = bundle;
    record.rootfs = *rootfs;
    record.created_at = rfc3339_now();
    record.creator_pid = ::getpid();
    record.creator_start_time = own_start_time();
    record.owner = ::geteuid();
    record.annotations = spec.annotations;
    record.own_pid_namespace = false;
    if (auto pidns = spec.find_namespace("pid"); pidns && pidns->path.empty()) record.own_pid_namespace = true;
    SKIFF_TRY(planned_group, plan_group(spec, options.id));
    // A group with processes in it is someone else's: sharing it would let this container's
    // delete (or a failed create's clean-up) kill them, and its limits and pause theirs.
    // Refused (runtime-spec allows it) before the rollback below could touch the group.
    if (planned_group && planned_group->exists()) {
        SKIFF_TRY(busy, with_context(planned_group->is_populated(), "linux.cgroupsPath"));
        if (busy)
            return fail("linux.cgroupsPath: cgroup \"/" + planned_group->relative() +
                        "\" already has processes (another container's?); a container needs a group of its own");
    }
    group = std::move(planned_group);
    if (group) {
        record.cgroup_root = group->root();
        record.cgroup_path = group->relative();
    }
    SKIFF_CHECK(store.save(record));
    if (group) {
        SKIFF_TRY(made, make_group(*group, spec, options.id));
        if (!made) {
            group.reset();
            record.cgroup_root.clear();
            record.cgroup_path.clear();
            SKIFF_CHECK(store.save(record));
        }
    }

    // Relative bind sources in the spec are relative to the bundle.
    if (::chdir(bundle.c_str()) != 0) return sys_error("chdir to bundle " + bundle);

    LaunchRequest request;
    request.spec = &spec;
    request.id = options.id;
    request.bundle = bundle;
    request.rootfs = *rootfs;
    request.state_dir = store.dir_of(options.id);
    request.outlive_parent = outlive_parent;
    request.console_socket = console_socket ? console_socket.get() : -1;
    request.console_to_parent = console_to_parent && !console_socket;
    request.preserve_fds = options.preserve_fds;
    request.no_pivot = options.no_pivot;
    request.group = group ? &*group : nullptr;
    request.on_cloned = [&](pid_t pid) -> Status {
        record.pid = pid;
        record.pid_start_time = process_start_time(pid);
        return store.save(record);
    };
    request.state_for_hooks = [&](pid_t pid, ContainerStatus status) {
        ContainerRecord r = record;
        r.pid = pid;
        return state_json(r, status);
    };
    SKIFF_TRY(launched, launch_container(request));

    record.created = true;
    SKIFF_CHECK(store.save(record));
    if (!options.pid_file.empty()) {
        SKIFF_TRY(pid_file, with_context(absolute_path(dirname_of(options.pid_file)), "--pid-file"));
        SKIFF_CHECK(write_file_atomic(pid_file + "/" + basename_of(options.pid_file), std::to_string(record.pid)));
    }
    rollback.armed = false;
    return Created{record, std::move(spec), std::move(launched.console_master)};
}

pid_t g_forward_to = 0;
void forward_signal(int sig) {
    if (g_forward_to > 0) ::kill(g_forward_to, sig);
}

}  // namespace

Status create_container(const RuntimeOptions& rt, const CreateOptions& options) {
    SKIFF_CHECK(do_create(rt, options, /*outlive_parent=*/true, /*console_to_parent=*/false));
    return ok();
}

Result<int> run_container(const RuntimeOptions& rt, const CreateOptions& options, bool detach,
                          const std::function<void(pid_t)>& on_started) {
    SKIFF_TRY(created, do_create(rt, options, detach, !detach));
    if (auto started = start_container(rt, options.id); !started) {
        (void)delete_container(rt, options.id, true);
        return std::unexpected(started.error());
    }
    pid_t pid = created.record.pid;
    if (on_started) on_started(pid);
    if (detach) return 0;

    g_forward_to = pid;
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH})
        ::sigaction(sig, &sa, nullptr);
    if (created.console_master) relay_terminal(created.console_master.get());

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = 0;
            break;
        }
    }
    g_forward_to = 0;
    if (auto deleted = delete_container(rt, options.id, true); !deleted)
        log::warn(deleted.error().message());
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

Result<HandedOver> run_container_handed_over(const RuntimeOptions& rt, const CreateOptions& options) {
    // As the foreground run: PID 1 dies with us (PDEATHSIG), a terminal's master comes to us.
    SKIFF_TRY(created, do_create(rt, options, /*outlive_parent=*/false, /*console_to_parent=*/true));
    if (auto started = start_container(rt, options.id); !started) {
        (void)delete_container(rt, options.id, true);
        return std::unexpected(started.error());
    }
    return HandedOver{created.record.pid, std::move(created.console_master)};
}

}  // namespace skiff::runtime
