// Helpers around network namespace files. Internal to network/.
#pragma once

#include <string>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::network {

// Whether `path` is a mounted namespace file (nsfs), i.e. the namespace still lives there.
bool is_netns_mount(const std::string& path);
// An fd of the namespace file, refused when `path` is not one.
Result<UniqueFd> open_netns(const std::string& path);

}  // namespace skiff::network
