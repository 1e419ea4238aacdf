// A directory of its own under /tmp for one test, removed with all it holds at the end.
#pragma once

#include <cstdlib>
#include <string>

#include "common/fs.hpp"

namespace skiff::testing {

struct TempDir {
    std::string path;
    explicit TempDir(const std::string& prefix = "skiff-test") {
        std::string pattern = "/tmp/" + prefix + "-XXXXXX";
        path = ::mkdtemp(pattern.data());
    }
    ~TempDir() { (void)skiff::remove_tree(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace skiff::testing
