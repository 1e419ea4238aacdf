#include "common/clock.hpp"

#include <time.h>

#include <cstdio>

namespace skiff {

std::string rfc3339_now() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[96];
    snprintf(out, sizeof out, "%s.%09ldZ", date, ts.tv_nsec);
    return out;
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
