// The launch handshake's channel (runtime/sync.hpp).
#include <catch2/catch.hpp>

#include <thread>

#include "runtime/sync.hpp"

using skiff::runtime::SyncChannel;
using skiff::runtime::SyncMessage;

TEST_CASE("sync: a packet sent right before the peer closes is received, not taken for EOF", "[runtime][sync]") {
    // The exec process sends kReady and closes its end at once. Linux's non-blocking receive
    // on a SOCK_SEQPACKET socket looks at the queue, then at the peer's shutdown: a send and
    // close between the two reads as EOF with the packet queued (CI saw "short sync packet").
    // Many rounds, the sender on another thread, so the window is hit if it is there.
    int received = 0;
    std::string first_failure;
    for (int round = 0; round < 20000; ++round) {
        auto pair = SyncChannel::make_pair();
        REQUIRE(pair);
        SyncChannel receiver = std::move(pair->first);
        std::thread sender([end = std::move(pair->second)]() mutable {
            (void)end.send(SyncMessage::kReady, "x");
            end.close();
        });
        auto packet = receiver.expect(SyncMessage::kReady, "sender");
        sender.join();
        if (packet && packet->payload == "x") ++received;
        else if (first_failure.empty()) first_failure = packet ? "payload " + packet->payload : packet.error().message();
    }
    INFO(first_failure);
    CHECK(received == 20000);
}

TEST_CASE("sync: a peer that closes without sending is reported as exited", "[runtime][sync]") {
    auto pair = SyncChannel::make_pair();
    REQUIRE(pair);
    pair->second.close();
    auto packet = pair->first.expect(SyncMessage::kReady, "exec process");
    REQUIRE_FALSE(packet);
    CHECK(packet.error().message() == "exec process exited before ready");
}
