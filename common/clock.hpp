// Wall-clock timestamps in the one format skiff writes everywhere (state, logs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace skiff {

// "2026-11-27T18:44:04.748603930Z": RFC 3339 in UTC with nanoseconds (Docker's and runc's).
std::string rfc3339_now();

struct Timestamp {
    long long seconds = 0;  // since the epoch, UTC
    long nanos = 0;
    auto operator<=>(const Timestamp&) const = default;
};
// "2024-05-01T10:00:00Z", with fractions and "+02:00"-style offsets; nullopt when it is not
// RFC 3339. (Comparing the strings is wrong once fractions or offsets differ.)
std::optional<Timestamp> parse_rfc3339(std::string_view text);

}  // namespace skiff
