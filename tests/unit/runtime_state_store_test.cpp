// The runtime's state directory: a deferred remove and the sweep of what a killed remover left.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "common/fs.hpp"
#include "runtime/runtime.hpp"
#include "runtime/state_store.hpp"
#include "temp_dir.hpp"

using skiff::testing::TempDir;

TEST_CASE("a deferred delete takes the state directory out of sight, for the caller to remove", "[runtime]") {
    TempDir root;
    skiff::runtime::StateStore store(root.path + "/runtime");
    REQUIRE(store.reserve("web"));
    REQUIRE(skiff::write_file_atomic(store.dir_of("web") + "/state.json", "{}").has_value());

    skiff::DeferredRemoval deferred;
    REQUIRE(store.remove("web", &deferred));
    CHECK_FALSE(store.exists("web"));
    REQUIRE(deferred.paths() == std::vector<std::string>{store.root() + "/.removing-web"});
    CHECK(skiff::path_exists(store.root() + "/.removing-web/state.json"));  // not deleted yet
    CHECK(store.list_ids().value().empty());                                 // and never listed

    // The same id again, and a leftover of the first one under the name a remove would use.
    REQUIRE(store.reserve("web"));
    skiff::DeferredRemoval again;
    REQUIRE(store.remove("web", &again));
    CHECK(again.paths() == deferred.paths());
    CHECK_FALSE(skiff::path_exists(store.root() + "/.removing-web/state.json"));  // the old one went

    // Without a list: gone at once.
    REQUIRE(store.reserve("db"));
    REQUIRE(store.remove("db"));
    CHECK_FALSE(skiff::path_exists(store.dir_of("db")));
    CHECK_FALSE(skiff::path_exists(store.root() + "/.removing-db"));

    // One remover per list; the second finds its tree already gone, which rm -rf accepts.
    for (auto* list : {&again, &deferred}) {
        REQUIRE(list->start());
        CHECK(list->paths().empty());
        int status = 0;
        REQUIRE(::waitpid(-1, &status, 0) > 0);  // our child until we exit
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    CHECK_FALSE(skiff::path_exists(store.root() + "/.removing-web"));
}

TEST_CASE("remove_stale_state sweeps a killed remover's leftovers and nothing else", "[runtime]") {
    TempDir root;
    skiff::runtime::RuntimeOptions rt{root.path + "/runtime"};
    CHECK(skiff::runtime::remove_stale_state(rt, 0));  // no state root yet
    skiff::runtime::StateStore store(rt.root);
    REQUIRE(store.reserve("live"));
    REQUIRE(skiff::mkdir_p(rt.root + "/.removing-gone/sub").has_value());
    CHECK(skiff::runtime::remove_stale_state(rt, 60));
    CHECK(skiff::path_exists(rt.root + "/.removing-gone"));  // fresh: a remover may be at it
    CHECK(skiff::runtime::remove_stale_state(rt, 0));
    CHECK_FALSE(skiff::path_exists(rt.root + "/.removing-gone"));
    CHECK(store.exists("live"));
}
