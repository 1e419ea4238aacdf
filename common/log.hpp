// Logging to stderr or to a file (runc's --log / --log-format text|json, which containerd
// and the conformance suite pass). Errors are always one line.
#pragma once

#include <string>

namespace skiff::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

// Send log lines to `path` (appended) instead of stderr. Errors still also go to stderr
// so a user at a terminal sees them.
bool open_file(const std::string& path, Format format);
void set_level(Level level);
void set_program(const std::string& name);

void write(Level level, const std::string& message);
inline void debug(const std::string& m) { write(Level::debug, m); }
inline void info(const std::string& m) { write(Level::info, m); }
inline void warn(const std::string& m) { write(Level::warn, m); }
inline void error(const std::string& m) { write(Level::error, m); }

}  // namespace skiff::log
