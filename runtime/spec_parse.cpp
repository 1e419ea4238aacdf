// config.json -> Spec, validating as it goes. Every parser takes the JSON value and the
// JSON path that reached it, so an error can say exactly which field is wrong.
#include "runtime/spec.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <concepts>
#include <limits>
#include <set>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/fs.hpp"
#include "common/json_fields.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/mount_options.hpp"

namespace skiff::runtime {

namespace {

using nlohmann::json;
using json_fields::array_of;
using json_fields::as_bool;
using json_fields::as_integer;
using json_fields::as_string;
using json_fields::element_path;
using json_fields::expect_object;
using json_fields::field_error;
using json_fields::json_type_name;
using json_fields::member_path;
using json_fields::read_optional;
using json_fields::read_required;
using json_fields::type_error;

// Hostile or broken bundles must not make us read an unbounded file.
constexpr size_t kMaxConfigBytes = 16 * 1024 * 1024;
// Copying and destroying nlohmann values recurses once per level, so "[[[[...]]]]" in a
// 16 MiB file would overflow the stack. Real configs nest less than ten levels.
constexpr size_t kMaxNestingDepth = 128;

// ---------------------------------------------------------------------------------------
// Paths and errors

// A string as a JSON literal, so control characters in user input stay readable and cannot
// break the one-line error.
std::string json_quoted(std::string_view text) {
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Keys of free-form maps (sysctl, annotations) contain dots, so they are bracketed.
std::string map_key_path(const std::string& parent, std::string_view key) {
    return parent + "[" + json_quoted(key) + "]";
}

// True when arrays/objects in `text` nest deeper than `limit` (strings are skipped).
bool nesting_exceeds(std::string_view text, size_t limit) {
    size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
            case '"': in_string = true; break;
            case '[':
            case '{':
                if (++depth > limit) return true;
                break;
            case ']':
            case '}':
                if (depth > 0) --depth;
                break;
            default: break;
        }
    }
    return false;
}

// ---------------------------------------------------------------------------------------
// Scalar converters: (value, path) -> Result<T>

Result<std::string> as_absolute_path(const json& value, const std::string& path) {
    SKIFF_TRY(text, as_string(value, path));
    if (text.empty() || text.front() != '/')
        return field_error(path, "must be an absolute path, got " + json_quoted(text));
    return text;
}

Result<std::map<std::string, std::string>> as_string_map(const json& value,
                                                         const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    std::map<std::string, std::string> result;
    for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) return type_error(map_key_path(path, key), "string", item);
        result.emplace(key, item.get<std::string>());
    }
    return result;
}

// Sections skiff hands on as JSON (linux.resources, ...) are still checked for their shape.
Result<json> as_raw_object(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    return value;
}

constexpr auto as_uint32 = as_integer<uint32_t>;
constexpr auto as_uint64 = as_integer<uint64_t>;
constexpr auto as_int64 = as_integer<int64_t>;
constexpr auto as_int = as_integer<int>;

// ---------------------------------------------------------------------------------------
// root, process

Result<Root> parse_root(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Root root;
    SKIFF_TRY(root_path, read_required(value, path, "path", as_string, "a string"));
    if (root_path.empty()) return field_error(member_path(path, "path"), "must not be empty");
    root.path = std::move(root_path);
    SKIFF_CHECK(read_optional(value, path, "readonly", root.readonly, as_bool));
    return root;
}

Result<ConsoleSize> parse_console_size(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    ConsoleSize size;
    SKIFF_TRY(height, read_required(value, path, "height", as_integer<unsigned>, "an integer"));
    SKIFF_TRY(width, read_required(value, path, "width", as_integer<unsigned>, "an integer"));
    size.height = height;
    size.width = width;
    return size;
}

Result<User> parse_user(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    User user;
    SKIFF_TRY(uid, read_required(value, path, "uid", as_uint32, "an integer"));
    SKIFF_TRY(gid, read_required(value, path, "gid", as_uint32, "an integer"));
    user.uid = uid;
    user.gid = gid;
    std::optional<uint32_t> umask;
    SKIFF_CHECK(read_optional(value, path, "umask", umask, as_uint32));
    if (umask) user.umask = static_cast<mode_t>(*umask);
    SKIFF_CHECK(read_optional(value, path, "additionalGids", user.additional_gids,
                              array_of(as_uint32)));
    return user;
}

