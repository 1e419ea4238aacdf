// The launch handshake between the runtime (parent) and the container's first process
// (child), over one SOCK_SEQPACKET socketpair. Each message is one packet: a fixed header,
// an optional text payload, and optionally one fd (SCM_RIGHTS). A receiver names the one
// message it expects; anything else is a protocol error, and an Error message from the other
// side is turned back into that side's Error (errno + what it attempted).
//
//   parent (skiff-runtime create/run/exec)          child (becomes the container process)
//   --------------------------------------          ------------------------------------------
//   1. create cgroup, socketpair, exec fifo
//   2. clone3(ns flags | CLONE_INTO_CGROUP)  ---->  (born in its namespaces and cgroup;
//                                                     waits for kGo)
//   3. write uid_map/gid_map (new user ns);
//      place in cgroup if clone3 could not
//                                    kGo  ---->     4. setuid(0) in the user ns; setns() the
//                                                      namespaces joined by path; unshare the
//                                                      cgroup ns; prctl(DUMPABLE, 0)
//                                        <----  kNamespacesReady
//   5. prestart + createRuntime hooks
//      (they see /proc/<pid>/ns/*)
//                    kHooksDone(state JSON)  ---->  6. rootfs: propagation, bind rootfs, mounts,
//                                                      devices; createContainer hooks;
//                                                      pivot_root; masked/readonly paths;
//                                                      hostname, sysctl, console (master fd
//                                                      sent to --console-socket), rlimits;
//                                                      look up args[0]; user, caps, NNP,
//                                                      seccomp; close stray fds
//                                        <----  kReady
//   7. record state (created); pid-file;
//      `create` exits here                          8. open exec fifo for writing: blocks
//   ...                                                until `start` opens it for reading
//   `start`: read the fifo  ------------------->    9. startContainer hooks; execve(args)
//   10. poststart hooks; state is running
//
// Any child step that fails sends kError (errno + what) instead of the next message and
// exits; the parent reports it as one line and removes everything it made. `exec` uses the
// same messages without the hooks (kNamespacesReady is answered directly with kHooksDone).
#pragma once

#include <cstdint>
#include <string>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "common/spin_wait.hpp"

namespace skiff::runtime {

enum class SyncMessage : uint32_t {
    kGo = 1,               // parent -> child: maps written, cgroup placed
    kNamespacesReady = 2,  // child -> parent: every namespace joined or made
    kHooksDone = 3,        // parent -> child: createRuntime hooks ran; payload: state JSON
    kReady = 4,            // child -> parent: set up, waiting on the exec fifo
    kError = 5,            // either way: payload "errno\nwhat"
    kConsoleFd = 6,        // child -> parent (run/exec with a terminal): the pty master
    kExecPid = 7,          // exec: payload is the pid of the process inside
};

const char* sync_message_name(SyncMessage m);

struct SyncPacket {
    SyncMessage type{};
    std::string payload;
    UniqueFd fd;  // when the message carried one
};

class SyncChannel {
public:
    SyncChannel() = default;
    explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}

    // A connected SOCK_SEQPACKET pair, both ends close-on-exec.
    static Result<std::pair<SyncChannel, SyncChannel>> make_pair();

    Status send(SyncMessage type, const std::string& payload = {}, int fd_to_pass = -1);
    Status send_error(const Error& err);
    // Wait for `expected`. An kError packet becomes that Error; EOF becomes
    // "<peer> exited before <expected>".
    // `spin`: how long to poll before sleeping (spin_wait.hpp); for answers that come within
    // ~0.2 ms, not for one that waits on the other side's whole set-up.
    Result<SyncPacket> expect(SyncMessage expected, const char* peer,
                              std::chrono::microseconds spin = kLaunchSpinBudget);

    int fd() const { return fd_.get(); }
    void close() { fd_.reset(); }

private:
    Result<SyncPacket> receive(std::chrono::microseconds spin = kLaunchSpinBudget);
    UniqueFd fd_;
};

}  // namespace skiff::runtime
