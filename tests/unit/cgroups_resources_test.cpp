// cgroups: linux.resources conversion and writing, and stats parsing, against a fake cgroup
// tree in a temp dir holding the files the kernel would have. Nothing here touches the real
// /sys/fs/cgroup.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cgroups/cgroups.hpp"
#include "cgroups/resources.hpp"
#include "cgroups/stats.hpp"
#include "common/fs.hpp"

using namespace skiff;
using namespace skiff::cgroups;
using nlohmann::json;

namespace {

const char* kAllControllers = "cpuset cpu io memory hugetlb pids rdma misc\n";

// root/ a/ a/b/ a/b/c (the group). Every level offers `offered`; the group's own
// cgroup.controllers (what the kernel would show after enabling) is `group_controllers`.
struct FakeTree {
    std::string root;
    Group group;

    explicit FakeTree(const std::string& group_controllers = kAllControllers,
                      const std::string& offered = kAllControllers) {
        char tmpl[] = "/tmp/skiff-cgres-XXXXXX";
        root = ::mkdtemp(tmpl);
        for (const char* level : {"", "a", "a/b"}) {
            std::string dir = path_join(root, level);
            REQUIRE(mkdir_p(dir).has_value());
            put(path_join(dir, "cgroup.controllers"), offered);
            put(path_join(dir, "cgroup.subtree_control"), "");
        }
        group = Group(root, "a/b/c");
        REQUIRE(mkdir_p(group.path()).has_value());
        file("cgroup.controllers", group_controllers);
        file("cgroup.subtree_control", "");
        file("cgroup.procs", "");
        for (const char* f : {"memory.max", "memory.swap.max", "memory.high", "pids.max", "cpu.max.burst",
                              "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max", "cgroup.max.descendants"})
            file(f, "max\n");
        file("memory.low", "0\n");
        file("memory.current", "4096\n");
        file("cpu.weight", "100\n");
        file("cpu.idle", "0\n");
        file("cpu.max", "max 100000\n");
        file("cpuset.cpus", "");
        file("cpuset.mems", "");
        file("io.weight", "default 100\n");
        file("io.max", "");
    }
    ~FakeTree() { (void)remove_tree(root); }

    static void put(const std::string& path, const std::string& content) {
        REQUIRE(write_file_atomic(path, content).has_value());
    }
    void file(const std::string& name, const std::string& content) const { put(path_join(group.path(), name), content); }
    std::string read(const std::string& name) const { return read_at(path_join(group.path(), name)); }
    static std::string read_at(const std::string& path) {
        auto text = read_file(path);
        REQUIRE(text.has_value());
        return *text;
    }
    void remove(const std::string& name) const { REQUIRE(::unlink(path_join(group.path(), name).c_str()) == 0); }

    Status apply(const json& resources, std::vector<std::string>& warnings) const {
        return apply_resources(group, resources, warnings);
    }
    void apply_ok(const json& resources) const {
        std::vector<std::string> warnings;
        auto r = apply(resources, warnings);
        INFO((r ? std::string() : r.error().message()));
        REQUIRE(r.has_value());
        CHECK(warnings.empty());
    }
};

// The error text of validate_resources, or "" when it passes.
std::string validation_error(const json& resources) {
    auto r = validate_resources(resources);
    return r ? std::string() : r.error().what;
}

}  // namespace

// ---- conversions ------------------------------------------------------------------------

TEST_CASE("cpu shares to cpu.weight: runc's linear map", "[cgroups][resources]") {
    CHECK(cpu_shares_to_weight(0) == 0);  // unset
    CHECK(cpu_shares_to_weight(2) == 1);
    CHECK(cpu_shares_to_weight(1024) == 39);
    CHECK(cpu_shares_to_weight(512) == 20);
    CHECK(cpu_shares_to_weight(262144) == 10000);
    // Clamped outside v1's range, as runc does.
    CHECK(cpu_shares_to_weight(1) == 1);
    CHECK(cpu_shares_to_weight(1'000'000) == 10000);
}

