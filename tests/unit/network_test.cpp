// network/: the pure parts (port specs, PORTS text, subnets, IPAM, the nftables ruleset, the
// files). The kernel side is network_kernel_test.cpp.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "network/ipam.hpp"
#include "network/loopback_redirect.hpp"
#include "network/network.hpp"
#include "network/ports.hpp"
#include "network/store.hpp"

namespace net = skiff::network;
using net::PortMapping;

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

std::vector<PortMapping> publish(const std::string& spec) {
    auto r = net::parse_publish(spec);
    INFO(spec << ": " << (r ? "" : r.error().message()));
    REQUIRE(r);
    return *r;
}

std::string publish_error(const std::string& spec) {
    auto r = net::parse_publish(spec);
    INFO(spec);
    REQUIRE_FALSE(r);
    return r.error().message();
}

uint32_t ip(const char* text) { return net::parse_ipv4(text).value(); }
net::Subnet subnet(const char* text) { return net::parse_subnet(text).value(); }

}  // namespace

TEST_CASE("parse_publish: the forms of -p", "[network]") {
    CHECK(publish("80") == std::vector<PortMapping>{{"", 0, 80, "tcp"}});
    CHECK(publish("8080:80") == std::vector<PortMapping>{{"", 8080, 80, "tcp"}});
    CHECK(publish("8080:80/udp") == std::vector<PortMapping>{{"", 8080, 80, "udp"}});
    CHECK(publish("53/udp") == std::vector<PortMapping>{{"", 0, 53, "udp"}});
    CHECK(publish("127.0.0.1:8080:80") == std::vector<PortMapping>{{"127.0.0.1", 8080, 80, "tcp"}});
    CHECK(publish("127.0.0.1::80") == std::vector<PortMapping>{{"127.0.0.1", 0, 80, "tcp"}});
    CHECK(publish("0.0.0.0:8080:80") == std::vector<PortMapping>{{"", 8080, 80, "tcp"}});
    CHECK(publish(":80") == std::vector<PortMapping>{{"", 0, 80, "tcp"}});
}

TEST_CASE("parse_publish: ranges", "[network]") {
    CHECK(publish("8000-8002:80-82") ==
          std::vector<PortMapping>{{"", 8000, 80, "tcp"}, {"", 8001, 81, "tcp"}, {"", 8002, 82, "tcp"}});
    CHECK(publish("80-81/udp") == std::vector<PortMapping>{{"", 0, 80, "udp"}, {"", 0, 81, "udp"}});
    CHECK(publish("10.0.0.1:9000-9001:90-91") ==
          std::vector<PortMapping>{{"10.0.0.1", 9000, 90, "tcp"}, {"10.0.0.1", 9001, 91, "tcp"}});
    // A host range for one container port: any free port of the range.
    CHECK(publish("8000-8010:80") == std::vector<PortMapping>{{"", 8000, 80, "tcp", 8010}});
}

TEST_CASE("parse_publish: errors name the spec", "[network]") {
    CHECK(publish_error("80:abc") == "invalid port specification: \"80:abc\"");
    CHECK(publish_error("") == "invalid port specification: \"\"");
    CHECK(publish_error("0") == "invalid port specification: \"0\"");
    CHECK(publish_error("65536") == "invalid port specification: \"65536\"");
    CHECK(publish_error("80-70") == "invalid port specification: \"80-70\"");
    CHECK(publish_error("8080:") == "invalid port specification: \"8080:\"");
    CHECK_THAT(publish_error("[::1]:80:80"), Catch::Contains("IPv6"));
    CHECK_THAT(publish_error("::1:80:80"), Catch::Contains("IPv6"));
    CHECK_THAT(publish_error("1.2.3:80:80"), Catch::Contains("invalid IP address"));
    CHECK_THAT(publish_error("80/sctp"), Catch::Contains("sctp is not supported"));
    CHECK_THAT(publish_error("80/icmp"), Catch::Contains("invalid protocol"));
    CHECK_THAT(publish_error("8000-8001:80-82"), Catch::Contains("invalid ranges"));
}

