#include "cli/skiff_cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/runtime_cli.hpp"

namespace skiff::cli {

int skiff_main(const std::string& program, std::vector<std::string> args) {
    // `skiff runtime ARGS...` is `skiff-runtime ARGS...`: hand everything after it over as is.
    if (!args.empty() && args[0] == "runtime") {
        args.erase(args.begin());
        return runtime_main(program + " runtime", std::move(args));
    }
    CLI::App app{"skiff: a daemonless container engine and OCI runtime", program};
    app.require_subcommand(1);
    app.set_version_flag("-v,--version", "skiff version 0.1.0");
    auto* runtime = app.add_subcommand("runtime", "the OCI runtime (runc-compatible), as `skiff-runtime`");
    runtime->prefix_command();
    auto* version = app.add_subcommand("version", "print the version");
    std::reverse(args.begin(), args.end());
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (version->parsed()) {
        std::printf("skiff version 0.1.0\nOCI runtime spec: 1.2.0\n");
        return 0;
    }
    return 1;
}

}  // namespace skiff::cli