TEST_CASE("memory swap to memory.swap.max", "[cgroups][resources]") {
    CHECK(*memory_swap_to_v2(0, -1) == -1);           // memory unlimited, swap unset: both max
    CHECK(*memory_swap_to_v2(-1, 1000) == -1);        // swap unlimited
    CHECK(*memory_swap_to_v2(0, 1000) == 0);          // swap unset
    CHECK(*memory_swap_to_v2(3000, -1) == 3000);      // unlimited memory: swap as is
    CHECK(*memory_swap_to_v2(3000, 1000) == 2000);    // memory+swap minus memory
    CHECK(*memory_swap_to_v2(1000, 1000) == 0);       // equal: no swap
    CHECK_FALSE(memory_swap_to_v2(3000, 0).has_value());     // swap without memory limit
    CHECK_FALSE(memory_swap_to_v2(500, 1000).has_value());   // below memory
    CHECK_FALSE(memory_swap_to_v2(3000, -5).has_value());
}

TEST_CASE("blkio weight to io.weight", "[cgroups][resources]") {
    CHECK(blkio_weight_to_io_weight(0) == 0);
    CHECK(blkio_weight_to_io_weight(10) == 1);
    CHECK(blkio_weight_to_io_weight(100) == 910);
    CHECK(blkio_weight_to_io_weight(500) == 4950);
    CHECK(blkio_weight_to_io_weight(1000) == 10000);
}

TEST_CASE("cpu.max strings", "[cgroups][resources]") {
    CHECK(cpu_max_value(-1, 0) == "max 100000");
    CHECK(cpu_max_value(0, 50000) == "max 50000");
    CHECK(cpu_max_value(10000, 0) == "10000 100000");
    CHECK(cpu_max_value(10000, 50000) == "10000 50000");
}

// ---- validation -------------------------------------------------------------------------