TEST_CASE("publish_all: every exposed port to a random host port", "[network]") {
    auto r = net::publish_all({"80/tcp", "53/udp", "8080", "80/tcp", "9000-9001/tcp"});
    REQUIRE(r);
    CHECK(*r == std::vector<PortMapping>{{"", 0, 80, "tcp"},
                                         {"", 0, 53, "udp"},
                                         {"", 0, 8080, "tcp"},
                                         {"", 0, 9000, "tcp"},
                                         {"", 0, 9001, "tcp"}});
    CHECK_FALSE(net::publish_all({"eighty/tcp"}));
    CHECK_FALSE(net::publish_all({"80/sctp"}));
    CHECK(net::publish_all({})->empty());
}

TEST_CASE("format_ports: Docker's PORTS column with ranges folded", "[network]") {
    CHECK(net::format_ports({}) == "");
    CHECK(net::format_ports({{"", 8080, 80, "tcp"}}) == "0.0.0.0:8080->80/tcp");
    CHECK(net::format_ports({{"", 8000, 80, "tcp"}, {"", 8001, 81, "tcp"}, {"", 8002, 82, "tcp"}}) ==
          "0.0.0.0:8000-8002->80-82/tcp");
    // Not consecutive on the host side: not folded.
    CHECK(net::format_ports({{"", 8000, 80, "tcp"}, {"", 9001, 81, "tcp"}}) ==
          "0.0.0.0:8000->80/tcp, 0.0.0.0:9001->81/tcp");
    // Exposed only, address, protocol and order by container port.
    CHECK(net::format_ports({{"", 0, 443, "tcp"},
                             {"127.0.0.1", 5353, 53, "udp"},
                             {"", 0, 80, "tcp"},
                             {"", 0, 81, "tcp"},
                             {"", 8080, 8080, "tcp"}}) ==
          "127.0.0.1:5353->53/udp, 80-81/tcp, 443/tcp, 0.0.0.0:8080->8080/tcp");
    // One container port on two host ports; the same mapping twice shows once.
    CHECK(net::format_ports({{"", 8080, 80, "tcp"}, {"", 8081, 80, "tcp"}, {"", 8080, 80, "tcp"}}) ==
          "0.0.0.0:8080->80/tcp, 0.0.0.0:8081->80/tcp");
    // tcp and udp of the same ports stay apart.
    CHECK(net::format_ports({{"", 5000, 53, "tcp"}, {"", 5000, 53, "udp"}}) ==
          "0.0.0.0:5000->53/tcp, 0.0.0.0:5000->53/udp");
}

TEST_CASE("IPv4 addresses and subnets", "[network]") {
    CHECK(net::parse_ipv4("10.88.0.1").value() == 0x0a580001u);
    CHECK(net::format_ipv4(0x0a580001u) == "10.88.0.1");
    for (const char* bad : {"10.88.0", "10.88.0.256", "10.88.0.1.2", "a.b.c.d", "010.1.1.1", "", "1..2.3"})
        CHECK_FALSE(net::parse_ipv4(bad));

    auto s = net::parse_subnet("10.89.0.0/24");
    REQUIRE(s);
    CHECK(s->address == 0x0a590000u);
    CHECK(s->prefix == 24);
    CHECK(s->text() == "10.89.0.0/24");
    CHECK(s->contains(ip("10.89.0.255")));
    CHECK_FALSE(s->contains(ip("10.89.1.0")));

    auto host_bits = net::parse_subnet("10.89.0.1/24");
    REQUIRE_FALSE(host_bits);
    CHECK_THAT(host_bits.error().message(), Catch::Contains("invalid subnet") && Catch::Contains("10.89.0.0/24"));
    CHECK_FALSE(net::parse_subnet("10.89.0.0"));
    CHECK_FALSE(net::parse_subnet("10.89.0.0/31"));
    CHECK_FALSE(net::parse_subnet("10.0.0.0/7"));
    CHECK_FALSE(net::parse_subnet("10.89.0.0/x"));

    CHECK(subnet("10.88.0.0/16").overlaps(subnet("10.88.5.0/24")));
    CHECK(subnet("10.88.5.0/24").overlaps(subnet("10.88.0.0/16")));
    CHECK_FALSE(subnet("10.88.0.0/16").overlaps(subnet("10.89.0.0/24")));
    CHECK_FALSE(subnet("10.89.0.0/24").overlaps(subnet("10.89.1.0/24")));
    CHECK(subnet("10.89.0.0/24").overlaps(subnet("10.89.0.0/24")));
}

