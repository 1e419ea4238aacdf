#include "state/container_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "state/names.hpp"

using skiff::state::ContainerRecord;
using skiff::state::ContainerStore;
using skiff::state::MountRecord;
namespace state = skiff::state;

namespace {

struct StoreDir {
    std::string root;
    StoreDir() {
        char tmpl[] = "/tmp/skiff-state-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        root = tmpl;
    }
    ~StoreDir() { (void)skiff::remove_tree(root); }
};

std::set<std::string> entries(const std::string& path) {
    std::set<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (auto* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..") out.insert(n);
    }
    ::closedir(d);
    return out;
}

// Run fn(i) in n forked children; returns each child's exit code.
template <typename F>
std::vector<int> run_forked(int n, F fn) {
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) ::_exit(fn(i));
        REQUIRE(pid > 0);
        pids.push_back(pid);
    }
    std::vector<int> codes;
    for (pid_t pid : pids) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 255);
    }
    return codes;
}

const std::string kId1(64, 'a');
const std::string kId2 = "aaaab" + std::string(59, 'a');

std::string conflict_message(const std::string& name, const std::string& id) {
    return "Conflict. The container name \"/" + name + "\" is already in use by container \"" + id +
           "\". You have to remove (or rename) that container to be able to reuse that name.";
}

}  // namespace

TEST_CASE("container record JSON round trip", "[state]") {
    ContainerRecord r;
    r.id = kId1;
    r.name = "web";
    r.image_id = "sha256:" + std::string(64, 'c');
    r.image = "docker.io/library/busybox:latest";
    r.command = {"sh", "-c", "echo hi"};
    r.created = "2026-01-02T03:04:05.000000001Z";
    r.started = "2026-01-02T03:04:06.000000001Z";
    r.status = state::Status::running;
    r.pid = 1234;
    r.pid_start_time = 987654321012ULL;
    r.exit_code = 137;
    r.oom_killed = true;
    r.monitor_pid = 1233;
    r.monitor_start_time = 42;
    r.restart_policy = "on-failure:3";
    r.restart_count = 2;
    r.auto_remove = true;
    r.labels = {{"app", "web"}, {"tier", "front"}};
    r.mounts = {MountRecord{"volume", "/var/lib/skiff/volumes/data/_data", "/data", "z", false, "data"},
                MountRecord{"tmpfs", "", "/tmp", "", true, ""}};
    r.ports = {"0.0.0.0:8080->80/tcp"};
    r.hostname = "abc";
    r.log_path = "/x/container.log";
    r.network_mode = "bridge";
    r.stop_signal = "SIGQUIT";
    r.stop_timeout = 3;
    r.tty = true;
    r.interactive = true;
    r.config = {{"env", {"A=1"}}, {"memory", 1024}};

    auto j = state::to_json(r);
    auto back = state::from_json(nlohmann::json::parse(j.dump()));
    REQUIRE(back);
    CHECK(state::to_json(*back) == j);
    CHECK(back->status == state::Status::running);
    CHECK(back->mounts.size() == 2);
    CHECK_FALSE(back->mounts[0].rw);
    CHECK(back->mounts[0].volume_name == "data");
    CHECK(back->labels.at("tier") == "front");
    CHECK(back->config["memory"] == 1024);
    CHECK(back->pid_start_time == 987654321012ULL);

    SECTION("missing optional fields keep defaults") {
        auto minimal = state::from_json(nlohmann::json{{"id", kId1}});
        REQUIRE(minimal);
        CHECK(minimal->stop_timeout == 10);
        CHECK(minimal->restart_policy == "no");
        CHECK(minimal->status == state::Status::created);
        CHECK(minimal->config.is_null());
    }
    SECTION("a wrong-typed field is named") {
        j["labels"]["app"] = 5;
        auto bad = state::from_json(j);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().what == "labels.app: expected string, got integer");
        j["labels"]["app"] = "web";
        j["mounts"][1]["rw"] = "yes";
        bad = state::from_json(j);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().what == "mounts[1].rw: expected boolean, got string");
        j["mounts"][1]["rw"] = true;
        j["status"] = "sleeping";
        bad = state::from_json(j);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().what.find("status") != std::string::npos);
    }
    SECTION("status names") {
        for (auto s : {state::Status::created, state::Status::running, state::Status::paused,
                       state::Status::exited, state::Status::dead, state::Status::removing}) {
            auto parsed = state::parse_status(state::to_string(s));
            REQUIRE(parsed);
            CHECK(*parsed == s);
        }
        CHECK(state::to_string(state::Status::exited) == "exited");
        CHECK_FALSE(state::parse_status("Exited"));
    }
}