TEST_CASE("validate_resources: accepts empty, null and a full valid object", "[cgroups][resources]") {
    CHECK(validation_error(json()) == "");
    CHECK(validation_error(json::object()) == "");
    CHECK(validation_error(json::parse(R"({
        "memory": {"limit": 16777216, "reservation": -1, "swap": 33554432, "disableOOMKiller": false},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-3,5", "mems": "0", "idle": 0, "burst": 1000},
        "pids": {"limit": 10},
        "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        "devices": [{"allow": false, "access": "rwm"}],
        "unified": {"memory.high": "50000000", "cgroup.max.descendants": "10"}
    })")) == "");
}

TEST_CASE("validate_resources: a document built in memory (signed numbers) is read like parsed text", "[cgroups][resources]") {
    // The engine hands the runtime the spec it built (runtime/spec.hpp remember_written_spec):
    // there 100000 is a signed integer, where parsed text would make it unsigned.
    json built;
    built["cpu"]["period"] = int64_t(100000);
    built["cpu"]["quota"] = int64_t(100000);
    built["pids"]["limit"] = int64_t(10);
    built["memory"]["limit"] = int64_t(67108864);
    CHECK(validation_error(built) == "");
    built["cpu"]["period"] = int64_t(-1);
    CHECK(validation_error(built) == "linux.resources.cpu.period: must be >= 0, got -1");
}

TEST_CASE("validate_resources: errors name the field", "[cgroups][resources]") {
    struct Case {
        const char* json;
        const char* field;
    };
    const Case cases[] = {
        {R"({"memory": {"limit": -5}})", "linux.resources.memory.limit: "},
        {R"({"memory": {"limit": 1.5}})", "linux.resources.memory.limit: must be an integer"},
        {R"({"memory": {"limit": "1g"}})", "linux.resources.memory.limit: "},
        {R"({"memory": {"reservation": -2}})", "linux.resources.memory.reservation: "},
        {R"({"memory": {"swap": -7, "limit": 100}})", "linux.resources.memory.swap: "},
        {R"({"memory": {"swap": 100}})", "linux.resources.memory.swap: unable to set swap limit without memory limit"},
        {R"({"memory": {"swap": 100, "limit": 200}})", "linux.resources.memory.swap: memory+swap limit should be >= memory limit"},
        {R"({"memory": {"swappiness": 101}})", "linux.resources.memory.swappiness: "},
        {R"({"memory": {"disableOOMKiller": 1}})", "linux.resources.memory.disableOOMKiller: "},
        {R"({"memory": 5})", "linux.resources.memory: must be an object"},
        {R"({"cpu": {"shares": 1}})", "linux.resources.cpu.shares: must be between 2 and 262144"},
        {R"({"cpu": {"shares": 262145}})", "linux.resources.cpu.shares: "},
        {R"({"cpu": {"shares": -3}})", "linux.resources.cpu.shares: must be >= 0"},
        {R"({"cpu": {"quota": -2}})", "linux.resources.cpu.quota: "},
        {R"({"cpu": {"quota": 500}})", "linux.resources.cpu.quota: "},
        {R"({"cpu": {"period": 0}})", "linux.resources.cpu.period: must be between 1000 and 1000000"},
        {R"({"cpu": {"period": 2000000}})", "linux.resources.cpu.period: "},
        {R"({"cpu": {"idle": 2}})", "linux.resources.cpu.idle: "},
        {R"({"cpu": {"cpus": "0-"}})", "linux.resources.cpu.cpus: "},
        {R"({"cpu": {"mems": "a"}})", "linux.resources.cpu.mems: "},
        {R"({"pids": {"limit": -2}})", "linux.resources.pids.limit: "},
        {R"({"blockIO": {"weight": 5}})", "linux.resources.blockIO.weight: must be between 10 and 1000"},
        {R"({"blockIO": {"weight": 1001}})", "linux.resources.blockIO.weight: "},
        {R"({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 2000}]}})",
         "linux.resources.blockIO.weightDevice[0].weight: "},
        {R"({"blockIO": {"weightDevice": [{"minor": 0, "weight": 100}]}})",
         "linux.resources.blockIO.weightDevice[0].major: required"},
        {R"({"blockIO": {"throttleWriteIOPSDevice": [{"major": 8, "minor": 0}]}})",
         "linux.resources.blockIO.throttleWriteIOPSDevice[0].rate: required"},
        {R"({"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}})",
         "linux.resources.blockIO.throttleReadBpsDevice[0].major: "},
        {R"({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]})", "linux.resources.hugepageLimits[0].pageSize: "},
        {R"({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]})", "linux.resources.hugepageLimits[0].pageSize: "},
        {R"({"hugepageLimits": [{"pageSize": "2MB"}]})", "linux.resources.hugepageLimits[0].limit: required"},
        {R"({"rdma": {"a b": {"hcaHandles": 1}}})", "linux.resources.rdma.a b: "},
        {R"({"unified": {"../memory.max": "1"}})", "linux.resources.unified.\"../memory.max\": "},
        {R"({"unified": {"x/memory.max": "1"}})", "linux.resources.unified.\"x/memory.max\": "},
        {R"({"unified": {"memory..max": "1"}})", "linux.resources.unified.\"memory..max\": "},
        {R"({"unified": {"cgroup.procs": "1"}})", "linux.resources.unified.\"cgroup.procs\": not a limit"},
        {R"({"unified": {"cgroup.kill": "1"}})", "linux.resources.unified.\"cgroup.kill\": "},
        {R"({"unified": {"cgroup.subtree_control": "+memory"}})", "linux.resources.unified.\"cgroup.subtree_control\": "},
        {R"({"unified": {"bogus.max": "1"}})", "linux.resources.unified.\"bogus.max\": unknown controller \"bogus\""},
        {R"({"unified": {"memory": "1"}})", "linux.resources.unified.\"memory\": must be of the form CONTROLLER.PARAMETER"},
        {R"({"unified": {"memory.high": 5}})", "linux.resources.unified.\"memory.high\": must be a string"},
        {R"([1])", "linux.resources: must be an object"},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        std::string error = validation_error(json::parse(c.json));
        CHECK_THAT(error, Catch::StartsWith(c.field));
    }
}

