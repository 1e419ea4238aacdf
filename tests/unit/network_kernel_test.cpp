// network/ against the kernel, as root: namespaces, bridges, veths, the nftables table and
// pasta, with names of its own (table skiff_unit_<pid>, bridge skut<pid>, subnets
// 10.212.<n>.0/24 and 10.213.<n>.0/24) so it never meets a user's networks, nor another run
// of itself. Everything made is removed by a guard, assertions or not.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.hpp"
#include "network/firewall.hpp"
#include "network/loopback_redirect.hpp"
#include "network/netlink.hpp"
#include "network/network.hpp"

namespace net = skiff::network;

namespace {

// A CreateNetworkRequest from its leading fields.
net::CreateNetworkRequest request(std::string name, std::string subnet = "", std::string gateway = "",
                                  bool internal = false, std::map<std::string, std::string> labels = {}) {
    net::CreateNetworkRequest r;
    r.name = std::move(name);
    r.subnet = std::move(subnet);
    r.gateway = std::move(gateway);
    r.internal = internal;
    r.labels = std::move(labels);
    return r;
}

// Per run, so two runs at once (two build directories) stay apart.
const std::string kTable = "skiff_unit_" + std::to_string(::getpid());
const std::string kBridge = "skut" + std::to_string(::getpid() % 100000);
const int kNet = int(::getpid() % 200) + 20;
const std::string kDefaultPrefix = "10.212." + std::to_string(kNet) + ".";
const std::string kUserPrefix = "10.213." + std::to_string(kNet) + ".";

std::string random_id() {
    unsigned char raw[32];
    REQUIRE(::getrandom(raw, sizeof raw, 0) == sizeof raw);
    std::string id;
    for (unsigned char c : raw) {
        id.push_back("0123456789abcdef"[c >> 4]);
        id.push_back("0123456789abcdef"[c & 0xf]);
    }
    return id;
}

bool link_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

void delete_link(const std::string& name) {
    auto nl = net::netlink::Socket::open();
    if (!nl) return;
    auto index = nl->link_index(name);
    if (index && *index > 0) (void)nl->delete_link(*index);
}

bool table_exists() {
    auto out = net::nft_run("list tables");
    return out && out->find("inet " + kTable + "\n") != std::string::npos;
}

// A forked child, killed and reaped when the test is done with it.
struct Child {
    pid_t pid = -1;
    Child() = default;
    Child(Child&& o) noexcept : pid(std::exchange(o.pid, -1)) {}
    ~Child() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

bool enter(const std::string& netns) {
    if (netns.empty()) return true;
    int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    return fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
}

// A TCP server in `netns` answering "pong" to every connection.
Child serve_in(const std::string& netns, uint16_t port) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    Child child;
    child.pid = ::fork();
    REQUIRE(child.pid >= 0);
    if (child.pid == 0) {
        ::close(ready[0]);
        if (!enter(netns)) ::_exit(2);
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(s, 16) != 0) ::_exit(3);
        (void)!::write(ready[1], "r", 1);
        for (;;) {
            int c = ::accept(s, nullptr, nullptr);
            if (c < 0) continue;
            (void)!::write(c, "pong", 4);
            ::close(c);
        }
    }
    ::close(ready[1]);
    char byte = 0;
    pollfd pfd{ready[0], POLLIN, 0};
    REQUIRE(::poll(&pfd, 1, 5000) == 1);
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    return child;
}

// What a TCP connection from `netns` ("" = the host) to ip:port reads, "" on failure; in a
// child, so the test's own thread never leaves its namespace and nothing hangs.
std::string fetch(const std::string& netns, const std::string& ip, uint16_t port) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    Child child;
    child.pid = ::fork();
    REQUIRE(child.pid >= 0);
    if (child.pid == 0) {
        ::close(out[0]);
        if (!enter(netns)) ::_exit(2);
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval tv{3, 0};
        ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
        if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(3);
        char buf[16];
        ssize_t n = ::read(s, buf, sizeof buf);
        if (n > 0) (void)!::write(out[1], buf, size_t(n));
        ::_exit(0);
    }
    ::close(out[1]);
    std::string got;
    pollfd pfd{out[0], POLLIN, 0};
    char buf[16];
    while (::poll(&pfd, 1, 6000) == 1) {
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, size_t(n));
    }
    ::close(out[0]);
    return got;
}

