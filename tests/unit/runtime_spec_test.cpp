// config.json parsing: a full config reaches the right fields, and every rejected value is
// reported with the JSON path of the field.
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "common/fs.hpp"
#include "runtime/spec.hpp"
#include "temp_dir.hpp"

using nlohmann::json;
using namespace skiff::runtime;

namespace {

// Touches every section parse_spec reads. Tests below break one field at a time.
constexpr const char* kFullConfig = R"json({
  "ociVersion": "1.2.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_KILL"],
      "inheritable": [],
      "permitted": ["CAP_KILL", "CAP_CHOWN"],
      "ambient": ["CAP_CHOWN"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
      {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "skiff-default",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/data", "type": "none", "source": "/srv/data", "options": ["rbind", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": null}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/prestart-hook", "args": ["prestart-hook", "x"]}],
    "createRuntime": [{"path": "/usr/bin/net-setup", "env": ["A=1"], "timeout": 5}],
    "createContainer": [{"path": "/usr/bin/cc"}],
    "startContainer": [{"path": "/usr/bin/sc"}],
    "poststart": [{"path": "/usr/bin/notify", "timeout": 10}],
    "poststop": [{"path": "/usr/bin/cleanup"}]
  },
  "annotations": {"org.example.key": "value"},
  "linux": {
    "namespaces": [
      {"type": "pid"},
      {"type": "network", "path": "/var/run/netns/box"},
      {"type": "mount"},
      {"type": "user"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
       "uid": 0, "gid": 0},
      {"path": "/dev/myfifo", "type": "p"}
    ],
    "cgroupsPath": "/skiff/box",
    "resources": {"memory": {"limit": 536870912}, "pids": {"limit": 64}},
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/seccomp.sock",
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "errnoRet": 2,
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "personality": {"domain": "LINUX"}
  }
})json";

json full_config() { return json::parse(kFullConfig); }

// The error parse_spec gives for `doc`, failing the test if it parses.
std::string parse_error(const json& doc) {
    auto spec = parse_spec(doc);
    REQUIRE_FALSE(spec);
    CHECK(spec.error().code == 0);
    return spec.error().what;
}

// The full config with the value at `pointer` replaced by `value_json`.
json with_value(const std::string& pointer, const std::string& value_json) {
    json doc = full_config();
    doc[json::json_pointer(pointer)] = json::parse(value_json);
    return doc;
}

// The full config without the object member at `pointer`.
json without(const std::string& pointer) {
    json doc = full_config();
    json::json_pointer member(pointer);
    doc[member.parent_pointer()].erase(member.back());
    return doc;
}

using skiff::testing::TempDir;