TEST_CASE("apply_resources validates before writing anything", "[cgroups][resources]") {
    FakeTree t;
    std::vector<std::string> warnings;
    // The memory part is fine; the pids part is not, so nothing may be written at all.
    auto r = t.apply(json::parse(R"({"memory": {"limit": 1000000}, "pids": {"limit": -9}})"), warnings);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().what, Catch::StartsWith("linux.resources.pids.limit: "));
    CHECK(t.read("memory.max") == "max\n");
    CHECK(FakeTree::read_at(t.root + "/cgroup.subtree_control") == "");
}

// ---- writing ----------------------------------------------------------------------------

TEST_CASE("apply memory: limit, reservation, swap", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::parse(R"({"memory": {"limit": 16777216, "reservation": 8388608, "swap": 33554432}})"));
    CHECK(t.read("memory.max") == "16777216");
    CHECK(t.read("memory.low") == "8388608");
    CHECK(t.read("memory.swap.max") == "16777216");
}

TEST_CASE("apply memory: -1 is max, swap equal to limit disables swap", "[cgroups][resources]") {
    SECTION("unlimited") {
        FakeTree t;
        t.file("memory.swap.max", "0\n");
        t.apply_ok(json::parse(R"({"memory": {"limit": -1}})"));
        CHECK(t.read("memory.max") == "max");
        CHECK(t.read("memory.swap.max") == "max");
    }
    SECTION("no swap") {
        FakeTree t;
        t.apply_ok(json::parse(R"({"memory": {"limit": 1048576, "swap": 1048576}})"));
        CHECK(t.read("memory.max") == "1048576");
        CHECK(t.read("memory.swap.max") == "0");
    }
    SECTION("limit alone leaves swap and low alone") {
        FakeTree t;
        t.apply_ok(json::parse(R"({"memory": {"limit": 1048576}})"));
        CHECK(t.read("memory.swap.max") == "max\n");
        CHECK(t.read("memory.low") == "0\n");
    }
}

TEST_CASE("apply memory: kernel without swap accounting warns for a real swap limit", "[cgroups][resources]") {
    FakeTree t;
    t.remove("memory.swap.max");
    std::vector<std::string> warnings;
    REQUIRE(t.apply(json::parse(R"({"memory": {"limit": 1000000, "swap": 3000000}})"), warnings).has_value());
    CHECK(t.read("memory.max") == "1000000");
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("swap limit"));
    // Disabling swap where there is none is simply true already.
    warnings.clear();
    REQUIRE(t.apply(json::parse(R"({"memory": {"limit": 1000000, "swap": 1000000}})"), warnings).has_value());
    CHECK(warnings.empty());
}

TEST_CASE("apply memory: disableOOMKiller is a warning, not a knob", "[cgroups][resources]") {
    FakeTree t;
    std::vector<std::string> warnings;
    REQUIRE(t.apply(json::parse(R"({"memory": {"limit": 1000000, "disableOOMKiller": true}})"), warnings).has_value());
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("OomKillDisable"));
    CHECK(t.read("memory.max") == "1000000");
}

TEST_CASE("apply memory: checkBeforeUpdate refuses a limit below current usage", "[cgroups][resources]") {
    FakeTree t;
    t.file("memory.current", "5000000\n");
    std::vector<std::string> warnings;
    auto r = t.apply(json::parse(R"({"memory": {"limit": 4000000, "checkBeforeUpdate": true}})"), warnings);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().what, Catch::StartsWith("linux.resources.memory.limit: rejecting memory limit 4000000"));
    CHECK(t.read("memory.max") == "max\n");
    t.apply_ok(json::parse(R"({"memory": {"limit": 6000000, "checkBeforeUpdate": true}})"));
    CHECK(t.read("memory.max") == "6000000");
}

