#include "cli/network_cli.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/output.hpp"
#include "engine/container_network.hpp"
#include "engine/containers.hpp"

namespace skiff::cli {
namespace {

using nlohmann::json;

std::string labels_text(const std::map<std::string, std::string>& labels) {
    std::string out;
    for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
    return out;
}

std::map<std::string, std::string> parse_labels(const std::vector<std::string>& list) {
    std::map<std::string, std::string> labels;
    for (const auto& l : list) {
        auto eq = l.find('=');
        labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
    }
    return labels;
}

CLI::Option* multi(CLI::Option* o) {
    return o->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// Docker's network inspect object.
json network_json(const network::NetworkConfig& n, const std::vector<network::Endpoint>& endpoints) {
    json containers = json::object();
    for (const auto& e : endpoints)
        containers[e.container_id] = {{"Name", e.container_name},
                                      {"EndpointID", ""},
                                      {"MacAddress", e.mac},
                                      {"IPv4Address", e.ip + "/" + std::to_string(e.prefix)},
                                      {"IPv6Address", ""}};
    return json{{"Name", n.name},
                {"Id", n.id},
                {"Created", n.created},
                {"Scope", "local"},
                {"Driver", n.driver},
                {"EnableIPv6", false},
                {"IPAM",
                 {{"Driver", "default"},
                  {"Options", json::object()},
                  {"Config", json::array({{{"Subnet", n.subnet}, {"Gateway", n.gateway}}})}}},
                {"Internal", n.internal},
                {"Attachable", false},
                {"Ingress", false},
                {"ConfigFrom", {{"Network", ""}}},
                {"ConfigOnly", false},
                {"Containers", containers},
                {"Options", {{"com.docker.network.bridge.name", n.interface}}},
                {"Labels", n.labels}};
}

// `network ls --filter`: name= (substring), id= (prefix), driver=, label=KEY[=VALUE],
// type=custom|builtin.
Result<bool> network_matches(const network::NetworkConfig& n, const std::vector<std::string>& filters) {
    for (const auto& f : filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos) return fail("bad format of filter (expected name=value)");
        std::string key = f.substr(0, eq), value = f.substr(eq + 1);
        if (key == "name") {
            if (n.name.find(value) == std::string::npos) return false;
        } else if (key == "id") {
            if (!n.id.starts_with(value)) return false;
        } else if (key == "driver") {
            if (n.driver != value) return false;
        } else if (key == "label") {
            auto keq = value.find('=');
            auto it = n.labels.find(value.substr(0, keq));
            if (it == n.labels.end() || (keq != std::string::npos && it->second != value.substr(keq + 1))) return false;
        } else if (key == "type") {
            if (value != "custom" && value != "builtin") return fail("invalid filter: 'type'='" + value + "'");
            if ((value == "builtin") != n.is_default) return false;
        } else {
            return fail("invalid filter '" + key + "'");
        }
    }
    return true;
}

void add_create(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "create", "create a network (prints its id)");
    if (!cmd) return;
    struct Flags {
        std::string name, subnet, gateway, driver = "bridge";
        bool internal = false;
        std::vector<std::string> labels;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_option("-d,--driver", f->driver, "network driver (only \"bridge\")");
    cmd->add_option("--subnet", f->subnet, "IPv4 subnet in CIDR form (default: the next free /24 of 10.89.0.0/16)");
    cmd->add_option("--gateway", f->gateway, "IPv4 gateway of the subnet (default: its first address)");
    cmd->add_flag("--internal", f->internal, "no route out of the network, no published ports from outside");
    multi(cmd->add_option("--label", f->labels, "KEY=VALUE metadata"));
    cmd->add_option("NAME", f->name, "network name")->required();
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        if (f->driver != "bridge") return fail("plugin \"" + f->driver + "\" not found (only the bridge driver is built in)");
        network::CreateNetworkRequest request;
        request.name = f->name;
        request.subnet = f->subnet;
        request.gateway = f->gateway;
        request.internal = f->internal;
        request.labels = parse_labels(f->labels);
        auto store = open_store(globals);
        auto created = engine::networks_of(store).create(request);
        if (!created) return std::unexpected(engine::user_facing(created.error()));
        std::printf("%s\n", created->id.c_str());
        return ok();
    });
}

