#include "common/clock.hpp"

#include <time.h>

#include <cstdio>

#include "monitor/log_record.hpp"

namespace skiff {

std::string rfc3339_now() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    // The log's formatter: no gmtime_r/strftime, which load the time zone (/etc/localtime)
    // on first use although UTC needs none of it.
    char out[32];
    return std::string(out, logfmt::format_rfc3339(ts, out));
}

std::optional<Timestamp> parse_rfc3339(std::string_view text) {
    std::string s(text);
    struct tm tm {};
    const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return std::nullopt;
    long nanos = 0;
    if (*rest == '.') {
        long scale = 100000000;
        for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) nanos += (*rest - '0') * scale;
    }
    long long offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hours = 0, minutes = 0;
        if (sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) return std::nullopt;
        offset = (hours * 3600LL + minutes * 60LL) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z' && *rest != 'z') {
        return std::nullopt;
    }
    return Timestamp{static_cast<long long>(timegm(&tm)) - offset, nanos};
}

}  // namespace skiff