Result<int> as_capability(const json& value, const std::string& path) {
    SKIFF_TRY(name, as_string(value, path));
    auto number = capability_from_name(name);
    if (!number) return field_error(path, "unknown capability " + json_quoted(name));
    return *number;
}

Result<Capabilities> parse_capabilities(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Capabilities caps;
    const auto as_capability_list = array_of(as_capability);
    SKIFF_CHECK(read_optional(value, path, "bounding", caps.bounding, as_capability_list));
    SKIFF_CHECK(read_optional(value, path, "effective", caps.effective, as_capability_list));
    SKIFF_CHECK(read_optional(value, path, "inheritable", caps.inheritable, as_capability_list));
    SKIFF_CHECK(read_optional(value, path, "permitted", caps.permitted, as_capability_list));
    SKIFF_CHECK(read_optional(value, path, "ambient", caps.ambient, as_capability_list));
    return caps;
}

Result<Rlimit> parse_rlimit(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Rlimit limit;
    SKIFF_TRY(type, read_required(value, path, "type", as_string, "a string"));
    limit.resource = rlimit_resource(type);
    if (limit.resource < 0)
        return field_error(member_path(path, "type"), "unknown rlimit " + json_quoted(type));
    limit.type = std::move(type);
    SKIFF_TRY(soft, read_required(value, path, "soft", as_uint64, "an integer"));
    SKIFF_TRY(hard, read_required(value, path, "hard", as_uint64, "an integer"));
    // setrlimit(2) would fail with a bare EINVAL; say which numbers are wrong instead.
    if (soft > hard)
        return field_error(member_path(path, "soft"), "soft limit " + std::to_string(soft) +
                                                          " exceeds hard limit " +
                                                          std::to_string(hard));
    limit.soft = soft;
    limit.hard = hard;
    return limit;
}

Result<int> as_oom_score_adj(const json& value, const std::string& path) {
    SKIFF_TRY(score, as_int(value, path));
    if (score < -1000 || score > 1000)
        return field_error(path, std::to_string(score) + " is out of range [-1000, 1000]");
    return score;
}

Result<Process> parse_process(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Process process;
    SKIFF_CHECK(read_optional(value, path, "terminal", process.terminal, as_bool));
    SKIFF_CHECK(read_optional(value, path, "consoleSize", process.console_size,
                              parse_console_size));
    SKIFF_CHECK(read_optional(value, path, "user", process.user, parse_user));

    SKIFF_CHECK(read_optional(value, path, "args", process.args, array_of(as_string)));
    if (process.args.empty())
        return field_error(member_path(path, "args"), "must be a non-empty array");

    SKIFF_CHECK(read_optional(value, path, "env", process.env, array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "cwd", process.cwd, as_absolute_path));
    SKIFF_CHECK(read_optional(value, path, "capabilities", process.capabilities,
                              parse_capabilities));

    const std::string rlimits_path = member_path(path, "rlimits");
    SKIFF_CHECK(read_optional(value, path, "rlimits", process.rlimits, array_of(parse_rlimit)));
    // runtime-spec: duplicated rlimit types MUST be an error (which one would win?).
    std::set<int> seen_resources;
    for (size_t i = 0; i < process.rlimits.size(); ++i) {
        const Rlimit& limit = process.rlimits[i];
        if (!seen_resources.insert(limit.resource).second)
            return field_error(member_path(element_path(rlimits_path, i), "type"),
                               "duplicate rlimit " + json_quoted(limit.type));
    }

    SKIFF_CHECK(read_optional(value, path, "noNewPrivileges", process.no_new_privileges,
                              as_bool));
    SKIFF_CHECK(read_optional(value, path, "apparmorProfile", process.apparmor_profile,
                              as_string));
    SKIFF_CHECK(read_optional(value, path, "oomScoreAdj", process.oom_score_adj,
                              as_oom_score_adj));
    SKIFF_CHECK(read_optional(value, path, "selinuxLabel", process.selinux_label, as_string));
    return process;
}