// "LOCAL_IP -> PEER_IP:PEER_PORT" of a TCP socket of this process connected to ip:port.
std::string socket_names_after_connect(const std::string& ip, uint16_t port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    std::string out;
    if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        sockaddr_in local{}, peer{};
        socklen_t local_len = sizeof local, peer_len = sizeof peer;
        ::getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_len);
        ::getpeername(s, reinterpret_cast<sockaddr*>(&peer), &peer_len);
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        out = std::string(::inet_ntop(AF_INET, &local.sin_addr, a, sizeof a)) + " -> " +
              ::inet_ntop(AF_INET, &peer.sin_addr, b, sizeof b) + ":" + std::to_string(ntohs(peer.sin_port));
    }
    ::close(s);
    return out;
}

struct Sandbox {
    std::string tmp;
    net::NetworkPaths paths;
    std::vector<std::string> ids, netns, links;
    Sandbox() {
        char tmpl[] = "/tmp/skiff-netk-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        tmp = tmpl;
        paths.dir = tmp + "/net";
        paths.runroot = tmp + "/run";
        paths.table = kTable;
        paths.default_bridge = kBridge;
        paths.default_subnet = kDefaultPrefix + "0/24";
        links.push_back(kBridge);
    }
    ~Sandbox() {
        net::Networks networks(paths);
        for (const auto& id : ids) {
            (void)networks.disconnect_all(id);
            for (int i = 0; i < 3; ++i) links.push_back("sv" + id.substr(0, 10) + char('0' + i));
        }
        if (auto all = networks.list())
            for (const auto& n : *all) {
                if (!n.is_default) (void)networks.remove(n.name);
                links.push_back(n.interface);
            }
        for (const auto& l : links) delete_link(l);
        (void)net::nft_run("table inet " + kTable + " {}\ndelete table inet " + kTable);
        (void)net::sync_loopback_redirects({}, kTable);
        for (const auto& ns : netns) (void)net::remove_netns(ns);
        (void)skiff::remove_tree(tmp);
    }
    std::string new_id() {
        ids.push_back(random_id());
        return ids.back();
    }
    std::string new_netns(const std::string& id) {
        auto path = net::create_netns(paths, id);
        INFO((path ? "" : path.error().message()));
        REQUIRE(path);
        netns.push_back(*path);
        return *path;
    }
};

bool root_or_warn() {
    if (::geteuid() == 0) return true;
    WARN("skipped: bridges, veths and nftables need root");
    return false;
}

}  // namespace

TEST_CASE("network namespaces: created with loopback up, removed", "[network][root]") {
    if (!root_or_warn()) return;
    Sandbox sb;
    std::string id = sb.new_id();
    auto ns = sb.new_netns(id);
    CHECK(ns == sb.paths.runroot + "/netns/" + id);
    auto again = net::create_netns(sb.paths, id);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == EEXIST);
    // Loopback answers inside: a server and a client on 127.0.0.1 there.
    Child server = serve_in(ns, 7070);
    CHECK(fetch(ns, "127.0.0.1", 7070) == "pong");
    // The test's own namespace never changed.
    CHECK(fetch("", "127.0.0.1", 7070) != "pong");
    REQUIRE(net::remove_netns(ns));
    CHECK_FALSE(skiff::path_exists(ns));
    CHECK(net::remove_netns(ns));  // missing is fine
}

