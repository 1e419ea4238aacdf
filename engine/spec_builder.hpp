// The OCI runtime spec (config.json) for a container made from an image and `docker run`
// flags, with Docker's secure defaults: its 14 capabilities, its seccomp profile, masked and
// read-only /proc paths, private namespaces, and /etc/hosts, /etc/hostname and
// /etc/resolv.conf written beside the container and bind-mounted.
//
// Also the parsers for the flags' own syntax (-v, --mount, --ulimit, -m, --cpus,
// --env-file), each failing with Docker's wording so users recognise the message.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "image/manifest.hpp"

namespace skiff::engine {

// One -v / --mount. build_spec() wants `source` as a host path: for type "volume" the caller
// replaces the volume's name (empty for an anonymous volume) by its directory first.
struct VolumeMount {
    std::string type = "bind";  // "bind" | "volume" | "tmpfs"
    std::string source;         // host path, volume name, or "" (anonymous volume, tmpfs)
    std::string destination;    // absolute, cleaned
    bool read_only = false;
    std::string propagation;    // "" (rprivate) or private/rprivate/shared/rshared/slave/rslave
    std::string tmpfs_options;  // type tmpfs: "size=64m,mode=1777" (Docker's data string)
    bool no_copy = false;       // volume-nocopy / ":nocopy": do not seed from the image
    bool non_recursive = false; // bind-nonrecursive: "bind" instead of "rbind"
    bool create_source = false; // -v: a missing host directory is made (Docker); --mount: refused
};

struct RunSpecOptions {
    std::vector<std::string> command;                    // CMD from the command line
    std::optional<std::vector<std::string>> entrypoint;  // --entrypoint; {} or {""} clears
    // -e and --env-file, in order. "KEY" alone takes the value from this process's
    // environment, or removes KEY when unset here (Docker's rule).
    std::vector<std::string> env;
    std::string workdir, user, hostname, domainname;
    bool tty = false, read_only = false, privileged = false;
    bool interactive = false;  // stdin handling only: nothing in the spec depends on it
    bool init = false, no_new_privileges = false;
    std::vector<std::string> cap_add, cap_drop;  // "NET_ADMIN", "CAP_NET_ADMIN", "ALL"
    std::string seccomp_profile;  // "" or "builtin" = default, "unconfined", or a JSON file
    std::vector<VolumeMount> volumes;
    std::vector<std::string> tmpfs;    // "/run:size=64m"
    std::vector<std::string> ulimits;  // "nofile=1024:2048"
    std::optional<int64_t> memory;     // bytes
    std::optional<double> cpus;
    std::optional<int64_t> pids_limit;  // <= 0: unlimited
    // "none" | "host" | "container:<id>" (joins inputs.netns_path, shares the files of
    // inputs.shared_net_dir) | a network's name ("bridge", a user network: joins
    // inputs.netns_path, the namespace the engine prepares at start).
    std::string network_mode = "none";
    std::vector<std::string> networks;         // further --network values (after the first)
    std::string ip;                            // --ip, on the first network
    std::vector<std::string> network_aliases;  // --network-alias, on the first network
    std::vector<std::string> publish;          // -p specs as typed
    bool publish_all = false;                  // -P
    std::vector<std::string> dns;              // --dns: nameservers instead of the host's
    // --add-host NAME:IP; "host-gateway" must be replaced by an address before build_spec.
    std::vector<std::string> extra_hosts;
    std::string stop_signal;            // else the image's StopSignal
    std::string cgroup_parent;          // "" = the runtime's default place
};

struct SpecInputs {
    const image::ImageConfig* image = nullptr;  // required
    std::string rootfs;         // the container's mounted root (passwd lookup, workdir)
    std::string container_id;   // 64 hex; hostname default = first 12
    std::string container_dir;  // hosts, hostname, resolv.conf are written here ("" = none)
    std::string init_path;      // static init bound at /sbin/docker-init for --init
    // Network modes other than none and host: the namespace file PID 1 joins.
    std::string netns_path;
    // container:<x>: x's directory (its hosts, hostname, resolv.conf are mounted, not
    // written) and x's hostname.
    std::string shared_net_dir;
    std::string shared_hostname;
    // Host files the container's copies start from (tests point these elsewhere).
    std::string host_resolv_conf = "/etc/resolv.conf";
    std::string host_hosts = "/etc/hosts";
    // Seccomp names the runtime's libseccomp resolves; names failing it are dropped, as runc
    // does. Unset keeps all (our default table only holds names libseccomp 2.5.4 knows).
    std::function<bool(const std::string&)> syscall_known;
    // Where the default seccomp profile's OCI form is kept between runs ("" = made each time).
    std::string seccomp_cache_dir;
};

// Docker's sysctls for a container's own network namespace: binding low ports and ping
// need no capability there. In the spec when the runtime makes the namespace; written by
// the engine into one it makes itself (engine/container_network).
std::map<std::string, std::string> container_network_sysctls();

// The config.json for one container. Side effects: writes hosts/hostname/resolv.conf into
// container_dir and creates a missing working directory inside rootfs (as Docker does).
Result<nlohmann::json> build_spec(const SpecInputs& inputs, const RunSpecOptions& options);

// -v SRC:DST[:MODES], -v DST (anonymous volume). SRC absolute -> bind, else a volume name.
// MODES: ro|rw, z|Z, a propagation, nocopy, consistent|cached|delegated (one of each kind).
Result<VolumeMount> parse_volume(std::string_view text);
// --mount type=bind|volume|tmpfs,source=,target=,readonly,bind-propagation=,...
Result<VolumeMount> parse_mount(std::string_view text);

struct Ulimit {
    std::string name;  // "nofile"
    int64_t soft = 0;  // -1 = unlimited
    int64_t hard = 0;
};
// --ulimit name=soft[:hard]
Result<Ulimit> parse_ulimit(std::string_view text);
// -m/--memory, --shm-size, tmpfs-size: "512m", "1.5g", "1024" (go-units RAMInBytes).
Result<int64_t> parse_memory(std::string_view text);
// --cpus "1.5": at most nine decimals (nano-CPUs), not negative.
Result<double> parse_cpus(std::string_view text);
// --env-file: KEY=VALUE lines, '#' comments, "KEY" alone taken from this environment.
Result<std::vector<std::string>> read_env_file(const std::string& path);

struct ResolvedUser {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::vector<uint32_t> additional_gids;  // groups listing the user (implicit group only)
    std::string home = "/";
};
// "" (root), "name", "uid", "name:group", "uid:gid", via the rootfs's /etc/passwd and
// /etc/group, read inside the rootfs (symlinks cannot leave it). Unknown name: Docker's
// "unable to find user NAME: no matching entries in passwd file".
Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user);

// Docker's default capabilities with --cap-add/--cap-drop/--privileged applied, "CAP_X"
// form. Unknown names: `unknown capability: "CAP_FOO"`.
Result<std::vector<std::string>> container_capabilities(const std::vector<std::string>& add,
                                                        const std::vector<std::string>& drop,
                                                        bool privileged);

// Host resolv.conf text -> the container's: loopback nameservers dropped (unreachable from
// the container's own network namespace), Google's public DNS when none is left.
std::string container_resolv_conf(const std::string& host_text);
// The container's resolv.conf: from the host's file at host_path (systemd-resolved's stub
// replaced by its upstream servers), loopback servers dropped unless host_network; `dns`
// (--dns) replaces the nameservers and keeps the host's search and options lines.
std::string container_resolv_text(const std::string& host_path, const std::vector<std::string>& dns,
                                  bool host_network);
// /etc/hosts of a container with its own network: the localhost lines, then one "IP\tNAME"
// line per --add-host NAME:IP.
std::string container_hosts_base(const std::vector<std::string>& extra_hosts);
// --add-host NAME:IP (or NAME=IP): Docker's check; IP may be "host-gateway".
Status validate_extra_host(std::string_view text);

}  // namespace skiff::engine
