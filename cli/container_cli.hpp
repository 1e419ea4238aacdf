// The container commands of `skiff`: run, create, start, stop, kill, rm, ps, logs, wait
// (inspect of containers goes through the shared `inspect`).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string_view>

#include "cli/globals.hpp"
#include "common/result.hpp"
#include "state/container_store.hpp"

namespace skiff::cli {

void add_container_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code);

// ps's STATUS ("Up 5 seconds", "Exited (0) 2 minutes ago") and COMMAND ("\"sh -c …\"").
std::string container_status_text(const state::ContainerRecord& record);
std::string container_command_text(const state::ContainerRecord& record, bool no_trunc);

// Docker's container inspect object, for `inspect` (which tries containers before images).
Result<nlohmann::json> inspect_container_json(const GlobalOptions& globals, std::string_view name);

}  // namespace skiff::cli