TEST_CASE("IPAM: lowest free address, --ip checked", "[network]") {
    auto s = subnet("10.89.0.0/29");  // hosts .1 .. .6
    uint32_t gw = ip("10.89.0.1");
    CHECK(net::allocate_address(s, gw, {}, std::nullopt).value() == ip("10.89.0.2"));
    CHECK(net::allocate_address(s, gw, {ip("10.89.0.2"), ip("10.89.0.4")}, std::nullopt).value() == ip("10.89.0.3"));
    // A gateway that is not the first host: .1 is free for a container.
    CHECK(net::allocate_address(s, ip("10.89.0.6"), {}, std::nullopt).value() == ip("10.89.0.1"));
    auto full = net::allocate_address(s, gw, {ip("10.89.0.2"), ip("10.89.0.3"), ip("10.89.0.4"), ip("10.89.0.5"), ip("10.89.0.6")},
                                      std::nullopt);
    CHECK_FALSE(full);

    CHECK(net::allocate_address(s, gw, {ip("10.89.0.2")}, ip("10.89.0.5")).value() == ip("10.89.0.5"));
    auto in_use = net::allocate_address(s, gw, {ip("10.89.0.2")}, ip("10.89.0.2"));
    REQUIRE_FALSE(in_use);
    CHECK(in_use.error().what == "Address already in use");
    CHECK(net::allocate_address(s, gw, {}, gw).error().what == "Address already in use");
    CHECK_FALSE(net::allocate_address(s, gw, {}, ip("10.89.0.0")));  // network address
    CHECK_FALSE(net::allocate_address(s, gw, {}, ip("10.89.0.7")));  // broadcast
    CHECK_FALSE(net::allocate_address(s, gw, {}, ip("10.89.1.2")));  // outside
}

TEST_CASE("IPAM: next free /24 for a user network", "[network]") {
    auto pool = subnet("10.89.0.0/16");
    CHECK(net::next_free_subnet(pool, 24, {})->text() == "10.89.0.0/24");
    CHECK(net::next_free_subnet(pool, 24, {subnet("10.89.0.0/24"), subnet("10.89.1.0/24")})->text() == "10.89.2.0/24");
    // A host route inside the pool (10.89.2.128/25) and an unrelated one.
    CHECK(net::next_free_subnet(pool, 24, {subnet("10.89.0.0/23"), subnet("10.89.2.128/25"), subnet("192.168.0.0/16")})
              ->text() == "10.89.3.0/24");
    CHECK_FALSE(net::next_free_subnet(pool, 24, {subnet("10.0.0.0/8")}));
}

TEST_CASE("names, MACs and host interfaces", "[network]") {
    CHECK(net::format_mac(net::mac_for(ip("10.88.0.2"))) == "02:42:0a:58:00:02");
    CHECK(net::host_interface_name("0123456789abcdef", 3).value() == "sv01234567893");
    CHECK(net::host_interface_name("0123456789abcdef", 3)->size() <= 15);
    CHECK_FALSE(net::host_interface_name("0123456789abcdef", 10));
    CHECK_FALSE(net::host_interface_name("short", 0));
    CHECK(net::valid_network_name("my-net_1.x"));
    CHECK_FALSE(net::valid_network_name("-net"));
    CHECK_FALSE(net::valid_network_name("a/b"));
    CHECK_FALSE(net::valid_network_name(""));
    CHECK(net::valid_table_name("skiff_unit"));
    CHECK_FALSE(net::valid_table_name("skiff; flush ruleset"));
    CHECK_FALSE(net::valid_interface_name("a-very-long-interface"));
}

