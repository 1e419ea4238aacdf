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

}  // namespace skiff
