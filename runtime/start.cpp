// `start`: release the process waiting on the exec fifo, then the poststart hooks.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/spin_wait.hpp"
#include "runtime/hooks.hpp"
#include "runtime/runtime.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

Status start_container(const RuntimeOptions& rt, const std::string& id) {
    StateStore store(rt.root);
    SKIFF_TRY(locked, store.lock_and_load(id));
    const ContainerRecord& record = locked.record;
    auto status = locked.status;
    if (status != ContainerStatus::created)
        return fail("cannot start container \"" + id + "\": it is " + status_name(status) + ", not created");

    // Non-blocking open: if the process died we must not wait forever for a writer.
    UniqueFd fifo(::open(store.fifo_of(id).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) return sys_error("open exec fifo of " + id);
    // The process is about to write its byte, then to exec: poll before sleeping
    // (spin_wait.hpp). Either wait below then finds it at once.
    auto fifo_ready = [&] {
        struct pollfd p { fifo.get(), POLLIN, 0 };
        return ::poll(&p, 1, 0) > 0;
    };
    spin_until(fifo_ready);
    for (;;) {
        struct pollfd p { fifo.get(), POLLIN, 0 };
        int r = ::poll(&p, 1, 100);
        if (r < 0 && errno != EINTR) return sys_error("wait on exec fifo");
        if (r > 0) {
            char byte;
            ssize_t n = ::read(fifo.get(), &byte, 1);
            if (n == 1) break;
            if (n < 0 && errno != EAGAIN) return sys_error("read exec fifo");
        }
        if (!process_alive(record.pid, record.pid_start_time))
            return fail("container \"" + id + "\": its process exited before start");
    }
    ::unlink(store.fifo_of(id).c_str());
    // The process keeps its end open (close-on-exec) through the startContainer hooks until
    // execve: end-of-file means the user process runs (or the process died), and only then
    // may poststart hooks run (runtime-spec lifecycle steps 7-9).
    spin_until(fifo_ready);
    for (;;) {
        struct pollfd p { fifo.get(), POLLIN, 0 };
        int r = ::poll(&p, 1, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return sys_error("wait on exec fifo");
        char buf[64];
        ssize_t n = ::read(fifo.get(), buf, sizeof buf);
        if (n == 0) break;
        if (n < 0 && errno != EAGAIN && errno != EINTR) return sys_error("read exec fifo");
    }

    if (auto hooks = store.load_hooks(id); hooks && *hooks)
        run_hooks_warning_on_failure((*hooks)->poststart, "poststart", state_json(record, ContainerStatus::running));
    return ok();
}

}  // namespace skiff::runtime