TEST_CASE("port conflicts between endpoints", "[network]") {
    std::vector<PortMapping> taken = {{"", 8080, 80, "tcp"}, {"127.0.0.1", 9090, 90, "tcp"}};
    CHECK(net::port_taken({"", 8080, 81, "tcp"}, taken));
    CHECK(net::port_taken({"127.0.0.1", 8080, 81, "tcp"}, taken));  // every address includes 127.0.0.1
    CHECK_FALSE(net::port_taken({"", 8080, 81, "udp"}, taken));
    CHECK(net::port_taken({"", 9090, 81, "tcp"}, taken));
    CHECK(net::port_taken({"127.0.0.1", 9090, 81, "tcp"}, taken));
    CHECK_FALSE(net::port_taken({"127.0.0.2", 9090, 81, "tcp"}, taken));

    // Resolving against other endpoints needs no privilege: random ports are picked and fixed
    // ones that another endpoint holds are refused with Docker's words.
    auto resolved = net::resolve_ports({{"", 0, 80, "tcp"}, {"", 0, 53, "udp"}}, taken);
    REQUIRE(resolved);
    REQUIRE(resolved->size() == 2);
    CHECK((*resolved)[0].host_port != 0);
    CHECK((*resolved)[0].container_port == 80);
    CHECK((*resolved)[1].protocol == "udp");
    auto clash = net::resolve_ports({{"", 8080, 80, "tcp"}}, taken);
    REQUIRE_FALSE(clash);
    CHECK(clash.error().what == "Bind for 0.0.0.0:8080 failed: port is already allocated");
    auto twice = net::resolve_ports({{"", 8080, 80, "udp"}, {"", 8080, 81, "udp"}}, {});
    REQUIRE_FALSE(twice);
    CHECK(twice.error().what == "Bind for 0.0.0.0:8080 failed: port is already allocated");
}

namespace {

net::NetworkConfig network(const std::string& name, const std::string& iface, const std::string& subnet_text,
                           bool internal = false) {
    net::NetworkConfig n;
    n.name = name;
    n.id = std::string(64, 'a');
    n.interface = iface;
    n.subnet = subnet_text;
    n.internal = internal;
    return n;
}

net::Endpoint endpoint(const std::string& id, const std::string& network_name, const std::string& address,
                       std::vector<PortMapping> ports = {}) {
    net::Endpoint e;
    e.container_id = id;
    e.network = network_name;
    e.ip = address;
    e.ports = std::move(ports);
    return e;
}

}  // namespace

TEST_CASE("loopback_redirects: TCP ports reachable through 127.0.0.1 of routed networks", "[network]") {
    std::vector<net::NetworkConfig> networks = {network("bridge", "skiff0", "10.88.0.0/16"),
                                                network("secret", "sk-222222222222", "10.89.1.0/24", true)};
    std::vector<net::Endpoint> endpoints = {
        endpoint("c1", "bridge", "10.88.0.2",
                 {{"", 8080, 80, "tcp"},            // every address: yes
                  {"127.0.0.2", 8081, 81, "tcp"},   // a loopback address: yes, that one
                  {"0.0.0.0", 8082, 82, "tcp"},     // every address, spelled out
                  {"192.168.1.5", 8083, 83, "tcp"},  // another address: NAT only
                  {"", 5353, 53, "udp"}}),           // UDP: NAT only
        endpoint("c2", "secret", "10.89.1.2", {{"", 9999, 99, "tcp"}}),  // internal: nothing published
        endpoint("c3", "gone", "10.90.0.2", {{"", 7777, 77, "tcp"}}),    // unknown network
    };
    auto redirects = net::loopback_redirects(networks, endpoints);
    const uint32_t c1 = (10u << 24) | (88u << 16) | 2u;
    std::vector<net::LoopbackRedirect> expected = {
        {0, 8080, c1, 80},
        {0, 8082, c1, 82},
        {(127u << 24) | 2u, 8081, c1, 81},
    };
    CHECK(redirects == expected);
    CHECK(net::loopback_redirects(networks, {}).empty());
}

TEST_CASE("render_ruleset: no network deletes the table", "[network]") {
    auto text = net::render_ruleset({}, {}, "skiff");
    CHECK(text == "table inet skiff {}\ndelete table inet skiff\n");
}

TEST_CASE("render_ruleset: a network without endpoints keeps its rules", "[network]") {
    // So a container without published ports changes nothing and nothing is loaded.
    auto text = net::render_ruleset({network("bridge", "skiff0", "10.88.0.0/16")}, {}, "skiff");
    CHECK_THAT(text, Catch::Contains("ip saddr 10.88.0.0/16 oifname != \"skiff0\" masquerade\n"));
    CHECK_THAT(text, Catch::Contains("type nat hook output priority -100;"));
}

