// The OCI runtime-spec 1.x configuration (config.json) as plain structs.
//
// parse_spec() validates while it reads: every error names the JSON path of the bad field
// ("process.capabilities.bounding[2]: unknown capability CAP_FOO"). Fields skiff does not
// act on are still type-checked so a typo is not silently ignored.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace skiff::runtime {

struct Rlimit {
    std::string type;  // "RLIMIT_NOFILE"
    int resource = 0;  // RLIMIT_NOFILE
    uint64_t soft = 0;
    uint64_t hard = 0;
};

struct Capabilities {
    // Capability numbers (CAP_CHOWN = 0 ...), already mapped from names.
    std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<mode_t> umask;
    std::vector<uint32_t> additional_gids;
};

struct ConsoleSize {
    unsigned height = 0;
    unsigned width = 0;
};

struct Process {
    bool terminal = false;
    std::optional<ConsoleSize> console_size;
    User user;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    std::optional<Capabilities> capabilities;
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    std::string apparmor_profile;
    std::optional<int> oom_score_adj;
    std::string selinux_label;
};

struct Mount {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> timeout;  // seconds
};

struct Hooks {
    std::vector<Hook> prestart;          // deprecated; runs with createRuntime
    std::vector<Hook> create_runtime;    // runtime namespace, after namespaces exist
    std::vector<Hook> create_container;  // container namespace, before pivot_root
    std::vector<Hook> start_container;   // container namespace, before exec of the user process
    std::vector<Hook> poststart;         // runtime namespace, after start
    std::vector<Hook> poststop;          // runtime namespace, after delete
};

struct Namespace {
    std::string type;   // pid network mount ipc uts user cgroup time
    std::string path;   // empty = new namespace
    int clone_flag = 0; // CLONE_NEWPID ...
};

struct IdMapping {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t size = 0;
};

struct Device {
    std::string path;
    char type = 'c';  // c b u p
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<mode_t> file_mode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
};

struct SeccompArg {
    unsigned index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    std::string op;  // SCMP_CMP_EQ ...
};

struct SeccompSyscall {
    std::vector<std::string> names;
    std::string action;  // SCMP_ACT_ERRNO ...
    std::optional<uint32_t> errno_ret;
    std::vector<SeccompArg> args;
};

struct Seccomp {
    std::string default_action;
    std::optional<uint32_t> default_errno_ret;
    std::vector<std::string> architectures;
    std::vector<std::string> flags;
    std::string listener_path;
    std::vector<SeccompSyscall> syscalls;
};

struct Linux {
    std::vector<Namespace> namespaces;
    std::vector<IdMapping> uid_mappings;
    std::vector<IdMapping> gid_mappings;
    std::vector<Device> devices;
    std::string cgroups_path;
    // linux.resources is kept as JSON: cgroups/ interprets it (limits are its own concern).
    nlohmann::json resources;
    std::map<std::string, std::string> sysctl;
    std::optional<Seccomp> seccomp;
    std::string rootfs_propagation;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::string mount_label;
    nlohmann::json personality;
    nlohmann::json intel_rdt;
};

struct Root {
    std::string path;  // as written (may be relative to the bundle)
    bool readonly = false;
};

struct Spec {
    std::string oci_version;
    std::optional<Process> process;
    std::optional<Root> root;
    std::string hostname;
    std::string domainname;
    std::vector<Mount> mounts;
    std::optional<Hooks> hooks;
    std::map<std::string, std::string> annotations;
    std::optional<Linux> linux;

    bool has_namespace(const std::string& type) const;
    const Namespace* find_namespace(const std::string& type) const;
};

// Parse and validate config.json text. Errors name the field: "process.args: ...".
Result<Spec> parse_spec(const std::string& json_text);
Result<Spec> parse_spec(const nlohmann::json& doc);
// Read <bundle>/config.json and parse it.
Result<Spec> load_spec(const std::string& bundle_dir);
// The same, keeping the text as read (create records exactly that, without a second read).
struct LoadedSpec {
    Spec spec;
    std::string text;
};
Result<LoadedSpec> load_spec_and_text(const std::string& bundle_dir);
// A config.json this process has just written (the engine's `run` creates the container's
// bundle, then the runtime's create reads it in the same process): kept parsed, so that
// load_spec_and_text does not read and parse it back while the file is still that one.
void remember_written_spec(const std::string& config_path, nlohmann::json doc, std::string text);

// The default spec `skiff-runtime spec` writes (runc's shape: sh in a busybox-like rootfs).
nlohmann::json default_spec_json(bool rootless);

// Namespace type name <-> clone flag. Unknown names give 0.
int namespace_clone_flag(const std::string& type);
// RLIMIT_* name -> resource number, -1 when unknown.
int rlimit_resource(const std::string& name);

}  // namespace skiff::runtime
