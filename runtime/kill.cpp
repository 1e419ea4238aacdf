// `kill`: one signal to PID 1, or with --all to every process in the container's cgroup.
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "cgroups/cgroups.hpp"
#include "common/pidfd.hpp"
#include "runtime/runtime.hpp"

namespace skiff::runtime {

Result<int> parse_signal(const std::string& text) {
    if (text.empty()) return fail("empty signal");
    if (std::isdigit(static_cast<unsigned char>(text[0]))) {
        char* end = nullptr;
        long n = std::strtol(text.c_str(), &end, 10);
        if (*end != '\0' || n <= 0 || n > SIGRTMAX) return fail("invalid signal \"" + text + "\"");
        return static_cast<int>(n);
    }
    std::string name;
    for (char c : text) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name.starts_with("SIG")) name = name.substr(3);
    for (int sig = 1; sig < NSIG; ++sig) {
        const char* abbrev = sigabbrev_np(sig);
        if (abbrev && name == abbrev) return sig;
    }
    if (name.starts_with("RTMIN") || name.starts_with("RTMAX")) {
        int base = name.starts_with("RTMIN") ? SIGRTMIN : SIGRTMAX;
        std::string rest = name.substr(5);
        if (rest.empty()) return base;
        int offset = std::atoi(rest.c_str());
        int sig = base + offset;
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
    }
    return fail("unknown signal \"" + text + "\"");
}

// Signal the exact process recorded, never a recycled pid: open a pidfd, then re-check the
// start time before sending through it.
Status signal_process(pid_t pid, uint64_t start_time, int signal) {
    UniqueFd pidfd = open_pidfd(pid);
    if (!pidfd) return sys_error(ESRCH, "container process " + std::to_string(pid) + " is gone");
    if (!process_alive(pid, start_time)) return sys_error(ESRCH, "container process " + std::to_string(pid) + " is gone");
    if (!signal_pidfd(pidfd.get(), signal))
        return sys_error("signal " + std::to_string(signal) + " to pid " + std::to_string(pid));
    return ok();
}

Status kill_container(const RuntimeOptions& rt, const std::string& id, int signal, bool all) {
    StateStore store(rt.root);
    SKIFF_TRY(record, store.load(id));
    auto status = store.status(record);
    if (status == ContainerStatus::stopped || status == ContainerStatus::creating)
        return fail("cannot kill container \"" + id + "\": it is " + status_name(status));
    if (all && !record.cgroup_path.empty()) {
        cgroups::Group group(record.cgroup_root, record.cgroup_path);
        if (signal == SIGKILL) return group.kill_all();
        SKIFF_CHECK(group.signal_all(signal));
        return ok();
    }
    return signal_process(record.pid, record.pid_start_time, signal);
}

}  // namespace skiff::runtime
