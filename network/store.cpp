// Network and endpoint files (store.hpp).
#include "network/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "common/fs.hpp"

namespace skiff::network {

using nlohmann::json;

namespace {

constexpr size_t kMaxFileBytes = size_t(1) << 20;

Result<std::vector<std::string>> json_files(const std::string& dir) {
    SKIFF_TRY(names, dir_entries(dir));
    std::vector<std::string> out;
    for (const auto& name : names)
        // Temporary files of atomic writes end in ".tmp-<pid>": not ".json".
        if (name.size() > 5 && name.ends_with(".json") && name[0] != '.') out.push_back(dir + "/" + name);
    std::sort(out.begin(), out.end());
    return out;
}

Result<json> read_json(const std::string& path) {
    SKIFF_TRY(text, read_file_limited(path, kMaxFileBytes));
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return fail(path + ": not a JSON object");
    return doc;
}

Status write_json(const std::string& path, const json& doc) {
    SKIFF_CHECK(write_file_atomic(path, doc.dump(2) + "\n", 0644));
    fsync_directory(dirname_of(path));
    return ok();
}

// nlohmann throws on a wrong type; one message naming the file is enough here.
template <typename F>
auto guarded(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const json::exception& e) {
        return fail(std::string("malformed record: ") + e.what());
    }
}

json port_to_json(const PortMapping& p) {
    return {{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
            {"protocol", p.protocol}};
}

}  // namespace

json to_json(const NetworkConfig& n) {
    return {{"name", n.name},         {"id", n.id},           {"driver", n.driver},
            {"interface", n.interface}, {"subnet", n.subnet},   {"gateway", n.gateway},
            {"internal", n.internal}, {"is_default", n.is_default}, {"labels", n.labels},
            {"created", n.created}};
}

json to_json(const Endpoint& e) {
    json ports = json::array();
    for (const auto& p : e.ports) ports.push_back(port_to_json(p));
    return {{"container_id", e.container_id}, {"container_name", e.container_name}, {"aliases", e.aliases},
            {"network", e.network},           {"netns_path", e.netns_path},         {"interface", e.interface},
            {"host_interface", e.host_interface}, {"ip", e.ip},                     {"prefix", e.prefix},
            {"gateway", e.gateway},           {"mac", e.mac},                       {"ports", ports}};
}

Result<NetworkConfig> network_from_json(const json& j) {
    return guarded([&]() -> Result<NetworkConfig> {
        NetworkConfig n;
        n.name = j.at("name").get<std::string>();
        n.id = j.at("id").get<std::string>();
        n.driver = j.value("driver", "bridge");
        n.interface = j.at("interface").get<std::string>();
        n.subnet = j.at("subnet").get<std::string>();
        n.gateway = j.at("gateway").get<std::string>();
        n.internal = j.value("internal", false);
        n.is_default = j.value("is_default", false);
        n.labels = j.value("labels", std::map<std::string, std::string>{});
        n.created = j.value("created", "");
        return n;
    });
}

Result<Endpoint> endpoint_from_json(const json& j) {
    return guarded([&]() -> Result<Endpoint> {
        Endpoint e;
        e.container_id = j.at("container_id").get<std::string>();
        e.container_name = j.value("container_name", "");
        e.aliases = j.value("aliases", std::vector<std::string>{});
        e.network = j.at("network").get<std::string>();
        e.netns_path = j.value("netns_path", "");
        e.interface = j.value("interface", "");
        e.host_interface = j.value("host_interface", "");
        e.ip = j.at("ip").get<std::string>();
        e.prefix = j.value("prefix", 0);
        e.gateway = j.value("gateway", "");
        e.mac = j.value("mac", "");
        for (const auto& p : j.value("ports", json::array()))
            e.ports.push_back({p.value("host_ip", ""), p.at("host_port").get<uint16_t>(),
                               p.at("container_port").get<uint16_t>(), p.value("protocol", "tcp")});
        return e;
    });
}

Result<UniqueFd> StateDir::lock() const {
    SKIFF_CHECK(mkdir_p(networks_dir(), 0755));
    SKIFF_CHECK(mkdir_p(endpoints_dir(), 0755));
    const std::string path = dir_ + "/lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sys_error("open lock " + path);
    while (::flock(fd.get(), LOCK_EX) != 0)
        if (errno != EINTR) return sys_error("lock " + path);
    return fd;
}

Result<std::vector<NetworkConfig>> StateDir::networks() const {
    SKIFF_TRY(files, json_files(networks_dir()));
    std::vector<NetworkConfig> out;
    for (const auto& path : files) {
        SKIFF_TRY(doc, read_json(path));
        SKIFF_TRY(n, with_context(network_from_json(doc), path));
        out.push_back(std::move(n));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

Status StateDir::write(const NetworkConfig& n) const {
    return write_json(networks_dir() + "/" + n.name + ".json", to_json(n));
}

Status StateDir::remove_network(const std::string& name) const {
    const std::string path = networks_dir() + "/" + name + ".json";
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("remove " + path);
    return ok();
}

Result<std::vector<Endpoint>> StateDir::endpoints() const {
    SKIFF_TRY(files, json_files(endpoints_dir()));
    std::vector<Endpoint> out;
    for (const auto& path : files) {
        SKIFF_TRY(doc, read_json(path));
        SKIFF_TRY(e, with_context(endpoint_from_json(doc), path));
        out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.container_id, a.network) < std::tie(b.container_id, b.network);
    });
    return out;
}

Status StateDir::write(const Endpoint& e) const {
    return write_json(endpoints_dir() + "/" + e.container_id + "-" + e.network + ".json", to_json(e));
}

Status StateDir::remove_endpoint(const std::string& container_id, const std::string& network) const {
    const std::string path = endpoints_dir() + "/" + container_id + "-" + network + ".json";
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("remove " + path);
    return ok();
}

}  // namespace skiff::network