TEST_CASE("render_ruleset: DNAT, masquerade, isolation, internal", "[network]") {
    std::vector<net::NetworkConfig> networks = {network("bridge", "skiff0", "10.88.0.0/16"),
                                                network("front", "sk-111111111111", "10.89.0.0/24"),
                                                network("secret", "sk-222222222222", "10.89.1.0/24", true)};
    std::vector<net::Endpoint> endpoints = {
        endpoint("c1", "bridge", "10.88.0.2", {{"", 8080, 80, "tcp"}, {"127.0.0.1", 5353, 53, "udp"}}),
        endpoint("c2", "front", "10.89.0.2"),
        endpoint("c3", "secret", "10.89.1.2", {{"", 9999, 99, "tcp"}}),
    };
    auto text = net::render_ruleset(networks, endpoints, "skiff_t");
    INFO(text);
    // Idempotent replacement in one transaction.
    CHECK(text.starts_with("table inet skiff_t {}\ndelete table inet skiff_t\ntable inet skiff_t {\n"));
    // Published ports, in prerouting and output alike.
    const std::string dnat_tcp = "meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.88.0.2:80\n";
    const std::string dnat_udp =
        "meta nfproto ipv4 fib daddr type local ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.88.0.2:53\n";
    auto count = [&](const std::string& needle) {
        size_t n = 0;
        for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
        return n;
    };
    CHECK(count(dnat_tcp) == 2);
    CHECK(count(dnat_udp) == 2);
    CHECK(count("type nat hook prerouting priority dstnat;") == 1);
    CHECK(count("type nat hook output priority -100;") == 1);
    // Nothing published from an internal network.
    CHECK(count("dport 9999") == 0);
    // Masquerade leaving routed subnets, and 127.0.0.1 reaching a bridge.
    CHECK(count("ip saddr 10.88.0.0/16 oifname != \"skiff0\" masquerade\n") == 1);
    CHECK(count("ip saddr 10.89.0.0/24 oifname != \"sk-111111111111\" masquerade\n") == 1);
    CHECK(count("ip saddr 10.89.1.0/24") == 0);
    CHECK(count("ip saddr 127.0.0.0/8 oifname { \"skiff0\", \"sk-111111111111\" } masquerade\n") == 1);
    // Isolation between every pair of bridges in use, after established traffic.
    CHECK(count("ct state established,related accept\n") == 1);
    CHECK(count("iifname \"skiff0\" oifname { \"sk-111111111111\", \"sk-222222222222\" } drop\n") == 1);
    CHECK(count("iifname \"sk-111111111111\" oifname { \"skiff0\", \"sk-222222222222\" } drop\n") == 1);
    // The internal network reaches only itself.
    CHECK(count("iifname \"sk-222222222222\" oifname != \"sk-222222222222\" drop\n") == 1);
    CHECK(count("oifname \"sk-222222222222\" iifname != \"sk-222222222222\" drop\n") == 1);
    CHECK(text.ends_with("\t}\n}\n"));
}

TEST_CASE("network and endpoint files round-trip", "[network]") {
    net::NetworkConfig n = network("front", "sk-111111111111", "10.89.0.0/24", true);
    n.gateway = "10.89.0.1";
    n.labels = {{"a", "b"}};
    n.created = "2024-01-01T00:00:00Z";
    auto back = net::network_from_json(net::to_json(n));
    REQUIRE(back);
    CHECK(back->name == n.name);
    CHECK(back->internal);
    CHECK(back->labels == n.labels);
    CHECK(back->gateway == "10.89.0.1");

    net::Endpoint e = endpoint("abc", "front", "10.89.0.2", {{"127.0.0.1", 8080, 80, "udp"}});
    e.aliases = {"web"};
    e.prefix = 24;
    auto eback = net::endpoint_from_json(net::to_json(e));
    REQUIRE(eback);
    CHECK(eback->ports == e.ports);
    CHECK(eback->aliases == e.aliases);
    CHECK(eback->prefix == 24);
    CHECK_FALSE(net::endpoint_from_json(nlohmann::json{{"container_id", 5}}));
}

