#include "cli/output.hpp"

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <ctime>
#include <optional>

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

std::string human_duration(long long seconds) {
    auto plural = [](long long n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); };
    long long minutes = seconds / 60, hours = seconds / 3600;
    if (seconds < 1) return "Less than a second";
    if (seconds == 1) return "1 second";
    if (seconds < 60) return plural(seconds, "second");
    if (minutes == 1) return "About a minute";
    if (minutes < 60) return plural(minutes, "minute");
    if (hours == 1) return "About an hour";
    if (hours < 48) return plural(hours, "hour");
    if (hours < 24 * 7 * 2) return plural(hours / 24, "day");
    if (hours < 24 * 30 * 2) return plural(hours / 24 / 7, "week");
    if (hours < 24 * 365 * 2) return plural(hours / 24 / 30, "month");
    return plural(hours / 24 / 365, "year");
}

long long seconds_since(std::string_view rfc3339) {
    long long then = parse_rfc3339(rfc3339);
    return then < 0 ? 0 : static_cast<long long>(std::time(nullptr)) - then;
}

std::string time_ago(std::string_view rfc3339) {
    if (parse_rfc3339(rfc3339) < 0) return "N/A";
    return human_duration(seconds_since(rfc3339)) + " ago";
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

bool confirmed(const std::string& warning) {
    std::fprintf(stderr, "%s\nAre you sure you want to continue? [y/N] ", warning.c_str());
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer == "y" || answer == "Y" || answer == "yes";
}

Status print_inspected(const std::vector<std::string>& names, std::string_view format,
                       const std::function<Result<nlohmann::json>(const std::string&)>& lookup) {
    std::optional<GoTemplate> tmpl;
    if (!format.empty()) {
        SKIFF_TRY(t, GoTemplate::parse(format));
        tmpl = std::move(t);
    }
    // Like Docker: what was found is printed, then the first failure.
    nlohmann::json all = nlohmann::json::array();
    std::optional<Error> first_error;
    for (const auto& n : names) {
        auto found = lookup(n);
        if (!found) {
            if (!first_error) first_error = found.error();
            continue;
        }
        all.push_back(*found);
    }
    if (tmpl) {
        for (const auto& item : all) {
            SKIFF_TRY(line, tmpl->render(item));
            std::printf("%s\n", line.c_str());
        }
    } else {
        std::printf("%s\n", all.dump(4).c_str());
    }
    if (first_error) return std::unexpected(*first_error);
    return ok();
}

}  // namespace skiff::cli
