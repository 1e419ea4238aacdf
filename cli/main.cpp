// The entry point of both executables, personality chosen by the name it was started as:
//   skiff-runtime (or runc): the OCI runtime command line
//   skiff: the engine's command line, with `skiff runtime ...` reaching the runtime too
// Built with SKIFF_RUNTIME_ONLY it is the static skiff-runtime, which has no engine.
#include <malloc.h>
#include <string>
#include <vector>

#include "cli/runtime_cli.hpp"
#ifndef SKIFF_RUNTIME_ONLY
#include "cli/skiff_cli.hpp"
#include "engine/helper_binaries.hpp"
#include "engine/rootless.hpp"
#endif
#include "common/fs.hpp"
#include "common/log.hpp"
#include "runtime/cloned_binary.hpp"

namespace {

// The runtime command a command line asks for: the first word that is neither a global
// option nor an option's value ("--root DIR create ..." -> "create").
std::string runtime_command(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--root" || a == "--log" || a == "--log-format" || a == "--rootless" || a == "--criu") {
            ++i;
            continue;
        }
        if (a.starts_with("-")) continue;
        return a;
    }
    return {};
}

// Commands that put a process into a container start from a sealed copy of this binary.
bool enters_container(const std::string& command) {
    return command == "create" || command == "run" || command == "exec";
}

#ifndef SKIFF_RUNTIME_ONLY
// The engine's commands that start from a sealed copy: only `exec`, whose process is born
// into a running container where others may watch it. run, start, restart and
// container-exited (the monitor restarting PID 1) launch into a new pid namespace and exec
// PID 1 through the sealed exec stub instead (runtime/cloned_binary.hpp): no copy of this
// binary and no second start.
bool engine_enters_container(const std::vector<std::string>& args) {
    auto words = skiff::engine::command_words(args);
    return !words.empty() && words[0] == "exec";
}
#endif

}  // namespace

int main(int argc, char** argv) {
    // One malloc arena: skiff's few threads (a run's output pump, a pull's downloads) allocate
    // little, and a thread's first free would otherwise map a 128 MiB arena of its own and
    // trim it (std::thread frees its state in the new thread): ~0.2 ms of a `run --rm`.
    ::mallopt(M_ARENA_MAX, 1);
    std::string name = skiff::basename_of(argc > 0 ? argv[0] : "skiff");
    std::vector<std::string> args(argv + 1, argv + argc);
    bool runtime = name == "skiff-runtime" || name == "runc";
    std::vector<std::string> runtime_args = args;
    if (!runtime && !args.empty() && args[0] == "runtime")
        runtime_args.erase(runtime_args.begin());
    bool reaches_runtime = runtime || (!args.empty() && args[0] == "runtime");
    bool launches = reaches_runtime && enters_container(runtime_command(runtime_args));
#ifndef SKIFF_RUNTIME_ONLY
    if (!reaches_runtime) launches = engine_enters_container(args);
    // Not root: commands that mount a container's rootfs run in the user's own user + mount
    // namespace (engine/rootless.hpp). Before any thread exists and before the re-exec below.
    if (!reaches_runtime && skiff::engine::rootless_command_needs_namespace(args)) {
        if (auto entered = skiff::engine::enter_rootless_namespace(args); !entered) {
            skiff::log::error(entered.error().message());
            return 125;
        }
    }
#endif
    if (launches && !skiff::runtime::running_from_sealed_copy()) {
#ifndef SKIFF_RUNTIME_ONLY
        // The sealed copy's /proc/self/exe is a memfd: it needs to know where skiff and its
        // helpers really are (engine/helper_binaries.hpp).
        if (!reaches_runtime) skiff::engine::remember_executable_path();
#endif
        auto failed = skiff::runtime::reexec_from_sealed_copy(argv);
        skiff::log::error(failed.error().message());
        return 1;
    }
    if (runtime) return skiff::cli::runtime_main(name, std::move(args));
#ifdef SKIFF_RUNTIME_ONLY
    // The static runtime-only build (skiff-runtime, the VM's binary) under another name.
    if (!args.empty() && args[0] == "runtime") return skiff::cli::runtime_main(name + " runtime", std::move(runtime_args));
    return skiff::cli::runtime_main(name, std::move(args));
#else
    return skiff::cli::skiff_main(name, std::move(args));
#endif
}