// A sysctl as seen from inside the namespace at `ns_path` (read on a thread that joins it).
std::string sysctl_in(const std::string& ns_path, const std::string& file) {
    std::string value = "unread";
    std::thread reader([&] {
        skiff::UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return;
        if (auto text = skiff::read_file_limited(file, 256)) value = *text;
    });
    reader.join();
    return value;
}

TEST_CASE("network namespaces: sysctls written inside only; a bad key refused, nothing left", "[network][root]") {
    if (!root_or_warn()) return;
    Sandbox sb;
    const std::string port_start = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
    auto host_before = skiff::read_file_limited(port_start, 64);
    REQUIRE(host_before);
    std::string id = sb.new_id();
    auto ns = net::create_netns(sb.paths, id, {{"net.ipv4.ip_unprivileged_port_start", "0"},
                                               {"net.ipv4.ping_group_range", "0 2147483647"}});
    REQUIRE(ns);
    sb.netns.push_back(*ns);
    CHECK(sysctl_in(*ns, port_start) == "0\n");
    CHECK(sysctl_in(*ns, "/proc/sys/net/ipv4/ping_group_range") == "0\t2147483647\n");
    auto host_after = skiff::read_file_limited(port_start, 64);
    REQUIRE(host_after);
    CHECK(*host_after == *host_before);  // the host's is untouched

    std::string bad = sb.new_id();
    auto refused = net::create_netns(sb.paths, bad, {{"kernel.hostname", "x"}});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().what.find("invalid key") != std::string::npos);
    CHECK_FALSE(skiff::path_exists(sb.paths.runroot + "/netns/" + bad));
}

