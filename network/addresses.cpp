// IPv4 text forms, subnets and the pure IPAM choices (ipam.hpp).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "network/ipam.hpp"
#include "network/network.hpp"

namespace skiff::network {

namespace {

bool parse_octet(std::string_view text, uint32_t& out) {
    if (text.empty() || text.size() > 3) return false;
    // "010" is octal to inet_aton and decimal to others: refuse the ambiguity.
    if (text.size() > 1 && text[0] == '0') return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 255) return false;
    out = value;
    return true;
}

}  // namespace

Result<uint32_t> parse_ipv4(std::string_view text) {
    uint32_t ip = 0;
    std::string_view rest = text;
    for (int i = 0; i < 4; ++i) {
        size_t dot = rest.find('.');
        if ((i < 3) != (dot != std::string_view::npos))
            return fail("invalid IPv4 address: \"" + std::string(text) + "\"");
        uint32_t octet = 0;
        if (!parse_octet(rest.substr(0, dot), octet))
            return fail("invalid IPv4 address: \"" + std::string(text) + "\"");
        ip = (ip << 8) | octet;
        rest = i < 3 ? rest.substr(dot + 1) : std::string_view();
    }
    return ip;
}

std::string format_ipv4(uint32_t ip) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
    return buf;
}

uint32_t subnet_mask(int prefix) {
    return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((uint32_t(1) << (32 - prefix)) - 1);
}

uint32_t broadcast_of(const Subnet& subnet) { return subnet.address | ~subnet_mask(subnet.prefix); }

uint32_t first_host(const Subnet& subnet) { return subnet.address + 1; }

std::string Subnet::text() const { return format_ipv4(address) + "/" + std::to_string(prefix); }

bool Subnet::contains(uint32_t ip) const { return (ip & subnet_mask(prefix)) == address; }

bool Subnet::overlaps(const Subnet& other) const {
    // Two prefixes overlap exactly when the shorter one contains the other's network address.
    int shorter = std::min(prefix, other.prefix);
    uint32_t mask = subnet_mask(shorter);
    return (address & mask) == (other.address & mask);
}

Result<Subnet> parse_subnet(std::string_view text) {
    size_t slash = text.find('/');
    if (slash == std::string_view::npos)
        return fail("invalid subnet \"" + std::string(text) + "\": expected ADDRESS/PREFIX");
    auto ip = parse_ipv4(text.substr(0, slash));
    if (!ip) return fail("invalid subnet \"" + std::string(text) + "\": " + ip.error().what);
    std::string_view bits = text.substr(slash + 1);
    int prefix = 0;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || prefix < 8 || prefix > 30)
        return fail("invalid subnet \"" + std::string(text) + "\": the prefix must be 8 to 30");
    Subnet subnet{*ip & subnet_mask(prefix), prefix};
    if (subnet.address != *ip)
        return fail("invalid subnet " + std::string(text) + " : it should be " + subnet.text());
    return subnet;
}

Result<uint32_t> allocate_address(const Subnet& subnet, uint32_t gateway, const std::set<uint32_t>& used,
                                  std::optional<uint32_t> requested) {
    const uint32_t broadcast = broadcast_of(subnet);
    if (requested) {
        uint32_t ip = *requested;
        if (!subnet.contains(ip) || ip == subnet.address || ip == broadcast)
            return fail("invalid address " + format_ipv4(ip) + ": not a host address of subnet " +
                                         subnet.text());
        if (ip == gateway || used.contains(ip)) return fail("Address already in use");
        return ip;
    }
    for (uint32_t ip = subnet.address + 1; ip < broadcast; ++ip)
        if (ip != gateway && !used.contains(ip)) return ip;
    return fail("no available IPv4 addresses on subnet " + subnet.text());
}

Result<Subnet> next_free_subnet(const Subnet& pool, int prefix, const std::vector<Subnet>& taken) {
    if (prefix < pool.prefix) return fail("subnet prefix /" + std::to_string(prefix) + " larger than the pool");
    const uint64_t step = uint64_t(1) << (32 - prefix);
    const uint64_t end = uint64_t(pool.address) + (uint64_t(1) << (32 - pool.prefix));
    for (uint64_t a = pool.address; a < end; a += step) {
        Subnet candidate{static_cast<uint32_t>(a), prefix};
        if (std::none_of(taken.begin(), taken.end(), [&](const Subnet& t) { return t.overlaps(candidate); }))
            return candidate;
    }
    return fail("could not find an available, non-overlapping IPv4 address pool among " + pool.text());
}

std::array<uint8_t, 6> mac_for(uint32_t ip) {
    return {0x02, 0x42, uint8_t(ip >> 24), uint8_t(ip >> 16), uint8_t(ip >> 8), uint8_t(ip)};
}

std::string format_mac(const std::array<uint8_t, 6>& mac) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return buf;
}

Result<std::string> host_interface_name(std::string_view container_id, int index) {
    if (container_id.size() < 10 || index < 0 || index > 9)
        return fail("no host interface name for container " + std::string(container_id) + " (network " +
                    std::to_string(index) + ")");
    std::string name = "sv" + std::string(container_id.substr(0, 10)) + char('0' + index);
    static_assert(sizeof("sv0123456789a") <= 16, "IFNAMSIZ");
    return name;
}

bool valid_network_name(std::string_view name) {
    if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

bool valid_interface_name(std::string_view name) {
    if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

bool valid_table_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace skiff::network
