#include "common/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"

namespace skiff::log {

namespace {
int g_fd = -1;
Format g_format = Format::text;
Level g_level = Level::warn;
std::string g_program = "skiff";

const char* level_name(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warning";
        case Level::error: return "error";
    }
    return "info";
}

void emit(int fd, const std::string& line) {
    // One write per line so concurrent writers do not interleave within a line.
    ssize_t ignored = ::write(fd, line.data(), line.size());
    (void)ignored;
}
}  // namespace

bool open_file(const std::string& path, Format format) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    if (g_fd >= 0) ::close(g_fd);
    g_fd = fd;
    g_format = format;
    return true;
}

void set_level(Level level) { g_level = level; }
void set_program(const std::string& name) { g_program = name; }

void write(Level level, const std::string& message) {
    if (g_fd >= 0 && level >= std::min(g_level, Level::info)) {
        std::string line;
        if (g_format == Format::json) {
            nlohmann::json j = {{"level", level_name(level)}, {"msg", message}, {"time", rfc3339_now()}};
            line = j.dump() + "\n";
        } else {
            line = rfc3339_now() + " " + level_name(level) + " " + message + "\n";
        }
        emit(g_fd, line);
    }
    if (level >= g_level) emit(STDERR_FILENO, g_program + ": " + (level == Level::error ? "" : std::string(level_name(level)) + ": ") + message + "\n");
}

}  // namespace skiff::log