TEST_CASE("apply cpu: weight, cpu.max, burst, idle, cpuset", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::parse(
        R"({"cpu": {"shares": 1024, "quota": 10000, "period": 100000, "burst": 5000, "idle": 1, "cpus": "0-1", "mems": "0"}})"));
    CHECK(t.read("cpu.weight") == "39");
    CHECK(t.read("cpu.max") == "10000 100000");
    CHECK(t.read("cpu.max.burst") == "5000");
    CHECK(t.read("cpu.idle") == "1");
    CHECK(t.read("cpuset.cpus") == "0-1");
    CHECK(t.read("cpuset.mems") == "0");
}

TEST_CASE("apply cpu: quota -1 is max; period alone keeps quota unlimited", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::parse(R"({"cpu": {"quota": -1}})"));
    CHECK(t.read("cpu.max") == "max 100000");
    t.apply_ok(json::parse(R"({"cpu": {"period": 50000}})"));
    CHECK(t.read("cpu.max") == "max 50000");
    // Nothing that touches cpu.max: left alone.
    t.file("cpu.max", "20000 100000\n");
    t.apply_ok(json::parse(R"({"cpu": {"shares": 2}})"));
    CHECK(t.read("cpu.max") == "20000 100000\n");
    CHECK(t.read("cpu.weight") == "1");
}

TEST_CASE("apply pids: count, and 0 or -1 lift the limit", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::parse(R"({"pids": {"limit": 10}})"));
    CHECK(t.read("pids.max") == "10");
    t.apply_ok(json::parse(R"({"pids": {"limit": 0}})"));
    CHECK(t.read("pids.max") == "max");
    t.apply_ok(json::parse(R"({"pids": {"limit": 5}})"));
    t.apply_ok(json::parse(R"({"pids": {"limit": -1}})"));
    CHECK(t.read("pids.max") == "max");
}

TEST_CASE("apply io: io.weight converted, io.bfq.weight as is, io.max per device", "[cgroups][resources]") {
    SECTION("iocost") {
        FakeTree t;
        t.apply_ok(json::parse(R"({"blockIO": {"weight": 500,
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 50}]}})"));
        CHECK(t.read("io.weight") == "default 4950");
        CHECK(t.read("io.max") == "8:0 rbps=1048576 wbps=2097152 riops=100 wiops=50");
    }
    SECTION("per-device weight without bfq goes to io.weight, converted") {
        FakeTree t;
        t.apply_ok(json::parse(R"({"blockIO": {"weightDevice": [{"major": 8, "minor": 16, "weight": 100}]}})"));
        CHECK(t.read("io.weight") == "8:16 910");
    }
    SECTION("bfq") {
        FakeTree t;
        t.file("io.bfq.weight", "default 100\n");
        t.apply_ok(json::parse(R"({"blockIO": {"weight": 500}})"));
        CHECK(t.read("io.bfq.weight") == "500");
        CHECK(t.read("io.weight") == "default 100\n");
        // A kernel with per-device bfq weights reads back "default N" (and device lines).
        t.file("io.bfq.weight", "default 500\n");
        t.apply_ok(json::parse(R"({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 300}]}})"));
        CHECK(t.read("io.bfq.weight") == "8:0 300");
    }
    SECTION("old bfq (single number) cannot take device weights: iocost's io.weight does") {
        FakeTree t;
        t.file("io.bfq.weight", "100\n");
        t.apply_ok(json::parse(R"({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}})"));
        CHECK(t.read("io.bfq.weight") == "100\n");
        CHECK(t.read("io.weight") == "8:0 910");
    }
    SECTION("leaf weights warn") {
        FakeTree t;
        std::vector<std::string> warnings;
        REQUIRE(t.apply(json::parse(R"({"blockIO": {"leafWeight": 300}})"), warnings).has_value());
        CHECK(warnings.size() == 1);
    }
}

