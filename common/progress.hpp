// Progress of pulls and pushes: one item per layer, updated from several download threads.
//   terminal: one line per item redrawn in place (ANSI cursor-up/erase), at most ~10 times a
//             second: "a3ed95caeb02: Downloading  12.3MB/45.1MB  8.1MB/s"
//   lines:    no ANSI (a pipe or a dumb terminal): one line per item as it finishes
//             ("a3ed95caeb02: Pull complete") and the plain messages
//   quiet:    nothing
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace skiff {

// Sizes as docker prints them (go-units HumanSizeWithPrecision(size, 3)): decimal units,
// three significant digits: "0B", "999B", "1kB", "4.86MB", "1.23GB".
std::string human_bytes(int64_t bytes, int significant = 3);

class Progress {
public:
    enum class Mode { terminal, lines, quiet };

    Progress(int fd, Mode mode);
    // Terminal mode: draws the last state of every item.
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // quiet -> quiet; a terminal whose TERM is set and not "dumb" -> terminal; else lines.
    static Mode mode_for(int fd, bool quiet);

    // A new item in state "Waiting"; `total` bytes (0 or less when unknown). Returns its id.
    size_t add(std::string label, int64_t total);
    void set_state(size_t id, std::string state);
    // `bytes` more done (may come from any thread).
    void advance(size_t id, int64_t bytes);
    void finish(size_t id, std::string final_state);
    // A line of its own, printed above the items.
    void message(std::string line);

    Mode mode() const { return mode_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Item {
        std::string label;
        std::string state;
        int64_t total = 0;
        int64_t done = 0;
        bool finished = false;
        bool started = false;
        Clock::time_point start;
    };

    std::string item_line(const Item& item, Clock::time_point now) const;
    // Terminal mode: `force` ignores the redraw throttle. Called with mu_ held.
    void redraw(bool force, const std::string& messages = {});
    void write_out(const std::string& text);

    int fd_;
    Mode mode_;
    size_t columns_ = 0;  // terminal width (0: unknown, no truncation)
    std::mutex mu_;
    std::vector<Item> items_;
    size_t drawn_ = 0;    // item lines currently on screen below the messages
    bool dirty_ = false;  // a change not drawn yet (throttled)
    Clock::time_point last_draw_{};
};

}  // namespace skiff
