// `skiff cp`: Docker's `docker cp` (engine/container_cp.hpp does the work).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/globals.hpp"

namespace skiff::cli {

// Registers `cp`; when it runs it stores its exit code in exit_code.
void add_cp_command(CLI::App& app, const GlobalOptions& globals, int& exit_code);

}  // namespace skiff::cli
