// Wall-clock timestamps in the one format skiff writes everywhere (state, logs).
#pragma once

#include <string>

namespace skiff {

// "2026-11-27T18:44:04.748603930Z": RFC 3339 in UTC with nanoseconds (Docker's and runc's).
std::string rfc3339_now();

}  // namespace skiff