TEST_CASE("apply hugepageLimits and rdma", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::parse(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                               "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}})"));
    CHECK(t.read("hugetlb.2MB.max") == "4194304");
    CHECK(t.read("hugetlb.2MB.rsvd.max") == "4194304");
    CHECK(t.read("rdma.max") == "mlx5_1 hca_handle=3 hca_object=10000");
    std::vector<std::string> warnings;
    auto r = t.apply(json::parse(R"({"hugepageLimits": [{"pageSize": "1GB", "limit": 0}]})"), warnings);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().what, Catch::StartsWith("linux.resources.hugepageLimits[0].pageSize: "));
}

TEST_CASE("apply unified: keys written as is, last, and unknown files named", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::parse(R"({"memory": {"limit": 1000000},
                               "unified": {"memory.high": "500000", "memory.max": "2000000", "cgroup.max.descendants": "5"}})"));
    CHECK(t.read("memory.high") == "500000");
    CHECK(t.read("memory.max") == "2000000");  // unified wins over the converted value
    CHECK(t.read("cgroup.max.descendants") == "5");

    std::vector<std::string> warnings;
    auto r = t.apply(json::parse(R"({"unified": {"memory.hihg": "1"}})"), warnings);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().what, Catch::StartsWith("linux.resources.unified.\"memory.hihg\": no such file"));
    // The fake tree must not have grown the file.
    CHECK_FALSE(path_exists(path_join(t.group.path(), "memory.hihg")));
}

TEST_CASE("apply: controllers the group lacks are warnings, the rest still applies", "[cgroups][resources]") {
    // As on a hybrid host: only hugetlb in the unified tree.
    FakeTree t("hugetlb\n", "hugetlb\n");
    std::vector<std::string> warnings;
    auto r = t.apply(json::parse(R"({"memory": {"limit": 1000000}, "pids": {"limit": 10},
                                     "cpu": {"shares": 512, "cpus": "0"},
                                     "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
                                     "unified": {"memory.high": "1"}})"),
                     warnings);
    REQUIRE(r.has_value());
    REQUIRE(warnings.size() == 4);  // one per controller: memory, cpu, cpuset, pids
    CHECK(warnings[0] ==
          "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.");
    CHECK_THAT(warnings[1], Catch::Contains(" cpu limit"));
    CHECK_THAT(warnings[2], Catch::Contains(" cpuset limit"));
    CHECK_THAT(warnings[3], Catch::Contains(" pids limit"));
    CHECK(t.read("memory.max") == "max\n");
    CHECK(t.read("memory.high") == "max\n");
    CHECK(t.read("pids.max") == "max\n");
    CHECK(t.read("hugetlb.2MB.max") == "2097152");
    // Only what is offered was asked for.
    CHECK(FakeTree::read_at(t.root + "/cgroup.subtree_control") == "+hugetlb");
}

TEST_CASE("apply: controllers enabled in every ancestor's subtree_control", "[cgroups][resources]") {
    FakeTree t;
    // "a" offers no cpu; "a/b" has memory on already.
    FakeTree::put(t.root + "/a/cgroup.controllers", "cpuset io memory hugetlb pids\n");
    FakeTree::put(t.root + "/a/b/cgroup.subtree_control", "memory\n");
    t.apply_ok(json::parse(R"({"memory": {"limit": 1000000}, "pids": {"limit": 10}, "cpu": {"shares": 1024}})"));
    CHECK(FakeTree::read_at(t.root + "/cgroup.subtree_control") == "+memory +cpu +pids");
    CHECK(FakeTree::read_at(t.root + "/a/cgroup.subtree_control") == "+memory +pids");
    CHECK(FakeTree::read_at(t.root + "/a/b/cgroup.subtree_control") == "+cpu +pids");
    // The group itself is left alone: its children are not ours to shape.
    CHECK(t.read("cgroup.subtree_control") == "");
}

