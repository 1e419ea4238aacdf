// One binary, several personalities chosen by the name it was started as:
//   skiff-runtime (or runc): the OCI runtime command line
//   skiff: the engine's command line, with `skiff runtime ...` reaching the runtime too
#include <string>
#include <vector>

#include "cli/runtime_cli.hpp"
#include "cli/skiff_cli.hpp"
#include "common/fs.hpp"

int main(int argc, char** argv) {
    std::string name = skiff::basename_of(argc > 0 ? argv[0] : "skiff");
    std::vector<std::string> args(argv + 1, argv + argc);
    if (name == "skiff-runtime" || name == "runc") return skiff::cli::runtime_main(name, std::move(args));
    return skiff::cli::skiff_main(name, std::move(args));
}
