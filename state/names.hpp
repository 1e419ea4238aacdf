// Container names: Docker's validation rule and its "adjective_surname" generated names.
#pragma once

#include <string>
#include <string_view>

namespace skiff::state {

// "[a-zA-Z0-9][a-zA-Z0-9_.-]+" after one optional leading '/', as Docker checks `--name`
// (so a one-character name is refused there too).
bool valid_name(std::string_view name);

// "adjective_surname" ("eager_lovelace"), drawn from getrandom; never "boring_wozniak"
// (Steve Wozniak is not boring). Uniqueness is the caller's job.
std::string random_name();

}  // namespace skiff::state
