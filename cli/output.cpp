#include "cli/output.hpp"

#include <cerrno>
#include <cstdio>
#include <ctime>

#include "common/clock.hpp"
#include "common/go_template.hpp"

namespace skiff::cli {

int report(const Error& error) {
    // "No such image: x" (ENOENT) already says it: Docker's wording, without strerror after it.
    bool says_it = error.code == ENOENT && error.what.find("No such ") != std::string::npos;
    std::fprintf(stderr, "Error: %s\n", says_it ? error.what.c_str() : error.message().c_str());
    return kEngineFailure;
}

std::string short_id(std::string_view id) {
    if (auto colon = id.find(':'); colon != std::string_view::npos) id.remove_prefix(colon + 1);
    return std::string(id.substr(0, 12));
}

long long parse_rfc3339(std::string_view text) {
    auto t = skiff::parse_rfc3339(text);
    return t ? t->seconds : -1;
}

std::string time_ago(std::string_view rfc3339) {
    long long then = parse_rfc3339(rfc3339);
    if (then < 0) return "N/A";
    long long seconds = static_cast<long long>(std::time(nullptr)) - then;
    auto plural = [](long long n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); };
    std::string d;
    long long minutes = seconds / 60, hours = seconds / 3600;
    if (seconds < 1) d = "Less than a second";
    else if (seconds == 1) d = "1 second";
    else if (seconds < 60) d = plural(seconds, "second");
    else if (minutes == 1) d = "About a minute";
    else if (minutes < 60) d = plural(minutes, "minute");
    else if (hours == 1) d = "About an hour";
    else if (hours < 48) d = plural(hours, "hour");
    else if (hours < 24 * 7 * 2) d = plural(hours / 24, "day");
    else if (hours < 24 * 30 * 2) d = plural(hours / 24 / 7, "week");
    else if (hours < 24 * 365 * 2) d = plural(hours / 24 / 30, "month");
    else d = plural(hours / 24 / 365, "year");
    return d + " ago";
}

Status print_rows(std::string_view format, const std::vector<nlohmann::json>& rows,
                  const std::vector<std::vector<std::string>>& default_rows, const nlohmann::json& headers) {
    std::string out;
    if (format.empty() || format == "table") {
        out = align_columns(default_rows);
    } else {
        SKIFF_TRY(rendered, render_rows(format, rows, headers));
        out = std::move(rendered);
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return ok();
}

std::string ellipsis(std::string_view text, size_t width) {
    if (text.size() <= width) return std::string(text);
    return std::string(text.substr(0, width - 1)) + "…";
}

}  // namespace skiff::cli
