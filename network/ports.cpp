// -p/-P parsing, Docker's PORTS text, and host port allocation (ports.hpp).
#include "network/ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include "common/fd.hpp"

namespace skiff::network {

namespace {

struct PortRange {
    uint16_t first = 0, last = 0;
    int size() const { return last - first + 1; }
};

// "80" or "8000-8002"; allow_zero for a host port meaning "any".
std::optional<PortRange> parse_range(std::string_view text, bool allow_zero) {
    auto number = [](std::string_view t) -> std::optional<unsigned> {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v > 65535) return std::nullopt;
        return v;
    };
    size_t dash = text.find('-');
    if (dash == std::string_view::npos) {
        auto v = number(text);
        if (!v || (*v == 0 && !allow_zero)) return std::nullopt;
        return PortRange{uint16_t(*v), uint16_t(*v)};
    }
    auto a = number(text.substr(0, dash));
    auto b = number(text.substr(dash + 1));
    if (!a || !b || *a == 0 || *b < *a) return std::nullopt;
    return PortRange{uint16_t(*a), uint16_t(*b)};
}

std::unexpected<Error> invalid_spec(std::string_view spec, std::string_view why = {}) {
    std::string what = "invalid port specification: \"" + std::string(spec) + "\"";
    if (!why.empty()) what += " (" + std::string(why) + ")";
    return fail(what);
}

// Splits "PORTS/proto"; the protocol defaults to tcp.
Result<std::string> split_protocol(std::string_view& spec, std::string_view whole) {
    size_t slash = spec.rfind('/');
    if (slash == std::string_view::npos) return std::string("tcp");
    std::string proto(spec.substr(slash + 1));
    spec = spec.substr(0, slash);
    if (proto == "tcp" || proto == "udp") return proto;
    if (proto == "sctp") return invalid_spec(whole, "sctp is not supported, only tcp and udp");
    return invalid_spec(whole, "invalid protocol \"" + proto + "\"");
}

std::string display_ip(const std::string& ip) { return ip.empty() ? "0.0.0.0" : ip; }

std::unexpected<Error> port_allocated(const std::string& ip, const std::string& port) {
    return fail("Bind for " + display_ip(ip) + ":" + port + " failed: port is already allocated");
}

}  // namespace

Result<std::vector<PortMapping>> parse_publish(std::string_view spec) {
    if (spec.empty()) return invalid_spec(spec);
    if (spec.front() == '[') return invalid_spec(spec, "IPv6 addresses are not supported");
    std::string_view rest = spec;
    SKIFF_TRY(protocol, split_protocol(rest, spec));

    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
        size_t colon = rest.find(':', start);
        parts.push_back(rest.substr(start, colon == std::string_view::npos ? colon : colon - start));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    std::string_view ip_text, host_text, container_text;
    switch (parts.size()) {
        case 1: container_text = parts[0]; break;
        case 2: host_text = parts[0]; container_text = parts[1]; break;
        case 3: ip_text = parts[0]; host_text = parts[1]; container_text = parts[2]; break;
        default: return invalid_spec(spec, "IPv6 addresses are not supported");
    }
    std::string host_ip;
    if (!ip_text.empty()) {
        auto ip = parse_ipv4(ip_text);
        if (!ip) return invalid_spec(spec, "invalid IP address \"" + std::string(ip_text) + "\"");
        if (*ip != 0) host_ip = format_ipv4(*ip);  // 0.0.0.0 is every address: kept as ""
    }
    auto container = parse_range(container_text, false);
    if (!container) return invalid_spec(spec);
    std::optional<PortRange> host;
    if (!host_text.empty()) {
        host = parse_range(host_text, true);
        if (!host) return invalid_spec(spec);
        if (host->first == 0) host.reset();
    }

    std::vector<PortMapping> out;
    if (host && host->size() != container->size()) {
        if (container->size() != 1)
            return fail("invalid ranges specified for container and host ports: \"" + std::string(spec) + "\"");
        out.push_back({host_ip, host->first, container->first, protocol, host->last});
        return out;
    }
    for (int i = 0; i < container->size(); ++i)
        out.push_back({host_ip, uint16_t(host ? host->first + i : 0), uint16_t(container->first + i), protocol});
    return out;
}

Result<std::vector<PortMapping>> publish_all(const std::vector<std::string>& exposed) {
    std::vector<PortMapping> out;
    for (const auto& text : exposed) {
        std::string_view rest = text;
        auto protocol = split_protocol(rest, text);
        auto range = protocol ? parse_range(rest, false) : std::nullopt;
        if (!range) return fail("invalid exposed port: \"" + text + "\"");
        for (int p = range->first; p <= range->last; ++p) {
            PortMapping m{"", 0, uint16_t(p), *protocol};
            if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
        }
    }
    return out;
}

