// OCI hooks: run each with the container state JSON on stdin, its own args and env, and a
// timeout after which it is killed. A failing hook is an error naming the hook kind and path.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

// `kind` names the hook list in errors ("createRuntime"). Stops at the first failure.
Status run_hooks(const std::vector<Hook>& hooks, const char* kind, const std::string& state_json);

}  // namespace skiff::runtime
