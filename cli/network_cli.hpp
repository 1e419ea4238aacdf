// `skiff network create/ls/inspect/rm/prune/connect/disconnect` (Docker's flags and output).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/globals.hpp"

namespace skiff::cli {

void add_network_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code);

}  // namespace skiff::cli
