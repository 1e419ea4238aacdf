#include "cli/globals.hpp"

#include <algorithm>
#include <climits>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "common/fs.hpp"
#include "common/path.hpp"

namespace skiff::cli {
namespace {

// A relative --root/--runroot is taken from the working directory now: the paths the store
// hands out (inspect's GraphDriver, overlay mount options) must not depend on a later cwd.
std::string absolute_path(const std::string& path) {
    if (path.empty() || path.front() == '/') return path;
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return path;
    return clean_path(path_join(cwd, path));
}

}  // namespace

std::vector<std::string> command_words_of(const std::vector<std::string>& args) {
    std::vector<std::string> words;
    for (size_t i = 0; i < args.size() && words.size() < 2; ++i) {
        if (args[i] == "--root" || args[i] == "--runroot") {
            ++i;
            continue;
        }
        if (!args[i].starts_with("-")) words.push_back(args[i]);
    }
    return words;
}

namespace {

// A top-level command other than the one the line names is not even registered: CLI11 would
// build an app (help flag and all) for each. (No command named: all are, for --help.)
bool skipped_at_top(const CLI::App& parent, const GlobalOptions& globals, const std::string& name,
                    std::initializer_list<std::string> aliases) {
    if (parent.get_parent() != nullptr || globals.command_words.empty()) return false;
    const std::string& word = globals.command_words[0];
    return word != name && std::find(aliases.begin(), aliases.end(), word) == aliases.end();
}

}  // namespace

CLI::App* add_command(CLI::App& parent, const GlobalOptions& globals, const std::string& name,
                      const std::string& description, std::initializer_list<std::string> aliases) {
    if (skipped_at_top(parent, globals, name, aliases)) return nullptr;
    CLI::App* command = parent.add_subcommand(name, description);
    for (const auto& alias : aliases) command->alias(alias);
    return line_names(globals, *command) ? command : nullptr;
}

bool line_names(const GlobalOptions& globals, const CLI::App& command) {
    // The command's path below the top level, outermost first.
    std::vector<const CLI::App*> path;
    for (const CLI::App* node = &command; node->get_parent() != nullptr; node = node->get_parent())
        path.insert(path.begin(), node);
    for (size_t level = 0; level < path.size() && level < globals.command_words.size(); ++level)
        if (!path[level]->check_name(globals.command_words[level])) return false;
    return true;
}

CLI::App* add_group(CLI::App& parent, const GlobalOptions& globals, const std::string& name,
                    const std::string& description) {
    if (skipped_at_top(parent, globals, name, {})) return nullptr;
    CLI::App* group = parent.add_subcommand(name, description);
    group->require_subcommand(1);
    return line_names(globals, *group) ? group : nullptr;
}

CLI::App* container_group(CLI::App& app, const GlobalOptions& globals) {
    for (auto* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "container"; }))
        return line_names(globals, *sub) ? sub : nullptr;
    return add_group(app, globals, "container", "manage containers");
}

engine::Store open_store(const GlobalOptions& globals) {
    engine::StoreOptions options = engine::default_store_options();
    if (!globals.root.empty()) options.root = absolute_path(globals.root);
    if (!globals.runroot.empty()) options.runroot = absolute_path(globals.runroot);
    return engine::Store(options);
}

}  // namespace skiff::cli
