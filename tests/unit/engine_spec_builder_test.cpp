// engine/spec_builder and engine/default_seccomp: the config.json `run` hands the runtime.
#include <dirent.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "engine/default_seccomp.hpp"
#include "engine/spec_builder.hpp"
#include "image/manifest.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/spec.hpp"

namespace engine = skiff::engine;
using nlohmann::json;

namespace {

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A temporary directory with a rootfs (etc/passwd, etc/group) and a container dir.
struct Fixture {
    std::string base;
    std::string rootfs;
    std::string container_dir;
    skiff::image::ImageConfig image;

    Fixture() {
        char tmpl[] = "/tmp/skiff-spec-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        base = tmpl;
        rootfs = base + "/rootfs";
        container_dir = base + "/ctr";
        REQUIRE(skiff::mkdir_p(rootfs + "/etc"));
        REQUIRE(skiff::mkdir_p(container_dir));
        REQUIRE(skiff::write_file_atomic(rootfs + "/etc/passwd",
                                  "root:x:0:0:root:/root:/bin/sh\n"
                                  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                  "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"));
        REQUIRE(skiff::write_file_atomic(rootfs + "/etc/group",
                                  "root:x:0:root\n"
                                  "wheel:x:10:root,alice\n"
                                  "alice:x:1000:\n"
                                  "audio:x:29:alice\n"
                                  "staff:x:50:\n"));
        REQUIRE(skiff::write_file_atomic(base + "/resolv.conf",
                                  "# host file\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                                  "search example.com\noptions ndots:2\n"));
        REQUIRE(skiff::write_file_atomic(base + "/hosts", "127.0.0.1 localhost\n10.1.1.1 hostbox\n"));
        image.architecture = "amd64";
        image.os = "linux";
        image.config.cmd = {"sh"};
        image.config.env = {"PATH=/image/bin:/usr/bin", "IMAGE_VAR=1", "SHARED=image"};
    }
    ~Fixture() { (void)skiff::remove_tree(base); }

    engine::SpecInputs inputs() const {
        engine::SpecInputs in;
        in.image = &image;
        in.rootfs = rootfs;
        in.container_id = kId;
        in.container_dir = container_dir;
        in.host_resolv_conf = base + "/resolv.conf";
        in.host_hosts = base + "/hosts";
        in.syscall_known = [](const std::string& name) {
            return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
        };
        return in;
    }

    json build(const engine::RunSpecOptions& options = {}) const {
        auto spec = engine::build_spec(inputs(), options);
        if (!spec) FAIL(spec.error().message());
        return *spec;
    }

    std::string error(const engine::RunSpecOptions& options) const {
        auto spec = engine::build_spec(inputs(), options);
        REQUIRE_FALSE(spec);
        return spec.error().what;
    }
};

std::vector<std::string> strings(const json& array) {
    std::vector<std::string> out;
    for (const auto& item : array) out.push_back(item.get<std::string>());
    return out;
}

bool has(const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

const json* find_mount(const json& spec, const std::string& destination) {
    for (const auto& m : spec["mounts"])
        if (m["destination"] == destination) return &m;
    return nullptr;
}

// The rules of an OCI seccomp object naming `name`.
std::vector<json> rules_for(const json& seccomp, const std::string& name) {
    std::vector<json> out;
    for (const auto& rule : seccomp.value("syscalls", json::array()))
        if (has(strings(rule["names"]), name)) out.push_back(rule);
    return out;
}

// The spec must be what our own runtime accepts, seccomp filter included.
void require_runtime_accepts(const json& spec) {
    auto parsed = skiff::runtime::parse_spec(spec.dump());
    if (!parsed) FAIL(parsed.error().message());
    if (parsed->linux && parsed->linux->seccomp) {
        auto filter = skiff::runtime::build_seccomp_filter(*parsed->linux->seccomp);
        if (!filter) FAIL(filter.error().message());
    }
}

}  // namespace

TEST_CASE("spec: default run is Docker's secure default and parses", "[spec-builder]") {
    Fixture f;
    json spec = f.build();
    require_runtime_accepts(spec);

    CHECK(spec["process"]["args"] == json::array({"sh"}));
    CHECK(spec["process"]["cwd"] == "/");
    CHECK(spec["process"]["terminal"] == false);
    CHECK(spec["process"]["noNewPrivileges"] == false);
    CHECK(spec["hostname"] == kId.substr(0, 12));
    CHECK(spec["root"]["path"] == f.rootfs);
    CHECK(spec["root"]["readonly"] == false);
    CHECK_FALSE(spec["process"].contains("rlimits"));

    auto caps = strings(spec["process"]["capabilities"]["bounding"]);
    std::sort(caps.begin(), caps.end());
    CHECK(caps == std::vector<std::string>{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE",
                                           "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD",
                                           "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
                                           "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
                                           "CAP_SYS_CHROOT"});
    CHECK(spec["process"]["capabilities"]["effective"] == spec["process"]["capabilities"]["bounding"]);
    CHECK(spec["process"]["capabilities"]["permitted"] == spec["process"]["capabilities"]["bounding"]);
    CHECK_FALSE(spec["process"]["capabilities"].contains("inheritable"));
    CHECK_FALSE(spec["process"]["capabilities"].contains("ambient"));

    auto masked = strings(spec["linux"]["maskedPaths"]);
    for (const char* p : {"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore",
                          "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                          "/sys/devices/virtual/powercap"})
        CHECK(has(masked, p));
    CHECK(strings(spec["linux"]["readonlyPaths"]) ==
          std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});

    std::vector<std::string> ns;
    for (const auto& n : spec["linux"]["namespaces"]) ns.push_back(n["type"]);
    std::sort(ns.begin(), ns.end());
    CHECK(ns == std::vector<std::string>{"cgroup", "ipc", "mount", "network", "pid", "uts"});
    CHECK(spec["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "0");

    const json& seccomp = spec["linux"]["seccomp"];
    CHECK(seccomp["defaultAction"] == "SCMP_ACT_ERRNO");
    CHECK(seccomp["defaultErrnoRet"] == 1);
    std::vector<std::string> arches{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
    if (engine::kernel_runs_x32()) arches.push_back("SCMP_ARCH_X32");  // most kernels: not
    CHECK(strings(seccomp["architectures"]) == arches);
    CHECK(spec["linux"]["resources"]["devices"] == json::parse(R"([{"allow":false,"access":"rwm"}])"));
}

TEST_CASE("spec: default mounts match Docker's", "[spec-builder]") {
    Fixture f;
    json spec = f.build();
    const json* proc = find_mount(spec, "/proc");
    REQUIRE(proc);
    CHECK((*proc)["type"] == "proc");
    const json* pts = find_mount(spec, "/dev/pts");
    REQUIRE(pts);
    CHECK(strings((*pts)["options"]) == std::vector<std::string>{"nosuid", "noexec", "newinstance",
                                                                  "ptmxmode=0666", "mode=0620", "gid=5"});
    const json* shm = find_mount(spec, "/dev/shm");
    REQUIRE(shm);
    CHECK(has(strings((*shm)["options"]), "size=65536k"));
    const json* sys = find_mount(spec, "/sys");
    REQUIRE(sys);
    CHECK(has(strings((*sys)["options"]), "ro"));
    const json* cgroup = find_mount(spec, "/sys/fs/cgroup");
    REQUIRE(cgroup);
    CHECK(has(strings((*cgroup)["options"]), "ro"));
    REQUIRE(find_mount(spec, "/dev/mqueue"));
    // Parents come before children.
    size_t dev_index = 0, pts_index = 0, i = 0;
    for (const auto& m : spec["mounts"]) {
        if (m["destination"] == "/dev") dev_index = i;
        if (m["destination"] == "/dev/pts") pts_index = i;
        ++i;
    }
    CHECK(dev_index < pts_index);
}

TEST_CASE("spec: args follow Docker's entrypoint and cmd rules", "[spec-builder]") {
    Fixture f;
    f.image.config.entrypoint = {"/entry", "-x"};
    f.image.config.cmd = {"default", "cmd"};
    engine::RunSpecOptions o;
    CHECK(f.build(o)["process"]["args"] == json::array({"/entry", "-x", "default", "cmd"}));

    o.command = {"mine"};
    CHECK(f.build(o)["process"]["args"] == json::array({"/entry", "-x", "mine"}));

    // --entrypoint clears the image's CMD.
    o.command.clear();
    o.entrypoint = std::vector<std::string>{"/bin/other"};
    CHECK(f.build(o)["process"]["args"] == json::array({"/bin/other"}));
    o.command = {"a", "b"};
    CHECK(f.build(o)["process"]["args"] == json::array({"/bin/other", "a", "b"}));

    // --entrypoint "" drops the entrypoint; the command line alone remains.
    o.entrypoint = std::vector<std::string>{""};
    CHECK(f.build(o)["process"]["args"] == json::array({"a", "b"}));
    o.command.clear();
    CHECK(f.error(o) == "No command specified");

    engine::RunSpecOptions with_init;
    with_init.init = true;
    CHECK(f.error(with_init).find("--init") != std::string::npos);
    auto in = f.inputs();
    in.init_path = "/usr/bin/true";
    auto spec = engine::build_spec(in, with_init);
    REQUIRE(spec);
    CHECK((*spec)["process"]["args"] == json::array({"/sbin/docker-init", "--", "/entry", "-x", "default", "cmd"}));
    const json* init = find_mount(*spec, "/sbin/docker-init");
    REQUIRE(init);
    CHECK((*init)["source"] == "/usr/bin/true");
    CHECK(strings((*init)["options"]) == std::vector<std::string>{"bind", "ro"});
}

TEST_CASE("spec: environment merges like Docker", "[spec-builder]") {
    Fixture f;
    ::setenv("SKIFF_SPEC_TEST_HOSTVAR", "from-host", 1);
    ::unsetenv("SKIFF_SPEC_TEST_UNSET");
    engine::RunSpecOptions o;
    o.tty = true;
    o.hostname = "box";
    o.env = {"SHARED=user", "SKIFF_SPEC_TEST_HOSTVAR", "IMAGE_VAR", "NEW=x=y"};
    auto env = strings(f.build(o)["process"]["env"]);
    CHECK(env == std::vector<std::string>{"PATH=/image/bin:/usr/bin", "HOSTNAME=box", "TERM=xterm",
                                          "SHARED=user", "SKIFF_SPEC_TEST_HOSTVAR=from-host",
                                          "NEW=x=y", "HOME=/root"});

    // No PATH anywhere: Docker's default; no tty: no TERM.
    f.image.config.env.clear();
    env = strings(f.build()["process"]["env"]);
    CHECK(env[0] == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    CHECK(env[1] == "HOSTNAME=" + kId.substr(0, 12));
    CHECK_FALSE(has(env, "TERM=xterm"));

    // An explicit HOME wins over passwd's.
    engine::RunSpecOptions home;
    home.env = {"HOME=/elsewhere"};
    home.user = "alice";
    env = strings(f.build(home)["process"]["env"]);
    CHECK(has(env, "HOME=/elsewhere"));
    CHECK_FALSE(has(env, "HOME=/home/alice"));

    engine::RunSpecOptions bad;
    bad.env = {"=oops"};
    CHECK(f.error(bad) == "invalid environment variable: =oops");
}

TEST_CASE("spec: working directory", "[spec-builder]") {
    Fixture f;
    f.image.config.working_dir = "/app";
    CHECK(f.build()["process"]["cwd"] == "/app");
    CHECK(skiff::is_directory(f.rootfs + "/app"));  // created, as Docker does
    engine::RunSpecOptions o;
    o.workdir = "/srv//data/";
    CHECK(f.build(o)["process"]["cwd"] == "/srv/data");
    CHECK(skiff::is_directory(f.rootfs + "/srv/data"));
    o.workdir = "relative";
    CHECK(f.error(o) == "the working directory 'relative' is invalid, it needs to be an absolute path");
}

TEST_CASE("spec: users resolve through the image's passwd and group", "[spec-builder]") {
    Fixture f;
    auto root = engine::resolve_user(f.rootfs, "");
    REQUIRE(root);
    CHECK(root->uid == 0);
    CHECK(root->gid == 0);
    CHECK(root->additional_gids == std::vector<uint32_t>{0, 10});
    CHECK(root->home == "/root");

    auto alice = engine::resolve_user(f.rootfs, "alice");
    REQUIRE(alice);
    CHECK(alice->uid == 1000);
    CHECK(alice->gid == 1000);
    CHECK(alice->additional_gids == std::vector<uint32_t>{10, 29});
    CHECK(alice->home == "/home/alice");

    // A uid finds the same entry; an explicit group replaces the gid and drops the extras.
    auto by_uid = engine::resolve_user(f.rootfs, "1000:staff");
    REQUIRE(by_uid);
    CHECK(by_uid->uid == 1000);
    CHECK(by_uid->gid == 50);
    CHECK(by_uid->additional_gids.empty());

    auto numeric = engine::resolve_user(f.rootfs, "4242:4343");
    REQUIRE(numeric);
    CHECK(numeric->uid == 4242);
    CHECK(numeric->gid == 4343);
    CHECK(numeric->home == "/");

    auto unknown_uid = engine::resolve_user(f.rootfs, "777");
    REQUIRE(unknown_uid);
    CHECK(unknown_uid->uid == 777);
    CHECK(unknown_uid->gid == 0);

    auto missing = engine::resolve_user(f.rootfs, "bob");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().what == "unable to find user bob: no matching entries in passwd file");
    auto missing_group = engine::resolve_user(f.rootfs, "alice:nogroup");
    REQUIRE_FALSE(missing_group);
    CHECK(missing_group.error().what == "unable to find group nogroup: no matching entries in group file");
    auto range = engine::resolve_user(f.rootfs, "4294967296");
    REQUIRE_FALSE(range);
    CHECK(range.error().what == "uids and gids must be in range 0-2147483647");

    // The spec carries them.
    engine::RunSpecOptions o;
    o.user = "alice";
    json spec = f.build(o);
    CHECK(spec["process"]["user"] == json::parse(R"({"uid":1000,"gid":1000,"additionalGids":[10,29]})"));
    // -u wins over the image's USER.
    f.image.config.user = "daemon";
    CHECK(f.build()["process"]["user"]["uid"] == 1);
    CHECK(f.build(o)["process"]["user"]["uid"] == 1000);
}

TEST_CASE("spec: passwd lookups never leave the rootfs", "[spec-builder]") {
    Fixture f;
    // A host file naming a user, and the image's passwd a symlink aiming at it.
    const std::string host_passwd = f.base + "/host-passwd";
    REQUIRE(skiff::write_file_atomic(host_passwd, "escapee:x:4444:4444::/:/bin/sh\n"));
    REQUIRE(::unlink((f.rootfs + "/etc/passwd").c_str()) == 0);
    const std::string target = "/../../../../../../.." + host_passwd;
    REQUIRE(::symlink(target.c_str(), (f.rootfs + "/etc/passwd").c_str()) == 0);
    auto user = engine::resolve_user(f.rootfs, "escapee");
    REQUIRE_FALSE(user);
    CHECK(user.error().what == "unable to find user escapee: no matching entries in passwd file");

    // A FIFO must not hang the lookup.
    REQUIRE(::unlink((f.rootfs + "/etc/passwd").c_str()) == 0);
    REQUIRE(::mkfifo((f.rootfs + "/etc/passwd").c_str(), 0644) == 0);
    auto fifo = engine::resolve_user(f.rootfs, "root");
    REQUIRE_FALSE(fifo);
    CHECK(fifo.error().what.find("not a regular file") != std::string::npos);
}

TEST_CASE("spec: capabilities add, drop, ALL and privileged", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    o.cap_add = {"net_admin", "CAP_SYS_PTRACE"};
    o.cap_drop = {"CHOWN", "cap_kill"};
    auto caps = strings(f.build(o)["process"]["capabilities"]["bounding"]);
    CHECK(caps.size() == 14);
    CHECK(has(caps, "CAP_NET_ADMIN"));
    CHECK(has(caps, "CAP_SYS_PTRACE"));
    CHECK_FALSE(has(caps, "CAP_CHOWN"));
    CHECK_FALSE(has(caps, "CAP_KILL"));

    auto all_but = engine::container_capabilities({"ALL"}, {"SYS_ADMIN"}, false);
    REQUIRE(all_but);
    CHECK(has(*all_but, "CAP_SYS_MODULE"));
    CHECK_FALSE(has(*all_but, "CAP_SYS_ADMIN"));
    auto only = engine::container_capabilities({"NET_BIND_SERVICE"}, {"all"}, false);
    REQUIRE(only);
    CHECK(*only == std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
    auto privileged = engine::container_capabilities({}, {"CHOWN"}, true);
    REQUIRE(privileged);
    CHECK(has(*privileged, "CAP_SYS_ADMIN"));
    CHECK(has(*privileged, "CAP_CHOWN"));

    o.cap_add = {"FOO"};
    CHECK(f.error(o) == "unknown capability: \"CAP_FOO\"");
}

TEST_CASE("spec: privileged drops the confinement", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    o.privileged = true;
    json spec = f.build(o);
    require_runtime_accepts(spec);
    CHECK_FALSE(spec["linux"].contains("seccomp"));
    CHECK_FALSE(spec["linux"].contains("maskedPaths"));
    CHECK_FALSE(spec["linux"].contains("readonlyPaths"));
    CHECK(spec["linux"]["resources"]["devices"] == json::parse(R"([{"allow":true,"access":"rwm"}])"));
    CHECK(has(strings(spec["process"]["capabilities"]["bounding"]), "CAP_SYS_ADMIN"));
    CHECK_FALSE(has(strings((*find_mount(spec, "/sys"))["options"]), "ro"));
    CHECK_FALSE(has(strings((*find_mount(spec, "/sys/fs/cgroup"))["options"]), "ro"));
}

TEST_CASE("spec: network files are written and bind-mounted", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    o.hostname = "web";
    json spec = f.build(o);
    auto resolv = skiff::read_file(f.container_dir + "/resolv.conf");
    REQUIRE(resolv);
    CHECK(resolv->find("127.0.0.53") == std::string::npos);
    CHECK(resolv->find("nameserver 10.0.0.2") != std::string::npos);
    CHECK(resolv->find("search example.com") != std::string::npos);
    CHECK(resolv->find("options ndots:2") != std::string::npos);
    CHECK(skiff::read_file(f.container_dir + "/hostname").value_or("") == "web\n");
    auto hosts = skiff::read_file(f.container_dir + "/hosts");
    REQUIRE(hosts);
    CHECK(hosts->starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
    CHECK(hosts->find("hostbox") == std::string::npos);

    for (const char* name : {"hosts", "hostname", "resolv.conf"}) {
        const json* m = find_mount(spec, std::string("/etc/") + name);
        REQUIRE(m);
        CHECK((*m)["source"] == f.container_dir + "/" + name);
        CHECK(strings((*m)["options"]) == std::vector<std::string>{"rbind", "rprivate"});
    }

    // Only loopback servers: Google's, as Docker falls back to.
    CHECK(engine::container_resolv_conf("nameserver 127.0.0.1\nnameserver ::1\n").find(
              "nameserver 8.8.8.8\nnameserver 8.8.4.4\n") != std::string::npos);

    // --read-only: root and the network files read-only.
    o.read_only = true;
    spec = f.build(o);
    CHECK(spec["root"]["readonly"] == true);
    CHECK(has(strings((*find_mount(spec, "/etc/hosts"))["options"]), "ro"));
}

TEST_CASE("spec: host network shares the host's names", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    o.network_mode = "host";
    json spec = f.build(o);
    require_runtime_accepts(spec);
    for (const auto& n : spec["linux"]["namespaces"]) CHECK(n["type"] != "network");
    CHECK_FALSE(spec["linux"].contains("sysctl"));
    char host[256] = {};
    REQUIRE(::gethostname(host, sizeof host - 1) == 0);
    CHECK(spec["hostname"] == std::string(host));
    CHECK(skiff::read_file(f.container_dir + "/hosts").value_or("") == "127.0.0.1 localhost\n10.1.1.1 hostbox\n");
    // The host's resolvers are reachable from the host's network: copied as they are.
    CHECK(skiff::read_file(f.container_dir + "/resolv.conf").value_or("").find("127.0.0.53") != std::string::npos);

    o.network_mode = "bridge";
    CHECK(f.error(o).find("needs the path of its network namespace") != std::string::npos);
}

TEST_CASE("spec: bridge and container network modes, --dns, --add-host", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    o.network_mode = "bridge";
    o.dns = {"192.0.2.53"};
    o.extra_hosts = {"db:192.0.2.7", "v6=[2001:db8::1]"};
    auto in = f.inputs();
    in.netns_path = "/run/skiff/netns/" + std::string(kId);
    auto spec = engine::build_spec(in, o);
    REQUIRE(spec);
    bool joined = false;
    for (const auto& n : (*spec)["linux"]["namespaces"])
        if (n["type"] == "network") joined = n.value("path", "") == in.netns_path;
    CHECK(joined);
    // The engine made this namespace and wrote Docker's sysctls into it (create_netns):
    // a rootless container could not write them into a namespace it does not own.
    CHECK_FALSE((*spec)["linux"].contains("sysctl"));
    auto resolv = skiff::read_file(f.container_dir + "/resolv.conf").value_or("");
    CHECK(resolv.starts_with("nameserver 192.0.2.53\n"));
    CHECK(resolv.find("10.0.0.2") == std::string::npos);
    CHECK(resolv.find("search example.com") != std::string::npos);
    auto hosts = skiff::read_file(f.container_dir + "/hosts").value_or("");
    CHECK(hosts.find("192.0.2.7\tdb\n") != std::string::npos);
    CHECK(hosts.find("2001:db8::1\tv6\n") != std::string::npos);

    // container:<x>: x's namespace and files, x's hostname, no sysctls of its own.
    engine::RunSpecOptions c;
    c.network_mode = "container:" + std::string(kId);
    auto shared = f.base + "/other";
    REQUIRE(skiff::mkdir_p(shared));
    in.netns_path = "/proc/1/ns/net";
    in.shared_net_dir = shared;
    in.shared_hostname = "webhost";
    REQUIRE(skiff::write_file_atomic(f.container_dir + "/hosts", "untouched\n"));
    spec = engine::build_spec(in, c);
    REQUIRE(spec);
    CHECK((*spec)["hostname"] == "webhost");
    CHECK_FALSE((*spec)["linux"].contains("sysctl"));
    CHECK((*find_mount(*spec, "/etc/hosts"))["source"] == shared + "/hosts");
    CHECK((*find_mount(*spec, "/etc/resolv.conf"))["source"] == shared + "/resolv.conf");
    CHECK(skiff::read_file(f.container_dir + "/hosts").value_or("") == "untouched\n");
    CHECK_FALSE(skiff::path_exists(shared + "/hosts"));

    CHECK(engine::validate_extra_host("nocolon").error().what.find("bad format for add-host") != std::string::npos);
    CHECK(engine::validate_extra_host("a:1.2.3").error().what.find("invalid IP address in add-host") != std::string::npos);
    CHECK(engine::validate_extra_host("gw:host-gateway"));
}

TEST_CASE("spec: volumes and tmpfs", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    auto ro = engine::parse_volume(f.base + ":/data:ro");
    REQUIRE(ro);
    auto rw = engine::parse_volume(f.rootfs + ":/data/inner");
    REQUIRE(rw);
    auto named = engine::parse_volume("cache:/cache");
    REQUIRE(named);
    CHECK(named->type == "volume");
    named->source = f.base + "/volumes/cache/_data";  // the caller resolves names
    o.volumes = {*rw, *ro, *named};
    o.tmpfs = {"/run:size=64m,exec", "/tmp"};
    json spec = f.build(o);
    require_runtime_accepts(spec);

    const json* data = find_mount(spec, "/data");
    REQUIRE(data);
    CHECK((*data)["type"] == "bind");
    CHECK((*data)["source"] == f.base);
    CHECK(strings((*data)["options"]) == std::vector<std::string>{"rbind", "ro", "rro", "rprivate"});
    const json* cache = find_mount(spec, "/cache");
    REQUIRE(cache);
    CHECK(strings((*cache)["options"]) == std::vector<std::string>{"rbind", "rprivate"});
    const json* run = find_mount(spec, "/run");
    REQUIRE(run);
    CHECK((*run)["type"] == "tmpfs");
    CHECK(strings((*run)["options"]) == std::vector<std::string>{"nosuid", "nodev", "rprivate", "size=64m", "exec"});
    CHECK(strings((*find_mount(spec, "/tmp"))["options"]) ==
          std::vector<std::string>{"noexec", "nosuid", "nodev", "rprivate"});
    // /data before /data/inner although the flags came the other way round.
    size_t outer = 0, inner = 0, i = 0;
    for (const auto& m : spec["mounts"]) {
        if (m["destination"] == "/data") outer = i;
        if (m["destination"] == "/data/inner") inner = i;
        ++i;
    }
    CHECK(outer < inner);

    // A user's /dev/shm replaces the default one.
    engine::RunSpecOptions shm;
    shm.tmpfs = {"/dev/shm:size=1g"};
    spec = f.build(shm);
    int count = 0;
    for (const auto& m : spec["mounts"]) count += m["destination"] == "/dev/shm";
    CHECK(count == 1);
    CHECK(has(strings((*find_mount(spec, "/dev/shm"))["options"]), "size=1g"));

    engine::RunSpecOptions dup;
    dup.volumes = {*ro};
    dup.tmpfs = {"/data"};
    CHECK(f.error(dup) == "Duplicate mount point: /data");

    engine::RunSpecOptions unresolved;
    auto vol = engine::parse_volume("cache:/cache");
    REQUIRE(vol);
    unresolved.volumes = {*vol};
    CHECK(f.error(unresolved).find("must be resolved to a host path") != std::string::npos);

    engine::RunSpecOptions root_tmpfs;
    root_tmpfs.tmpfs = {"/"};
    CHECK(f.error(root_tmpfs) == "invalid specification: destination can't be '/'");
}

TEST_CASE("spec: -v syntax and errors", "[spec-builder]") {
    auto anon = engine::parse_volume("/data");
    REQUIRE(anon);
    CHECK(anon->type == "volume");
    CHECK(anon->source.empty());
    CHECK(anon->destination == "/data");

    auto bind = engine::parse_volume("/host/dir/:/ctr/dir:rw,rshared,z");
    REQUIRE(bind);
    CHECK(bind->type == "bind");
    CHECK(bind->source == "/host/dir");
    CHECK(bind->destination == "/ctr/dir");
    CHECK(bind->propagation == "rshared");
    CHECK_FALSE(bind->read_only);

    auto nocopy = engine::parse_volume("vol_1.x:/v:nocopy,ro");
    REQUIRE(nocopy);
    CHECK(nocopy->no_copy);
    CHECK(nocopy->read_only);

    auto err = [](const char* text) {
        auto r = engine::parse_volume(text);
        REQUIRE_FALSE(r);
        return r.error().what;
    };
    CHECK(err("") == "invalid volume specification: ''");
    CHECK(err("/a:/b:ro:x") == "invalid volume specification: '/a:/b:ro:x'");
    CHECK(err("/data:ro") == "invalid volume specification: '/data:ro'");
    CHECK(err("/a:/b:bogus") == "invalid mode: bogus");
    CHECK(err("/a:/b:ro,rw") == "invalid mode: ro,rw");
    CHECK(err("/a:relative") ==
          "invalid volume specification: '/a:relative': invalid mount config for type \"bind\": "
          "invalid mount path: 'relative' mount path must be absolute");
    CHECK(err("/a:/") ==
          "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid "
          "specification: destination can't be '/'");
    CHECK(err("./rel:/x").find("includes invalid characters for a local volume name") != std::string::npos);
}

TEST_CASE("spec: --mount syntax and errors", "[spec-builder]") {
    auto bind = engine::parse_mount("type=bind,source=/tmp,target=/x,readonly,bind-propagation=rslave");
    REQUIRE(bind);
    CHECK(bind->type == "bind");
    CHECK(bind->source == "/tmp");
    CHECK(bind->destination == "/x");
    CHECK(bind->read_only);
    CHECK(bind->propagation == "rslave");

    auto tmpfs = engine::parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770");
    REQUIRE(tmpfs);
    CHECK(tmpfs->type == "tmpfs");
    CHECK(tmpfs->tmpfs_options == "mode=1770,size=64m");

    auto volume = engine::parse_mount("src=myvol,target=/v,volume-nocopy");
    REQUIRE(volume);
    CHECK(volume->type == "volume");
    CHECK(volume->source == "myvol");
    CHECK(volume->no_copy);

    auto err = [](const char* text) {
        auto r = engine::parse_mount(text);
        REQUIRE_FALSE(r);
        return r.error().what;
    };
    CHECK(err("type=bind,source=/tmp") == "target is required");
    CHECK(err("type=bind,source=/nonexistent-skiff,target=/x") ==
          "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-skiff");
    CHECK(err("type=volume,target=/x,bogus=1") == "unexpected key 'bogus' in 'bogus=1'");
    CHECK(err("type=bind,source=/tmp,target=/x,tmpfs-size=1m").find("cannot mix") != std::string::npos);
    CHECK(err("target=/x,readonly=maybe") == "invalid value for readonly: maybe");
    CHECK(err("type=tmpfs,target=/x,source=/y") ==
          "invalid mount config for type \"tmpfs\": field Source must not be specified");
}

TEST_CASE("spec: resources and ulimits", "[spec-builder]") {
    Fixture f;
    engine::RunSpecOptions o;
    o.memory = 512LL * 1024 * 1024;
    o.cpus = 0.5;
    o.pids_limit = 100;
    o.ulimits = {"nofile=1024:2048", "nproc=-1", "nofile=4096"};
    o.cgroup_parent = "/mygroup";
    json spec = f.build(o);
    require_runtime_accepts(spec);
    const json& r = spec["linux"]["resources"];
    CHECK(r["memory"]["limit"] == 536870912);
    CHECK(r["memory"]["swap"] == 1073741824);
    CHECK(r["cpu"]["quota"] == 50000);
    CHECK(r["cpu"]["period"] == 100000);
    CHECK(r["pids"]["limit"] == 100);
    CHECK(spec["linux"]["cgroupsPath"] == "/mygroup/" + kId);
    CHECK(spec["process"]["rlimits"] == json::parse(R"([
        {"type":"RLIMIT_NOFILE","soft":4096,"hard":4096},
        {"type":"RLIMIT_NPROC","soft":18446744073709551615,"hard":18446744073709551615}])"));

    engine::RunSpecOptions small;
    small.memory = 1024 * 1024;
    CHECK(f.error(small) == "Minimum memory limit allowed is 6MB");
    engine::RunSpecOptions many;
    many.cpus = 100000;
    CHECK(f.error(many).starts_with("Range of CPUs is from 0.01 to "));
    engine::RunSpecOptions bad_ulimit;
    bad_ulimit.ulimits = {"nofile=2048:1024"};
    CHECK(f.error(bad_ulimit) == "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024");

    auto u = engine::parse_ulimit("core=0:-1");
    REQUIRE(u);
    CHECK(u->soft == 0);
    CHECK(u->hard == -1);
    CHECK(engine::parse_ulimit("nofile").error().what == "invalid ulimit argument: nofile");
    CHECK(engine::parse_ulimit("bogus=1").error().what == "invalid ulimit type: bogus");
    CHECK(engine::parse_ulimit("nofile=1:2:3").error().what ==
          "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`");
    CHECK(engine::parse_ulimit("nofile=abc").error().what == "strconv.ParseInt: parsing \"abc\": invalid syntax");
}

TEST_CASE("spec: memory and cpu flag values", "[spec-builder]") {
    CHECK(engine::parse_memory("512m").value_or(0) == 512LL << 20);
    CHECK(engine::parse_memory("1g").value_or(0) == 1LL << 30);
    CHECK(engine::parse_memory("1.5G").value_or(0) == 3LL << 29);
    CHECK(engine::parse_memory("1024").value_or(0) == 1024);
    CHECK(engine::parse_memory("64kb").value_or(0) == 64LL << 10);
    CHECK(engine::parse_memory("2 MiB").value_or(0) == 2LL << 20);
    for (const char* bad : {"12q", "", "m", "-1m", "1.2.3m", "1mm"}) {
        auto r = engine::parse_memory(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().what == std::string("invalid size: '") + bad + "'");
    }

    CHECK(engine::parse_cpus("1.5").value_or(0) == 1.5);
    CHECK(engine::parse_cpus(".25").value_or(0) == 0.25);
    CHECK(engine::parse_cpus("0.000000001").value_or(0) == 1e-9);
    CHECK(engine::parse_cpus("0.0000000001").error().what == "value is too precise");
    CHECK(engine::parse_cpus("abc").error().what == "failed to parse abc as a rational number");
    CHECK(engine::parse_cpus("").error().what == "failed to parse  as a rational number");
}

TEST_CASE("spec: --env-file format", "[spec-builder]") {
    Fixture f;
    ::setenv("SKIFF_ENVFILE_PASS", "passed", 1);
    ::unsetenv("SKIFF_ENVFILE_ABSENT");
    const std::string path = f.base + "/env";
    REQUIRE(skiff::write_file_atomic(path, "\xEF\xBB\xBF# comment\n\n  A=1\nB= spaced value \nSKIFF_ENVFILE_PASS\n"
                                    "SKIFF_ENVFILE_ABSENT\nC=\r\n"));
    auto env = engine::read_env_file(path);
    REQUIRE(env);
    CHECK(*env == std::vector<std::string>{"A=1", "B= spaced value ", "SKIFF_ENVFILE_PASS=passed", "C="});

    REQUIRE(skiff::write_file_atomic(path, "BAD KEY=1\n"));
    CHECK(engine::read_env_file(path).error().what ==
          "poorly formatted environment: variable 'BAD KEY' contains whitespaces");
    REQUIRE(skiff::write_file_atomic(path, "=value\n"));
    CHECK(engine::read_env_file(path).error().what ==
          "poorly formatted environment: no variable name on line '=value'");
}

TEST_CASE("spec: default seccomp names all resolve in libseccomp", "[spec-builder]") {
    json profile = engine::default_seccomp_profile();
    size_t count = 0;
    for (const auto& rule : profile["syscalls"])
        for (const auto& name : rule["names"]) {
            ++count;
            INFO(name.get<std::string>());
            CHECK(seccomp_syscall_resolve_name(name.get<std::string>().c_str()) != __NR_SCMP_ERROR);
        }
    CHECK(count > 350);
}

TEST_CASE("spec: default seccomp follows the capabilities", "[spec-builder]") {
    Fixture f;
    json seccomp = f.build()["linux"]["seccomp"];
    // No CAP_SYS_ADMIN: clone without namespace flags, clone3 -> ENOSYS, no mount.
    auto clone = rules_for(seccomp, "clone");
    REQUIRE(clone.size() == 1);
    CHECK(clone[0]["args"] == json::parse(R"([{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}])"));
    auto clone3 = rules_for(seccomp, "clone3");
    REQUIRE(clone3.size() == 1);
    CHECK(clone3[0]["action"] == "SCMP_ACT_ERRNO");
    CHECK(clone3[0]["errnoRet"] == 38);
    CHECK(rules_for(seccomp, "mount").empty());
    CHECK(rules_for(seccomp, "ptrace").size() == 1);  // kernel >= 4.8 rule
    CHECK(rules_for(seccomp, "kcmp").empty());
    CHECK(rules_for(seccomp, "personality").size() == 5);
    CHECK(rules_for(seccomp, "socket").size() == 3);
    CHECK(rules_for(seccomp, "chroot").size() == 1);  // CAP_SYS_CHROOT is a default
    CHECK(rules_for(seccomp, "arch_prctl").size() == 1);
    CHECK(rules_for(seccomp, "set_tls").empty());
    CHECK(rules_for(seccomp, "read").size() == 1);
    CHECK(rules_for(seccomp, "io_uring_setup").empty());
    CHECK(rules_for(seccomp, "pipe2").size() == 1);

    engine::RunSpecOptions admin;
    admin.cap_add = {"SYS_ADMIN", "SYS_PTRACE"};
    admin.cap_drop = {"SYS_CHROOT"};
    seccomp = f.build(admin)["linux"]["seccomp"];
    CHECK(rules_for(seccomp, "mount").size() == 1);
    clone = rules_for(seccomp, "clone");
    REQUIRE(clone.size() == 1);
    CHECK_FALSE(clone[0].contains("args"));
    for (const auto& rule : rules_for(seccomp, "clone3")) CHECK(rule["action"] == "SCMP_ACT_ALLOW");
    CHECK(rules_for(seccomp, "kcmp").size() == 1);
    CHECK(rules_for(seccomp, "chroot").empty());

    engine::RunSpecOptions unconfined;
    unconfined.seccomp_profile = "unconfined";
    CHECK_FALSE(f.build(unconfined)["linux"].contains("seccomp"));
}

TEST_CASE("spec: the default seccomp's OCI form is kept between runs, per target", "[spec-builder]") {
    Fixture f;
    const std::string cache = f.base + "/cache";
    auto files = [&] {
        std::vector<std::string> out;
        if (auto* dir = ::opendir(cache.c_str())) {
            while (auto* ent = ::readdir(dir))
                if (ent->d_name[0] != '.') out.push_back(cache + "/" + ent->d_name);
            ::closedir(dir);
        }
        return out;
    };
    engine::SeccompTarget plain = engine::host_seccomp_target({"CAP_CHOWN", "CAP_KILL"});
    plain.syscall_known = [](const std::string& name) {
        return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
    };
    const json made = engine::seccomp_profile_to_oci(engine::default_seccomp_profile(), plain).value();

    CHECK(engine::cached_default_seccomp_oci(plain, cache).value() == made);
    REQUIRE(files().size() == 1);
    const std::string kept = files()[0];
    CHECK(json::parse(skiff::read_file(kept).value()) == made);
    CHECK(engine::cached_default_seccomp_oci(plain, cache).value() == made);  // read back
    CHECK(files().size() == 1);

    // Another target (here CAP_SYS_ADMIN: mount allowed) is another file, another result.
    engine::SeccompTarget admin = plain;
    admin.capabilities.push_back("CAP_SYS_ADMIN");
    const json admin_made = engine::cached_default_seccomp_oci(admin, cache).value();
    CHECK(admin_made == engine::seccomp_profile_to_oci(engine::default_seccomp_profile(), admin).value());
    CHECK(admin_made != made);
    CHECK(files().size() == 2);

    // Another kernel ABI set (x32 or not) is another file: the architectures differ.
    engine::SeccompTarget other_abi = plain;
    other_abi.x32_abi = !plain.x32_abi;
    const json other_made = engine::cached_default_seccomp_oci(other_abi, cache).value();
    CHECK(files().size() == 3);
    auto has_x32 = [](const json& oci) {
        const auto& a = oci["architectures"];
        return std::find(a.begin(), a.end(), "SCMP_ARCH_X32") != a.end();
    };
    CHECK(has_x32(other_made) == other_abi.x32_abi);
    CHECK(has_x32(made) == plain.x32_abi);
    CHECK(other_made["syscalls"] == made["syscalls"]);  // the same rules

    // A damaged file is made again, not trusted.
    REQUIRE(skiff::write_file_atomic(kept, "{\"defaultAct"));
    CHECK(engine::cached_default_seccomp_oci(plain, cache).value() == made);
    CHECK(json::parse(skiff::read_file(kept).value()) == made);
    // No cache directory: made every time, nothing written.
    CHECK(engine::cached_default_seccomp_oci(plain, "").value() == made);

    // build_spec with a cache directory gives the same spec as without.
    auto inputs = f.inputs();
    const json uncached = engine::build_spec(inputs, {}).value()["linux"]["seccomp"];
    inputs.seccomp_cache_dir = cache;
    CHECK(engine::build_spec(inputs, {}).value()["linux"]["seccomp"] == uncached);
    CHECK(engine::build_spec(inputs, {}).value()["linux"]["seccomp"] == uncached);
}

TEST_CASE("spec: a Docker-format seccomp profile converts", "[spec-builder]") {
    Fixture f;
    const std::string path = f.base + "/profile.json";
    REQUIRE(skiff::write_file_atomic(path, R"({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "no dirs"},
            {"names": ["chmod", "not_a_syscall_at_all"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["only_unknown_here"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["reboot"], "action": "SCMP_ACT_KILL", "includes": {"caps": ["CAP_SYS_BOOT"]}},
            {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["modify_ldt"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "99.0"}},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]
    })"));
    engine::RunSpecOptions o;
    o.seccomp_profile = path;
    json spec = f.build(o);
    require_runtime_accepts(spec);
    const json& seccomp = spec["linux"]["seccomp"];
    CHECK(seccomp["defaultAction"] == "SCMP_ACT_ALLOW");
    CHECK(strings(seccomp["architectures"]) == std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"});
    CHECK(seccomp["syscalls"] == json::parse(R"([
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
        {"names":["chmod"],"action":"SCMP_ACT_ERRNO"},
        {"names":["sethostname"],"action":"SCMP_ACT_ERRNO"},
        {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}
    ])"));

    REQUIRE(skiff::write_file_atomic(path, R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]})"));
    CHECK(f.error(o) == "both 'architectures' and 'archMap' are specified in the seccomp profile, use "
                        "either 'architectures' or 'archMap'");
    REQUIRE(skiff::write_file_atomic(path, R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]})"));
    CHECK(f.error(o) == "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
    REQUIRE(skiff::write_file_atomic(path, "{not json"));
    CHECK(f.error(o).starts_with("Decoding seccomp profile failed: "));
    REQUIRE(skiff::write_file_atomic(path, "{}"));
    CHECK_FALSE(f.build(o)["linux"].contains("seccomp"));
    o.seccomp_profile = f.base + "/missing.json";
    CHECK(f.error(o).starts_with("opening seccomp profile (" + f.base + "/missing.json) failed: "));
}

TEST_CASE("spec: hostname, domainname and stop signal", "[spec-builder]") {
    Fixture f;
    f.image.config.stop_signal = "SIGQUIT";
    engine::RunSpecOptions o;
    o.hostname = "h1";
    o.domainname = "example.org";
    json spec = f.build(o);
    require_runtime_accepts(spec);
    CHECK(spec["hostname"] == "h1");
    CHECK(spec["domainname"] == "example.org");
    CHECK(spec["annotations"]["org.opencontainers.image.stopSignal"] == "SIGQUIT");
    o.stop_signal = "SIGUSR1";
    CHECK(f.build(o)["annotations"]["org.opencontainers.image.stopSignal"] == "SIGUSR1");
    o.hostname = std::string(65, 'a');
    CHECK(f.error(o).starts_with("invalid hostname"));
    o.hostname.clear();
    o.no_new_privileges = true;
    CHECK(f.build(o)["process"]["noNewPrivileges"] == true);
}
