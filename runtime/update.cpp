// `update`: new cgroup limits for a container that exists (created, running or paused).
#include "cgroups/cgroups.hpp"
#include "cgroups/resources.hpp"
#include "common/log.hpp"
#include "runtime/runtime.hpp"

namespace skiff::runtime {

Status update_container(const RuntimeOptions& rt, const std::string& id, const nlohmann::json& resources) {
    SKIFF_CHECK(cgroups::validate_resources(resources));
    StateStore store(rt.root);
    SKIFF_TRY(locked, store.lock_and_load(id));
    const ContainerRecord& record = locked.record;
    auto status = locked.status;
    if (status == ContainerStatus::stopped || status == ContainerStatus::creating)
        return fail("cannot update container \"" + id + "\": it is " + status_name(status));
    SKIFF_TRY(group, container_group(record));
    std::vector<std::string> warnings;
    SKIFF_CHECK(cgroups::apply_resources(group, resources, warnings));
    for (const auto& w : warnings) log::warn(w);
    return ok();
}

}  // namespace skiff::runtime
