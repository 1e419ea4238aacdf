// The global flags of `skiff` and the store they choose, shared by every command group.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "engine/store.hpp"

namespace CLI {
class App;
}

namespace skiff::cli {

struct GlobalOptions {
    std::string root;     // --root: "" = the default for this user
    std::string runroot;  // --runroot
    // The command the line names ("image", "ls"): see add_command.
    std::vector<std::string> command_words;
};

// The first two words of a command line that are neither options nor --root/--runroot
// values: `--root /x image ls -q` -> {"image", "ls"}.
std::vector<std::string> command_words_of(const std::vector<std::string>& args);

// Registers NAME under PARENT and returns it when its options are worth building: when the
// command line names it, or names no command at all (`skiff --help`). Any other command is
// nullptr: under a group it is registered bare (a name and a line for the group's --help);
// at the top it is not registered at all. Building every command costs about a millisecond
// of each start, `run`'s included.
CLI::App* add_command(CLI::App& parent, const GlobalOptions& globals, const std::string& name,
                      const std::string& description, std::initializer_list<std::string> aliases = {});

// Whether the command line names COMMAND (or names no command at all): add_command's test.
bool line_names(const GlobalOptions& globals, const CLI::App& command);

// Registers a group (`image`, `volume`, ...) that wants a subcommand; returns it for its
// subcommands only when the line names it (a group's subcommands are reachable only then).
CLI::App* add_group(CLI::App& parent, const GlobalOptions& globals, const std::string& name,
                    const std::string& description);

// Docker's `container` management command (`container ls`, `container run`, ...): the one
// group every file that adds to it shares, made by whichever asks first; nullptr, as from
// add_group, when the line names another command.
CLI::App* container_group(CLI::App& app, const GlobalOptions& globals);

// The store the flags (or the defaults for this user) name; relative paths made absolute.
engine::Store open_store(const GlobalOptions& globals);

}  // namespace skiff::cli