TEST_CASE("Networks: names, subnets and the default network in the files", "[network]") {
    char tmpl[] = "/tmp/skiff-net-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    struct Cleanup {
        std::string dir;
        ~Cleanup() { (void)skiff::remove_tree(dir); }
    } cleanup{tmpl};
    net::NetworkPaths paths;
    paths.dir = cleanup.dir + "/net";
    paths.runroot = cleanup.dir + "/run";
    paths.table = "skiff_unit_files";
    paths.default_bridge = "skut9";
    paths.default_subnet = "10.213.0.0/16";
    net::Networks networks(paths);

    auto list = networks.list();
    REQUIRE(list);
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].name == "bridge");
    CHECK((*list)[0].is_default);
    CHECK((*list)[0].subnet == "10.213.0.0/16");
    CHECK((*list)[0].gateway == "10.213.0.1");
    CHECK((*list)[0].interface == "skut9");

    auto created = networks.create(request("front", "10.214.0.0/24", "", false, {{"k", "v"}}));
    REQUIRE(created);
    CHECK(created->interface == "sk-" + created->id.substr(0, 12));
    CHECK(created->gateway == "10.214.0.1");
    CHECK(networks.find("front")->id == created->id);
    CHECK(networks.find(created->id.substr(0, 6))->name == "front");
    auto missing = networks.find("nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().what == "network nope not found");

    CHECK(networks.create(request("front", "10.215.0.0/24")).error().what == "network with name front already exists");
    CHECK(networks.create(request("other", "10.214.0.128/25")).error().what ==
          "Pool overlaps with other one on this address space");
    CHECK(networks.create(request("other2", "10.213.7.0/24")).error().what ==
          "Pool overlaps with other one on this address space");
    CHECK_FALSE(networks.create(request("bridge")));
    CHECK_FALSE(networks.create(request("host")));
    CHECK_FALSE(networks.create(request("-bad")));
    CHECK_FALSE(networks.create(request("gw", "10.216.0.0/24", "10.217.0.1")));
    auto gw = networks.create(request("gw", "10.216.0.0/24", "10.216.0.254", true));
    REQUIRE(gw);
    CHECK(gw->gateway == "10.216.0.254");
    CHECK(gw->internal);

    auto removing_default = networks.remove("bridge");
    REQUIRE_FALSE(removing_default);
    CHECK_THAT(removing_default.error().what, Catch::Contains("pre-defined"));
    CHECK(networks.list()->size() == 3);
    CHECK(networks.endpoints_of(std::string(64, 'a'))->empty());
    CHECK(networks.endpoints_on("front")->empty());
}

TEST_CASE("default_network_paths: root, user and the environment", "[network]") {
    // The variables as they were, put back whatever happens.
    struct Env {
        std::vector<std::pair<std::string, std::optional<std::string>>> saved;
        Env() {
            for (const char* name : {"SKIFF_NETWORK_DIR", "SKIFF_NFT_TABLE", "SKIFF_BRIDGE", "SKIFF_BRIDGE_SUBNET"}) {
                const char* v = std::getenv(name);
                saved.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
                ::unsetenv(name);
            }
        }
        ~Env() {
            for (const auto& [name, value] : saved)
                value ? (void)::setenv(name.c_str(), value->c_str(), 1) : (void)::unsetenv(name.c_str());
        }
    } env;
    auto p = net::default_network_paths("/home/u/.local/share/skiff", "/run/user/1000/skiff");
    CHECK(p.dir == (::geteuid() == 0 ? "/var/lib/skiff-network" : "/home/u/.local/share/skiff/network"));
    CHECK(p.runroot == "/run/user/1000/skiff");
    CHECK(p.table == "skiff");
    CHECK(p.default_subnet == "10.88.0.0/16");
    ::setenv("SKIFF_NFT_TABLE", "t1", 1);
    ::setenv("SKIFF_BRIDGE_SUBNET", "10.1.0.0/16", 1);
    ::setenv("SKIFF_NETWORK_DIR", "/elsewhere", 1);
    p = net::default_network_paths("/r", "/rr");
    CHECK(p.table == "t1");
    CHECK(p.default_subnet == "10.1.0.0/16");
    CHECK(p.dir == "/elsewhere");
    CHECK(p.default_bridge == "skiff0");
}
