#include "cli/skiff_cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/container_cli.hpp"
#include "cli/container_extra_cli.hpp"
#include "cli/cp_cli.hpp"
#include "cli/image_cli.hpp"
#include "cli/network_cli.hpp"
#include "cli/output.hpp"
#include "cli/runtime_cli.hpp"
#include "cli/volume_cli.hpp"

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
    GlobalOptions globals;
    // Only the named command gets its options built (add_command); help names them all.
    globals.command_words = command_words_of(args);
    app.add_option("--root", globals.root,
                   "store directory (default /var/lib/skiff as root, ~/.local/share/skiff otherwise)")
        ->envname("SKIFF_ROOT");
    app.add_option("--runroot", globals.runroot, "runtime state directory (default /run/skiff as root)")
        ->envname("SKIFF_RUNROOT");
    int exit_code = 0;
    add_container_commands(app, globals, exit_code);
    add_container_extra_commands(app, globals, exit_code);
    add_cp_command(app, globals, exit_code);
    // The same commands in Docker's management form: `container run`, `container ls`, ...
    if (auto* container = container_group(app, globals)) {
        add_container_commands(*container, globals, exit_code);
        add_container_extra_commands(*container, globals, exit_code);
        add_cp_command(*container, globals, exit_code);
    }
    add_image_commands(app, globals, exit_code);
    add_volume_commands(app, globals, exit_code);
    add_network_commands(app, globals, exit_code);
    auto* runtime = app.add_subcommand("runtime", "the OCI runtime (runc-compatible), as `skiff-runtime`");
    runtime->prefix_command();
    auto* version = app.add_subcommand("version", "print the version");
    version->callback([] { std::printf("skiff version 0.1.0\nOCI runtime spec: 1.2.0\n"); });
    std::reverse(args.begin(), args.end());
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // Flag errors are engine failures for Docker users (exit 125), on one line.
        std::fprintf(stderr, "Error: %s\n", e.what());
        return kEngineFailure;
    }
    return exit_code;
}

}  // namespace skiff::cli
