// The container commands of `skiff`: run, create, start, stop, kill, rm, ps, logs, wait
// (inspect of containers goes through the shared `inspect`).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string_view>

#include "cli/globals.hpp"
#include "common/result.hpp"

namespace skiff::cli {

void add_container_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code);

// Docker's container inspect object, for `inspect` (which tries containers before images).
Result<nlohmann::json> inspect_container_json(const GlobalOptions& globals, std::string_view name);

}  // namespace skiff::cli
