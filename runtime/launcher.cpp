#include "runtime/launcher.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/fs.hpp"
#include "common/log.hpp"
#include "runtime/cloned_binary.hpp"
#include "runtime/container_init.hpp"
#include "runtime/hooks.hpp"
#include "runtime/runtime.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/sync.hpp"

namespace skiff::runtime {

Result<NamespacePlan> plan_namespaces(const Spec& spec) {
    NamespacePlan plan;
    if (!spec.linux) return plan;
    for (size_t i = 0; i < spec.linux->namespaces.size(); ++i) {
        const auto& ns = spec.linux->namespaces[i];
        std::string field = "linux.namespaces[" + std::to_string(i) + "]";
        int flag = namespace_clone_flag(ns.type);
        if (flag == 0) return fail(field + ".type: unknown namespace \"" + ns.type + "\"");
        if (ns.type == "time") return fail(field + ": time namespaces are not supported");
        if (flag == CLONE_NEWNS) plan.has_mount_ns = true;
        if (flag == CLONE_NEWUTS) plan.has_uts_ns = true;
        if (ns.path.empty()) {
            if (flag == CLONE_NEWCGROUP) plan.new_cgroup = true;  // after cgroup placement
            else plan.clone_flags |= static_cast<unsigned long>(flag);
            if (flag == CLONE_NEWUSER) plan.new_user = true;
        } else if (flag == CLONE_NEWPID) {
            plan.pid_join_path = ns.path;
        } else if (flag == CLONE_NEWUSER) {
            plan.joins.insert(plan.joins.begin(), {flag, ns.path});
        } else {
            plan.joins.emplace_back(flag, ns.path);
        }
    }
    if (plan.new_user && !plan.joins.empty()) {
        // The child is born in its new user namespace, where it holds no capability over
        // namespaces owned by ours (e.g. a network namespace the engine made for pasta):
        // those are joined before the clone, on the cloning thread only.
        for (const auto& [flag, path] : plan.joins)
            if (flag == CLONE_NEWNS)
                return fail("linux.namespaces: joining a mount namespace by path together with a new user "
                            "namespace is not supported");
        plan.joins_before_clone = std::move(plan.joins);
        plan.joins.clear();
    }
    return plan;
}

Result<CloneResult> clone_into(unsigned long flags, int cgroup_fd) {
    struct clone_args args {};
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) return CloneResult{static_cast<pid_t>(pid), cgroup_fd >= 0};
    if (cgroup_fd >= 0 && errno != ENOSYS) {
        // The group may refuse direct placement (e.g. a threaded or domain-invalid group):
        // the caller writes cgroup.procs instead.
        args.flags &= ~static_cast<uint64_t>(CLONE_INTO_CGROUP);
        args.cgroup = 0;
        pid = ::syscall(SYS_clone3, &args, sizeof args);
        if (pid >= 0) return CloneResult{static_cast<pid_t>(pid), false};
    }
    if (errno == ENOSYS) {
        pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
        if (pid >= 0) return CloneResult{static_cast<pid_t>(pid), false};
    }
    return sys_error("clone the container process");
}

static std::string format_mappings(const std::vector<IdMapping>& maps) {
    std::string out;
    for (const auto& m : maps)
        out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
    return out;
}

