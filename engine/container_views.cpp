// What the engine shows of containers: `inspect` in Docker's shape and `logs`.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <thread>

#include "common/clock.hpp"
#include "common/fs.hpp"
#include "engine/container_log.hpp"
#include "engine/container_network.hpp"
#include "engine/containers.hpp"
#include "runtime/state_store.hpp"

namespace skiff::engine {

Result<nlohmann::json> inspect_container(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(r, reconcile(store, found));
    bool running = r.status == state::Status::running || r.status == state::Status::paused;
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& m : r.mounts) {
        nlohmann::json j = {{"Type", m.type}, {"Source", m.source}, {"Destination", m.destination},
                            {"Mode", m.mode}, {"RW", m.rw}, {"Propagation", m.type == "bind" ? "rprivate" : ""}};
        if (m.type == "volume") j["Name"] = m.volume_name;
        mounts.push_back(j);
    }
    nlohmann::json spec = nlohmann::json::object();
    if (auto text = read_file_limited(path_join(containers.dir_of(r.id), "config.json"), 4u << 20)) {
        auto parsed = nlohmann::json::parse(*text, nullptr, false);
        if (!parsed.is_discarded()) spec = parsed;
    }
    const auto& process = spec.contains("process") ? spec["process"] : nlohmann::json::object();
    std::string path = r.command.empty() ? "" : r.command.front();
    std::vector<std::string> args(r.command.size() > 1 ? r.command.begin() + 1 : r.command.end(), r.command.end());
    bool backoff = r.config.is_object() && r.config.value("backoff", false);
    std::string status = backoff && r.status == state::Status::exited ? "restarting" : std::string(state::to_string(r.status));
    return nlohmann::json{
        {"Id", r.id},
        {"Created", r.created},
        {"Path", path},
        {"Args", args},
        {"State",
         {{"Status", status},
          {"Running", running},
          {"Paused", r.status == state::Status::paused},
          {"Restarting", r.config.is_object() && r.config.value("backoff", false)},
          {"OOMKilled", r.oom_killed},
          {"Dead", r.status == state::Status::dead},
          {"Pid", running ? r.pid : 0},
          {"ExitCode", r.exit_code},
          {"Error", ""},
          {"StartedAt", r.started.empty() ? "0001-01-01T00:00:00Z" : r.started},
          {"FinishedAt", r.finished.empty() ? "0001-01-01T00:00:00Z" : r.finished}}},
        {"Image", r.image_id},
        {"ResolvConfPath", path_join(containers.dir_of(r.id), "resolv.conf")},
        {"HostnamePath", path_join(containers.dir_of(r.id), "hostname")},
        {"HostsPath", path_join(containers.dir_of(r.id), "hosts")},
        {"LogPath", containers.log_path_of(r.id)},
        {"Name", "/" + r.name},
        {"RestartCount", r.restart_count},
        {"Driver", "overlay"},
        {"Platform", "linux"},
        {"NetworkSettings", network_settings(store, r)},
        {"HostConfig",
         {{"NetworkMode", r.network_mode},
          {"PortBindings", port_bindings(r)},
          {"RestartPolicy",
           {{"Name", r.restart_policy.substr(0, r.restart_policy.find(':'))},
            {"MaximumRetryCount",
             r.restart_policy.find(':') == std::string::npos ? 0 : std::stoi(r.restart_policy.substr(r.restart_policy.find(':') + 1))}}},
          {"AutoRemove", r.auto_remove}}},
        {"GraphDriver",
         {{"Name", "overlay"},
          {"Data",
           {{"UpperDir", path_join(containers.dir_of(r.id), "upper")},
            {"WorkDir", path_join(containers.dir_of(r.id), "work")},
            {"MergedDir", path_join(containers.dir_of(r.id), "rootfs")}}}}},
        {"Mounts", mounts},
        {"Config",
         {{"Hostname", r.hostname},
          {"User", process.contains("user") ? nlohmann::json(std::to_string(process["user"].value("uid", 0)) + ":" +
                                                             std::to_string(process["user"].value("gid", 0)))
                                            : nlohmann::json("")},
          {"Tty", r.tty},
          {"OpenStdin", r.interactive},
          {"Env", process.value("env", nlohmann::json::array())},
          {"Cmd", args},
          {"Image", r.image},
          {"WorkingDir", process.value("cwd", "")},
          {"Entrypoint", nlohmann::json::array({path})},
          {"Labels", r.labels},
          {"StopSignal", r.stop_signal.empty() ? "SIGTERM" : r.stop_signal},
          {"StopTimeout", r.stop_timeout}}},
    };
}

namespace {

bool in_window(const LogLine& line, const LogOptions& options) {
    if (!options.since && !options.until) return true;
    auto t = parse_rfc3339(line.time);
    if (!t) return true;
    if (options.since && *t < *options.since) return false;
    if (options.until && *options.until < *t) return false;
    return true;
}

void print_line(const LogLine& line, const LogOptions& options) {
    FILE* out = line.stream == "stderr" ? stderr : stdout;
    if (options.timestamps) std::fprintf(out, "%s ", line.time.c_str());
    std::fwrite(line.text.data(), 1, line.text.size(), out);
    std::fflush(out);
}

}  // namespace

Status print_logs(const Store& store, std::string_view container, const LogOptions& options) {
    auto containers = container_store(store);
    SKIFF_TRY(record, containers.find(container));
    std::string path = containers.log_path_of(record.id);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && errno != ENOENT) return sys_error("open " + path);
    std::string pending;
    // --tail: keep the last N lines of what is there now, then follow from the end.
    std::deque<LogLine> tail;
    auto consume = [&](bool initial) {
        char buf[65536];
        for (;;) {
            ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf) : 0;
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            pending.append(buf, static_cast<size_t>(n));
            size_t start = 0;
            for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
                auto line = parse_log_line(std::string_view(pending).substr(start, nl - start));
                if (!line || !in_window(*line, options)) continue;
                if (initial && options.tail) {
                    tail.push_back(*line);
                    if (tail.size() > *options.tail) tail.pop_front();
                } else {
                    print_line(*line, options);
                }
            }
            pending.erase(0, start);
        }
    };
    consume(true);
    for (const auto& line : tail) print_line(line, options);
    if (!options.follow) return ok();
    for (;;) {
        auto latest = containers.load(record.id);
        bool live = latest && (latest->status == state::Status::running || latest->status == state::Status::paused ||
                               latest->status == state::Status::created);
        if (latest && live && latest->status != state::Status::created &&
            !runtime::process_alive(latest->pid, latest->pid_start_time) &&
            !runtime::process_alive(latest->monitor_pid, latest->monitor_start_time))
            live = false;
        if (!fd) fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        consume(false);
        if (!live) {
            consume(false);  // what the monitor wrote before it recorded the exit
            return ok();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace skiff::engine