TEST_CASE("apply: nothing requested touches nothing", "[cgroups][resources]") {
    FakeTree t;
    t.apply_ok(json::object());
    t.apply_ok(json::parse(R"({"devices": [{"allow": false, "access": "rwm"}]})"));
    CHECK(FakeTree::read_at(t.root + "/cgroup.subtree_control") == "");
}

TEST_CASE("apply: a group that does not exist is an error", "[cgroups][resources]") {
    FakeTree t;
    Group missing(t.root, "a/b/gone");
    std::vector<std::string> warnings;
    auto r = apply_resources(missing, json::parse(R"({"pids": {"limit": 10}})"), warnings);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ENOENT);
}

TEST_CASE("requested_controllers on a full resources object", "[cgroups][resources]") {
    auto c = requested_controllers(json::parse(R"({"memory": {"limit": 1}, "cpu": {"shares": 2, "cpus": "0"},
        "pids": {"limit": 1}, "blockIO": {"weight": 10}, "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
        "unified": {"misc.max": "x 1", "cgroup.max.depth": "2"}})"));
    CHECK(c == std::vector<std::string>{"memory", "cpu", "cpuset", "pids", "io", "hugetlb", "misc"});
}

// ---- stats ------------------------------------------------------------------------------

TEST_CASE("read_stats: every controller present", "[cgroups][stats]") {
    FakeTree t;
    t.file("memory.current", "12582912\n");
    t.file("memory.peak", "16777216\n");
    t.file("memory.max", "16777216\n");
    t.file("memory.swap.current", "1024\n");
    t.file("memory.swap.max", "max\n");
    t.file("memory.events", "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n");
    t.file("memory.stat", "anon 8192\nfile 4096\nkernel 512\n");
    t.file("cpu.stat",
           "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\ncore_sched.force_idle_usec 0\n"
           "nr_periods 20\nnr_throttled 7\nthrottled_usec 300\nnr_bursts 0\nburst_usec 0\n");
    t.file("pids.current", "3\n");
    t.file("pids.max", "10\n");
    t.file("io.stat",
           "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0 cost.vrate=100.00\n"
           "253:1 rbytes=10 wbytes=0 rios=3 wios=0 dbytes=5 dios=1\n");
    t.file("hugetlb.2MB.current", "0\n");
    t.file("hugetlb.2MB.events", "max 4\n");

    auto s = read_stats(t.group);
    INFO((s ? std::string() : s.error().message()));
    REQUIRE(s.has_value());
    REQUIRE(s->memory.has_value());
    CHECK(s->memory->current == 12582912);
    CHECK(s->memory->peak == 16777216u);
    CHECK(s->memory->max == 16777216);
    CHECK(s->memory->swap_current == 1024u);
    CHECK(s->memory->swap_max == kUnlimited);
    CHECK(s->memory->oom == 2);
    CHECK(s->memory->oom_kill == 1);
    CHECK(s->memory->stat.at("file") == 4096);
    CHECK(s->cpu.usage_usec == 1500);
    CHECK(s->cpu.user_usec == 1000);
    CHECK(s->cpu.system_usec == 500);
    CHECK(s->cpu.nr_periods == 20);
    CHECK(s->cpu.nr_throttled == 7);
    CHECK(s->cpu.throttled_usec == 300);
    CHECK(s->pids.current == 3);
    CHECK(s->pids.max == 10);
    REQUIRE(s->io.size() == 2);
    CHECK(s->io[0].major == 8);
    CHECK(s->io[0].minor == 0);
    CHECK(s->io[0].rbytes == 4096);
    CHECK(s->io[0].wbytes == 8192);
    CHECK(s->io[0].wios == 2);
    CHECK(s->io[1].major == 253);
    CHECK(s->io[1].minor == 1);
    CHECK(s->io[1].dbytes == 5);
    REQUIRE(s->hugetlb.count("2MB") == 1);
    CHECK(s->hugetlb.at("2MB").failcnt == 4);

    auto event = json::parse(stats_json("c1", *s));
    CHECK(event["type"] == "stats");
    CHECK(event["id"] == "c1");
    const auto& d = event["data"];
    CHECK(d["cpu"]["usage"]["total"] == 1500000);
    CHECK(d["cpu"]["usage"]["user"] == 1000000);
    CHECK(d["cpu"]["usage"]["kernel"] == 500000);
    CHECK(d["cpu"]["throttling"]["periods"] == 20);
    CHECK(d["cpu"]["throttling"]["throttledPeriods"] == 7);
    CHECK(d["cpu"]["throttling"]["throttledTime"] == 300000);
    CHECK(d["memory"]["cache"] == 4096);
    CHECK(d["memory"]["usage"]["usage"] == 12582912);
    CHECK(d["memory"]["usage"]["max"] == 16777216);
    CHECK(d["memory"]["usage"]["limit"] == 16777216);
    CHECK(d["memory"]["usage"]["failcnt"] == 0);
    CHECK(d["memory"]["swap"]["usage"] == 12582912 + 1024);
    CHECK(d["memory"]["swap"]["limit"] == kUnlimited);
    CHECK(d["memory"]["raw"]["anon"] == 8192);
    CHECK(d["pids"]["current"] == 3);
    CHECK(d["pids"]["limit"] == 10);
    REQUIRE(d["blkio"]["ioServiceBytesRecursive"].size() == 4);
    CHECK(d["blkio"]["ioServiceBytesRecursive"][0] == json::parse(R"({"major":8,"op":"Read","value":4096})"));
    CHECK(d["blkio"]["ioServicedRecursive"][3] == json::parse(R"({"major":253,"minor":1,"op":"Write"})"));
    CHECK(d["hugetlb"]["2MB"] == json::parse(R"({"failcnt":4})"));
    CHECK(d.contains("cpuset"));
    CHECK(d["network_interfaces"].is_null());
}

