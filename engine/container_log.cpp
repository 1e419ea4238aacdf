#include "engine/container_log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <ctime>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/fs.hpp"
#include "monitor/log_record.hpp"

namespace skiff::engine {

Result<LogSink> LogSink::open(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!fd) return sys_error("open log " + path);
    return LogSink(std::move(fd));
}

void LogSink::echo_to(int out_fd, int err_fd) {
    echo_out_ = UniqueFd(out_fd);
    echo_err_ = UniqueFd(err_fd);
}

void LogSink::write_line(std::string_view stream, std::string_view line) {
    // The encoder of skiff-monitor too (monitor/log_record.hpp): attached or detached, one format.
    struct timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    char time[32];
    logfmt::format_rfc3339(now, time);
    std::string text(logfmt::record_capacity(line.size()), '\0');
    text.resize(logfmt::encode_record(text.data(), std::string(stream).c_str(), line.data(), line.size(), time));
    (void)write_all(fd_.get(), text.data(), text.size());
}

void LogSink::write(std::string_view stream, std::string_view data) {
    bool is_err = stream == "stderr";
    const UniqueFd& echo = is_err ? echo_err_ : echo_out_;
    if (echo) (void)write_all(echo.get(), data.data(), data.size());
    std::string& partial = is_err ? partial_err_ : partial_out_;
    partial.append(data);
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
        write_line(stream, std::string_view(partial).substr(start, nl + 1 - start));
    partial.erase(0, start);
    // A line that never ends (a progress bar) still reaches the log in pieces.
    if (partial.size() >= logfmt::kLinePieceBytes) {
        write_line(stream, partial);
        partial.clear();
    }
}

void LogSink::flush() {
    if (!partial_out_.empty()) write_line("stdout", partial_out_);
    if (!partial_err_.empty()) write_line("stderr", partial_err_);
    partial_out_.clear();
    partial_err_.clear();
}

void pump_output(int out_fd, int err_fd, LogSink& sink) {
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    const char* names[2] = {"stdout", "stderr"};
    int open_count = 2;
    char buf[16384];
    while (open_count > 0) {
        int r = ::poll(fds, 2, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                fds[i].fd = -1;  // poll ignores negative fds
                --open_count;
                continue;
            }
            sink.write(names[i], std::string_view(buf, static_cast<size_t>(n)));
        }
    }
    sink.flush();
}

Result<LogLine> parse_log_line(std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("log") || !j["log"].is_string())
        return fail("not a log record");
    LogLine out;
    out.text = j["log"].get<std::string>();
    out.stream = j.value("stream", "stdout");
    out.time = j.value("time", "");
    return out;
}

}  // namespace skiff::engine
