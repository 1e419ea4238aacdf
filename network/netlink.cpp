// rtnetlink requests built with libmnl (netlink.hpp).
#include "network/netlink.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "common/fd.hpp"
#include "network/ipam.hpp"

namespace skiff::network::netlink {

namespace {

// Room for any request here: a name, a few attributes and one nested peer.
constexpr size_t kRequestSize = 4096;

nlmsghdr* start_request(char* buf, uint16_t type, uint16_t flags) {
    std::memset(buf, 0, kRequestSize);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    return nlh;
}

ifinfomsg* put_ifinfo(nlmsghdr* nlh, int index) {
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    return ifi;
}

}  // namespace

Socket::Socket(mnl_socket* nl) : nl_(nl), port_id_(mnl_socket_get_portid(nl)), seq_(unsigned(::time(nullptr))) {}

Socket::Socket(Socket&& other) noexcept
    : nl_(std::exchange(other.nl_, nullptr)), port_id_(other.port_id_), seq_(other.seq_) {}

Socket::~Socket() {
    if (nl_) mnl_socket_close(nl_);
}

Result<Socket> Socket::open() {
    mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl) return sys_error("open an rtnetlink socket");
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        auto e = sys_error("bind an rtnetlink socket");
        mnl_socket_close(nl);
        return e;
    }
    return Socket(nl);
}

Result<Socket> Socket::open_in(int netns_fd) {
    UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!original) return sys_error("open /proc/thread-self/ns/net");
    if (::setns(netns_fd, CLONE_NEWNET) != 0) return sys_error("enter the container's network namespace");
    auto socket = open();
    if (::setns(original.get(), CLONE_NEWNET) != 0) {
        // Carrying on in the container's namespace would misconfigure the host: stop here.
        std::perror("skiff: cannot return to the original network namespace");
        std::abort();
    }
    return socket;
}

Status Socket::transact(nlmsghdr* request, const std::string& what, int (*on_message)(const nlmsghdr*, void*),
                        void* data) {
    // Not `flags & NLM_F_DUMP`: NLM_F_EXCL shares a bit with it.
    const bool dump = (request->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP && !(request->nlmsg_flags & NLM_F_CREATE);
    if (!dump) request->nlmsg_flags |= NLM_F_ACK;
    request->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(nl_, request, request->nlmsg_len) < 0) return sys_error(what + ": netlink send");
    std::vector<char> buf(32768);  // the kernel's largest dump message batch
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error(what + ": netlink receive");
        }
        int rc = mnl_cb_run(buf.data(), size_t(n), request->nlmsg_seq, port_id_, on_message, data);
        if (rc == MNL_CB_ERROR) return sys_error(what);
        if (rc == MNL_CB_STOP) return ok();
    }
}

Result<int> Socket::link_index(const std::string& name) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_GETLINK, 0);
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    int index = 0;
    auto on_link = [](const nlmsghdr* msg, void* out) -> int {
        if (msg->nlmsg_type == RTM_NEWLINK)
            *static_cast<int*>(out) = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(msg))->ifi_index;
        return MNL_CB_OK;
    };
    auto st = transact(nlh, "look up interface " + name, on_link, &index);
    if (!st) {
        if (st.error().code == ENODEV) return 0;
        return std::unexpected(st.error());
    }
    return index;
}

Status Socket::create_bridge(const std::string& name) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, linkinfo);
    return transact(nlh, "create bridge " + name);
}

Status Socket::create_veth(const std::string& name, const std::string& peer_name, int peer_netns_fd) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    nlattr* info_data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    // The peer's attributes follow an ifinfomsg of its own, as in a RTM_NEWLINK body.
    auto* peer_ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(nlh));
    std::memset(peer_ifi, 0, sizeof *peer_ifi);
    peer_ifi->ifi_family = AF_UNSPEC;
    nlh->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, uint32_t(peer_netns_fd));
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, info_data);
    mnl_attr_nest_end(nlh, linkinfo);
    return transact(nlh, "create veth pair " + name + "/" + peer_name);
}

Status Socket::delete_link(int index) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_DELLINK, 0);
    put_ifinfo(nlh, index);
    return transact(nlh, "delete interface " + std::to_string(index));
}

Status Socket::set_up(int index) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWLINK, 0);
    ifinfomsg* ifi = put_ifinfo(nlh, index);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    return transact(nlh, "set interface " + std::to_string(index) + " up");
}

Status Socket::set_master(int index, int master_index) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWLINK, 0);
    put_ifinfo(nlh, index);
    mnl_attr_put_u32(nlh, IFLA_MASTER, uint32_t(master_index));
    return transact(nlh, "attach interface " + std::to_string(index) + " to its bridge");
}

Status Socket::set_mac(int index, const std::array<uint8_t, 6>& mac) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWLINK, 0);
    put_ifinfo(nlh, index);
    mnl_attr_put(nlh, IFLA_ADDRESS, mac.size(), mac.data());
    return transact(nlh, "set MAC address " + format_mac(mac));
}

Status Socket::add_address(int index, uint32_t ip, int prefix) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = uint8_t(prefix);
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = unsigned(index);
    uint32_t be_ip = htonl(ip);
    uint32_t be_broadcast = htonl(broadcast_of(Subnet{ip & subnet_mask(prefix), prefix}));
    mnl_attr_put_u32(nlh, IFA_LOCAL, be_ip);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, be_ip);
    mnl_attr_put_u32(nlh, IFA_BROADCAST, be_broadcast);
    auto st = transact(nlh, "add address " + format_ipv4(ip) + "/" + std::to_string(prefix));
    if (!st && st.error().code == EEXIST) return ok();
    return st;
}

Status Socket::add_default_route(uint32_t gateway, int index) {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
    mnl_attr_put_u32(nlh, RTA_OIF, uint32_t(index));
    return transact(nlh, "add default route via " + format_ipv4(gateway));
}

Result<std::vector<Subnet>> Socket::ipv4_routes() {
    char buf[kRequestSize];
    nlmsghdr* nlh = start_request(buf, RTM_GETROUTE, NLM_F_DUMP);
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    std::vector<Subnet> routes;
    auto on_route = [](const nlmsghdr* msg, void* out) -> int {
        if (msg->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
        const auto* r = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(msg));
        if (r->rtm_family != AF_INET || r->rtm_dst_len == 0) return MNL_CB_OK;
        uint32_t dst = 0;
        auto on_attr = [](const nlattr* attr, void* d) -> int {
            if (mnl_attr_get_type(attr) == RTA_DST && mnl_attr_get_payload_len(attr) == 4)
                *static_cast<uint32_t*>(d) = ntohl(mnl_attr_get_u32(attr));
            return MNL_CB_OK;
        };
        mnl_attr_parse(msg, sizeof(rtmsg), on_attr, &dst);
        int prefix = r->rtm_dst_len;
        static_cast<std::vector<Subnet>*>(out)->push_back(Subnet{dst & subnet_mask(prefix), prefix});
        return MNL_CB_OK;
    };
    SKIFF_CHECK(transact(nlh, "list IPv4 routes", on_route, &routes));
    return routes;
}

}  // namespace skiff::network::netlink
