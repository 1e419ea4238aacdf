#include "runtime/sync.hpp"

#include "common/fd_passing.hpp"
#include "common/seqpacket.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <vector>

namespace skiff::runtime {

namespace {
struct Header {
    uint32_t type;
    uint32_t length;
};
constexpr size_t kMaxPayload = 1 << 20;
}  // namespace

const char* sync_message_name(SyncMessage m) {
    switch (m) {
        case SyncMessage::kGo: return "go";
        case SyncMessage::kNamespacesReady: return "namespaces-ready";
        case SyncMessage::kHooksDone: return "hooks-done";
        case SyncMessage::kReady: return "ready";
        case SyncMessage::kError: return "error";
        case SyncMessage::kConsoleFd: return "console-fd";
        case SyncMessage::kExecPid: return "exec-pid";
    }
    return "unknown";
}

Result<std::pair<SyncChannel, SyncChannel>> SyncChannel::make_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        return sys_error("socketpair for the launch handshake");
    return std::make_pair(SyncChannel(UniqueFd(fds[0])), SyncChannel(UniqueFd(fds[1])));
}

Status SyncChannel::send(SyncMessage type, const std::string& payload, int fd_to_pass) {
    if (payload.size() > kMaxPayload) return fail("sync payload too large");
    Header h{static_cast<uint32_t>(type), static_cast<uint32_t>(payload.size())};
    std::vector<char> buf(sizeof h + payload.size());
    std::memcpy(buf.data(), &h, sizeof h);
    std::memcpy(buf.data() + sizeof h, payload.data(), payload.size());
    if (auto sent = send_with_fd(fd_.get(), buf.data(), buf.size(), fd_to_pass); !sent)
        return std::unexpected(sent.error().context(std::string("send ") + sync_message_name(type)));
    return ok();
}

Status SyncChannel::send_error(const Error& err) {
    return send(SyncMessage::kError, std::to_string(err.code) + "\n" + err.what);
}

Result<SyncPacket> SyncChannel::receive(std::chrono::microseconds spin) {
    // Peek the packet's real length first so a small message costs a small buffer.
    char probe;
    ssize_t length = -1;
    int error = EAGAIN;
    auto peek = [&](int flags) {
        length = recv_packet(fd_.get(), &probe, 1, MSG_PEEK | MSG_TRUNC | flags);
        error = length < 0 ? errno : 0;
    };
    auto waiting = [&] { return length < 0 && (error == EAGAIN || error == EINTR); };
    // The other side answers within its part of the launch: poll before sleeping (spin_wait.hpp).
    spin_until([&] {
        peek(MSG_DONTWAIT);
        return !waiting();
    }, spin);
    while (waiting()) peek(0);
    if (length < 0) return sys_error(error, "receive from launch handshake");
    if (static_cast<size_t>(length) > sizeof(Header) + kMaxPayload) return fail("sync packet too large");
    std::vector<char> buf(std::max<size_t>(static_cast<size_t>(length), 1));
    SyncPacket packet;
    auto received = receive_with_fd(fd_.get(), buf.data(), buf.size(), packet.fd);
    if (!received) return std::unexpected(received.error().context("receive from launch handshake"));
    size_t n = *received;
    if (n == 0) return sys_error(EPIPE, "eof");
    if (n < sizeof(Header)) return fail("short sync packet");
    Header h;
    std::memcpy(&h, buf.data(), sizeof h);
    if (h.length != n - sizeof h) return fail("malformed sync packet");
    packet.type = static_cast<SyncMessage>(h.type);
    packet.payload.assign(buf.data() + sizeof h, h.length);
    return packet;
}

Result<SyncPacket> SyncChannel::expect(SyncMessage expected, const char* peer, std::chrono::microseconds spin) {
    auto packet = receive(spin);
    if (!packet) {
        if (packet.error().code == EPIPE && packet.error().what == "eof")
            return fail(std::string(peer) + " exited before " + sync_message_name(expected));
        return std::unexpected(packet.error());
    }
    if (packet->type == SyncMessage::kError) {
        auto nl = packet->payload.find('\n');
        int code = 0;
        std::string what = packet->payload;
        if (nl != std::string::npos) {
            code = std::atoi(packet->payload.substr(0, nl).c_str());
            what = packet->payload.substr(nl + 1);
        }
        return std::unexpected(Error{code, what});
    }
    if (packet->type != expected)
        return fail(std::string("launch handshake: expected ") + sync_message_name(expected) +
                    ", got " + sync_message_name(packet->type));
    return packet;
}

}  // namespace skiff::runtime
