// The container commands of `skiff` beyond the lifecycle: commit, diff, export, pause,
// unpause, restart, rename, top, port, attach (and the internal container-exited).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/globals.hpp"

namespace skiff::cli {

// Registers the commands; the one that runs stores its exit code in exit_code.
void add_container_extra_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code);

}  // namespace skiff::cli