TEST_CASE("container names", "[state]") {
    CHECK(state::valid_name("web"));
    CHECK(state::valid_name("/web"));
    CHECK(state::valid_name("a1_b.c-d"));
    CHECK_FALSE(state::valid_name("a"));
    CHECK_FALSE(state::valid_name("_web"));
    CHECK_FALSE(state::valid_name("-web"));
    CHECK_FALSE(state::valid_name("we b"));
    CHECK_FALSE(state::valid_name("web/x"));
    CHECK_FALSE(state::valid_name(""));
    for (int i = 0; i < 2000; ++i) {
        auto name = state::random_name();
        REQUIRE(state::valid_name(name));
        REQUIRE(name.find('_') != std::string::npos);
        REQUIRE(name != "boring_wozniak");
    }
}

TEST_CASE("create, find and conflicts", "[state]") {
    StoreDir dir;
    ContainerStore store(dir.root);

    ContainerRecord named;
    named.name = "web";
    named.image = "busybox";
    auto web = store.create(named);
    REQUIRE(web);
    CHECK(state::valid_id(web->id));
    CHECK(web->name == "web");
    CHECK_FALSE(web->created.empty());
    CHECK(entries(store.dir_of(web->id)).count("record.json") == 1);
    struct stat st;
    REQUIRE(::stat(store.dir_of(web->id).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(store.log_path_of(web->id) == store.dir_of(web->id) + "/container.log");

    auto generated = store.create(ContainerRecord{});
    REQUIRE(generated);
    CHECK(state::valid_name(generated->name));
    CHECK(generated->id != web->id);

    SECTION("a taken name is Docker's conflict") {
        ContainerRecord again;
        again.name = "/web";
        auto conflict = store.create(again);
        REQUIRE_FALSE(conflict);
        CHECK(conflict.error().code == EEXIST);
        CHECK(conflict.error().what == conflict_message("web", web->id));
        CHECK(entries(store.containers_dir()).size() == 4);  // two dirs, names.json, names.lock
    }
    SECTION("an empty names.json (a power loss after a swap) stands for the records' names") {
        REQUIRE(::truncate((store.containers_dir() + "/names.json").c_str(), 0) == 0);
        auto found = store.find("web");
        REQUIRE(found);
        CHECK(found->id == web->id);
        ContainerRecord again;
        again.name = "web";
        auto conflict = store.create(again);
        REQUIRE_FALSE(conflict);
        CHECK(conflict.error().code == EEXIST);
        ContainerRecord other;
        other.name = "other";
        REQUIRE(store.create(other));
        CHECK(store.find(generated->name).value().id == generated->id);
    }
    SECTION("an invalid name is refused") {
        ContainerRecord bad;
        bad.name = "bad name";
        auto refused = store.create(bad);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == EINVAL);
        CHECK(refused.error().what ==
              "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    SECTION("a given id is kept; a duplicate id is refused and leaves the name free") {
        ContainerRecord given;
        given.id = kId1;
        given.name = "given";
        auto created = store.create(given);
        REQUIRE(created);
        CHECK(created->id == kId1);
        ContainerRecord dup;
        dup.id = kId1;
        dup.name = "other";
        CHECK_FALSE(store.create(dup));
        CHECK_FALSE(store.find("other"));
        ContainerRecord bad_id;
        bad_id.id = "ABC";
        CHECK_FALSE(store.create(bad_id));
    }
    SECTION("find by name, /name, id and prefix") {
        auto by_name = store.find("web");
        REQUIRE(by_name);
        CHECK(by_name->id == web->id);
        auto by_slash = store.find("/web");
        REQUIRE(by_slash);
        CHECK(by_slash->id == web->id);
        auto by_id = store.find(web->id);
        REQUIRE(by_id);
        CHECK(by_id->name == "web");
        auto by_prefix = store.find(web->id.substr(0, 12));
        REQUIRE(by_prefix);
        CHECK(by_prefix->id == web->id);

        auto missing = store.find("nothere");
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == ENOENT);
        CHECK(missing.error().what == "No such container: nothere");
        CHECK_FALSE(store.find(""));
    }
    SECTION("an ambiguous prefix") {
        ContainerRecord a, b;
        a.id = kId1;
        b.id = kId2;
        REQUIRE(store.create(a));
        REQUIRE(store.create(b));
        auto ambiguous = store.find("aaaa");
        REQUIRE_FALSE(ambiguous);
        CHECK(ambiguous.error().what == "multiple IDs found with provided prefix: aaaa");
        auto unique = store.find("aaaab");
        REQUIRE(unique);
        CHECK(unique->id == kId2);
    }
}

TEST_CASE("update under the lock, rename, remove", "[state]") {
    StoreDir dir;
    ContainerStore store(dir.root);
    ContainerRecord record;
    record.name = "db";
    auto db = store.create(record);
    REQUIRE(db);

    SECTION("update") {
        auto updated = store.update(db->id, [](ContainerRecord& r) -> skiff::Status {
            r.status = state::Status::running;
            r.pid = 77;
            return skiff::ok();
        });
        REQUIRE(updated);
        CHECK(updated->pid == 77);
        auto loaded = store.load(db->id);
        REQUIRE(loaded);
        CHECK(loaded->status == state::Status::running);

        // A failing apply saves nothing.
        auto failed = store.update(db->id, [](ContainerRecord& r) -> skiff::Status {
            r.pid = 1;
            return skiff::fail("no");
        });
        CHECK_FALSE(failed);
        CHECK(store.load(db->id).value().pid == 77);

        CHECK(store.update(kId1, [](ContainerRecord&) { return skiff::ok(); }).error().code == ENOENT);
    }
    SECTION("concurrent read-modify-write loses nothing") {
        auto codes = run_forked(8, [&](int) {
            for (int i = 0; i < 20; ++i) {
                auto r = store.update(db->id, [](ContainerRecord& rec) -> skiff::Status {
                    ++rec.restart_count;
                    return skiff::ok();
                });
                if (!r) return 1;
            }
            return 0;
        });
        for (int code : codes) CHECK(code == 0);
        CHECK(store.load(db->id).value().restart_count == 160);
    }
    SECTION("rename") {
        ContainerRecord other;
        other.name = "other";
        auto taken = store.create(other);
        REQUIRE(taken);
        auto conflict = store.rename(db->id, "other");
        REQUIRE_FALSE(conflict);
        CHECK(conflict.error().what == conflict_message("other", taken->id));
        CHECK(store.rename(db->id, "x y").error().code == EINVAL);
        CHECK_FALSE(store.rename(db->id, "db"));

        REQUIRE(store.rename(db->id, "/database"));
        CHECK(store.find("database").value().id == db->id);
        CHECK(store.load(db->id).value().name == "database");
        CHECK_FALSE(store.find("db"));
        // The old name is free again.
        ContainerRecord reuse;
        reuse.name = "db";
        CHECK(store.create(reuse));
    }
    SECTION("remove leaves nothing and frees the name") {
        REQUIRE(store.remove(db->id));
        CHECK(entries(store.containers_dir()) == std::set<std::string>{"names.json", "names.lock"});
        CHECK(store.find("db").error().code == ENOENT);
        CHECK(store.remove(db->id).error().code == ENOENT);
        CHECK(store.lock(db->id).error().code == ENOENT);
        ContainerRecord reuse;
        reuse.name = "db";
        CHECK(store.create(reuse));
    }
    SECTION("a deferred remove frees the name at once; the files go with the remover") {
        skiff::DeferredRemoval deferred;
        REQUIRE(store.remove(db->id, &deferred));
        CHECK(store.find("db").error().code == ENOENT);
        CHECK_FALSE(skiff::path_exists(store.dir_of(db->id)));
        REQUIRE(deferred.paths() == std::vector<std::string>{store.containers_dir() + "/.removing-" + db->id});
        CHECK(skiff::path_exists(deferred.paths().front()));  // out of sight, not yet deleted
        REQUIRE(deferred.start());
        CHECK(deferred.paths().empty());
        int status = 0;
        REQUIRE(::waitpid(-1, &status, 0) > 0);  // the remover, a child of ours until we exit
        CHECK(entries(store.containers_dir()) == std::set<std::string>{"names.json", "names.lock"});
    }
    SECTION("remove_stale sweeps what a killed remover left, spares a fresh one") {
        const std::string left = store.containers_dir() + "/.removing-" + db->id;
        REQUIRE(skiff::mkdir_p(left + "/upper/etc").has_value());
        CHECK(store.remove_stale(60));
        CHECK(skiff::path_exists(left));  // may still be under a live remover
        CHECK(store.remove_stale(0));
        CHECK_FALSE(skiff::path_exists(left));
        CHECK(store.find("db").value().id == db->id);
    }
    SECTION("a lock held across remove sees the container gone") {
        auto held = store.lock(db->id);
        REQUIRE(held);
        CHECK(held->id() == db->id);
        REQUIRE(store.remove(db->id));
        CHECK(store.save(*db).error().code == ENOENT);
    }
}

TEST_CASE("parallel creates never double-book a name", "[state]") {
    StoreDir dir;
    ContainerStore store(dir.root);

    SECTION("generated names") {
        auto codes = run_forked(8, [&](int) {
            for (int i = 0; i < 5; ++i)
                if (!store.create(ContainerRecord{})) return 1;
            return 0;
        });
        for (int code : codes) CHECK(code == 0);
        auto all = store.list();
        REQUIRE(all);
        CHECK(all->size() == 40);
        std::set<std::string> names, ids;
        for (const auto& r : *all) {
            names.insert(r.name);
            ids.insert(r.id);
            CHECK(store.find(r.name).value().id == r.id);
        }
        CHECK(names.size() == 40);
        CHECK(ids.size() == 40);
    }
    SECTION("one name, eight racers") {
        auto codes = run_forked(8, [&](int) {
            ContainerRecord r;
            r.name = "only";
            auto created = store.create(r);
            if (created) return 0;
            if (created.error().code != EEXIST) return 2;
            auto winner = store.find("only");
            if (!winner || created.error().what != conflict_message("only", winner->id)) return 3;
            return 1;
        });
        CHECK(std::count(codes.begin(), codes.end(), 0) == 1);
        CHECK(std::count(codes.begin(), codes.end(), 1) == 7);
        CHECK(store.list().value().size() == 1);
    }
}

TEST_CASE("list: newest first, skips half-created, marks corrupt", "[state]") {
    StoreDir dir;
    ContainerStore store(dir.root);
    ContainerRecord old_one, new_one;
    old_one.name = "old";
    old_one.created = "2026-01-01T00:00:00.000000000Z";
    new_one.name = "new";
    new_one.created = "2026-02-01T00:00:00.000000000Z";
    REQUIRE(store.create(old_one));
    REQUIRE(store.create(new_one));

    // Being created: a directory without record.json; being removed: .removing-<id>.
    REQUIRE(::mkdir(store.dir_of(kId1).c_str(), 0700) == 0);
    REQUIRE(::mkdir((store.containers_dir() + "/.removing-" + kId2).c_str(), 0700) == 0);

    auto listed = store.list();
    REQUIRE(listed);
    REQUIRE(listed->size() == 2);
    CHECK((*listed)[0].name == "new");
    CHECK((*listed)[1].name == "old");

    SECTION("a corrupt record is listed as dead") {
        auto old_id = (*listed)[1].id;
        REQUIRE(skiff::write_file_atomic(store.dir_of(old_id) + "/record.json", "{not json"));
        auto again = store.list();
        REQUIRE(again);
        REQUIRE(again->size() == 2);
        auto it = std::find_if(again->begin(), again->end(),
                               [&](const ContainerRecord& r) { return r.id == old_id; });
        REQUIRE(it != again->end());
        CHECK(it->status == state::Status::dead);
        CHECK(it->name == "old");
    }
    SECTION("remove_stale keeps young leftovers, drops old ones") {
        REQUIRE(store.remove_stale());
        auto left = entries(store.containers_dir());
        CHECK(left.count(kId1) == 1);
        CHECK(left.count(".removing-" + kId2) == 1);
        REQUIRE(store.remove_stale(0));
        left = entries(store.containers_dir());
        CHECK(left.count(kId1) == 0);
        CHECK(left.count(".removing-" + kId2) == 0);
        CHECK(store.list().value().size() == 2);
    }
    SECTION("remove_stale drops names of vanished containers") {
        auto old_id = (*listed)[1].id;
        REQUIRE(skiff::remove_tree(store.dir_of(old_id)));
        REQUIRE(store.remove_stale());
        auto names = skiff::read_file(store.containers_dir() + "/names.json");
        REQUIRE(names);
        CHECK(names->find("\"old\"") == std::string::npos);
        CHECK(names->find("\"new\"") != std::string::npos);
    }
}

TEST_CASE("process liveness is pid plus start time", "[state]") {
    pid_t self = ::getpid();
    uint64_t start = state::process_start_time(self);
    REQUIRE(start != 0);
    CHECK(state::process_alive(self, start));
    CHECK_FALSE(state::process_alive(self, start + 1));
    CHECK_FALSE(state::process_alive(0, start));

    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    REQUIRE(child > 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(state::process_start_time(child) == 0);
}

TEST_CASE("remove refuses a container that still has mounts", "[state]") {
    StoreDir dir;
    ContainerStore store(dir.root);
    ContainerRecord record;
    record.name = "mounted";
    auto created = store.create(record);
    REQUIRE(created);
    const std::string target = store.dir_of(created->id) + "/rootfs";
    REQUIRE(::mkdir(target.c_str(), 0700) == 0);

    // In a child with its own mount namespace, so nothing can leak onto the host.
    auto codes = run_forked(1, [&](int) {
        if (::unshare(CLONE_NEWNS) != 0) return 77;  // not root: nothing to test
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
        if (::mount(dir.root.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) return 77;
        auto removed = store.remove(created->id);
        if (removed || removed.error().code != EBUSY) return 1;
        if (!store.find("mounted")) return 2;
        if (::umount(target.c_str()) != 0) return 3;
        return store.remove(created->id) ? 0 : 4;
    });
    if (codes[0] == 77) {
        WARN("no mount namespace here; skipped");
        return;
    }
    CHECK(codes[0] == 0);
    CHECK_FALSE(store.find("mounted"));
}
