// Printing shared by the engine's commands: Docker's wording for errors, times and sizes.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <type_traits>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace skiff::cli {

// Exit code of an engine or flag failure (design.md section 5).
inline constexpr int kEngineFailure = 125;

// "Error: <message>" on stderr, returning kEngineFailure.
int report(const Error& error);

// "sha256:<64 hex>" -> the first 12 hex digits (what Docker shows without --no-trunc).
std::string short_id(std::string_view id);

// Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:00:00.123456789Z", offsets
// allowed); -1 when it does not parse.
long long parse_rfc3339(std::string_view text);

// Docker's units.HumanDuration: "Less than a second", "About a minute", "2 months".
std::string human_duration(long long seconds);
// Seconds from an RFC 3339 time until now (0 when it does not parse).
long long seconds_since(std::string_view rfc3339);
// human_duration + " ago": "2 months ago", "About an hour ago"; "N/A" for a bad time.
std::string time_ago(std::string_view rfc3339);

// `--format` output for list commands: the given format when set (json, table, template),
// else `default_rows` (already including a header row) aligned as a table.
Status print_rows(std::string_view format, const std::vector<nlohmann::json>& rows,
                  const std::vector<std::vector<std::string>>& default_rows,
                  const nlohmann::json& headers = nlohmann::json::object());

// Truncate to width with "…" as Docker does for long commands.
std::string ellipsis(std::string_view text, size_t width);

// A command's body run as its callback: a Status body's error becomes one line and exit
// 125; an int body is the exit code itself (run, exec, ... pass the container's on).
template <typename Body>
void on_run(CLI::App* cmd, int& exit_code, Body body) {
    cmd->callback([&exit_code, body] {
        if constexpr (std::is_same_v<decltype(body()), int>) {
            exit_code = body();
        } else {
            auto done = body();
            exit_code = done ? 0 : report(done.error());
        }
    });
}

// Several containers, each tried; the name printed for each success, as Docker does.
template <typename Action>
int each_container(const std::vector<std::string>& names, Action action) {
    int code = 0;
    for (const auto& n : names) {
        auto done = action(n);
        if (done) std::printf("%s\n", n.c_str());
        else code = report(done.error());
    }
    return code;
}

// `inspect`-style output: each name looked up, the objects found printed as one JSON array
// (indent 4) or through the --format template, one line each; then the first failure.
Status print_inspected(const std::vector<std::string>& names, std::string_view format,
                       const std::function<Result<nlohmann::json>(const std::string&)>& lookup);

// Docker's prompt for destructive commands (stderr, answer on stdin); only y/yes is yes.
bool confirmed(const std::string& warning);

}  // namespace skiff::cli