void add_ls(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "ls", "list networks", {"list"});
    if (!cmd) return;
    struct Flags {
        bool quiet = false, no_trunc = false;
        std::vector<std::string> filters;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_flag("-q,--quiet", f->quiet, "only network ids");
    cmd->add_flag("--no-trunc", f->no_trunc, "full ids");
    multi(cmd->add_option("-f,--filter", f->filters, "name=, id=, driver=, label=KEY[=VALUE], type=custom|builtin"));
    cmd->add_option("--format", f->format, "Go template, 'table TEMPLATE' or 'json'");
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        auto store = open_store(globals);
        SKIFF_TRY(list, engine::networks_of(store).list());
        std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        std::vector<json> objects;
        std::vector<std::vector<std::string>> rows{{"NETWORK ID", "NAME", "DRIVER", "SCOPE"}};
        for (const auto& n : list) {
            SKIFF_TRY(match, network_matches(n, f->filters));
            if (!match) continue;
            std::string id = f->no_trunc ? n.id : n.id.substr(0, 12);
            if (f->quiet) {
                std::printf("%s\n", id.c_str());
                continue;
            }
            objects.push_back({{"ID", id}, {"Name", n.name}, {"Driver", n.driver}, {"Scope", "local"},
                               {"IPv6", "false"}, {"Internal", n.internal ? "true" : "false"},
                               {"Labels", labels_text(n.labels)}, {"CreatedAt", n.created}});
            rows.push_back({id, n.name, n.driver, "local"});
        }
        if (f->quiet) return ok();
        return print_rows(f->format, objects, rows, {{"ID", "NETWORK ID"}});
    });
}

void add_inspect(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "inspect", "show networks in Docker's JSON form");
    if (!cmd) return;
    auto format = std::make_shared<std::string>();
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("-f,--format", *format, "Go template applied to each network");
    cmd->add_option("NETWORK", *names, "networks")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        auto store = open_store(globals);
        auto nets = engine::networks_of(store);
        return print_inspected(*names, *format, [&](const std::string& name) -> Result<json> {
            auto n = nets.find(name);
            if (!n) return std::unexpected(engine::user_facing(n.error()));
            SKIFF_TRY(endpoints, nets.endpoints_on(n->name));
            return network_json(*n, endpoints);
        });
    });
}

void add_rm(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "rm", "remove networks (refused while a container is on them)", {"remove"});
    if (!cmd) return;
    auto force = std::make_shared<bool>(false);
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_flag("-f,--force", *force, "no error for networks that do not exist");
    cmd->add_option("NETWORK", *names, "networks")->required();
    cmd->callback([=, &globals, &exit_code] {
        auto store = open_store(globals);
        auto nets = engine::networks_of(store);
        exit_code = 0;
        for (const auto& n : *names) {
            auto removed = nets.remove(n);
            if (removed) std::printf("%s\n", n.c_str());
            else if (!(*force && removed.error().code == ENOENT)) exit_code = report(engine::user_facing(removed.error()));
        }
    });
}

void add_prune(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "prune", "remove user networks no container uses");
    if (!cmd) return;
    auto force = std::make_shared<bool>(false);
    cmd->add_flag("-f,--force", *force, "do not ask for confirmation");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        if (!*force && !confirmed("WARNING! This will remove all custom networks not used by at least one container."))
            return ok();
        SKIFF_TRY(removed, engine::prune_networks(open_store(globals)));
        if (removed.empty()) return ok();
        std::printf("Deleted Networks:\n");
        for (const auto& n : removed) std::printf("%s\n", n.c_str());
        return ok();
    });
}

void add_connect(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "connect", "connect a container to a network (now if it runs, else at its next start)");
    if (!cmd) return;
    struct Flags {
        std::string network, container, ip;
        std::vector<std::string> aliases;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_option("--ip", f->ip, "IPv4 address on that network");
    multi(cmd->add_option("--alias", f->aliases, "another name of the container on that network"));
    cmd->add_option("NETWORK", f->network, "network")->required();
    cmd->add_option("CONTAINER", f->container, "container")->required();
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        return engine::connect_container(open_store(globals), f->network, f->container, f->ip, f->aliases);
    });
}

void add_disconnect(CLI::App* group, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*group, globals, "disconnect", "disconnect a container from a network");
    if (!cmd) return;
    struct Flags {
        std::string network, container;
        bool force = false;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_flag("-f,--force", f->force, "also when the network is gone");
    cmd->add_option("NETWORK", f->network, "network")->required();
    cmd->add_option("CONTAINER", f->container, "container")->required();
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        return engine::disconnect_container(open_store(globals), f->network, f->container, f->force);
    });
}

}  // namespace

void add_network_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code) {
    auto* group = add_group(app, globals, "network", "manage networks");
    if (!group) return;
    add_create(group, globals, exit_code);
    add_ls(group, globals, exit_code);
    add_inspect(group, globals, exit_code);
    add_rm(group, globals, exit_code);
    add_prune(group, globals, exit_code);
    add_connect(group, globals, exit_code);
    add_disconnect(group, globals, exit_code);
}

}  // namespace skiff::cli
