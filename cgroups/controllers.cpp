#include <algorithm>

#include "cgroups/cgroups.hpp"

namespace skiff::cgroups {

std::vector<std::string> requested_controllers(const nlohmann::json& resources) {
    std::vector<std::string> out;
    auto add = [&](const std::string& c) {
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    };
    if (!resources.is_object()) return out;
    auto has = [&](const char* key) {
        auto it = resources.find(key);
        return it != resources.end() && !it->is_null() && !(it->is_object() && it->empty()) &&
               !(it->is_array() && it->empty());
    };
    if (has("memory")) add("memory");
    if (has("cpu")) {
        const auto& cpu = resources["cpu"];
        for (const char* key : {"shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "burst", "idle"})
            if (cpu.contains(key) && !cpu[key].is_null()) add("cpu");
        for (const char* key : {"cpus", "mems"})
            if (cpu.contains(key) && cpu[key].is_string() && !cpu[key].get<std::string>().empty()) add("cpuset");
    }
    if (has("pids")) add("pids");
    if (has("blockIO")) add("io");
    if (has("hugepageLimits")) add("hugetlb");
    if (has("rdma")) add("rdma");
    if (has("unified") && resources["unified"].is_object()) {
        for (const auto& [key, value] : resources["unified"].items()) {
            auto dot = key.find('.');
            if (dot != std::string::npos && key.substr(0, dot) != "cgroup") add(key.substr(0, dot));
        }
    }
    return out;
}

}  // namespace skiff::cgroups
