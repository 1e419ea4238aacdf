#include "common/spin_wait.hpp"

#include <sched.h>

namespace skiff {

bool spin_until(const std::function<bool()>& ready, std::chrono::microseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    for (;;) {
        if (ready()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ::sched_yield();
    }
}

}  // namespace skiff
