// Printing shared by the engine's commands: Docker's wording for errors, times and sizes.
#pragma once

#include <nlohmann/json.hpp>

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

// Docker's units.HumanDuration + " ago": "2 months ago", "About an hour ago".
std::string time_ago(std::string_view rfc3339);

// `--format` output for list commands: the given format when set (json, table, template),
// else `default_rows` (already including a header row) aligned as a table.
Status print_rows(std::string_view format, const std::vector<nlohmann::json>& rows,
                  const std::vector<std::vector<std::string>>& default_rows,
                  const nlohmann::json& headers = nlohmann::json::object());

// Truncate to width with "…" as Docker does for long commands.
std::string ellipsis(std::string_view text, size_t width);

}  // namespace skiff::cli
