// rtnetlink through libmnl: the few link, address and route operations a bridge network
// needs. Internal to network/.
//
// A socket acts in the network namespace it was created in, whatever namespace the thread
// is in later: open_in() enters the target namespace only for the socket(2) call and comes
// straight back, so the engine's thread never stays elsewhere.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "network/network.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace skiff::network::netlink {

class Socket {
public:
    // In the calling thread's network namespace.
    static Result<Socket> open();
    // In the namespace behind `netns_fd` (an open nsfs file).
    static Result<Socket> open_in(int netns_fd);

    Socket(Socket&& other) noexcept;
    Socket& operator=(Socket&&) = delete;
    Socket(const Socket&) = delete;
    ~Socket();

    // The interface's index, 0 when there is none of that name.
    Result<int> link_index(const std::string& name);
    Status create_bridge(const std::string& name);
    // A veth pair: `name` here, `peer_name` created directly in the namespace of
    // `peer_netns_fd`.
    Status create_veth(const std::string& name, const std::string& peer_name, int peer_netns_fd);
    Status delete_link(int index);
    Status set_up(int index);
    Status set_master(int index, int master_index);
    Status set_mac(int index, const std::array<uint8_t, 6>& mac);
    // ip/prefix on the interface (with its broadcast); an address already there is fine.
    Status add_address(int index, uint32_t ip, int prefix);
    Status add_default_route(uint32_t gateway, int index);
    // Destinations of every IPv4 route (all tables) but default routes: what a new subnet
    // must not overlap.
    Result<std::vector<Subnet>> ipv4_routes();

private:
    explicit Socket(mnl_socket* nl);
    // Send and read until the kernel's ack (or the end of a dump), passing every data message
    // to `on_message`; a netlink error becomes an Error with its errno and `what`.
    Status transact(nlmsghdr* request, const std::string& what, int (*on_message)(const nlmsghdr*, void*) = nullptr,
                    void* data = nullptr);

    mnl_socket* nl_ = nullptr;
    unsigned port_id_ = 0;
    unsigned seq_ = 0;
};

}  // namespace skiff::network::netlink