const Mount* find_mount(const Spec& spec, const std::string& destination) {
    auto it = std::ranges::find(spec.mounts, destination, &Mount::destination);
    return it == spec.mounts.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("a full config parses into the right fields", "[spec]") {
    auto parsed = parse_spec(std::string(kFullConfig));
    REQUIRE(parsed);
    const Spec& spec = *parsed;

    CHECK(spec.oci_version == "1.2.0");
    CHECK(spec.hostname == "box");
    CHECK(spec.domainname == "example.org");
    CHECK(spec.annotations == std::map<std::string, std::string>{{"org.example.key", "value"}});

    REQUIRE(spec.root);
    CHECK(spec.root->path == "rootfs");
    CHECK(spec.root->readonly);

    REQUIRE(spec.process);
    const Process& process = *spec.process;
    CHECK(process.terminal);
    REQUIRE(process.console_size);
    CHECK(process.console_size->height == 25);
    CHECK(process.console_size->width == 80);
    CHECK(process.user.uid == 1000);
    CHECK(process.user.gid == 1001);
    CHECK(process.user.umask == std::optional<mode_t>(022));
    CHECK(process.user.additional_gids == std::vector<uint32_t>{5, 6});
    CHECK(process.args == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
    CHECK(process.env == std::vector<std::string>{"PATH=/usr/bin:/bin", "TERM=xterm"});
    CHECK(process.cwd == "/work");
    REQUIRE(process.capabilities);
    CHECK(process.capabilities->bounding ==
          std::vector<int>{CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE});
    CHECK(process.capabilities->effective == std::vector<int>{CAP_KILL});
    CHECK(process.capabilities->inheritable.empty());
    CHECK(process.capabilities->permitted == std::vector<int>{CAP_KILL, CAP_CHOWN});
    CHECK(process.capabilities->ambient == std::vector<int>{CAP_CHOWN});
    REQUIRE(process.rlimits.size() == 2);
    CHECK(process.rlimits[0].type == "RLIMIT_NOFILE");
    CHECK(process.rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(process.rlimits[0].soft == 1024);
    CHECK(process.rlimits[0].hard == 1024);
    CHECK(process.rlimits[1].resource == RLIMIT_CORE);
    CHECK(process.rlimits[1].hard == UINT64_MAX);
    CHECK(process.no_new_privileges);
    CHECK(process.apparmor_profile == "skiff-default");
    CHECK(process.oom_score_adj == std::optional<int>(-500));
    CHECK(process.selinux_label == "system_u:system_r:container_t:s0");

    REQUIRE(spec.mounts.size() == 4);
    CHECK(spec.mounts[0].destination == "/proc");
    CHECK(spec.mounts[0].options.empty());
    CHECK(spec.mounts[1].type == "tmpfs");
    CHECK(spec.mounts[1].options ==
          std::vector<std::string>{"nosuid", "strictatime", "mode=755", "size=65536k"});
    CHECK(spec.mounts[2].source == "/srv/data");
    CHECK(spec.mounts[3].options.empty());  // null reads as absent

    REQUIRE(spec.hooks);
    REQUIRE(spec.hooks->prestart.size() == 1);
    CHECK(spec.hooks->prestart[0].path == "/usr/bin/prestart-hook");
    CHECK(spec.hooks->prestart[0].args == std::vector<std::string>{"prestart-hook", "x"});
    CHECK_FALSE(spec.hooks->prestart[0].timeout);
    REQUIRE(spec.hooks->create_runtime.size() == 1);
    CHECK(spec.hooks->create_runtime[0].env == std::vector<std::string>{"A=1"});
    CHECK(spec.hooks->create_runtime[0].timeout == std::optional<int>(5));
    CHECK(spec.hooks->create_container.size() == 1);
    CHECK(spec.hooks->start_container.size() == 1);
    CHECK(spec.hooks->poststart.size() == 1);
    CHECK(spec.hooks->poststop.size() == 1);

    REQUIRE(spec.linux);
    const Linux& linux_section = *spec.linux;
    REQUIRE(linux_section.namespaces.size() == 4);
    CHECK(linux_section.namespaces[0].type == "pid");
    CHECK(linux_section.namespaces[0].clone_flag == CLONE_NEWPID);
    CHECK(linux_section.namespaces[0].path.empty());
    CHECK(linux_section.namespaces[1].clone_flag == CLONE_NEWNET);
    CHECK(linux_section.namespaces[1].path == "/var/run/netns/box");
    CHECK(linux_section.namespaces[3].clone_flag == CLONE_NEWUSER);
    REQUIRE(linux_section.uid_mappings.size() == 1);
    CHECK(linux_section.uid_mappings[0].container_id == 0);
    CHECK(linux_section.uid_mappings[0].host_id == 100000);
    CHECK(linux_section.uid_mappings[0].size == 65536);
    REQUIRE(linux_section.gid_mappings.size() == 1);
    CHECK(linux_section.gid_mappings[0].host_id == 200000);

    REQUIRE(linux_section.devices.size() == 2);
    const Device& fuse = linux_section.devices[0];
    CHECK(fuse.path == "/dev/fuse");
    CHECK(fuse.type == 'c');
    CHECK(fuse.major == 10);
    CHECK(fuse.minor == 229);
    CHECK(fuse.file_mode == std::optional<mode_t>(0666));
    CHECK(fuse.uid == std::optional<uint32_t>(0));
    CHECK(linux_section.devices[1].type == 'p');
    CHECK_FALSE(linux_section.devices[1].file_mode);

    CHECK(linux_section.cgroups_path == "/skiff/box");
    CHECK(linux_section.resources["memory"]["limit"] == 536870912);
    CHECK(linux_section.resources["pids"]["limit"] == 64);
    CHECK(linux_section.sysctl.at("net.ipv4.ip_forward") == "1");

    REQUIRE(linux_section.seccomp);
    const Seccomp& seccomp = *linux_section.seccomp;
    CHECK(seccomp.default_action == "SCMP_ACT_ERRNO");
    CHECK(seccomp.default_errno_ret == std::optional<uint32_t>(1));
    CHECK(seccomp.architectures == std::vector<std::string>{"SCMP_ARCH_X86_64"});
    CHECK(seccomp.flags == std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
    CHECK(seccomp.listener_path == "/run/seccomp.sock");
    REQUIRE(seccomp.syscalls.size() == 2);
    CHECK(seccomp.syscalls[0].names == std::vector<std::string>{"read", "write"});
    CHECK(seccomp.syscalls[0].action == "SCMP_ACT_ALLOW");
    CHECK_FALSE(seccomp.syscalls[0].errno_ret);
    CHECK(seccomp.syscalls[1].errno_ret == std::optional<uint32_t>(2));
    REQUIRE(seccomp.syscalls[1].args.size() == 1);
    CHECK(seccomp.syscalls[1].args[0].index == 0);
    CHECK(seccomp.syscalls[1].args[0].value == 8);
    CHECK(seccomp.syscalls[1].args[0].value_two == 0);
    CHECK(seccomp.syscalls[1].args[0].op == "SCMP_CMP_EQ");

    CHECK(linux_section.rootfs_propagation == "rslave");
    CHECK(linux_section.masked_paths == std::vector<std::string>{"/proc/kcore"});
    CHECK(linux_section.readonly_paths == std::vector<std::string>{"/proc/sys"});
    CHECK(linux_section.mount_label == "system_u:object_r:container_file_t:s0");
    CHECK(linux_section.personality["domain"] == "LINUX");
    CHECK(linux_section.intel_rdt.is_null());
}

TEST_CASE("a minimal config needs only ociVersion", "[spec]") {
    auto spec = parse_spec(std::string(R"({"ociVersion": "1.0.2"})"));
    REQUIRE(spec);
    CHECK(spec->oci_version == "1.0.2");
    CHECK_FALSE(spec->process);
    CHECK_FALSE(spec->root);
    CHECK_FALSE(spec->linux);
    CHECK_FALSE(spec->hooks);
    CHECK(spec->mounts.empty());
    CHECK_FALSE(spec->has_namespace("pid"));
}

TEST_CASE("process defaults", "[spec]") {
    auto spec = parse_spec(std::string(R"({"ociVersion": "1.0.2", "process": {"args": ["sh"]}})"));
    REQUIRE(spec);
    REQUIRE(spec->process);
    CHECK(spec->process->cwd == "/");
    CHECK(spec->process->user.uid == 0);
    CHECK_FALSE(spec->process->user.umask);
    CHECK_FALSE(spec->process->capabilities);
    CHECK_FALSE(spec->process->oom_score_adj);
}

TEST_CASE("unknown keys and nulls are ignored", "[spec]") {
    json doc = full_config();
    doc["vm"] = {{"hypervisor", {{"path", "/usr/bin/qemu"}}}};
    doc["windows"] = json::object();
    doc["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_IDLE"}};
    doc["process"]["futureField"] = 42;
    doc["linux"]["timeOffsets"] = json::object();
    doc["linux"]["seccomp"]["syscalls"][0]["comment"] = "ok";
    doc["hooks"]["prestart"][0]["extra"] = true;
    doc["mounts"][0]["uidMappings"] = json::array();
    doc["domainname"] = nullptr;
    doc["linux"]["sysctl"] = nullptr;
    doc["process"]["capabilities"]["ambient"] = nullptr;
    auto spec = parse_spec(doc);
    REQUIRE(spec);
    CHECK(spec->domainname.empty());
    CHECK(spec->linux->sysctl.empty());
    CHECK(spec->process->capabilities->ambient.empty());
}

TEST_CASE("relative mount destinations are taken relative to /", "[spec]") {
    auto spec = parse_spec(with_value("/mounts/3/destination", R"("tmp")"));
    REQUIRE(spec);
    CHECK(spec->mounts[3].destination == "/tmp");
}

TEST_CASE("joining an existing user namespace needs no mappings", "[spec]") {
    json doc = full_config();
    doc["linux"]["namespaces"][3]["path"] = "/proc/1234/ns/user";
    doc["linux"].erase("uidMappings");
    doc["linux"].erase("gidMappings");
    auto spec = parse_spec(doc);
    REQUIRE(spec);
    CHECK(spec->find_namespace("user")->path == "/proc/1234/ns/user");
}

TEST_CASE("an empty rootfsPropagation means the default", "[spec]") {
    auto spec = parse_spec(with_value("/linux/rootfsPropagation", R"("")"));
    REQUIRE(spec);
    CHECK(spec->linux->rootfs_propagation.empty());
}

TEST_CASE("invalid fields are reported with their JSON path", "[spec]") {
    struct Case {
        const char* pointer;
        const char* value_json;
        const char* expected;
    };
    const Case cases[] = {
        // process
        {"/process", R"("sh")", "process: expected object, got string"},
        {"/process/args", "[]", "process.args: must be a non-empty array"},
        {"/process/args", R"("sh")", "process.args: expected array, got string"},
        {"/process/args/1", "7", "process.args[1]: expected string, got integer"},
        {"/process/env/0", "null", "process.env[0]: expected string, got null"},
        {"/process/terminal", R"("yes")", "process.terminal: expected boolean, got string"},
        {"/process/cwd", R"("work")", "process.cwd: must be an absolute path, got \"work\""},
        {"/process/cwd", R"("")", "process.cwd: must be an absolute path"},
        {"/process/consoleSize/width", "-1", "process.consoleSize.width: -1 is out of range"},
        {"/process/user", "[]", "process.user: expected object, got array"},
        {"/process/user/uid", "-1", "process.user.uid: -1 is out of range [0, 4294967295]"},
        {"/process/user/gid", "4294967296",
         "process.user.gid: 4294967296 is out of range [0, 4294967295]"},
        {"/process/user/uid", "1.5", "process.user.uid: expected integer, got number"},
        {"/process/user/uid", R"("0")", "process.user.uid: expected integer, got string"},
        {"/process/user/umask", R"("022")", "process.user.umask: expected integer, got string"},
        {"/process/user/additionalGids/1", "-6", "process.user.additionalGids[1]: -6 is out of"},
        {"/process/capabilities/bounding/2", R"("CAP_FOO")",
         R"(process.capabilities.bounding[2]: unknown capability "CAP_FOO")"},
        {"/process/capabilities/ambient/0", "12",
         "process.capabilities.ambient[0]: expected string, got integer"},
        {"/process/capabilities/permitted", R"("CAP_KILL")",
         "process.capabilities.permitted: expected array, got string"},
        {"/process/rlimits/0/type", R"("RLIMIT_FOO")",
         R"(process.rlimits[0].type: unknown rlimit "RLIMIT_FOO")"},
        {"/process/rlimits/0/soft", "4096",
         "process.rlimits[0].soft: soft limit 4096 exceeds hard limit 1024"},
        {"/process/rlimits/1/hard", "-1", "process.rlimits[1].hard: -1 is out of range"},
        {"/process/rlimits/1/type", R"("RLIMIT_NOFILE")",
         R"(process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE")"},
        {"/process/oomScoreAdj", "1001", "process.oomScoreAdj: 1001 is out of range [-1000, 1000]"},
        {"/process/oomScoreAdj", "-1001", "process.oomScoreAdj: -1001 is out of range"},
        {"/process/noNewPrivileges", "1",
         "process.noNewPrivileges: expected boolean, got integer"},
        // root, top level
        {"/root", R"("rootfs")", "root: expected object, got string"},
        {"/root/path", "5", "root.path: expected string, got integer"},
        {"/root/path", R"("")", "root.path: must not be empty"},
        {"/root/readonly", R"("true")", "root.readonly: expected boolean, got string"},
        {"/ociVersion", "1.2", "ociVersion: expected string, got number"},
        {"/hostname", "false", "hostname: expected string, got boolean"},
        {"/annotations/org.example.key", "1",
         R"(annotations["org.example.key"]: expected string, got integer)"},
        // mounts
        {"/mounts", "{}", "mounts: expected array, got object"},
        {"/mounts/2", R"("/data")", "mounts[2]: expected object, got string"},
        {"/mounts/3/destination", R"("")",
         "mounts[3].destination: must be an absolute path"},
        {"/mounts/3/destination", "3", "mounts[3].destination: expected string, got integer"},
        {"/mounts/1/type", "[]", "mounts[1].type: expected string, got array"},
        {"/mounts/1/options/2", R"("")", "mounts[1].options[2]: empty mount option"},
        {"/mounts/2/options/1", R"("idmap")", "mounts[2].options: mount option \"idmap\""},
        // hooks
        {"/hooks", "[]", "hooks: expected object, got array"},
        {"/hooks/prestart/0/path", R"("hook")",
         "hooks.prestart[0].path: must be an absolute path"},
        {"/hooks/poststart/0/timeout", "0", "hooks.poststart[0].timeout: must be greater than 0"},
        {"/hooks/createRuntime/0/timeout", "-3",
         "hooks.createRuntime[0].timeout: must be greater than 0"},
        {"/hooks/poststop/0/args", R"("x")", "hooks.poststop[0].args: expected array, got string"},
        // linux
        {"/linux", "true", "linux: expected object, got boolean"},
        {"/linux/namespaces/1/type", R"("pidd")",
         R"(linux.namespaces[1].type: unknown namespace "pidd")"},
        {"/linux/namespaces/2/type", R"("pid")",
         R"(linux.namespaces[2].type: duplicate namespace "pid")"},
        {"/linux/namespaces/1/path", R"("var/run/netns/box")",
         "linux.namespaces[1].path: must be an absolute path"},
        {"/linux/uidMappings/0/size", "0", "linux.uidMappings[0].size: must be greater than 0"},
        {"/linux/gidMappings/0/hostID", "-1", "linux.gidMappings[0].hostID: -1 is out of range"},
        {"/linux/devices/0/type", R"("x")", R"(linux.devices[0].type: unknown device type "x")"},
        {"/linux/devices/0/type", R"("cb")", R"(linux.devices[0].type: unknown device type "cb")"},
        {"/linux/devices/0/path", R"("dev/fuse")", "linux.devices[0].path: must be an absolute path"},
        {"/linux/devices/0/major", R"("10")", "linux.devices[0].major: expected integer, got string"},
        {"/linux/devices/0/fileMode", "-1", "linux.devices[0].fileMode: -1 is out of range"},
        {"/linux/resources", "[]", "linux.resources: expected object, got array"},
        {"/linux/personality", R"("LINUX")", "linux.personality: expected object, got string"},
        {"/linux/sysctl/net.ipv4.ip_forward", "1",
         R"(linux.sysctl["net.ipv4.ip_forward"]: expected string, got integer)"},
        {"/linux/rootfsPropagation", R"("sideways")",
         R"(linux.rootfsPropagation: unknown mount propagation "sideways")"},
        {"/linux/maskedPaths/0", "{}", "linux.maskedPaths[0]: expected string, got object"},
        {"/linux/cgroupsPath", "1", "linux.cgroupsPath: expected string, got integer"},
        // seccomp
        {"/linux/seccomp/defaultAction", R"("SCMP_ACT_NOPE")",
         R"(linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_NOPE")"},
        {"/linux/seccomp/syscalls/0/action", R"("allow")",
         R"(linux.seccomp.syscalls[0].action: unknown seccomp action "allow")"},
        {"/linux/seccomp/syscalls/0/names", "[]",
         "linux.seccomp.syscalls[0].names: must be a non-empty array"},
        {"/linux/seccomp/syscalls/1/names/0", "1",
         "linux.seccomp.syscalls[1].names[0]: expected string, got integer"},
        {"/linux/seccomp/syscalls/1/args/0/op", R"("SCMP_CMP_XX")",
         R"(linux.seccomp.syscalls[1].args[0].op: unknown seccomp operator "SCMP_CMP_XX")"},
        {"/linux/seccomp/syscalls/1/args/0/index", "-1",
         "linux.seccomp.syscalls[1].args[0].index: -1 is out of range"},
        {"/linux/seccomp/syscalls/1/errnoRet", R"("EPERM")",
         "linux.seccomp.syscalls[1].errnoRet: expected integer, got string"},
    };
    for (const auto& c : cases) {
        INFO(c.pointer << " = " << c.value_json);
        CHECK_THAT(parse_error(with_value(c.pointer, c.value_json)), Catch::Contains(c.expected));
    }
}

TEST_CASE("missing required fields are reported with their JSON path", "[spec]") {
    struct Case {
        const char* pointer;
        const char* expected;
    };
    const Case cases[] = {
        {"/ociVersion", "ociVersion: must be a string"},
        {"/root/path", "root.path: must be a string"},
        {"/process/args", "process.args: must be a non-empty array"},
        {"/process/user/uid", "process.user.uid: must be an integer"},
        {"/process/user/gid", "process.user.gid: must be an integer"},
        {"/process/consoleSize/height", "process.consoleSize.height: must be an integer"},
        {"/process/rlimits/0/type", "process.rlimits[0].type: must be a string"},
        {"/process/rlimits/0/soft", "process.rlimits[0].soft: must be an integer"},
        {"/mounts/1/destination", "mounts[1].destination: must be a string"},
        {"/hooks/poststop/0/path", "hooks.poststop[0].path: must be a string"},
        {"/linux/namespaces/0/type", "linux.namespaces[0].type: must be a string"},
        {"/linux/uidMappings", "linux.uidMappings: required with a user namespace"},
        {"/linux/gidMappings", "linux.gidMappings: required with a user namespace"},
        {"/linux/uidMappings/0/hostID", "linux.uidMappings[0].hostID: must be an integer"},
        {"/linux/devices/0/major", R"(linux.devices[0].major: must be an integer for device type "c")"},
        {"/linux/devices/0/minor", "linux.devices[0].minor: must be an integer"},
        {"/linux/devices/1/type", "linux.devices[1].type: must be a string"},
        {"/linux/seccomp/defaultAction", "linux.seccomp.defaultAction: must be a string"},
        {"/linux/seccomp/syscalls/0/action", "linux.seccomp.syscalls[0].action: must be a string"},
        {"/linux/seccomp/syscalls/0/names", "linux.seccomp.syscalls[0].names: must be a non-empty"},
        {"/linux/seccomp/syscalls/1/args/0/op", "linux.seccomp.syscalls[1].args[0].op: must be a"},
        {"/linux/seccomp/syscalls/1/args/0/value", "linux.seccomp.syscalls[1].args[0].value: must"},
    };
    for (const auto& c : cases) {
        INFO("without " << c.pointer);
        CHECK_THAT(parse_error(without(c.pointer)), Catch::Contains(c.expected));
    }
}

TEST_CASE("a document that is not a config object", "[spec]") {
    auto array = parse_spec(std::string("[]"));
    REQUIRE_FALSE(array);
    CHECK_THAT(array.error().what, Catch::Contains("expected object, got array"));

    auto broken = parse_spec(std::string(R"({"ociVersion": "1.0.2",)"));
    REQUIRE_FALSE(broken);
    CHECK_THAT(broken.error().what, Catch::StartsWith("invalid JSON: ") && Catch::Contains("line 1"));

    auto empty = parse_spec(std::string());
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error().what, Catch::StartsWith("invalid JSON"));
}

TEST_CASE("deeply nested JSON is refused before it is built", "[spec]") {
    const auto nested = [](size_t depth) {
        return R"({"ociVersion": "1.0.2", "linux": {"resources": {"x": )" +
               std::string(depth, '[') + std::string(depth, ']') + "}}}";
    };
    CHECK(parse_spec(nested(100)));

    auto hostile = parse_spec(nested(1'000'000));
    REQUIRE_FALSE(hostile);
    CHECK_THAT(hostile.error().what, Catch::Contains("nested deeper than"));

    // Brackets and escaped quotes inside strings are text, not nesting.
    const std::string brackets(1000, '[');
    auto in_string = parse_spec(R"({"ociVersion": "1.0.2", "annotations": {"a": "\")" + brackets +
                                R"(", "b": "\\"}})");
    REQUIRE(in_string);
    CHECK(in_string->annotations.at("a") == "\"" + brackets);
    CHECK(in_string->annotations.at("b") == "\\");
}