// ---------------------------------------------------------------------------------------
// mounts, hooks

Result<Mount> parse_mount(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Mount mount;
    SKIFF_TRY(destination, read_required(value, path, "destination", as_string, "a string"));
    if (destination.empty())
        return field_error(member_path(path, "destination"),
                           "must be an absolute path, got an empty string");
    // runtime-spec 1.1 wants absolute destinations, but runc still takes relative ones as
    // relative to "/" and older configs rely on that.
    if (destination.front() != '/') destination.insert(0, "/");
    mount.destination = std::move(destination);

    SKIFF_CHECK(read_optional(value, path, "type", mount.type, as_string));
    SKIFF_CHECK(read_optional(value, path, "source", mount.source, as_string));

    const std::string options_path = member_path(path, "options");
    SKIFF_CHECK(read_optional(value, path, "options", mount.options, array_of(as_string)));
    for (size_t i = 0; i < mount.options.size(); ++i)
        if (mount.options[i].empty())
            return field_error(element_path(options_path, i), "empty mount option");
    // Options the mount code would reject later are reported here, with their location.
    if (auto parsed = parse_mount_options(mount.options); !parsed)
        return field_error(options_path, parsed.error().what);
    return mount;
}

Result<int> as_hook_timeout(const json& value, const std::string& path) {
    SKIFF_TRY(seconds, as_int(value, path));
    if (seconds <= 0) return field_error(path, "must be greater than 0");
    return seconds;
}

Result<Hook> parse_hook(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Hook hook;
    SKIFF_TRY(hook_path, read_required(value, path, "path", as_absolute_path, "a string"));
    hook.path = std::move(hook_path);
    SKIFF_CHECK(read_optional(value, path, "args", hook.args, array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "env", hook.env, array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "timeout", hook.timeout, as_hook_timeout));
    return hook;
}

Result<Hooks> parse_hooks(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Hooks hooks;
    const auto as_hook_list = array_of(parse_hook);
    SKIFF_CHECK(read_optional(value, path, "prestart", hooks.prestart, as_hook_list));
    SKIFF_CHECK(read_optional(value, path, "createRuntime", hooks.create_runtime, as_hook_list));
    SKIFF_CHECK(read_optional(value, path, "createContainer", hooks.create_container,
                              as_hook_list));
    SKIFF_CHECK(read_optional(value, path, "startContainer", hooks.start_container,
                              as_hook_list));
    SKIFF_CHECK(read_optional(value, path, "poststart", hooks.poststart, as_hook_list));
    SKIFF_CHECK(read_optional(value, path, "poststop", hooks.poststop, as_hook_list));
    return hooks;
}

// ---------------------------------------------------------------------------------------
// linux

Result<Namespace> parse_namespace(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Namespace ns;
    SKIFF_TRY(type, read_required(value, path, "type", as_string, "a string"));
    ns.clone_flag = namespace_clone_flag(type);
    if (ns.clone_flag == 0)
        return field_error(member_path(path, "type"), "unknown namespace " + json_quoted(type));
    ns.type = std::move(type);
    // An empty path means "create a new one", as in runc.
    SKIFF_CHECK(read_optional(value, path, "path", ns.path, as_string));
    if (!ns.path.empty() && ns.path.front() != '/')
        return field_error(member_path(path, "path"),
                           "must be an absolute path, got " + json_quoted(ns.path));
    return ns;
}

Result<IdMapping> parse_id_mapping(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    IdMapping mapping;
    SKIFF_TRY(container_id, read_required(value, path, "containerID", as_uint32, "an integer"));
    SKIFF_TRY(host_id, read_required(value, path, "hostID", as_uint32, "an integer"));
    SKIFF_TRY(size, read_required(value, path, "size", as_uint32, "an integer"));
    if (size == 0) return field_error(member_path(path, "size"), "must be greater than 0");
    mapping.container_id = container_id;
    mapping.host_id = host_id;
    mapping.size = size;
    return mapping;
}