TEST_CASE("bridge networks: connect, publish, isolate, disconnect", "[network][root]") {
    if (!root_or_warn()) return;
    Sandbox sb;
    net::Networks networks(sb.paths);

    auto created = networks.create(request("unitnet", kUserPrefix + "0/24"));
    INFO((created ? "" : created.error().message()));
    REQUIRE(created);
    const std::string bridge = created->interface;
    auto automatic = networks.create(request("unitauto"));
    REQUIRE(automatic);
    CHECK(automatic->subnet.starts_with("10.89."));
    CHECK(automatic->subnet.ends_with(".0/24"));
    REQUIRE(networks.remove("unitauto"));

    const std::string id1 = sb.new_id(), id2 = sb.new_id(), id3 = sb.new_id();
    const std::string ns1 = sb.new_netns(id1), ns2 = sb.new_netns(id2);

    auto ep1 = networks.connect({id1, "c1", {}, "unitnet", ns1, "", {{"", 0, 8080, "tcp"}}});
    INFO((ep1 ? "" : ep1.error().message()));
    REQUIRE(ep1);
    CHECK(ep1->ip == kUserPrefix + "2");
    CHECK(ep1->interface == "eth0");
    CHECK(ep1->host_interface == "sv" + id1.substr(0, 10) + "0");
    char mac[18];
    std::snprintf(mac, sizeof mac, "02:42:0a:d5:%02x:02", kNet);
    CHECK(ep1->mac == mac);
    CHECK(ep1->gateway == kUserPrefix + "1");
    CHECK(ep1->prefix == 24);
    REQUIRE(ep1->ports.size() == 1);
    const uint16_t host_port = ep1->ports[0].host_port;
    CHECK(host_port != 0);
    CHECK(link_exists(ep1->host_interface));
    CHECK(link_exists(bridge));

    auto ep2 = networks.connect({id2, "c2", {}, "unitnet", ns2, kUserPrefix + "50", {}});
    INFO((ep2 ? "" : ep2.error().message()));
    REQUIRE(ep2);
    CHECK(ep2->ip == kUserPrefix + "50");
    auto dup = networks.connect({id3, "c3", {}, "unitnet", ns2, kUserPrefix + "50", {}});
    REQUIRE_FALSE(dup);
    CHECK(dup.error().what == "Address already in use");

    // Container to container across the bridge, and the gateway from inside.
    Child server = serve_in(ns1, 8080);
    CHECK(fetch(ns2, kUserPrefix + "2", 8080) == "pong");
    // The published port: DNAT in the table, reached from the host through 127.0.0.1 and
    // through the host's own address on the bridge.
    auto table = net::nft_run("list table inet " + kTable);
    REQUIRE(table);
    INFO(*table);
    CHECK_THAT(*table, Catch::Contains("tcp dport " + std::to_string(host_port) + " dnat ip to " + kUserPrefix + "2:8080"));
    CHECK_THAT(*table, Catch::Contains("masquerade"));
    CHECK(fetch("", "127.0.0.1", host_port) == "pong");
    CHECK(fetch("", kUserPrefix + "1", host_port) == "pong");
    CHECK(fetch(ns2, kUserPrefix + "1", host_port) == "pong");  // hairpin through the host
    // 127.0.0.1 goes through the connect4 program, not NAT: one redirect loaded, and the
    // socket's names are those a NATed one would have.
    CHECK(net::loopback_redirects_loaded(kTable).value_or(-2) == 1);
    CHECK(socket_names_after_connect("127.0.0.1", host_port) == "127.0.0.1 -> 127.0.0.1:" + std::to_string(host_port));
    // Another namespace's 127.0.0.1 is its own: nothing listens there, nothing redirects.
    CHECK(fetch(ns2, "127.0.0.1", host_port) == "");

    SECTION("a host port held by another endpoint or a process is refused, nothing changes") {
        auto before = net::nft_run("list table inet " + kTable);
        auto clash = networks.connect({id3, "c3", {}, "unitnet", ns2, "", {{"", host_port, 80, "tcp"}}});
        REQUIRE_FALSE(clash);
        CHECK(clash.error().what ==
              "Bind for 0.0.0.0:" + std::to_string(host_port) + " failed: port is already allocated");
        // A listening process on the host.
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(s, 1) == 0);
        socklen_t len = sizeof addr;
        REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        const uint16_t busy = ntohs(addr.sin_port);
        auto held = networks.connect({id3, "c3", {}, "unitnet", ns2, "", {{"", busy, 80, "tcp"}}});
        ::close(s);
        REQUIRE_FALSE(held);
        CHECK(held.error().what == "Bind for 0.0.0.0:" + std::to_string(busy) + " failed: port is already allocated");
        // A kernel step failing (no namespace there): the lease goes too.
        auto no_ns = networks.connect({id3, "c3", {}, "unitnet", sb.tmp + "/not-a-netns", "", {}});
        REQUIRE_FALSE(no_ns);
        CHECK(networks.endpoints_of(id3)->empty());
        CHECK_FALSE(link_exists("sv" + id3.substr(0, 10) + "0"));
        CHECK(net::nft_run("list table inet " + kTable).value_or("") == before.value_or("x"));
    }

    SECTION("a second network: eth1, isolation, disconnect") {
        auto ep = networks.connect({id2, "c2", {}, "bridge", ns2, "", {}});
        INFO((ep ? "" : ep.error().message()));
        REQUIRE(ep);
        CHECK(ep->interface == "eth1");
        CHECK(ep->host_interface == "sv" + id2.substr(0, 10) + "1");
        CHECK(ep->ip == kDefaultPrefix + "2");
        CHECK(link_exists(kBridge));
        auto again = networks.connect({id2, "c2", {}, "bridge", ns2, "", {}});
        REQUIRE_FALSE(again);
        CHECK_THAT(again.error().what, Catch::Contains("already exists in network bridge"));
        auto table2 = net::nft_run("list table inet " + kTable);
        REQUIRE(table2);
        CHECK_THAT(*table2, Catch::Contains("iifname \"" + kBridge + "\" oifname \"" + bridge + "\" drop"));
        CHECK(networks.endpoints_of(id2)->size() == 2);
        CHECK(networks.endpoints_on("bridge")->size() == 1);
        REQUIRE(networks.disconnect(id2, "bridge"));
        CHECK_FALSE(link_exists(ep->host_interface));
        CHECK(networks.endpoints_of(id2)->size() == 1);
        auto not_there = networks.disconnect(id2, "bridge");
        REQUIRE_FALSE(not_there);
        CHECK(not_there.error().code == ENOENT);
    }

    SECTION("an endpoint whose namespace is gone is collected") {
        REQUIRE(net::remove_netns(ns2));
        // The kernel tears the namespace (and the peer with it) down asynchronously; whether
        // or not it is done, collecting deletes the host side.
        auto collected = networks.collect_stale();
        REQUIRE(collected);
        CHECK(*collected == 1);
        CHECK_FALSE(link_exists(ep2->host_interface));
        CHECK(networks.endpoints_of(id2)->empty());
        CHECK(networks.endpoints_on("unitnet")->size() == 1);
    }

    // The network is in use until its endpoints go; then everything goes.
    auto busy = networks.remove("unitnet");
    REQUIRE_FALSE(busy);
    CHECK(busy.error().what == "error while removing network: network unitnet has active endpoints");
    REQUIRE(networks.disconnect_all(id1));
    REQUIRE(networks.disconnect_all(id2));
    REQUIRE(networks.disconnect_all(id2));  // nothing left: fine
    CHECK_FALSE(link_exists(ep1->host_interface));
    CHECK_FALSE(link_exists(ep2->host_interface));
    CHECK(net::loopback_redirects_loaded(kTable).value_or(-2) == -1);  // the programs are detached
    // The bridges stay, and with them their rules; the published port is gone.
    CHECK_THAT(net::nft_run("list table inet " + kTable).value_or(""),
               !Catch::Contains("dport " + std::to_string(host_port)));
    REQUIRE(networks.remove("unitnet"));
    CHECK_FALSE(link_exists(bridge));
    CHECK(networks.endpoints_of(id1)->empty());
    delete_link(kBridge);  // the default bridge stays by design (as docker0)
    CHECK_FALSE(link_exists(kBridge));
    // No bridge left: the table goes; deleting an absent table is fine too (idempotent sync).
    REQUIRE(networks.sync_firewall());
    CHECK_FALSE(table_exists());
    REQUIRE(networks.sync_firewall());
    CHECK_FALSE(table_exists());
    REQUIRE(net::remove_netns(ns1));
    REQUIRE(net::remove_netns(ns2));
}