static Status run_id_map_helper(const char* helper, pid_t pid, const std::vector<IdMapping>& maps) {
    std::vector<std::string> args = {helper, std::to_string(pid)};
    for (const auto& m : maps) {
        args.push_back(std::to_string(m.container_id));
        args.push_back(std::to_string(m.host_id));
        args.push_back(std::to_string(m.size));
    }
    pid_t child = ::fork();
    if (child < 0) return sys_error(std::string("fork ") + helper);
    if (child == 0) {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execvp(helper, argv.data());
        _exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
    return fail(std::string(helper) + " failed for pid " + std::to_string(pid) + " (is it installed, and does /etc/subuid list this user?)");
}

Result<bool> write_id_mappings(pid_t pid, const Spec& spec) {
    std::string proc = "/proc/" + std::to_string(pid);
    const auto& uids = spec.linux->uid_mappings;
    const auto& gids = spec.linux->gid_mappings;
    bool privileged = ::geteuid() == 0;
    auto only_self = [](const std::vector<IdMapping>& maps, uint32_t self) {
        return maps.size() == 1 && maps[0].size == 1 && maps[0].host_id == self;
    };
    bool setgroups_allowed = true;
    if (privileged || only_self(uids, ::geteuid())) {
        SKIFF_CHECK(with_context(write_file(proc + "/uid_map", format_mappings(uids)), "linux.uidMappings"));
    } else {
        SKIFF_CHECK(run_id_map_helper("newuidmap", pid, uids));
    }
    if (privileged) {
        SKIFF_CHECK(with_context(write_file(proc + "/gid_map", format_mappings(gids)), "linux.gidMappings"));
    } else if (only_self(gids, ::getegid())) {
        // An unprivileged writer must give up setgroups before it may write gid_map.
        SKIFF_CHECK(write_file(proc + "/setgroups", "deny"));
        setgroups_allowed = false;
        SKIFF_CHECK(with_context(write_file(proc + "/gid_map", format_mappings(gids)), "linux.gidMappings"));
    } else {
        SKIFF_CHECK(run_id_map_helper("newgidmap", pid, gids));
    }
    return setgroups_allowed;
}

ChildGuard::~ChildGuard() {
    if (pid > 0) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
    }
}

Status PidNamespaceSwitch::enter(const std::string& path) {
    original.reset(::open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
    if (!original) return sys_error("open /proc/self/ns/pid_for_children");
    UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target) return sys_error("open pid namespace " + path);
    if (::setns(target.get(), CLONE_NEWPID) != 0) return sys_error("join pid namespace " + path);
    return ok();
}

PidNamespaceSwitch::~PidNamespaceSwitch() {
    if (original) (void)::setns(original.get(), CLONE_NEWPID);
}