Result<Device> parse_device(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Device device;
    SKIFF_TRY(device_path, read_required(value, path, "path", as_absolute_path, "a string"));
    device.path = std::move(device_path);

    SKIFF_TRY(type, read_required(value, path, "type", as_string, "a string"));
    if (type.size() != 1 || std::string_view("cbup").find(type[0]) == std::string_view::npos)
        return field_error(member_path(path, "type"),
                           "unknown device type " + json_quoted(type) + " (want c, b, u or p)");
    device.type = type[0];

    // A FIFO has no device number; every other node needs both.
    if (device.type == 'p') {
        SKIFF_CHECK(read_optional(value, path, "major", device.major, as_int64));
        SKIFF_CHECK(read_optional(value, path, "minor", device.minor, as_int64));
    } else {
        const std::string what = "an integer for device type " + json_quoted(type);
        SKIFF_TRY(major, read_required(value, path, "major", as_int64, what));
        SKIFF_TRY(minor, read_required(value, path, "minor", as_int64, what));
        device.major = major;
        device.minor = minor;
    }

    std::optional<uint32_t> file_mode;
    SKIFF_CHECK(read_optional(value, path, "fileMode", file_mode, as_uint32));
    if (file_mode) device.file_mode = static_cast<mode_t>(*file_mode);
    SKIFF_CHECK(read_optional(value, path, "uid", device.uid, as_uint32));
    SKIFF_CHECK(read_optional(value, path, "gid", device.gid, as_uint32));
    return device;
}

constexpr std::string_view kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