TEST_CASE("read_stats: a hybrid host's group (no memory, pids, io)", "[cgroups][stats]") {
    FakeTree t("hugetlb\n");
    for (const char* f : {"memory.current", "memory.max", "memory.swap.max", "memory.high", "memory.low", "pids.max"})
        t.remove(f);
    t.file("cgroup.procs", "10\n11\n12\n");
    t.file("cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\n");
    auto s = read_stats(t.group);
    REQUIRE(s.has_value());
    CHECK_FALSE(s->memory.has_value());
    CHECK(s->pids.current == 3);  // counted from cgroup.procs
    CHECK(s->pids.max == kUnlimited);
    CHECK(s->io.empty());
    auto d = stats_data(*s);
    CHECK(d["memory"] == json::object());
    CHECK(d["pids"] == json::parse(R"({"current":3})"));  // unlimited: no "limit", as runc
    CHECK_FALSE(d["cpu"].contains("throttling"));
    CHECK(d["blkio"] == json::object());
}

TEST_CASE("read_stats: unlimited memory and malformed files", "[cgroups][stats]") {
    FakeTree t;
    t.remove("memory.swap.max");  // no swap accounting
    auto s = read_stats(t.group);
    REQUIRE(s.has_value());
    REQUIRE(s->memory.has_value());
    CHECK(s->memory->max == kUnlimited);
    CHECK_FALSE(s->memory->peak.has_value());
    CHECK_FALSE(s->memory->swap_current.has_value());
    auto d = stats_data(*s);
    CHECK(d["memory"]["usage"]["limit"] == kUnlimited);
    CHECK_FALSE(d["memory"]["usage"].contains("max"));
    CHECK(d["memory"]["swap"]["limit"] == kUnlimited);

    t.file("memory.events", "oom lots\n");
    auto bad = read_stats(t.group);
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.error().what, Catch::Contains("memory.events"));
    t.file("memory.events", "oom 0\n");
    t.file("io.stat", "8-0 rbytes=1\n");
    bad = read_stats(t.group);
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.error().what, Catch::Contains("io.stat"));

    Group missing(t.root, "a/none");
    CHECK_FALSE(read_stats(missing).has_value());
}