Result<Launched> launch_container(const LaunchRequest& req) {
    const Spec& spec = *req.spec;
    if (!spec.process) return fail("config.json: process is required to create a container");
    SKIFF_TRY(ns, plan_namespaces(spec));
    if (!ns.has_mount_ns) {
        // Everything below would have to be mounted on the host: refuse what cannot be done
        // safely (runc's rules) and say what is skipped.
        if (spec.linux && (!spec.linux->masked_paths.empty() || !spec.linux->readonly_paths.empty()))
            return fail("linux.maskedPaths/readonlyPaths: need a mount namespace");
        if (spec.root && spec.root->readonly) return fail("root.readonly: needs a mount namespace");
        if (!spec.mounts.empty())
            log::warn("mounts: not applied: the container has no mount namespace of its own");
    }

    // Compile seccomp before cloning so a bad profile is reported by us, not the child.
    std::optional<SeccompFilter> filter;
    if (spec.linux && spec.linux->seccomp) {
        auto built = build_seccomp_filter(*spec.linux->seccomp, seccomp_cache_dir(dirname_of(req.state_dir)));
        if (!built) return std::unexpected(built.error());
        filter.emplace(std::move(*built));
    }

    SKIFF_TRY(channels, SyncChannel::make_pair());
    SyncChannel parent_end = std::move(channels.first);
    SyncChannel child_end = std::move(channels.second);

    UniqueFd cgroup_fd;
    if (req.group) {
        auto fd = req.group->open_dir();
        if (fd) cgroup_fd = std::move(*fd);
    }

    // Sharing a pid namespace with running processes, the child is visible to them from birth:
    // be non-dumpable before cloning so none can open its /proc/<pid>/exe (CVE-2019-5736).
    if (!(ns.clone_flags & CLONE_NEWPID) && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return sys_error("prctl PR_SET_DUMPABLE");

    UniqueFd exec_fifo(::open((req.state_dir + "/exec.fifo").c_str(), O_PATH | O_CLOEXEC));
    if (!exec_fifo) return sys_error("open exec fifo in " + req.state_dir);
    SKIFF_TRY(exec_stub, sealed_exec_stub_if_needed());

    auto clone_child = [&]() -> Result<CloneResult> {
        SKIFF_TRY(result, clone_into(ns.clone_flags, cgroup_fd ? cgroup_fd.get() : -1));
        if (result.pid == 0) {
            parent_end.close();
            ChildContext ctx{&req, &ns, &child_end, filter ? &*filter : nullptr, exec_fifo.get(), exec_stub.get()};
            run_container_child(ctx);  // never returns
        }
        return result;
    };
    CloneResult cloned;
    if (ns.joins_before_clone.empty()) {
        PidNamespaceSwitch pid_switch;
        if (!ns.pid_join_path.empty()) SKIFF_CHECK(pid_switch.enter(ns.pid_join_path));
        SKIFF_TRY(result, clone_child());
        cloned = result;
    } else {
        // setns of these namespace types moves the calling thread only: a short-lived thread
        // joins and clones, so the launcher stays where it is (a rootless one could not
        // come back into the host's namespaces). The child takes its parent-death signal
        // only after kGo, by when this thread is gone and the child is the launcher's.
        Result<CloneResult> result = fail("clone thread did not run");
        std::thread cloner([&] {
            PidNamespaceSwitch pid_switch;
            auto joined = join_namespaces(ns.joins_before_clone);
            if (joined && !ns.pid_join_path.empty()) joined = pid_switch.enter(ns.pid_join_path);
            if (!joined) result = std::unexpected(joined.error());
            else result = clone_child();
        });
        cloner.join();
        SKIFF_TRY(done, std::move(result));
        cloned = done;
    }
    child_end.close();
    cgroup_fd.reset();
    exec_fifo.reset();
    exec_stub.reset();
    ChildGuard guard{cloned.pid};
    pid_t pid = cloned.pid;

    log::debug("container " + req.id + ": cloned pid " + std::to_string(pid) + (cloned.in_cgroup ? " into its cgroup" : ""));
    if (req.on_cloned) SKIFF_CHECK(req.on_cloned(pid));
    if (req.group && !cloned.in_cgroup) SKIFF_CHECK(req.group->add_process(pid));
    bool setgroups_allowed = true;
    if (ns.new_user) {
        SKIFF_TRY(allowed, write_id_mappings(pid, spec));
        setgroups_allowed = allowed;
    }
    if (spec.process->oom_score_adj) {
        SKIFF_CHECK(with_context(write_file("/proc/" + std::to_string(pid) + "/oom_score_adj",
                                            std::to_string(*spec.process->oom_score_adj)),
                                 "process.oomScoreAdj"));
    }
    SKIFF_CHECK(parent_end.send(SyncMessage::kGo, setgroups_allowed ? "setgroups=allow" : "setgroups=deny"));
    SKIFF_CHECK(parent_end.expect(SyncMessage::kNamespacesReady, "container process"));
    log::debug("container " + req.id + ": namespaces ready");

    std::string creating_state = req.state_for_hooks ? req.state_for_hooks(pid, ContainerStatus::creating) : "{}";
    if (spec.hooks) {
        SKIFF_CHECK(run_hooks(spec.hooks->prestart, "prestart", creating_state));
        SKIFF_CHECK(run_hooks(spec.hooks->create_runtime, "createRuntime", creating_state));
    }
    SKIFF_CHECK(parent_end.send(SyncMessage::kHooksDone, creating_state));

    Launched launched;
    launched.pid = pid;
    if (req.console_to_parent && spec.process->terminal) {
        SKIFF_TRY(packet, parent_end.expect(SyncMessage::kConsoleFd, "container process"));
        launched.console_master = std::move(packet.fd);
    }
    // The container's whole set-up (mounts, pivot, seccomp): sleep, the child needs the CPUs.
    SKIFF_CHECK(parent_end.expect(SyncMessage::kReady, "container process", std::chrono::microseconds(0)));
    log::debug("container " + req.id + ": set up, waiting on its exec fifo");
    guard.pid = -1;
    return launched;
}

}  // namespace skiff::runtime
