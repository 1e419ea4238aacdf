// A container's log: what PID 1 writes to stdout and stderr, one JSON object per line as
// Docker's json-file driver writes it, so the streams stay apart and every line has its time:
//   {"log":"hello\n","stream":"stdout","time":"2026-11-27T21:00:00.123456789Z"}
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::engine {

class LogSink {
public:
    static Result<LogSink> open(const std::string& path);
    LogSink(LogSink&&) noexcept = default;
    // Attached runs also show the output: raw bytes to these fds (owned by the sink).
    void echo_to(int out_fd, int err_fd);
    // One chunk of output; split into lines, each written as one JSON record.
    void write(std::string_view stream, std::string_view data);
    // A last line without a newline is written too.
    void flush();

private:
    explicit LogSink(UniqueFd fd) : fd_(std::move(fd)) {}
    void write_line(std::string_view stream, std::string_view line);
    UniqueFd fd_;
    UniqueFd echo_out_, echo_err_;
    std::string partial_out_, partial_err_;
};

// Reads both pipes until each reaches end of file, handing everything to `sink`.
void pump_output(int out_fd, int err_fd, LogSink& sink);

struct LogLine {
    std::string stream;  // "stdout" | "stderr"
    std::string time;    // RFC 3339 with nanoseconds
    std::string text;    // with its newline when it had one
};
// Parse one line of the log file; nullopt-like error for a line that is not ours.
Result<LogLine> parse_log_line(std::string_view line);

}  // namespace skiff::engine
