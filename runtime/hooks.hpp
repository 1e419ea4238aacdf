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

// For poststart and poststop, whose failures the runtime spec makes warnings: every hook
// runs, and each failure is logged.
void run_hooks_warning_on_failure(const std::vector<Hook>& hooks, const char* kind, const std::string& state_json);

}  // namespace skiff::runtime
