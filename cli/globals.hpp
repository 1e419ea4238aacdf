// The global flags of `skiff` and the store they choose, shared by every command group.
#pragma once

#include <string>

#include "engine/store.hpp"

namespace skiff::cli {

struct GlobalOptions {
    std::string root;     // --root: "" = the default for this user
    std::string runroot;  // --runroot
};

// The store the flags (or the defaults for this user) name; relative paths made absolute.
engine::Store open_store(const GlobalOptions& globals);

}  // namespace skiff::cli
