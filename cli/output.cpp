#include "cli/output.hpp"

#include <cstdio>
#include <ctime>

#include "common/go_template.hpp"

namespace skiff::cli {

int report(const Error& error) {
    std::fprintf(stderr, "Error: %s\n", error.message().c_str());
    return kEngineFailure;
}

std::string short_id(std::string_view id) {
    if (auto colon = id.find(':'); colon != std::string_view::npos) id.remove_prefix(colon + 1);
    return std::string(id.substr(0, 12));
}

long long parse_rfc3339(std::string_view text) {
    std::tm tm{};
    std::string s(text);
    const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    while (*rest == '.' || (*rest >= '0' && *rest <= '9')) ++rest;  // fractional seconds
    long long offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hours = 0, minutes = 0;
        if (std::sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) return -1;
        offset = (hours * 3600LL + minutes * 60LL) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z' && *rest != 'z') {
        return -1;
    }
    return static_cast<long long>(::timegm(&tm)) - offset;
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
