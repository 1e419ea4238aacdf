// `skiff-runtime`: the runc-compatible command line (also `skiff runtime ...`).
#pragma once

#include <string>
#include <vector>

namespace skiff::cli {

// argv-style arguments after the program name; returns the process exit code.
int runtime_main(const std::string& program, std::vector<std::string> args);

}  // namespace skiff::cli
