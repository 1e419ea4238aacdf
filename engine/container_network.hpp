// A container's network, as the engine sees it: which networks it is on, its namespace and
// endpoints while it runs, the /etc/hosts it sees, and what ps/port/inspect show of it.
// network/ does the kernel side (bridges, veths, nftables, leases); this file decides when.
//
// Modes (record.network_mode):
//   none            a namespace of its own with lo only (made by the runtime)
//   host            the host's namespace, the host's /etc/hosts and resolv.conf
//   container:<id>  the namespace of that container's PID 1 (/proc/<pid>/ns/net, written
//                   into config.json at each start: it must be running) and its hosts,
//                   hostname and resolv.conf files
//   pasta           (the default without root) a namespace made at each start at
//                   <runroot>/netns/<id> in the caller's user namespace, given outside
//                   access and the published ports by a pasta process (pid and start time
//                   in record.config["net"]["pasta"] while it runs)
//   <network>       "bridge" (the default network) or a user network: a namespace made at
//                   each start at <runroot>/netns/<id> (config.json names that fixed path),
//                   one endpoint per network (the first is eth0 and carries the published
//                   ports), released at every end of a run
//
// What create decided is kept in record.config["net"]:
//   networks     [{name, id, aliases, ip}]   in order; the first gets eth0 and the ports
//   publish      [PortMapping]               -p and -P as asked (host port 0 = any)
//   exposed      ["80/tcp", ...]             the image's EXPOSE and the -p container ports
//   extra_hosts  ["name:ip"]                 --add-host, host-gateway resolved
//   dns          ["1.1.1.1"]                 --dns
//   published    [PortMapping]               while running: the ports as bound
//   container    "<id>"                      container:<x> mode: x's id
//
// /etc/hosts of a container on a network: the localhost lines, --add-host lines, its own
// address and hostname, and on user networks (not the default "bridge", as in Docker) every
// other container on them by name, aliases and short id. Rewritten in place (same inode: it
// is bind-mounted) under <runroot>/network-hosts.lock whenever a container of this store
// joins or leaves one of its user networks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "engine/spec_builder.hpp"
#include "engine/store.hpp"
#include "image/manifest.hpp"
#include "network/network.hpp"
#include "state/container_store.hpp"

namespace skiff::engine {

// network/ tags its refusals with an errno (ENOENT "network X not found", EEXIST, EBUSY,
// EPERM "pre-defined", EINVAL) so callers can tell them apart; users get the sentence alone
// (Docker's words), without strerror after it. Other errors pass unchanged.
Error user_facing(Error error);

// The host-wide network state for this store's user (SKIFF_NETWORK_DIR etc. apply).
network::NetworkPaths network_paths(const Store& store);
network::Networks networks_of(const Store& store);

// The network part of `create`, decided before anything is made.
struct PreparedNetwork {
    std::string mode;          // for record.network_mode
    nlohmann::json config;     // for record.config["net"]
    std::vector<std::string> extra_hosts;  // --add-host with host-gateway replaced
    std::string shared_dir;       // container:<x>: x's directory
    std::string shared_hostname;  // container:<x>: x's hostname
    std::string shared_netns;     // container:<x>: a namespace path for config.json (set again at start)
};
// Checks the flags against each other (Docker's "conflicting options: ..." errors), the
// networks (`network NAME not found`), -p specs, --ip, --dns, --add-host and the rights
// (bridge and user networks need root). Nothing is changed.
Result<PreparedNetwork> prepare_container_network(const Store& store, const RunSpecOptions& options,
                                                  const image::ImageConfig& image);
// The SpecInputs network fields for a container being created.
void set_spec_network_inputs(const Store& store, const std::string& id, const PreparedNetwork& prepared,
                             SpecInputs& inputs);

// Before PID 1 starts: namespace, endpoints (ports on the first), /etc/hosts of this
// container and of the others on its user networks, the record's ports. All or nothing: on
// failure nothing of it is left. container:<x>: x must run; config.json is pointed at it.
Status start_container_network(const Store& store, const std::string& id);
// At every end of a run (and on rm): endpoints released, namespace removed, /etc/hosts of
// the others updated, the record's ports cleared. Missing pieces are fine; never fails.
void end_container_network(const Store& store, const std::string& id);
// The same for a caller that holds the container's record already (one read less; what it
// uses, the network mode and what was started, is the record's since the run began).
void end_container_network(const Store& store, const state::ContainerRecord& record);
// After a rename: the hosts files of the containers on its user networks name it anew.
void refresh_names_after_rename(const Store& store, const std::string& id);

// Docker's PORTS column ("0.0.0.0:8080->80/tcp, 443/tcp"): empty unless running.
std::string ports_column(const state::ContainerRecord& record);
// The published ports one per mapping ("0.0.0.0:8080->80/tcp"), for `port`.
std::vector<std::string> published_port_lines(const state::ContainerRecord& record);
// inspect's NetworkSettings (Docker's shape).
nlohmann::json network_settings(const Store& store, const state::ContainerRecord& record);
// inspect's HostConfig.PortBindings ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}).
nlohmann::json port_bindings(const state::ContainerRecord& record);

// `network connect`: a running container is plugged in now, a stopped one at its next
// start. --ip and --alias as for run.
Status connect_container(const Store& store, std::string_view network, std::string_view container,
                         const std::string& ip, const std::vector<std::string>& aliases);
// `network disconnect`: unplugged now when running; removed from its networks either way.
Status disconnect_container(const Store& store, std::string_view network, std::string_view container,
                            bool force);

// Container names of this store that name the network in their configuration (running or
// not), for rm/prune checks. Keyed by network name.
std::vector<std::string> containers_using_network(const Store& store, std::string_view network_name);

// `network prune` and `system prune`: user networks no endpoint and no container of this
// store uses (their names, in order). Stale endpoints (namespace gone) are released first.
Result<std::vector<std::string>> prune_networks(const Store& store);

}  // namespace skiff::engine
