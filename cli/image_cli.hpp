// The image commands of `skiff` (pull, push, images, inspect, history, tag, rmi, image prune,
// save, load, import, login, logout, system check), also reachable as `skiff image <verb>`.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/globals.hpp"

namespace skiff::cli {

// Registers the commands; the one that runs stores its exit code in exit_code.
void add_image_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code);

}  // namespace skiff::cli
