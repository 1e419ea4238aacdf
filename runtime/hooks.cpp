#include "runtime/hooks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/pidfd.hpp"

namespace skiff::runtime {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

Status run_hook(const Hook& hook, const char* kind, size_t index, const std::string& state) {
    std::string label = std::string(kind) + " hook[" + std::to_string(index) + "] " + hook.path;
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return sys_error(label + ": pipe");
    UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);

    std::vector<std::string> args = hook.args;
    if (args.empty()) args.push_back(hook.path);
    std::vector<std::string> env = hook.env;
    auto argv = c_strings(args);
    auto envp = c_strings(env);

    pid_t pid = ::fork();
    if (pid < 0) return sys_error(label + ": fork");
    if (pid == 0) {
        ::dup2(read_end.get(), STDIN_FILENO);
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        _exit(127);
    }
    read_end.reset();
    // The hook may not read stdin at all: ignore EPIPE rather than die of SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    (void)write_all(write_end.get(), state.data(), state.size());
    write_end.reset();

    // Wait with a deadline through a pidfd so a hung hook cannot hang the runtime.
    const long timeout_ms = hook.timeout ? std::min<long>(*hook.timeout * 1000L, INT_MAX) : -1;
    if (UniqueFd pidfd = open_pidfd(pid); pidfd && timeout_ms >= 0 && !wait_pidfd_exit(pidfd.get(), int(timeout_ms))) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return fail(label + ": timed out after " + std::to_string(*hook.timeout) + "s");
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return sys_error(label + ": wait");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !path_exists(hook.path))
        return sys_error(ENOENT, label);
    if (WIFEXITED(status)) return fail(label + ": exited with status " + std::to_string(WEXITSTATUS(status)));
    return fail(label + ": killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace

Status run_hooks(const std::vector<Hook>& hooks, const char* kind, const std::string& state_json) {
    for (size_t i = 0; i < hooks.size(); ++i) SKIFF_CHECK(run_hook(hooks[i], kind, i, state_json));
    return ok();
}

void run_hooks_warning_on_failure(const std::vector<Hook>& hooks, const char* kind, const std::string& state_json) {
    for (size_t i = 0; i < hooks.size(); ++i)
        if (auto r = run_hook(hooks[i], kind, i, state_json); !r) log::warn(r.error().message());
}

}  // namespace skiff::runtime