std::string format_ports(const std::vector<PortMapping>& ports) {
    // Runs of consecutive mappings (host and container ports both +1) that share address,
    // protocol and published-ness fold into "a-b" ranges, as podman prints them.
    struct Run {
        const PortMapping* first;
        uint16_t container_last, host_last;
    };
    std::vector<const PortMapping*> sorted;
    for (const auto& p : ports) sorted.push_back(&p);
    auto key = [](const PortMapping* p) {
        return std::tuple(p->host_port == 0, p->host_ip, p->protocol, p->container_port, p->host_port);
    };
    std::sort(sorted.begin(), sorted.end(), [&](auto* a, auto* b) { return key(a) < key(b); });
    std::vector<Run> runs;
    for (const PortMapping* p : sorted) {
        if (!runs.empty()) {
            Run& r = runs.back();
            const PortMapping* f = r.first;
            bool same_kind = (f->host_port == 0) == (p->host_port == 0) && f->host_ip == p->host_ip &&
                             f->protocol == p->protocol && f->host_port_end == 0 && p->host_port_end == 0;
            if (same_kind && p->container_port == r.container_last && p->host_port == r.host_last) continue;  // twice
            if (same_kind && p->container_port == r.container_last + 1 &&
                (p->host_port == 0 || p->host_port == r.host_last + 1)) {
                r.container_last = p->container_port;
                r.host_last = p->host_port;
                continue;
            }
        }
        runs.push_back({p, p->container_port, p->host_port});
    }
    // Docker lists by container port; published before exposed-only at the same port.
    std::stable_sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
        return std::tuple(a.first->container_port, a.first->host_port == 0) <
               std::tuple(b.first->container_port, b.first->host_port == 0);
    });
    auto range = [](uint16_t a, uint16_t b) {
        return a == b ? std::to_string(a) : std::to_string(a) + "-" + std::to_string(b);
    };
    std::string out;
    for (const Run& r : runs) {
        if (!out.empty()) out += ", ";
        const PortMapping& f = *r.first;
        if (f.host_port != 0) {
            std::string host = f.host_port_end ? range(f.host_port, f.host_port_end) : range(f.host_port, r.host_last);
            out += display_ip(f.host_ip) + ":" + host + "->";
        }
        out += range(f.container_port, r.container_last) + "/" + f.protocol;
    }
    return out;
}

bool port_taken(const PortMapping& m, const std::vector<PortMapping>& taken) {
    return std::any_of(taken.begin(), taken.end(), [&](const PortMapping& t) {
        return t.protocol == m.protocol && t.host_port == m.host_port &&
               (t.host_ip.empty() || m.host_ip.empty() || t.host_ip == m.host_ip);
    });
}

namespace {

// A socket of the mapping's protocol bound to host_ip:port (0 = the kernel picks).
Result<UniqueFd> bind_socket(const PortMapping& m, uint16_t port) {
    UniqueFd fd(::socket(AF_INET, (m.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!fd) return sys_error("socket for a port check");
    // As the servers that take it will (pasta, most daemons): connections of an earlier
    // user of the port in TIME_WAIT do not make it taken; a listener does.
    int one = 1;
    if (m.protocol != "udp") ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    uint32_t ip = 0;
    if (!m.host_ip.empty()) {
        SKIFF_TRY(parsed, parse_ipv4(m.host_ip));
        ip = parsed;
    }
    addr.sin_addr.s_addr = htonl(ip);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int saved = errno;
        if (saved == EADDRINUSE) return port_allocated(m.host_ip, std::to_string(port));
        return sys_error(saved, "Bind for " + display_ip(m.host_ip) + ":" + std::to_string(port) + " failed");
    }
    return fd;
}

}  // namespace

Status probe_port(const PortMapping& m) {
    SKIFF_TRY(fd, bind_socket(m, m.host_port));
    return ok();
}

Result<std::vector<PortMapping>> resolve_ports(const std::vector<PortMapping>& requested,
                                               const std::vector<PortMapping>& taken) {
    std::vector<PortMapping> all_taken = taken;
    std::vector<PortMapping> out(requested.size());
    // Fixed ports first, so a random pick never takes a port asked for by number.
    for (int pass = 0; pass < 3; ++pass) {
        for (size_t i = 0; i < requested.size(); ++i) {
            const PortMapping& want = requested[i];
            bool fixed = want.host_port != 0 && want.host_port_end == 0;
            bool ranged = want.host_port != 0 && want.host_port_end != 0;
            if ((pass == 0 && !fixed) || (pass == 1 && !ranged) || (pass == 2 && want.host_port != 0)) continue;
            PortMapping m = want;
            m.host_port_end = 0;
            if (fixed) {
                if (port_taken(m, all_taken)) return port_allocated(m.host_ip, std::to_string(m.host_port));
                SKIFF_CHECK(probe_port(m));
            } else if (ranged) {
                bool found = false;
                for (int p = want.host_port; p <= want.host_port_end && !found; ++p) {
                    m.host_port = uint16_t(p);
                    found = !port_taken(m, all_taken) && probe_port(m).has_value();
                }
                if (!found)
                    return port_allocated(m.host_ip, std::to_string(want.host_port) + "-" +
                                                         std::to_string(want.host_port_end));
            } else {
                // The kernel's pick is free of sockets; retry while it is another endpoint's.
                bool found = false;
                for (int attempt = 0; attempt < 64 && !found; ++attempt) {
                    SKIFF_TRY(fd, bind_socket(m, 0));
                    sockaddr_in addr{};
                    socklen_t len = sizeof addr;
                    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
                        return sys_error("getsockname for a free port");
                    m.host_port = ntohs(addr.sin_port);
                    found = !port_taken(m, all_taken);
                }
                if (!found) return fail("no free host port for " + std::to_string(m.container_port) + "/" + m.protocol);
            }
            all_taken.push_back(m);
            out[i] = m;
        }
    }
    return out;
}

}  // namespace skiff::network
