#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/progress.hpp"

using namespace skiff;

namespace {

// An in-memory file standing in for the terminal or pipe Progress writes to.
class Capture {
public:
    Capture() : fd_(::memfd_create("progress-test", MFD_CLOEXEC)) { REQUIRE(fd_ >= 0); }
    ~Capture() { ::close(fd_); }
    int fd() const { return fd_; }
    std::string text() const {
        std::string out;
        char buf[4096];
        off_t off = 0;
        for (;;) {
            ssize_t n = ::pread(fd_, buf, sizeof buf, off);
            if (n <= 0) break;
            out.append(buf, static_cast<size_t>(n));
            off += n;
        }
        return out;
    }

private:
    int fd_;
};

// The text after the last "erase below" sequence: what a terminal shows at the end.
std::string last_frame(const std::string& s) {
    size_t k = s.rfind("\x1b[J");
    return k == std::string::npos ? s : s.substr(k + 3);
}

}  // namespace

TEST_CASE("human_bytes matches docker's sizes", "[progress]") {
    CHECK(human_bytes(0) == "0B");
    CHECK(human_bytes(1) == "1B");
    CHECK(human_bytes(999) == "999B");
    CHECK(human_bytes(1000) == "1kB");
    CHECK(human_bytes(1500) == "1.5kB");
    CHECK(human_bytes(773000) == "773kB");
    CHECK(human_bytes(4863488) == "4.86MB");
    CHECK(human_bytes(77800000) == "77.8MB");
    CHECK(human_bytes(1234567890) == "1.23GB");
    CHECK(human_bytes(1000000000000) == "1TB");
}

TEST_CASE("lines mode prints messages and finished items, no ANSI", "[progress]") {
    Capture cap;
    {
        Progress p(cap.fd(), Progress::Mode::lines);
        p.message("latest: Pulling from library/alpine");
        size_t a = p.add("a3ed95caeb02", 4863488);
        size_t b = p.add("0f4ea09bf1f6", 100);
        p.set_state(a, "Downloading");
        p.advance(a, 4863488);
        p.finish(b, "Already exists");
        p.finish(a, "Pull complete");
        p.message("Status: Downloaded newer image for alpine:latest");
    }
    CHECK(cap.text() ==
          "latest: Pulling from library/alpine\n"
          "0f4ea09bf1f6: Already exists\n"
          "a3ed95caeb02: Pull complete\n"
          "Status: Downloaded newer image for alpine:latest\n");
}

TEST_CASE("quiet mode prints nothing", "[progress]") {
    Capture cap;
    {
        Progress p(cap.fd(), Progress::Mode::quiet);
        size_t a = p.add("a3ed95caeb02", 10);
        p.set_state(a, "Downloading");
        p.advance(a, 5);
        p.finish(a, "Pull complete");
        p.message("Digest: sha256:abc");
    }
    CHECK(cap.text().empty());
}

TEST_CASE("terminal mode redraws items in place and ends with their final states", "[progress]") {
    Capture cap;
    {
        Progress p(cap.fd(), Progress::Mode::terminal);
        p.message("latest: Pulling from library/alpine");
        size_t a = p.add("a3ed95caeb02", 4863488);
        size_t b = p.add("0f4ea09bf1f6", 1000);
        p.set_state(a, "Downloading");
        p.advance(a, 1000000);
        p.finish(b, "Already exists");
        p.message("a line between");
        p.finish(a, "Pull complete");
    }
    std::string out = cap.text();
    CHECK(out.find("\x1b[") != std::string::npos);
    CHECK(out.find("a3ed95caeb02") != std::string::npos);
    // Messages stay above the items; the final frame shows every item finished.
    CHECK(out.find("latest: Pulling from library/alpine\n") != std::string::npos);
    CHECK(out.find("a line between\n") != std::string::npos);
    CHECK(last_frame(out) == "a3ed95caeb02: Pull complete\n0f4ea09bf1f6: Already exists\n");
}

TEST_CASE("terminal mode shows bytes done of total while downloading", "[progress]") {
    Capture cap;
    Progress p(cap.fd(), Progress::Mode::terminal);
    size_t a = p.add("a3ed95caeb02", 45100000);
    p.set_state(a, "Downloading");
    p.advance(a, 12300000);
    p.message("redraw now");  // a message forces a redraw past the throttle
    CHECK(last_frame(cap.text()) == "redraw now\na3ed95caeb02: Downloading  12.3MB/45.1MB\n");
}

TEST_CASE("progress takes updates from several threads", "[progress]") {
    Capture cap;
    {
        Progress p(cap.fd(), Progress::Mode::terminal);
        std::vector<size_t> ids;
        for (int i = 0; i < 4; ++i) ids.push_back(p.add("layer" + std::to_string(i), 100000));
        std::vector<std::thread> threads;
        for (size_t id : ids) {
            threads.emplace_back([&p, id] {
                p.set_state(id, "Downloading");
                for (int k = 0; k < 1000; ++k) p.advance(id, 100);
                p.finish(id, "Pull complete");
            });
        }
        for (auto& t : threads) t.join();
    }
    CHECK(last_frame(cap.text()) ==
          "layer0: Pull complete\nlayer1: Pull complete\nlayer2: Pull complete\nlayer3: Pull complete\n");
}

TEST_CASE("mode_for chooses by quiet flag and terminal", "[progress]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    CHECK(Progress::mode_for(fds[1], true) == Progress::Mode::quiet);
    CHECK(Progress::mode_for(fds[1], false) == Progress::Mode::lines);
    ::close(fds[0]);
    ::close(fds[1]);
}