TEST_CASE("default_spec_json is runc's default config", "[spec]") {
    json doc = default_spec_json(false);
    // Round trip through text, as `spec` writes it and `create` reads it.
    auto parsed = parse_spec(doc.dump(4));
    REQUIRE(parsed);
    const Spec& spec = *parsed;

    CHECK(spec.hostname == "skiff");
    REQUIRE(spec.root);
    CHECK(spec.root->path == "rootfs");
    CHECK(spec.root->readonly);
    REQUIRE(spec.process);
    CHECK(spec.process->terminal);
    CHECK(spec.process->args == std::vector<std::string>{"sh"});
    CHECK(spec.process->env.size() == 2);
    CHECK(spec.process->env[1] == "TERM=xterm");
    CHECK(spec.process->cwd == "/");
    CHECK(spec.process->no_new_privileges);
    const std::vector<int> default_caps{CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE};
    REQUIRE(spec.process->capabilities);
    CHECK(spec.process->capabilities->bounding == default_caps);
    CHECK(spec.process->capabilities->effective == default_caps);
    CHECK(spec.process->capabilities->permitted == default_caps);
    CHECK(spec.process->capabilities->inheritable.empty());
    REQUIRE(spec.process->rlimits.size() == 1);
    CHECK(spec.process->rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(spec.process->rlimits[0].soft == 1024);
    CHECK(spec.process->rlimits[0].hard == 1024);

    CHECK(spec.mounts.size() == 7);
    const Mount* dev = find_mount(spec, "/dev");
    REQUIRE(dev);
    CHECK(dev->options == std::vector<std::string>{"nosuid", "strictatime", "mode=755",
                                                   "size=65536k"});
    const Mount* pts = find_mount(spec, "/dev/pts");
    REQUIRE(pts);
    CHECK(std::ranges::count(pts->options, "gid=5") == 1);
    const Mount* sys = find_mount(spec, "/sys");
    REQUIRE(sys);
    CHECK(sys->type == "sysfs");
    const Mount* cgroup = find_mount(spec, "/sys/fs/cgroup");
    REQUIRE(cgroup);
    CHECK(cgroup->options == std::vector<std::string>{"nosuid", "noexec", "nodev", "relatime",
                                                      "ro"});
    CHECK(find_mount(spec, "/dev/shm"));
    CHECK(find_mount(spec, "/dev/mqueue"));
    CHECK(find_mount(spec, "/proc"));

    REQUIRE(spec.linux);
    for (const char* type : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
        INFO(type);
        CHECK(spec.has_namespace(type));
    }
    CHECK_FALSE(spec.has_namespace("user"));
    CHECK(spec.linux->uid_mappings.empty());
    CHECK(std::ranges::count(spec.linux->masked_paths, "/proc/kcore") == 1);
    CHECK(std::ranges::count(spec.linux->readonly_paths, "/proc/sysrq-trigger") == 1);
    CHECK(spec.linux->resources["devices"][0]["access"] == "rwm");
}

TEST_CASE("default_spec_json rootless is runc's --rootless config", "[spec]") {
    json doc = default_spec_json(true);
    auto parsed = parse_spec(doc.dump());
    REQUIRE(parsed);
    const Spec& spec = *parsed;

    CHECK(spec.has_namespace("user"));
    CHECK(spec.find_namespace("user")->path.empty());
    CHECK_FALSE(spec.has_namespace("network"));
    CHECK(spec.has_namespace("pid"));
    CHECK(spec.has_namespace("mount"));
    REQUIRE(spec.linux->uid_mappings.size() == 1);
    CHECK(spec.linux->uid_mappings[0].container_id == 0);
    CHECK(spec.linux->uid_mappings[0].host_id == ::geteuid());
    CHECK(spec.linux->uid_mappings[0].size == 1);
    REQUIRE(spec.linux->gid_mappings.size() == 1);
    CHECK(spec.linux->gid_mappings[0].host_id == ::getegid());
    CHECK(spec.linux->resources.is_null());

    const Mount* sys = find_mount(spec, "/sys");
    REQUIRE(sys);
    CHECK(sys->source == "/sys");
    CHECK(sys->options == std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"});
    CHECK_FALSE(find_mount(spec, "/sys/fs/cgroup"));
    const Mount* pts = find_mount(spec, "/dev/pts");
    REQUIRE(pts);
    CHECK(std::ranges::count(pts->options, "gid=5") == 0);
    CHECK(std::ranges::count(pts->options, "newinstance") == 1);
}

TEST_CASE("load_spec reads <bundle>/config.json", "[spec]") {
    TempDir bundle;
    const std::string config = bundle.path + "/config.json";

    SECTION("valid") {
        REQUIRE(skiff::write_file_atomic(config, kFullConfig));
        auto spec = load_spec(bundle.path);
        REQUIRE(spec);
        CHECK(spec->hostname == "box");
    }
    SECTION("missing") {
        auto spec = load_spec(bundle.path);
        REQUIRE_FALSE(spec);
        CHECK(spec.error().code == ENOENT);
        CHECK_THAT(spec.error().what, Catch::Contains("config.json"));
    }
    SECTION("invalid: the error names the file and the field") {
        REQUIRE(skiff::write_file_atomic(config, with_value("/process/args", "[]").dump()));
        auto spec = load_spec(bundle.path);
        REQUIRE_FALSE(spec);
        CHECK_THAT(spec.error().what,
                   Catch::StartsWith(config) && Catch::Contains("process.args:"));
    }
    SECTION("larger than 16 MiB") {
        std::string huge = R"({"ociVersion": "1.0.2", "pad": ")";
        huge.append(16 * 1024 * 1024, 'x');
        huge += "\"}";
        REQUIRE(skiff::write_file_atomic(config, huge));
        auto spec = load_spec(bundle.path);
        REQUIRE_FALSE(spec);
        CHECK_THAT(spec.error().what, Catch::Contains("larger than"));
    }
}

TEST_CASE("a spec this process wrote is taken as written, once, while the file is still it", "[spec]") {
    TempDir bundle;
    const std::string config = bundle.path + "/config.json";
    auto doc = nlohmann::json::parse(kFullConfig);
    REQUIRE(skiff::write_file_atomic(config, kFullConfig));
    // The remembered document says "remembered": proof it was used instead of the file.
    auto remembered = doc;
    remembered["hostname"] = "remembered";
    skiff::runtime::remember_written_spec(config, remembered, "as written");
    auto loaded = skiff::runtime::load_spec_and_text(bundle.path);
    REQUIRE(loaded);
    CHECK(loaded->spec.hostname == "remembered");
    CHECK(loaded->text == "as written");
    // Once only: the next load reads the file.
    loaded = skiff::runtime::load_spec_and_text(bundle.path);
    REQUIRE(loaded);
    CHECK(loaded->spec.hostname == "box");

    SECTION("a file replaced since is read, not the remembered one") {
        skiff::runtime::remember_written_spec(config, remembered, "as written");
        REQUIRE(skiff::write_file_atomic(config, kFullConfig));
        loaded = skiff::runtime::load_spec_and_text(bundle.path);
        REQUIRE(loaded);
        CHECK(loaded->spec.hostname == "box");
        CHECK(loaded->text == kFullConfig);
    }
}

TEST_CASE("Spec namespace lookup", "[spec]") {
    auto spec = parse_spec(full_config());
    REQUIRE(spec);
    CHECK(spec->has_namespace("network"));
    CHECK_FALSE(spec->has_namespace("ipc"));
    const Namespace* net = spec->find_namespace("network");
    REQUIRE(net);
    CHECK(net->path == "/var/run/netns/box");
    CHECK(spec->find_namespace("uts") == nullptr);
}

TEST_CASE("namespace and rlimit name tables", "[spec]") {
    CHECK(namespace_clone_flag("pid") == CLONE_NEWPID);
    CHECK(namespace_clone_flag("network") == CLONE_NEWNET);
    CHECK(namespace_clone_flag("mount") == CLONE_NEWNS);
    CHECK(namespace_clone_flag("ipc") == CLONE_NEWIPC);
    CHECK(namespace_clone_flag("uts") == CLONE_NEWUTS);
    CHECK(namespace_clone_flag("user") == CLONE_NEWUSER);
    CHECK(namespace_clone_flag("cgroup") == CLONE_NEWCGROUP);
    CHECK(namespace_clone_flag("time") == CLONE_NEWTIME);
    CHECK(namespace_clone_flag("net") == 0);
    CHECK(namespace_clone_flag("") == 0);

    CHECK(rlimit_resource("RLIMIT_NOFILE") == RLIMIT_NOFILE);
    CHECK(rlimit_resource("RLIMIT_AS") == RLIMIT_AS);
    CHECK(rlimit_resource("RLIMIT_STACK") == RLIMIT_STACK);
    CHECK(rlimit_resource("RLIMIT_RTTIME") == RLIMIT_RTTIME);
    CHECK(rlimit_resource("rlimit_nofile") == -1);
    CHECK(rlimit_resource("NOFILE") == -1);
}