constexpr std::string_view kSeccompOperators[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

Result<std::string> as_seccomp_action(const json& value, const std::string& path) {
    SKIFF_TRY(action, as_string(value, path));
    if (std::ranges::find(kSeccompActions, action) == std::end(kSeccompActions))
        return field_error(path, "unknown seccomp action " + json_quoted(action));
    return action;
}

Result<std::string> as_seccomp_operator(const json& value, const std::string& path) {
    SKIFF_TRY(op, as_string(value, path));
    if (std::ranges::find(kSeccompOperators, op) == std::end(kSeccompOperators))
        return field_error(path, "unknown seccomp operator " + json_quoted(op));
    return op;
}

Result<SeccompArg> parse_seccomp_arg(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    SeccompArg arg;
    SKIFF_TRY(index, read_required(value, path, "index", as_integer<unsigned>, "an integer"));
    SKIFF_TRY(arg_value, read_required(value, path, "value", as_uint64, "an integer"));
    SKIFF_TRY(op, read_required(value, path, "op", as_seccomp_operator, "a string"));
    arg.index = index;
    arg.value = arg_value;
    arg.op = std::move(op);
    SKIFF_CHECK(read_optional(value, path, "valueTwo", arg.value_two, as_uint64));
    return arg;
}

Result<SeccompSyscall> parse_seccomp_syscall(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    SeccompSyscall syscall;
    SKIFF_CHECK(read_optional(value, path, "names", syscall.names, array_of(as_string)));
    if (syscall.names.empty())
        return field_error(member_path(path, "names"), "must be a non-empty array");
    SKIFF_TRY(action, read_required(value, path, "action", as_seccomp_action, "a string"));
    syscall.action = std::move(action);
    SKIFF_CHECK(read_optional(value, path, "errnoRet", syscall.errno_ret, as_uint32));
    SKIFF_CHECK(read_optional(value, path, "args", syscall.args, array_of(parse_seccomp_arg)));
    return syscall;
}

// Names of syscalls and architectures are left to seccomp.cpp, which knows what libseccomp
// supports; here only the shape and the fixed vocabularies are checked.
Result<Seccomp> parse_seccomp(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Seccomp seccomp;
    SKIFF_TRY(default_action,
              read_required(value, path, "defaultAction", as_seccomp_action, "a string"));
    seccomp.default_action = std::move(default_action);
    SKIFF_CHECK(read_optional(value, path, "defaultErrnoRet", seccomp.default_errno_ret,
                              as_uint32));
    SKIFF_CHECK(read_optional(value, path, "architectures", seccomp.architectures,
                              array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "flags", seccomp.flags, array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "listenerPath", seccomp.listener_path, as_string));
    SKIFF_CHECK(read_optional(value, path, "syscalls", seccomp.syscalls,
                              array_of(parse_seccomp_syscall)));
    return seccomp;
}

Result<Linux> parse_linux(const json& value, const std::string& path) {
    SKIFF_CHECK(expect_object(value, path));
    Linux linux_section;

    const std::string namespaces_path = member_path(path, "namespaces");
    SKIFF_CHECK(read_optional(value, path, "namespaces", linux_section.namespaces,
                              array_of(parse_namespace)));
    std::set<std::string> seen_namespaces;
    for (size_t i = 0; i < linux_section.namespaces.size(); ++i) {
        const std::string& type = linux_section.namespaces[i].type;
        if (!seen_namespaces.insert(type).second)
            return field_error(member_path(element_path(namespaces_path, i), "type"),
                               "duplicate namespace " + json_quoted(type));
    }

    SKIFF_CHECK(read_optional(value, path, "uidMappings", linux_section.uid_mappings,
                              array_of(parse_id_mapping)));
    SKIFF_CHECK(read_optional(value, path, "gidMappings", linux_section.gid_mappings,
                              array_of(parse_id_mapping)));
    // A new user namespace without mappings would leave every id unmapped (nobody), and
    // setuid to anything would fail; joining an existing one (path set) brings its maps.
    for (const auto& ns : linux_section.namespaces) {
        if (ns.type != "user" || !ns.path.empty()) continue;
        if (linux_section.uid_mappings.empty())
            return field_error(member_path(path, "uidMappings"), "required with a user namespace");
        if (linux_section.gid_mappings.empty())
            return field_error(member_path(path, "gidMappings"), "required with a user namespace");
    }

    SKIFF_CHECK(read_optional(value, path, "devices", linux_section.devices,
                              array_of(parse_device)));
    SKIFF_CHECK(read_optional(value, path, "cgroupsPath", linux_section.cgroups_path,
                              as_string));
    SKIFF_CHECK(read_optional(value, path, "resources", linux_section.resources, as_raw_object));
    SKIFF_CHECK(read_optional(value, path, "sysctl", linux_section.sysctl, as_string_map));
    SKIFF_CHECK(read_optional(value, path, "seccomp", linux_section.seccomp, parse_seccomp));

    // Empty means "leave the default", as in runc.
    SKIFF_CHECK(read_optional(value, path, "rootfsPropagation", linux_section.rootfs_propagation,
                              as_string));
    if (!linux_section.rootfs_propagation.empty()) {
        if (auto flags = parse_propagation(linux_section.rootfs_propagation); !flags)
            return field_error(member_path(path, "rootfsPropagation"), flags.error().what);
    }

    SKIFF_CHECK(read_optional(value, path, "maskedPaths", linux_section.masked_paths,
                              array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "readonlyPaths", linux_section.readonly_paths,
                              array_of(as_string)));
    SKIFF_CHECK(read_optional(value, path, "mountLabel", linux_section.mount_label, as_string));
    SKIFF_CHECK(read_optional(value, path, "personality", linux_section.personality,
                              as_raw_object));
    SKIFF_CHECK(read_optional(value, path, "intelRdt", linux_section.intel_rdt, as_raw_object));
    return linux_section;
}

// ---------------------------------------------------------------------------------------
// default spec

json mount_json(const std::string& destination, const std::string& type,
                const std::string& source, const std::vector<std::string>& options) {
    json mount = {{"destination", destination}, {"type", type}, {"source", source}};
    // runc omits empty option lists (Go's omitempty); so do we.
    if (!options.empty()) mount["options"] = options;
    return mount;
}

json namespace_json(const std::string& type) {
    json ns = json::object();
    ns["type"] = type;
    return ns;
}

json id_mapping_json(uint32_t host_id) {
    return {{"containerID", 0}, {"hostID", host_id}, {"size", 1}};
}

bool starts_with_id_option(const std::string& option) {
    return option.starts_with("uid=") || option.starts_with("gid=");
}

// runc's specconv.ToRootless: no network namespace (it needs real privilege to be useful),
// a user namespace mapping only ourselves, /sys bind-mounted (sysfs cannot be mounted
// without owning the network namespace), and no uid=/gid= options naming unmapped ids.
void make_rootless(json& spec) {
    json& linux_section = spec["linux"];
    json namespaces = json::array();
    for (const auto& ns : linux_section["namespaces"]) {
        const auto& type = ns["type"];
        if (type != "network" && type != "user") namespaces.push_back(ns);
    }
    namespaces.push_back(namespace_json("user"));
    linux_section["namespaces"] = std::move(namespaces);
    linux_section["uidMappings"] = json::array({id_mapping_json(::geteuid())});
    linux_section["gidMappings"] = json::array({id_mapping_json(::getegid())});
    // Cgroup limits need a delegated cgroup, which an unprivileged user may not have.
    linux_section.erase("resources");

    json mounts = json::array();
    for (auto mount : spec["mounts"]) {
        const auto& destination = mount["destination"];
        if (destination == "/sys") {
            mounts.push_back(mount_json("/sys", "none", "/sys",
                                        {"rbind", "nosuid", "noexec", "nodev", "ro"}));
            continue;
        }
        // A cgroup mount needs a cgroup the user owns; leave it to the user to add one.
        if (destination == "/sys/fs/cgroup") continue;
        if (mount.contains("options")) {
            json options = json::array();
            for (const auto& option : mount["options"])
                if (!starts_with_id_option(option.get<std::string>())) options.push_back(option);
            mount["options"] = std::move(options);
        }
        mounts.push_back(std::move(mount));
    }
    spec["mounts"] = std::move(mounts);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Public interface

bool Spec::has_namespace(const std::string& type) const {
    return find_namespace(type) != nullptr;
}

const Namespace* Spec::find_namespace(const std::string& type) const {
    if (!linux) return nullptr;
    for (const auto& ns : linux->namespaces)
        if (ns.type == type) return &ns;
    return nullptr;
}

Result<Spec> parse_spec(const nlohmann::json& doc) {
    if (!doc.is_object()) return fail("config: expected object, got " + json_type_name(doc));
    Spec spec;
    const std::string top;  // top-level members are named without a prefix

    SKIFF_TRY(version, read_required(doc, top, "ociVersion", as_string, "a string"));
    spec.oci_version = std::move(version);
    SKIFF_CHECK(read_optional(doc, top, "root", spec.root, parse_root));
    SKIFF_CHECK(read_optional(doc, top, "process", spec.process, parse_process));
    SKIFF_CHECK(read_optional(doc, top, "hostname", spec.hostname, as_string));
    SKIFF_CHECK(read_optional(doc, top, "domainname", spec.domainname, as_string));
    SKIFF_CHECK(read_optional(doc, top, "mounts", spec.mounts, array_of(parse_mount)));
    SKIFF_CHECK(read_optional(doc, top, "hooks", spec.hooks, parse_hooks));
    SKIFF_CHECK(read_optional(doc, top, "annotations", spec.annotations, as_string_map));
    SKIFF_CHECK(read_optional(doc, top, "linux", spec.linux, parse_linux));
    return spec;
}

Result<Spec> parse_spec(const std::string& json_text) {
    if (nesting_exceeds(json_text, kMaxNestingDepth))
        return fail("invalid JSON: nested deeper than " + std::to_string(kMaxNestingDepth) +
                    " levels");
    json doc;
    try {
        doc = json::parse(json_text);
    } catch (const json::parse_error& e) {
        // Drop nlohmann's "[json.exception.parse_error.101] " tag; keep line and column.
        std::string_view message = e.what();
        if (auto tag_end = message.find("] "); tag_end != std::string_view::npos)
            message.remove_prefix(tag_end + 2);
        return fail("invalid JSON: " + std::string(message));
    }
    return parse_spec(doc);
}

namespace {

struct WrittenSpec {
    std::string path;
    FileIdentity file;
    json doc;
    std::string text;
};

std::optional<WrittenSpec>& written_spec() {
    static std::optional<WrittenSpec> last;
    return last;
}

}  // namespace

void remember_written_spec(const std::string& config_path, nlohmann::json doc, std::string text) {
    auto file = file_identity(config_path);
    if (!file) return;
    written_spec() = WrittenSpec{config_path, *file, std::move(doc), std::move(text)};
}

Result<LoadedSpec> load_spec_and_text(const std::string& bundle_dir) {
    const std::string config_path = path_join(bundle_dir, "config.json");
    if (auto& written = written_spec(); written && written->path == config_path) {
        WrittenSpec taken = std::move(*written);  // one use: create reads its bundle once
        written.reset();
        if (auto file = file_identity(config_path); file && *file == taken.file) {
            auto spec = parse_spec(taken.doc);
            if (!spec) return std::unexpected(std::move(spec).error().context(config_path));
            return LoadedSpec{std::move(*spec), std::move(taken.text)};
        }
    }
    SKIFF_TRY(text, read_file_limited(config_path, kMaxConfigBytes));
    auto spec = parse_spec(text);
    if (!spec) return std::unexpected(std::move(spec).error().context(config_path));
    return LoadedSpec{std::move(*spec), std::move(text)};
}

Result<Spec> load_spec(const std::string& bundle_dir) {
    SKIFF_TRY(loaded, load_spec_and_text(bundle_dir));
    return std::move(loaded.spec);
}

nlohmann::json default_spec_json(bool rootless) {
    const json default_caps = json::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
    json spec = {
        {"ociVersion", "1.2.0"},
        {"process",
         {
             {"terminal", true},
             {"user", {{"uid", 0}, {"gid", 0}}},
             {"args", json::array({"sh"})},
             {"env", json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "TERM=xterm"})},
             {"cwd", "/"},
             {"capabilities",
              {{"bounding", default_caps}, {"effective", default_caps}, {"permitted", default_caps}}},
             {"rlimits",
              json::array({json{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
             {"noNewPrivileges", true},
         }},
        {"root", {{"path", "rootfs"}, {"readonly", true}}},
        {"hostname", "skiff"},
    };

    spec["mounts"] = json::array({
        mount_json("/proc", "proc", "proc", {}),
        mount_json("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        mount_json("/dev/pts", "devpts", "devpts",
                   {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        mount_json("/dev/shm", "tmpfs", "shm",
                   {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
        mount_json("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        mount_json("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
        mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
                   {"nosuid", "noexec", "nodev", "relatime", "ro"}),
    });

    json& linux_section = spec["linux"];
    linux_section["maskedPaths"] = json::array({
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi", "/sys/devices/virtual/tpm",
    });
    linux_section["readonlyPaths"] = json::array({
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    });
    // Deny every device; the runtime adds its default allow-list on top, as runc does.
    linux_section["resources"]["devices"] =
        json::array({json{{"allow", false}, {"access", "rwm"}}});
    linux_section["namespaces"] = json::array({
        namespace_json("pid"), namespace_json("network"), namespace_json("ipc"),
        namespace_json("uts"), namespace_json("mount"), namespace_json("cgroup"),
    });

    if (rootless) make_rootless(spec);
    return spec;
}

int namespace_clone_flag(const std::string& type) {
    static constexpr std::pair<std::string_view, int> kNamespaces[] = {
        {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
        {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
        {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
    };
    for (const auto& [name, flag] : kNamespaces)
        if (name == type) return flag;
    return 0;
}

int rlimit_resource(const std::string& name) {
    static constexpr std::pair<std::string_view, int> kRlimits[] = {
        {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_CORE", RLIMIT_CORE},
        {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA},
        {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
        {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME},
        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
    };
    for (const auto& [rlimit_name, resource] : kRlimits)
        if (rlimit_name == name) return resource;
    return -1;
}

}  // namespace skiff::runtime
