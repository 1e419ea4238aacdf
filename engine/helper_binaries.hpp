// Where skiff's own programs are. The engine re-executes itself from a sealed memfd before it
// launches containers (runtime/cloned_binary.hpp), so /proc/self/exe is then no path at all:
// main() leaves the real one in SKIFF_EXE first.
//   skiff-monitor  the resident monitor of a detached container (monitor/skiff_monitor.cpp)
//   skiff-init     PID 1 of `run --init` (monitor/skiff_init.cpp)
// Both live beside skiff in a build tree, and in <prefix>/libexec/skiff when installed
// (skiff in <prefix>/bin).
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace skiff::engine {

inline constexpr const char* kExecutableEnv = "SKIFF_EXE";

// Called by main() before it re-executes from the sealed copy.
void remember_executable_path();

// The skiff binary on disk (absolute, symlinks resolved).
Result<std::string> skiff_executable();

// NAME beside skiff, else in ../libexec/skiff/ from skiff's directory. Err names both places.
Result<std::string> helper_binary(std::string_view name);

}  // namespace skiff::engine
