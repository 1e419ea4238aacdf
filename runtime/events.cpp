// `events`: cgroup statistics of a container, once (--stats) or every interval, with an
// "oom" event whenever the kernel OOM-killed inside it since the last look (runc's shape).
#include <unistd.h>

#include <cstdio>

#include "cgroups/cgroups.hpp"
#include "cgroups/stats.hpp"
#include "runtime/runtime.hpp"

namespace skiff::runtime {

Result<std::string> container_stats(const RuntimeOptions& rt, const std::string& id) {
    StateStore store(rt.root);
    SKIFF_TRY(record, store.load(id));
    SKIFF_TRY(group, container_group(record));
    SKIFF_TRY(stats, cgroups::read_stats(group));
    return cgroups::stats_json(id, stats);
}

Status stream_events(const RuntimeOptions& rt, const std::string& id, unsigned interval_ms) {
    StateStore store(rt.root);
    SKIFF_TRY(record, store.load(id));
    SKIFF_TRY(group, container_group(record));
    uint64_t oom_kills_seen = 0;
    bool first = true;
    while (store.status(record) != ContainerStatus::stopped) {
        auto stats = cgroups::read_stats(group);
        if (!stats) break;  // the group went away with the container
        uint64_t oom_kills = stats->memory ? stats->memory->oom_kill : 0;
        if (!first && oom_kills > oom_kills_seen)
            std::printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id.c_str());
        oom_kills_seen = oom_kills;
        first = false;
        std::printf("%s\n", cgroups::stats_json(id, *stats).c_str());
        std::fflush(stdout);
        ::usleep(interval_ms * 1000);
    }
    return ok();
}

}  // namespace skiff::runtime
