// `skiff volume create/ls/inspect/rm/prune`, `skiff container prune` and `skiff system df/
// prune`.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/globals.hpp"

namespace skiff::cli {

// The `volume` group, and a `container` group holding `prune` (the other container verbs are
// top-level commands of cli/container_cli.cpp).
void add_volume_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code);

// `df` and `prune` under the `system` group that cli/image_cli.cpp creates.
void add_system_commands(CLI::App* system, const GlobalOptions& globals, int& exit_code);

}  // namespace skiff::cli
