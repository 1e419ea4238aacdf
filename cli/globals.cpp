#include "cli/globals.hpp"

#include <climits>
#include <unistd.h>

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

engine::Store open_store(const GlobalOptions& globals) {
    engine::StoreOptions options = engine::default_store_options();
    if (!globals.root.empty()) options.root = absolute_path(globals.root);
    if (!globals.runroot.empty()) options.runroot = absolute_path(globals.runroot);
    return engine::Store(options);
}

}  // namespace skiff::cli
