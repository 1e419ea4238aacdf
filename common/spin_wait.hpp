// Waiting for another process that answers within microseconds to a millisecond (the short
// waits of the container's launch handshake) without going to sleep first.
//
// A waiter that blocks lets its CPU go idle, and on a VM without guest halt-polling (this
// one boots with haltpoll.guest_halt_poll_ns=0) waking that CPU again is a trip through the
// hypervisor: a pipe round trip between two processes on two CPUs takes 62 us when each
// side blocks in read() (140 us after a millisecond of idleness) and 3 us when each polls
// (bench/README.md). A `run` hands over between its processes about seven times in a row.
#pragma once

#include <chrono>
#include <functional>

namespace skiff {

// How long the short waits of a launch keep polling before they block as usual: well over
// the ~0.1-0.3 ms their answers take here, short enough to cost nothing that matters when
// the answer is slow (a loaded machine). Waits on real work (the container's set-up, its
// run) do not poll: a spinning waiter there slowed the container it waited for.
inline constexpr std::chrono::microseconds kLaunchSpinBudget{3000};

// Calls `ready` until it returns true (then true) or `budget` has passed (then false, and
// the caller waits the blocking way). Between tries the CPU is offered to anyone else
// runnable (sched_yield), so a spinning waiter never holds up the process it waits for.
bool spin_until(const std::function<bool()>& ready, std::chrono::microseconds budget = kLaunchSpinBudget);

}  // namespace skiff
