#include "common/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace skiff {

std::string human_bytes(int64_t bytes, int significant) {
    static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    double size = static_cast<double>(bytes);
    size_t unit = 0;
    while (size >= 1000.0 && unit + 1 < std::size(kUnits)) {
        size /= 1000.0;
        ++unit;
    }
    // C's %.Ng is Go's: N significant digits, trailing zeros dropped.
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g%s", significant, size, kUnits[unit]);
    return buf;
}

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
}  // namespace

Progress::Progress(int fd, Mode mode) : fd_(fd), mode_(mode) {
    if (mode_ == Mode::terminal) {
        // Lines wider than the terminal wrap and break the cursor-up arithmetic.
        struct winsize ws {};
        if (::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) columns_ = ws.ws_col;
    }
}

Progress::~Progress() {
    if (mode_ != Mode::terminal) return;
    std::lock_guard lock(mu_);
    if (dirty_) redraw(true);
}

Progress::Mode Progress::mode_for(int fd, bool quiet) {
    if (quiet) return Mode::quiet;
    const char* term = std::getenv("TERM");
    if (::isatty(fd) && term && *term && std::strcmp(term, "dumb") != 0) return Mode::terminal;
    return Mode::lines;
}

size_t Progress::add(std::string label, int64_t total) {
    std::lock_guard lock(mu_);
    Item item;
    item.label = std::move(label);
    item.state = "Waiting";
    item.total = total;
    items_.push_back(std::move(item));
    if (mode_ == Mode::terminal) {
        dirty_ = true;
        redraw(false);
    }
    return items_.size() - 1;
}

void Progress::set_state(size_t id, std::string state) {
    std::lock_guard lock(mu_);
    if (id >= items_.size()) return;
    Item& item = items_[id];
    item.state = std::move(state);
    if (mode_ == Mode::terminal) {
        dirty_ = true;
        redraw(false);
    }
}

void Progress::advance(size_t id, int64_t bytes) {
    std::lock_guard lock(mu_);
    if (id >= items_.size()) return;
    Item& item = items_[id];
    if (!item.started) {
        item.started = true;
        item.start = Clock::now();
    }
    item.done += bytes;
    if (mode_ == Mode::terminal) {
        dirty_ = true;
        redraw(false);
    }
}

void Progress::finish(size_t id, std::string final_state) {
    std::lock_guard lock(mu_);
    if (id >= items_.size()) return;
    Item& item = items_[id];
    item.state = std::move(final_state);
    item.finished = true;
    if (mode_ == Mode::lines) write_out(item.label + ": " + item.state + "\n");
    if (mode_ == Mode::terminal) {
        dirty_ = true;
        redraw(true);
    }
}

void Progress::message(std::string line) {
    std::lock_guard lock(mu_);
    if (mode_ == Mode::quiet) return;
    if (mode_ == Mode::lines) {
        write_out(line + "\n");
        return;
    }
    redraw(true, line + "\n");
}

std::string Progress::item_line(const Item& item, Clock::time_point now) const {
    std::string line = item.label + ": " + item.state;
    if (!item.finished && item.started) {
        line += "  " + human_bytes(item.done);
        if (item.total > 0) line += "/" + human_bytes(item.total);
        double seconds = std::chrono::duration<double>(now - item.start).count();
        if (seconds >= 0.2)
            line += "  " + human_bytes(static_cast<int64_t>(static_cast<double>(item.done) / seconds)) + "/s";
    }
    if (columns_ > 1 && line.size() >= columns_) line.resize(columns_ - 1);
    return line;
}

void Progress::redraw(bool force, const std::string& messages) {
    auto now = Clock::now();
    if (!force && now - last_draw_ < kRedrawInterval) return;
    std::string out;
    // Back to the first item line, erase everything below, then messages and items afresh.
    if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "A";
    out += "\r\x1b[J";
    out += messages;
    for (const auto& item : items_) out += item_line(item, now) + "\n";
    drawn_ = items_.size();
    dirty_ = false;
    last_draw_ = now;
    write_out(out);
}

void Progress::write_out(const std::string& text) {
    // One write per update keeps concurrent output from other writers out of a redraw.
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // progress is best effort: a closed terminal must not fail a pull
        off += static_cast<size_t>(n);
    }
}

}  // namespace skiff
