// `skiff`: the engine's command line.
#pragma once

#include <string>
#include <vector>

namespace skiff::cli {

int skiff_main(const std::string& program, std::vector<std::string> args);

}  // namespace skiff::cli
