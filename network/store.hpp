// The network directory: one JSON file per network and per endpoint, and the lock that
// serialises every change to them. Internal to network/.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "network/network.hpp"

namespace skiff::network {

nlohmann::json to_json(const NetworkConfig& n);
nlohmann::json to_json(const Endpoint& e);
Result<NetworkConfig> network_from_json(const nlohmann::json& j);
Result<Endpoint> endpoint_from_json(const nlohmann::json& j);

class StateDir {
public:
    explicit StateDir(const NetworkPaths& paths) : dir_(paths.dir) {}

    // Exclusive flock on <dir>/lock (the directories made first); held while the fd lives.
    Result<UniqueFd> lock() const;

    Result<std::vector<NetworkConfig>> networks() const;  // sorted by name
    Status write(const NetworkConfig& n) const;
    Status remove_network(const std::string& name) const;

    Result<std::vector<Endpoint>> endpoints() const;  // sorted by container id, network
    Status write(const Endpoint& e) const;
    Status remove_endpoint(const std::string& container_id, const std::string& network) const;

private:
    std::string networks_dir() const { return dir_ + "/networks"; }
    std::string endpoints_dir() const { return dir_ + "/endpoints"; }
    std::string dir_;
};

}  // namespace skiff::network
