#include "engine/helper_binaries.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "common/fs.hpp"
#include "runtime/cloned_binary.hpp"

namespace skiff::engine {
namespace {

std::string real_path(const char* path) {
    char buf[PATH_MAX];
    return ::realpath(path, buf) ? std::string(buf) : std::string();
}

}  // namespace

void remember_executable_path() {
    std::string self = real_path("/proc/self/exe");
    if (!self.empty()) ::setenv(kExecutableEnv, self.c_str(), 1);
}

Result<std::string> skiff_executable() {
    if (!runtime::running_from_sealed_copy()) {
        std::string self = real_path("/proc/self/exe");
        if (self.empty()) return sys_error("resolve /proc/self/exe");
        return self;
    }
    const char* remembered = std::getenv(kExecutableEnv);
    if (!remembered || *remembered != '/') return fail("where the skiff binary is: " + std::string(kExecutableEnv) + " is not set");
    return std::string(remembered);
}

Result<std::string> helper_binary(std::string_view name) {
    SKIFF_TRY(self, skiff_executable());
    std::string dir = dirname_of(self);
    std::string beside = path_join(dir, std::string(name));
    if (::access(beside.c_str(), X_OK) == 0) return beside;
    std::string installed = real_path(path_join(dir, "../libexec/skiff/" + std::string(name)).c_str());
    if (!installed.empty() && ::access(installed.c_str(), X_OK) == 0) return installed;
    return sys_error(ENOENT, std::string(name) + " not found beside " + self + " nor in " +
                                 path_join(dirname_of(dir), "libexec/skiff"));
}

}  // namespace skiff::engine