TEST_CASE("pasta forwards a published port into a namespace", "[network][root]") {
    if (!root_or_warn()) return;
    if (::access("/usr/bin/pasta", X_OK) != 0) {
        WARN("skipped: pasta (passt) is not installed");
        return;
    }
    Sandbox sb;
    const std::string id = sb.new_id();
    const std::string ns = sb.new_netns(id);
    auto ports = net::resolve_host_ports({{"127.0.0.1", 0, 8080, "tcp"}});
    REQUIRE(ports);
    REQUIRE((*ports)[0].host_port != 0);
    CHECK_FALSE(net::start_pasta(ns, {{"", 0, 80, "tcp"}}));  // undecided port refused
    auto pid = net::start_pasta(ns, *ports);
    INFO((pid ? "" : pid.error().message()));
    REQUIRE(pid);
    struct Stop {
        pid_t pid;
        ~Stop() { ::kill(pid, SIGKILL); }
    } stop{*pid};
    CHECK(::kill(*pid, 0) == 0);
    Child server = serve_in(ns, 8080);
    CHECK(fetch("", "127.0.0.1", (*ports)[0].host_port) == "pong");
    // pasta ends by itself when the namespace file goes.
    REQUIRE(net::remove_netns(ns));
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i) {
        gone = ::kill(*pid, 0) != 0;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(gone);
}
