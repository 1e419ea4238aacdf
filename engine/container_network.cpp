// A container's network: choosing networks at create, namespace + endpoints at start,
// /etc/hosts kept current, teardown at every end of a run (container_network.hpp).
#include "engine/container_network.hpp"

#include <arpa/inet.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/containers.hpp"
#include "runtime/spec.hpp"
#include "runtime/state_store.hpp"

namespace skiff::engine {
namespace {

using nlohmann::json;

bool is_running(const state::ContainerRecord& r) {
    return r.status == state::Status::running || r.status == state::Status::paused;
}

// pasta: a namespace the engine makes (in the caller's user namespace), given outside access
// and the published ports by a pasta process (network::start_pasta).
bool pasta_mode(std::string_view mode) { return mode == "pasta"; }

// Modes whose namespace the engine makes and connects: the default network and user networks.
bool bridged(std::string_view mode) {
    return !mode.empty() && mode != "none" && mode != "host" && !pasta_mode(mode) && !mode.starts_with("container:");
}

std::string netns_path_of(const Store& store, const std::string& id) {
    return path_join(path_join(store.options.runroot, "netns"), id);
}

json port_json(const network::PortMapping& p) {
    json j = {{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
              {"protocol", p.protocol}};
    if (p.host_port_end) j["host_port_end"] = p.host_port_end;
    return j;
}

std::vector<network::PortMapping> ports_from(const json& list) {
    std::vector<network::PortMapping> out;
    if (!list.is_array()) return out;
    for (const auto& j : list) {
        if (!j.is_object()) continue;
        network::PortMapping p;
        p.host_ip = j.value("host_ip", "");
        p.host_port = j.value("host_port", uint16_t{0});
        p.container_port = j.value("container_port", uint16_t{0});
        p.protocol = j.value("protocol", "tcp");
        p.host_port_end = j.value("host_port_end", uint16_t{0});
        out.push_back(p);
    }
    return out;
}

const json& net_config(const state::ContainerRecord& r) {
    static const json empty = json::object();
    if (r.config.is_object() && r.config.contains("net") && r.config["net"].is_object()) return r.config["net"];
    return empty;
}

std::vector<std::string> strings_of(const json& j, const char* key) {
    std::vector<std::string> out;
    if (j.contains(key) && j[key].is_array())
        for (const auto& s : j[key])
            if (s.is_string()) out.push_back(s.get<std::string>());
    return out;
}

// "80/tcp" / "80" -> a mapping with no host side (exposed only).
std::optional<network::PortMapping> exposed_port(const std::string& text) {
    network::PortMapping p;
    auto slash = text.find('/');
    std::string number = text.substr(0, slash);
    p.protocol = slash == std::string::npos ? "tcp" : text.substr(slash + 1);
    try {
        size_t used = 0;
        int n = std::stoi(number, &used);
        if (used != number.size() || n <= 0 || n > 65535) return std::nullopt;
        p.container_port = static_cast<uint16_t>(n);
    } catch (...) {
        return std::nullopt;
    }
    return p;
}

std::string port_key(const network::PortMapping& p) { return std::to_string(p.container_port) + "/" + p.protocol; }

bool valid_ip(const std::string& text) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

Status check_ip_in(const network::NetworkConfig& n, const std::string& ip) {
    auto parsed = network::parse_ipv4(ip);
    if (!parsed) return fail("invalid IPv4 address: " + ip);
    auto subnet = network::parse_subnet(n.subnet);
    if (!subnet || !subnet->contains(*parsed))
        return fail("no configured subnet contains the IP address " + ip + " (network " + n.name + " is " + n.subnet + ")");
    return ok();
}

// Points config.json's network namespace at `path` (container:<x> follows x's PID 1).
Status set_config_netns(const std::string& dir, const std::string& path) {
    const std::string file = path_join(dir, "config.json");
    SKIFF_TRY(text, read_file_limited(file, 4u << 20));
    json spec = json::parse(text, nullptr, false);
    if (spec.is_discarded() || !spec.contains("linux") || !spec["linux"].contains("namespaces"))
        return fail(file + ": no linux.namespaces");
    bool changed = false;
    for (auto& ns : spec["linux"]["namespaces"]) {
        if (ns.value("type", "") != "network") continue;
        if (ns.value("path", "") == path) return ok();
        ns["path"] = path;
        changed = true;
    }
    if (!changed) return ok();
    std::string updated = spec.dump();
    SKIFF_CHECK(write_file_atomic(file, updated, 0600, Durability::atomic));
    // The runtime's create reads it next in this process (runtime/spec.hpp).
    runtime::remember_written_spec(file, std::move(spec), std::move(updated));
    return ok();
}

// ---- /etc/hosts ----------------------------------------------------------------------------

class HostsWriter {
public:
    HostsWriter(const Store& store, network::Networks& nets) : store_(store), nets_(nets) {}

    // Rewrites the hosts files of `ids` and of every container of this store on the user
    // networks `touched`. Errors about `ids` are returned; the others' are skipped.
    Status refresh(const std::set<std::string>& ids, const std::set<std::string>& touched) {
        SKIFF_CHECK(mkdir_p(store_.options.runroot, 0700));
        const std::string lock_path = path_join(store_.options.runroot, "network-hosts.lock");
        UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!lock) return sys_error("open " + lock_path);
        while (::flock(lock.get(), LOCK_EX) != 0)
            if (errno != EINTR) return sys_error("lock " + lock_path);
        SKIFF_TRY(list, nets_.list());
        for (auto& n : list) networks_[n.name] = n;
        std::set<std::string> all = ids;
        for (const auto& name : touched) {
            if (!user_network(name)) continue;
            for (const auto& e : on(name)) all.insert(e.container_id);
        }
        Status first = ok();
        for (const auto& id : all) {
            auto st = write_for(id);
            if (!st && ids.contains(id) && first) first = st;
        }
        return first;
    }

private:
    bool user_network(const std::string& name) const {
        auto it = networks_.find(name);
        return it != networks_.end() && !it->second.is_default;
    }

    const std::vector<network::Endpoint>& on(const std::string& name) {
        auto it = endpoints_.find(name);
        if (it != endpoints_.end()) return it->second;
        auto found = nets_.endpoints_on(name);
        return endpoints_[name] = found ? *found : std::vector<network::Endpoint>{};
    }

    // An endpoint's container by its name now (a rename since it connected), when it is this
    // store's; loaded once per refresh, not once per hosts file that lists it.
    const std::string& current_name(const network::Endpoint& e) {
        auto it = names_.find(e.container_id);
        if (it != names_.end()) return it->second;
        auto r = container_store(store_).load(e.container_id);
        return names_[e.container_id] = r ? r->name : e.container_name;
    }

    Status write_for(const std::string& id) {
        auto containers = container_store(store_);
        auto r = containers.load(id);
        if (!r) return ok();  // another store's container: not ours to write
        if (!bridged(r->network_mode)) return ok();
        const std::string path = path_join(containers.dir_of(id), "hosts");
        if (!path_exists(path)) return ok();
        SKIFF_TRY(mine, nets_.endpoints_of(id));
        std::sort(mine.begin(), mine.end(), [](const auto& a, const auto& b) { return a.interface < b.interface; });
        std::string text = container_hosts_base(strings_of(net_config(*r), "extra_hosts"));
        if (!mine.empty()) text += mine.front().ip + "\t" + r->hostname + "\n";
        std::set<std::string> lines;
        for (const auto& e : mine) {
            if (!user_network(e.network)) continue;  // the default bridge: no names (Docker's rule)
            for (const auto& other : on(e.network)) {
                if (other.container_id == id) continue;
                std::string names;
                auto add = [&](const std::string& n) {
                    if (!n.empty() && (" " + names + " ").find(" " + n + " ") == std::string::npos)
                        names += (names.empty() ? "" : " ") + n;
                };
                add(current_name(other));
                for (const auto& a : other.aliases) add(a);
                add(other.container_id.substr(0, 12));
                std::string line = other.ip + "\t" + names + "\n";
                if (lines.insert(line).second) text += line;
            }
        }
        // In place (O_TRUNC, same inode): the file is bind-mounted into the running container.
        return write_file(path, text);
    }

    const Store& store_;
    network::Networks& nets_;
    std::map<std::string, network::NetworkConfig> networks_;
    std::map<std::string, std::vector<network::Endpoint>> endpoints_;
    std::map<std::string, std::string> names_;  // container id -> its current name
};

std::set<std::string> networks_of_endpoints(const std::vector<network::Endpoint>& endpoints) {
    std::set<std::string> out;
    for (const auto& e : endpoints) out.insert(e.network);
    return out;
}

Result<state::ContainerRecord> find_reconciled(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    return reconcile(store, found);
}

}  // namespace

Error user_facing(Error e) {
    const std::string& w = e.what;
    bool logical = e.code == ENOENT || e.code == EEXIST || e.code == EBUSY ||
                   (e.code == EPERM && w.find("pre-defined") != std::string::npos) ||
                   (e.code == EINVAL && (w.starts_with("invalid") || w.find("ambiguous") != std::string::npos ||
                                         w.find("needs a subnet") != std::string::npos));
    if (logical && w.find("No such container") == std::string::npos) e.code = 0;
    return e;
}

network::NetworkPaths network_paths(const Store& store) {
    return network::default_network_paths(store.options.root, store.options.runroot);
}

network::Networks networks_of(const Store& store) { return network::Networks(network_paths(store)); }

Result<PreparedNetwork> prepare_container_network(const Store& store, const RunSpecOptions& o,
                                                  const image::ImageConfig& image) {
    PreparedNetwork p;
    auto canonical = [](const std::string& n) { return n.empty() || n == "default" ? std::string("bridge") : n; };
    std::vector<std::string> names{canonical(o.network_mode)};
    for (const auto& n : o.networks) names.push_back(canonical(n));
    auto special = [](const std::string& n) {
        return n == "none" || n == "host" || pasta_mode(n) || n.starts_with("container:");
    };
    if (names.size() > 1 && std::any_of(names.begin(), names.end(), special))
        return fail("conflicting options: cannot attach both user-defined and non-user-defined network-modes");
    const std::string& first = names.front();

    std::vector<network::PortMapping> ports;
    for (const auto& spec : o.publish) {
        SKIFF_TRY(parsed, network::parse_publish(spec));
        ports.insert(ports.end(), parsed.begin(), parsed.end());
    }
    if (o.publish_all) {
        SKIFF_TRY(all, network::publish_all(image.config.exposed_ports));
        ports.insert(ports.end(), all.begin(), all.end());
    }
    std::set<std::string> exposed;
    for (const auto& e : image.config.exposed_ports)
        if (auto port = exposed_port(e)) exposed.insert(port_key(*port));
    for (const auto& port : ports) exposed.insert(port_key(port));
    for (const auto& d : o.dns)
        if (!valid_ip(d)) return fail("invalid argument \"" + d + "\" for \"--dns\" flag: " + d + " is not an ip address");
    for (const auto& h : o.extra_hosts) SKIFF_CHECK(validate_extra_host(h));

    json net = json::object();
    std::string gateway;  // for host-gateway
    auto default_gateway = [&]() -> Result<std::string> {
        if (pasta_mode(first)) return network::host_default_gateway();
        if (::geteuid() != 0) return fail("--add-host host-gateway: there is no bridge network without root");
        SKIFF_TRY(bridge, networks_of(store).find("bridge"));
        return bridge.gateway;
    };
    if (first == "none" || first == "host") {
        if (!o.ip.empty()) return fail("user specified IP address is supported on user defined networks only");
        if (!o.network_aliases.empty())
            return fail("network-scoped alias is supported only for containers in user defined networks");
        if (!ports.empty() && first == "host")
            std::fprintf(stderr, "WARNING: Published ports are discarded when using host network mode\n");
        ports.clear();
        p.mode = first;
    } else if (pasta_mode(first)) {
        if (!o.ip.empty()) return fail("user specified IP address is supported on user defined networks only");
        if (!o.network_aliases.empty())
            return fail("network-scoped alias is supported only for containers in user defined networks");
        p.mode = first;
    } else if (first.starts_with("container:")) {
        if (!o.hostname.empty()) return fail("conflicting options: hostname and the network mode");
        if (!o.dns.empty()) return fail("conflicting options: dns and the network mode");
        if (!o.extra_hosts.empty()) return fail("conflicting options: custom host-to-IP mapping and the network mode");
        if (!o.publish.empty() || o.publish_all)
            return fail("conflicting options: port publishing and the container type network mode");
        if (!o.ip.empty() || !o.network_aliases.empty())
            return fail("conflicting options: --ip and --network-alias need a user defined network, not " + first);
        std::string target = first.substr(10);
        if (target.empty()) return fail("--network container: needs a container name or id");
        auto containers = container_store(store);
        SKIFF_TRY(x, containers.find(target));
        // A container that itself joined another: its owner's namespace and files.
        for (int depth = 0; depth < 16 && x.network_mode.starts_with("container:"); ++depth) {
            SKIFF_TRY(owner, containers.find(x.network_mode.substr(10)));
            x = owner;
        }
        p.mode = "container:" + x.id;
        p.shared_dir = containers.dir_of(x.id);
        p.shared_hostname = x.hostname;
        p.shared_netns = is_running(x) && x.pid > 0 ? "/proc/" + std::to_string(x.pid) + "/ns/net"
                                                    : netns_path_of(store, x.id);
        net["container"] = x.id;
        ports.clear();
    } else {
        if (::geteuid() != 0)
            return fail("network " + first + ": bridge and user networks need root; without it use --network pasta "
                        "(the default), none or host");
        auto nets = networks_of(store);
        json list = json::array();
        std::set<std::string> seen;
        for (size_t i = 0; i < names.size(); ++i) {
            auto found = nets.find(names[i]);
            if (!found) return std::unexpected(user_facing(found.error()));
            const network::NetworkConfig& n = *found;
            if (!seen.insert(n.name).second) continue;
            json entry = {{"name", n.name}, {"id", n.id}, {"aliases", json::array()}, {"ip", ""}};
            if (i == 0) {
                if (n.is_default && !o.ip.empty())
                    return fail("user specified IP address is supported on user defined networks only");
                if (n.is_default && !o.network_aliases.empty())
                    return fail("network-scoped alias is supported only for containers in user defined networks");
                if (!o.ip.empty()) SKIFF_CHECK(check_ip_in(n, o.ip));
                entry["ip"] = o.ip;
                entry["aliases"] = o.network_aliases;
                gateway = n.gateway;
                p.mode = n.name;
            }
            list.push_back(entry);
        }
        net["networks"] = list;
    }
    for (const auto& h : o.extra_hosts) {
        if (!h.ends_with("host-gateway")) {
            p.extra_hosts.push_back(h);
            continue;
        }
        if (gateway.empty()) {
            SKIFF_TRY(g, default_gateway());
            gateway = g;
        }
        p.extra_hosts.push_back(h.substr(0, h.size() - std::string("host-gateway").size()) + gateway);
    }
    json publish = json::array();
    for (const auto& port : ports) publish.push_back(port_json(port));
    net["publish"] = publish;
    net["exposed"] = std::vector<std::string>(exposed.begin(), exposed.end());
    net["extra_hosts"] = p.extra_hosts;
    net["dns"] = o.dns;
    p.config = net;
    return p;
}

void set_spec_network_inputs(const Store& store, const std::string& id, const PreparedNetwork& prepared,
                             SpecInputs& inputs) {
    if (prepared.mode.starts_with("container:")) {
        inputs.netns_path = prepared.shared_netns;
        inputs.shared_net_dir = prepared.shared_dir;
        inputs.shared_hostname = prepared.shared_hostname;
    } else if (bridged(prepared.mode) || pasta_mode(prepared.mode)) {
        inputs.netns_path = netns_path_of(store, id);
    }
}

namespace {

// Docker's sysctls, written into a namespace the engine makes. Without root the writer's
// user namespace maps only its own group, so ping is opened to that group alone (the
// container's root group) — a wider range is refused there.
std::map<std::string, std::string> engine_netns_sysctls() {
    auto sysctls = container_network_sysctls();
    if (::geteuid() != 0) {
        std::string group = std::to_string(::getegid());
        sysctls["net.ipv4.ping_group_range"] = group + " " + group;
    }
    return sysctls;
}

void clear_published(state::ContainerStore& containers, const state::ContainerRecord& r) {
    if (r.ports.empty() && !net_config(r).contains("published") && !net_config(r).contains("pasta")) return;
    (void)containers.update(r.id, [&](state::ContainerRecord& rec) -> Status {
        rec.ports.clear();
        if (rec.config.is_object() && rec.config.contains("net")) {
            rec.config["net"].erase("published");
            rec.config["net"].erase("pasta");
        }
        return ok();
    });
}

// The pasta of a run, if it still runs (its pid and start time match).
void stop_recorded_pasta(const state::ContainerRecord& r) {
    const json& pasta = net_config(r).value("pasta", json::object());
    pid_t pid = pasta.value("pid", 0);
    if (pid > 0 && runtime::process_start_time(pid) == pasta.value("start_time", uint64_t{0}))
        network::stop_pasta(pid);
}

// pasta mode: namespace (the caller's user namespace owns it, so the container's own one
// may join it: the runtime joins before its clone), host ports decided, pasta attached.
Status start_pasta_network(const Store& store, state::ContainerStore& containers, const state::ContainerRecord& r) {
    const std::string& id = r.id;
    stop_recorded_pasta(r);  // a run that ended without its teardown
    (void)network::remove_netns(netns_path_of(store, id));
    SKIFF_TRY(netns, network::create_netns(network_paths(store), id, engine_netns_sysctls()));
    auto started = [&]() -> Status {
        if (netns != netns_path_of(store, id)) SKIFF_CHECK(set_config_netns(containers.dir_of(id), netns));
        SKIFF_TRY(ports, network::resolve_host_ports(ports_from(net_config(r).value("publish", json::array()))));
        SKIFF_TRY(pid, network::start_pasta(netns, ports));
        std::vector<std::string> lines;
        json published = json::array();
        for (const auto& p : ports) {
            lines.push_back(network::format_ports({p}));
            published.push_back(port_json(p));
        }
        auto saved = containers.update(id, [&](state::ContainerRecord& rec) -> Status {
            rec.ports = lines;
            if (!rec.config.is_object()) rec.config = json::object();
            rec.config["net"]["published"] = published;
            rec.config["net"]["pasta"] = {{"pid", pid}, {"start_time", runtime::process_start_time(pid)}};
            return ok();
        });
        if (!saved) {
            network::stop_pasta(pid);
            return std::unexpected(saved.error());
        }
        return ok();
    }();
    if (!started) {
        (void)network::remove_netns(netns);  // pasta, if it started, ends with the file
        clear_published(containers, r);
    }
    return started;
}

}  // namespace

Status start_container_network(const Store& store, const std::string& id) {
    auto containers = container_store(store);
    SKIFF_TRY(r, containers.load(id));
    const json& net = net_config(r);
    if (r.network_mode.starts_with("container:")) {
        std::string target = net.value("container", r.network_mode.substr(10));
        auto x = find_reconciled(store, target);
        if (!x || !is_running(*x) || x->pid <= 0)
            return fail("cannot join network of a non running container: " + target.substr(0, 12));
        return set_config_netns(containers.dir_of(id), "/proc/" + std::to_string(x->pid) + "/ns/net");
    }
    if (pasta_mode(r.network_mode)) return start_pasta_network(store, containers, r);
    if (!bridged(r.network_mode)) return ok();
    if (::geteuid() != 0)
        return fail("network " + r.network_mode + ": bridge and user networks need root; use --network pasta, none or host");
    auto paths = network_paths(store);
    network::Networks nets(paths);
    // Leftovers of a run that ended without its teardown (a killed monitor, a host crash).
    (void)nets.disconnect_all(id, /*namespace_going=*/true);
    (void)network::remove_netns(netns_path_of(store, id));
    SKIFF_TRY(netns, network::create_netns(paths, id));
    auto undo = [&] {
        (void)nets.disconnect_all(id, /*namespace_going=*/true);
        (void)network::remove_netns(netns);
    };
    auto connected = [&]() -> Status {
        if (netns != netns_path_of(store, id)) SKIFF_CHECK(set_config_netns(containers.dir_of(id), netns));
        auto ports = ports_from(net.value("publish", json::array()));
        std::vector<network::PortMapping> published;
        std::set<std::string> touched;
        bool first = true;
        for (const auto& entry : net.value("networks", json::array())) {
            network::ConnectRequest request;
            request.container_id = id;
            request.container_name = r.name;
            request.aliases = strings_of(entry, "aliases");
            request.network = entry.value("name", "");
            request.netns_path = netns;
            request.ip = entry.value("ip", "");
            if (first) request.ports = ports;
            auto connected = nets.connect(request);
            if (!connected) return std::unexpected(user_facing(connected.error()));
            const network::Endpoint& endpoint = *connected;
            if (first) published = endpoint.ports;
            touched.insert(endpoint.network);
            first = false;
        }
        std::vector<std::string> lines;
        json published_json = json::array();
        for (const auto& p : published) {
            lines.push_back(network::format_ports({p}));
            published_json.push_back(port_json(p));
        }
        if (!published.empty() || !r.ports.empty() || net.contains("published"))
            SKIFF_CHECK(containers.update(id, [&](state::ContainerRecord& rec) -> Status {
                rec.ports = lines;
                if (!rec.config.is_object()) rec.config = json::object();
                rec.config["net"]["published"] = published_json;
                if (published.empty()) rec.config["net"].erase("published");
                return ok();
            }));
        HostsWriter hosts(store, nets);
        return hosts.refresh({id}, touched);
    }();
    if (!connected) {
        undo();
        (void)containers.update(id, [&](state::ContainerRecord& rec) -> Status {
            rec.ports.clear();
            if (rec.config.is_object() && rec.config.contains("net")) rec.config["net"].erase("published");
            return ok();
        });
        return connected;
    }
    return ok();
}

void refresh_names_after_rename(const Store& store, const std::string& id) {
    if (::geteuid() != 0) return;  // user networks need root: nothing to refresh
    network::Networks nets(network_paths(store));
    auto mine = nets.endpoints_of(id);
    if (!mine || mine->empty()) return;
    HostsWriter hosts(store, nets);
    (void)hosts.refresh({}, networks_of_endpoints(*mine));
}

namespace {

// `r` is null when the record could not be read: what a bridge left is released all the same.
void end_network_of(const Store& store, const std::string& id, const state::ContainerRecord* r) {
    auto containers = container_store(store);
    if (r && pasta_mode(r->network_mode)) {
        stop_recorded_pasta(*r);
        (void)network::remove_netns(netns_path_of(store, id));
        clear_published(containers, *r);
        return;
    }
    if (r && !bridged(r->network_mode)) return;
    if (::geteuid() != 0) return;  // nothing was made without root
    network::Networks nets(network_paths(store));
    std::set<std::string> touched;
    if (auto mine = nets.endpoints_of(id)) touched = networks_of_endpoints(*mine);
    (void)nets.disconnect_all(id, /*namespace_going=*/true);
    (void)network::remove_netns(netns_path_of(store, id));
    if (r) clear_published(containers, *r);
    if (!touched.empty()) {
        HostsWriter hosts(store, nets);
        (void)hosts.refresh({}, touched);
    }
}

}  // namespace

void end_container_network(const Store& store, const std::string& id) {
    auto r = container_store(store).load(id);
    end_network_of(store, id, r ? &*r : nullptr);
}

void end_container_network(const Store& store, const state::ContainerRecord& record) {
    end_network_of(store, record.id, &record);
}

std::string ports_column(const state::ContainerRecord& r) {
    if (!is_running(r)) return "";
    const json& net = net_config(r);
    auto ports = ports_from(net.value("published", json::array()));
    std::set<std::string> published;
    for (const auto& p : ports) published.insert(port_key(p));
    for (const auto& e : strings_of(net, "exposed"))
        if (auto p = exposed_port(e); p && !published.contains(port_key(*p))) ports.push_back(*p);
    return network::format_ports(ports);
}

std::vector<std::string> published_port_lines(const state::ContainerRecord& r) {
    std::vector<std::string> out;
    if (!is_running(r)) return out;
    for (const auto& p : ports_from(net_config(r).value("published", json::array())))
        out.push_back(network::format_ports({p}));
    return out;
}

nlohmann::json port_bindings(const state::ContainerRecord& r) {
    json out = json::object();
    for (const auto& p : ports_from(net_config(r).value("publish", json::array()))) {
        std::string host = p.host_port ? std::to_string(p.host_port) : "";
        if (p.host_port_end) host += "-" + std::to_string(p.host_port_end);
        out[port_key(p)].push_back({{"HostIp", p.host_ip}, {"HostPort", host}});
    }
    return out;
}

nlohmann::json network_settings(const Store& store, const state::ContainerRecord& r) {
    const bool running = is_running(r);
    const json& net = net_config(r);
    std::vector<network::Endpoint> endpoints;
    if (running && bridged(r.network_mode) && ::geteuid() == 0)
        if (auto found = networks_of(store).endpoints_of(r.id)) endpoints = *found;
    auto endpoint_on = [&](const std::string& name) -> const network::Endpoint* {
        for (const auto& e : endpoints)
            if (e.network == name) return &e;
        return nullptr;
    };
    auto entry = [](const network::Endpoint* e, const json& config) {
        std::string ip = config.is_object() ? config.value("ip", "") : "";
        return json{{"IPAMConfig", ip.empty() ? json(nullptr) : json{{"IPv4Address", ip}}},
                    {"Links", nullptr},
                    {"Aliases", config.is_object() && config.contains("aliases") ? config["aliases"] : json(nullptr)},
                    {"MacAddress", e ? e->mac : ""},
                    {"NetworkID", config.is_object() ? config.value("id", "") : ""},
                    {"EndpointID", ""},
                    {"Gateway", e ? e->gateway : ""},
                    {"IPAddress", e ? e->ip : ""},
                    {"IPPrefixLen", e ? e->prefix : 0},
                    {"IPv6Gateway", ""},
                    {"GlobalIPv6Address", ""},
                    {"GlobalIPv6PrefixLen", 0}};
    };
    json networks = json::object();
    if (r.network_mode == "none" || r.network_mode == "host" || pasta_mode(r.network_mode)) {
        networks[r.network_mode] = entry(nullptr, json::object());
    } else if (bridged(r.network_mode)) {
        for (const auto& config : net.value("networks", json::array()))
            networks[config.value("name", "")] = entry(endpoint_on(config.value("name", "")), config);
    }
    const bool own_namespace = bridged(r.network_mode) || pasta_mode(r.network_mode);
    json ports = json::object();
    if (running && own_namespace) {
        for (const auto& e : strings_of(net, "exposed")) ports[e] = nullptr;
        for (const auto& p : ports_from(net.value("published", json::array()))) {
            std::string key = port_key(p);
            if (!ports[key].is_array()) ports[key] = json::array();
            ports[key].push_back({{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                                  {"HostPort", std::to_string(p.host_port)}});
        }
    }
    // Docker fills the top-level address fields from the default network only.
    const network::Endpoint* bridge = endpoint_on("bridge");
    return json{{"Bridge", ""},
                {"SandboxID", ""},
                {"SandboxKey", running && own_namespace ? netns_path_of(store, r.id) : ""},
                {"HairpinMode", false},
                {"Ports", ports},
                {"EndpointID", ""},
                {"Gateway", bridge ? bridge->gateway : ""},
                {"GlobalIPv6Address", ""},
                {"GlobalIPv6PrefixLen", 0},
                {"IPAddress", bridge ? bridge->ip : ""},
                {"IPPrefixLen", bridge ? bridge->prefix : 0},
                {"IPv6Gateway", ""},
                {"MacAddress", bridge ? bridge->mac : ""},
                {"Networks", networks}};
}

Status connect_container(const Store& store, std::string_view network, std::string_view container,
                         const std::string& ip, const std::vector<std::string>& aliases) {
    SKIFF_TRY(r, find_reconciled(store, container));
    if (r.network_mode == "host")
        return fail("container cannot be disconnected from host network or connected to host network");
    if (r.network_mode == "none" || pasta_mode(r.network_mode))
        return fail("container cannot be connected to multiple networks with one of the networks in private (" +
                    r.network_mode + ") mode");
    if (r.network_mode.starts_with("container:"))
        return fail("container sharing network namespace with another container or host cannot be connected to any other network");
    if (::geteuid() != 0) return fail("connecting to a network needs root");
    auto nets = networks_of(store);
    auto found = nets.find(network);
    if (!found) return std::unexpected(user_facing(found.error()));
    const network::NetworkConfig& n = *found;
    const json& net = net_config(r);
    for (const auto& entry : net.value("networks", json::array()))
        if (entry.value("name", "") == n.name)
            return fail("endpoint with name " + r.name + " already exists in network " + n.name);
    if (n.is_default && !ip.empty()) return fail("user specified IP address is supported on user defined networks only");
    if (n.is_default && !aliases.empty())
        return fail("network-scoped alias is supported only for containers in user defined networks");
    if (!ip.empty()) SKIFF_CHECK(check_ip_in(n, ip));
    json entry = {{"name", n.name}, {"id", n.id}, {"aliases", aliases}, {"ip", ip}};
    const bool running = is_running(r);
    if (running) {
        network::ConnectRequest request;
        request.container_id = r.id;
        request.container_name = r.name;
        request.aliases = aliases;
        request.network = n.name;
        request.netns_path = netns_path_of(store, r.id);
        request.ip = ip;
        if (auto connected = nets.connect(request); !connected) return std::unexpected(user_facing(connected.error()));
    }
    auto containers = container_store(store);
    auto saved = containers.update(r.id, [&](state::ContainerRecord& rec) -> Status {
        if (!rec.config.is_object()) rec.config = json::object();
        auto& list = rec.config["net"]["networks"];
        if (!list.is_array()) list = json::array();
        list.push_back(entry);
        return ok();
    });
    if (!saved) {
        if (running) (void)nets.disconnect(r.id, n.name);
        return std::unexpected(saved.error());
    }
    if (running) {
        HostsWriter hosts(store, nets);
        (void)hosts.refresh({r.id}, {n.name});
    }
    return ok();
}

Status disconnect_container(const Store& store, std::string_view network, std::string_view container, bool force) {
    SKIFF_TRY(r, find_reconciled(store, container));
    if (r.network_mode == "host")
        return fail("container cannot be disconnected from host network or connected to host network");
    if (!bridged(r.network_mode))
        return fail("container " + r.id + " is not connected to network " + std::string(network));
    auto nets = networks_of(store);
    std::string name(network);
    if (auto n = nets.find(network)) name = n->name;
    else if (!force) return std::unexpected(user_facing(n.error()));
    const json& net = net_config(r);
    bool listed = false;
    for (const auto& entry : net.value("networks", json::array())) listed = listed || entry.value("name", "") == name;
    if (!listed && !force) return fail("container " + r.id + " is not connected to network " + name);
    if (is_running(r) && ::geteuid() == 0) {
        auto st = nets.disconnect(r.id, name);
        if (!st && st.error().code != ENOENT) return std::unexpected(user_facing(st.error()));
    }
    auto containers = container_store(store);
    SKIFF_CHECK(containers.update(r.id, [&](state::ContainerRecord& rec) -> Status {
        if (!rec.config.is_object() || !rec.config.contains("net")) return ok();
        auto& list = rec.config["net"]["networks"];
        if (!list.is_array()) return ok();
        json kept = json::array();
        for (const auto& entry : list)
            if (entry.value("name", "") != name) kept.push_back(entry);
        list = kept;
        return ok();
    }));
    if (is_running(r) && ::geteuid() == 0) {
        HostsWriter hosts(store, nets);
        (void)hosts.refresh({r.id}, {name});
    }
    return ok();
}

std::vector<std::string> containers_using_network(const Store& store, std::string_view network_name) {
    std::vector<std::string> out;
    auto listed = container_store(store).list();
    if (!listed) return out;
    for (const auto& r : *listed) {
        if (!bridged(r.network_mode)) continue;
        for (const auto& entry : net_config(r).value("networks", json::array()))
            if (entry.value("name", "") == network_name) {
                out.push_back(r.name);
                break;
            }
    }
    return out;
}

Result<std::vector<std::string>> prune_networks(const Store& store) {
    std::vector<std::string> removed;
    if (::geteuid() != 0) return removed;
    auto nets = networks_of(store);
    (void)nets.collect_stale();
    SKIFF_TRY(list, nets.list());
    for (const auto& n : list) {
        if (n.is_default) continue;
        auto on = nets.endpoints_on(n.name);
        if (!on || !on->empty()) continue;
        if (!containers_using_network(store, n.name).empty()) continue;
        if (nets.remove(n.name)) removed.push_back(n.name);
    }
    return removed;
}

}  // namespace skiff::engine
