#include "cli/runtime_cli.hpp"

#include <unistd.h>

#include <cctype>
#include <iterator>
#include <optional>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/log.hpp"
#include "runtime/runtime.hpp"
#include "runtime/spec.hpp"

namespace skiff::cli {

namespace {

using runtime::RuntimeOptions;

int report(const Error& err) {
    log::error(err.message());
    return 1;
}

int finish(const Status& status) { return status ? 0 : report(status.error()); }

void print_list(const std::vector<runtime::ListEntry>& entries, const std::string& format, bool quiet) {
    if (quiet) {
        for (const auto& e : entries) std::printf("%s\n", e.record.id.c_str());
        return;
    }
    if (format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& e : entries)
            out.push_back(nlohmann::json::parse(runtime::state_json(e.record, e.status)));
        std::printf("%s\n", out.dump().c_str());
        return;
    }
    std::printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    for (const auto& e : entries) {
        int pid = e.status == runtime::ContainerStatus::stopped ? 0 : e.record.pid;
        std::printf("%-20s %-8d %-10s %-40s %-32s %s\n", e.record.id.c_str(), pid, runtime::status_name(e.status),
                    e.record.bundle.c_str(), e.record.created_at.c_str(),
                    e.record.owner == 0 ? "root" : std::to_string(e.record.owner).c_str());
    }
}

// `ps`: run ps(1) and keep the lines of the container's processes (runc's behaviour).
int print_ps(const std::vector<pid_t>& pids, const std::vector<std::string>& ps_args) {
    std::string command = "ps";
    std::vector<std::string> args = ps_args.empty() ? std::vector<std::string>{"-ef"} : ps_args;
    for (const auto& a : args) {
        command += " '";
        for (char c : a) command += c == '\'' ? std::string("'\\''") : std::string(1, c);
        command += "'";
    }
    FILE* ps = ::popen(command.c_str(), "r");
    if (!ps) return report(Error{errno, "run ps"});
    char line[4096];
    int pid_column = -1;
    bool header = true;
    while (std::fgets(line, sizeof line, ps)) {
        std::string text = line;
        std::vector<std::string> fields;
        size_t i = 0;
        while (i < text.size()) {
            size_t start = text.find_first_not_of(" \t\n", i);
            if (start == std::string::npos) break;
            size_t end = text.find_first_of(" \t\n", start);
            fields.push_back(text.substr(start, end - start));
            i = end == std::string::npos ? text.size() : end;
        }
        if (header) {
            for (size_t f = 0; f < fields.size(); ++f)
                if (fields[f] == "PID") pid_column = static_cast<int>(f);
            header = false;
            std::fputs(line, stdout);
            if (pid_column < 0) {
                ::pclose(ps);
                return report(Error{0, "ps: the output has no PID column"});
            }
            continue;
        }
        if (static_cast<int>(fields.size()) <= pid_column) continue;
        pid_t pid = static_cast<pid_t>(std::atoi(fields[static_cast<size_t>(pid_column)].c_str()));
        if (std::find(pids.begin(), pids.end(), pid) != pids.end()) std::fputs(line, stdout);
    }
    ::pclose(ps);
    return 0;
}

// "16m", "1G", "512MiB", "4096" -> bytes (binary multiples, as runc's RAMInBytes); "-1" stays.
std::optional<int64_t> parse_size(const std::string& text) {
    if (text == "-1") return -1;
    size_t pos = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos == 0) return std::nullopt;
    int64_t value = std::stoll(text.substr(0, pos));
    std::string unit;
    for (char c : text.substr(pos)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (unit.ends_with("ib")) unit.resize(unit.size() - 2);
    else if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();
    int shift = unit.empty() || unit == "b" ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : unit == "t" ? 40 : -1;
    if (shift < 0) return std::nullopt;
    return value << shift;
}

// Flags of `update` turned into a linux.resources object (only the ones given).
struct UpdateFlags {
    std::string resources_file;
    std::string memory, memory_reservation, memory_swap;
    std::optional<uint64_t> cpu_shares, cpu_period, blkio_weight;
    std::optional<int64_t> cpu_quota, pids_limit;
    std::string cpuset_cpus, cpuset_mems;
};

Result<nlohmann::json> update_resources(const UpdateFlags& f) {
    nlohmann::json r = nlohmann::json::object();
    if (!f.resources_file.empty()) {
        std::string text;
        if (f.resources_file == "-") {
            text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        } else {
            SKIFF_TRY(read, read_file_limited(f.resources_file, 1 << 20));
            text = read;
        }
        r = nlohmann::json::parse(text, nullptr, false);
        if (r.is_discarded() || !r.is_object()) return fail("--resources: not a JSON object");
    }
    auto size = [&](const std::string& text, const char* flag, const char* group, const char* key) -> Status {
        if (text.empty()) return ok();
        auto bytes = parse_size(text);
        if (!bytes) return fail(std::string(flag) + ": invalid size \"" + text + "\"");
        r[group][key] = *bytes;
        return ok();
    };
    SKIFF_CHECK(size(f.memory, "--memory", "memory", "limit"));
    SKIFF_CHECK(size(f.memory_reservation, "--memory-reservation", "memory", "reservation"));
    SKIFF_CHECK(size(f.memory_swap, "--memory-swap", "memory", "swap"));
    if (f.cpu_shares) r["cpu"]["shares"] = *f.cpu_shares;
    if (f.cpu_period) r["cpu"]["period"] = *f.cpu_period;
    if (f.cpu_quota) r["cpu"]["quota"] = *f.cpu_quota;
    if (!f.cpuset_cpus.empty()) r["cpu"]["cpus"] = f.cpuset_cpus;
    if (!f.cpuset_mems.empty()) r["cpu"]["mems"] = f.cpuset_mems;
    if (f.pids_limit) r["pids"]["limit"] = *f.pids_limit;
    if (f.blkio_weight) r["blockIO"]["weight"] = *f.blkio_weight;
    return r;
}

}  // namespace

int runtime_main(const std::string& program, std::vector<std::string> args) {
    CLI::App app{"skiff-runtime: an OCI runtime (runc-compatible command line)", program};
    app.require_subcommand(1);
    app.set_version_flag("-v,--version", "skiff-runtime version 0.1.0\nspec: 1.2.0");

    RuntimeOptions rt;
    rt.root = runtime::default_state_root();
    std::string log_path, log_format = "text";
    bool debug = false, systemd_cgroup = false;
    std::string rootless = "auto";
    app.add_option("--root", rt.root, "directory for container state")->capture_default_str();
    app.add_option("--log", log_path, "log file (default: stderr)");
    app.add_option("--log-format", log_format, "log format: text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--debug", debug, "log debug messages");
    app.add_flag("--systemd-cgroup", systemd_cgroup, "accepted for runc compatibility; cgroupsPath \"slice:prefix:name\" is mapped to a path");
    app.add_option("--rootless", rootless, "accepted for runc compatibility (true|false|auto)");

    runtime::CreateOptions create_opts;
    auto add_create_flags = [&](CLI::App* sub) {
        sub->add_option("-b,--bundle", create_opts.bundle, "bundle directory (holds config.json)")->capture_default_str();
        sub->add_option("--pid-file", create_opts.pid_file, "write the container's PID 1 here");
        sub->add_option("--console-socket", create_opts.console_socket,
                        "unix socket that receives the pty master when process.terminal is true");
        sub->add_option("--preserve-fds", create_opts.preserve_fds, "pass fds 3..3+N-1 on to the container");
        sub->add_flag("--no-pivot", create_opts.no_pivot, "use MS_MOVE + chroot instead of pivot_root");
        bool no_new_keyring = false;
        sub->add_flag("--no-new-keyring", no_new_keyring, "accepted for runc compatibility (no session keyring is created)");
        sub->add_option("id", create_opts.id, "container id")->required();
    };

    auto* create = app.add_subcommand("create", "create a container, stopped before its process runs");
    add_create_flags(create);
    auto* run = app.add_subcommand("run", "create and start a container; wait for it unless -d");
    add_create_flags(run);
    bool detach = false;
    run->add_flag("-d,--detach", detach, "return once the container runs");

    std::string id;
    auto* start = app.add_subcommand("start", "run the process of a created container");
    start->add_option("id", id, "container id")->required();
    auto* state = app.add_subcommand("state", "print the state of a container as JSON");
    state->add_option("id", id, "container id")->required();

    auto* kill = app.add_subcommand("kill", "send a signal (default SIGTERM) to a container");
    bool kill_all = false;
    std::string signal_text = "SIGTERM";
    kill->add_flag("-a,--all", kill_all, "signal every process in the container");
    kill->add_option("id", id, "container id")->required();
    kill->add_option("signal", signal_text, "signal name or number")->capture_default_str();

    auto* del = app.add_subcommand("delete", "delete a stopped container (any container with --force)");
    bool force = false;
    del->add_flag("-f,--force", force, "kill the container first if it runs");
    del->add_option("id", id, "container id")->required();

    auto* list = app.add_subcommand("list", "list containers");
    std::string list_format = "table";
    bool quiet = false;
    list->add_option("-f,--format", list_format, "table or json")->check(CLI::IsMember({"table", "json"}));
    list->add_flag("-q,--quiet", quiet, "print ids only");

    auto* ps = app.add_subcommand("ps", "show the processes of a container");
    std::string ps_format = "table";
    ps->add_option("-f,--format", ps_format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ps->prefix_command();

    auto* pause = app.add_subcommand("pause", "freeze every process of a container");
    pause->add_option("id", id, "container id")->required();
    auto* resume = app.add_subcommand("resume", "thaw a paused container");
    resume->add_option("id", id, "container id")->required();

    auto* update = app.add_subcommand("update", "change the cgroup limits of a container");
    UpdateFlags update_flags;
    update->add_option("-r,--resources", update_flags.resources_file, "linux.resources JSON file (- for stdin)");
    update->add_option("--memory", update_flags.memory, "memory limit (e.g. 64m; -1 for none)");
    update->add_option("--memory-reservation", update_flags.memory_reservation, "memory soft limit");
    update->add_option("--memory-swap", update_flags.memory_swap, "memory+swap limit (-1 for none)");
    update->add_option("--cpu-share,--cpu-shares", update_flags.cpu_shares, "CPU shares (relative weight)");
    update->add_option("--cpu-period", update_flags.cpu_period, "CPU CFS period in microseconds");
    update->add_option("--cpu-quota", update_flags.cpu_quota, "CPU CFS quota in microseconds (-1 for none)");
    update->add_option("--cpuset-cpus", update_flags.cpuset_cpus, "CPUs allowed (e.g. 0-1)");
    update->add_option("--cpuset-mems", update_flags.cpuset_mems, "memory nodes allowed");
    update->add_option("--pids-limit", update_flags.pids_limit, "maximum number of processes (-1 for none)");
    update->add_option("--blkio-weight", update_flags.blkio_weight, "block IO weight (10-1000)");
    update->add_option("id", id, "container id")->required();

    auto* events = app.add_subcommand("events", "print cgroup statistics (and OOM events) of a container");
    bool events_once = false;
    unsigned events_interval = 5;
    events->add_flag("--stats", events_once, "print the statistics once and exit");
    events->add_option("--interval", events_interval, "seconds between statistics")->capture_default_str();
    events->add_option("id", id, "container id")->required();

    auto* features = app.add_subcommand("features", "print the features this runtime supports (JSON)");

    auto* spec = app.add_subcommand("spec", "write a default config.json into the bundle");
    std::string spec_bundle = ".";
    bool spec_rootless = false;
    spec->add_option("-b,--bundle", spec_bundle, "bundle directory")->capture_default_str();
    spec->add_flag("--rootless", spec_rootless, "a config for a container started by an unprivileged user");

    auto* exec = app.add_subcommand("exec", "run a new process inside a running container");
    runtime::ExecOptions exec_opts;
    exec->add_option("-p,--process", exec_opts.process_file, "process.json describing the process");
    exec->add_option("-e,--env", exec_opts.env, "set an environment variable (KEY=VALUE)")->allow_extra_args(false);
    exec->add_option("--cwd", exec_opts.cwd, "working directory inside the container");
    exec->add_option("-u,--user", exec_opts.user, "uid[:gid]");
    exec->add_option("-g,--additional-gids", exec_opts.additional_gids, "additional gid")->allow_extra_args(false);
    exec->add_option("-c,--cap", exec_opts.caps, "add a capability")->allow_extra_args(false);
    exec->add_flag("-t,--tty", exec_opts.tty, "allocate a pseudo-terminal");
    exec->add_flag("-d,--detach", exec_opts.detach, "do not wait for the process");
    exec->add_flag("--no-new-privs", exec_opts.no_new_privs, "set no_new_privs");
    exec->add_option("--pid-file", exec_opts.pid_file, "write the process's pid here");
    exec->add_option("--console-socket", exec_opts.console_socket, "unix socket that receives the pty master");
    exec->add_option("--preserve-fds", exec_opts.preserve_fds, "pass fds 3..3+N-1 on");
    exec->prefix_command();

    std::reverse(args.begin(), args.end());
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    log::set_program(program);
    if (debug) log::set_level(log::Level::debug);
    if (!log_path.empty() && !log::open_file(log_path, log_format == "json" ? log::Format::json : log::Format::text))
        return report(Error{errno, "open log file " + log_path});

    if (create->parsed()) return finish(runtime::create_container(rt, create_opts));
    if (run->parsed()) {
        auto code = runtime::run_container(rt, create_opts, detach);
        return code ? *code : report(code.error());
    }
    if (start->parsed()) return finish(runtime::start_container(rt, id));
    if (state->parsed()) {
        auto json = runtime::container_state(rt, id);
        if (!json) return report(json.error());
        std::printf("%s\n", json->c_str());
        return 0;
    }
    if (kill->parsed()) {
        auto sig = runtime::parse_signal(signal_text);
        if (!sig) return report(sig.error());
        return finish(runtime::kill_container(rt, id, *sig, kill_all));
    }
    if (del->parsed()) return finish(runtime::delete_container(rt, id, force));
    if (list->parsed()) {
        auto entries = runtime::list_containers(rt);
        if (!entries) return report(entries.error());
        print_list(*entries, list_format, quiet);
        return 0;
    }
    if (ps->parsed()) {
        auto rest = ps->remaining();
        if (rest.empty()) return report(Error{0, "ps: a container id is required"});
        auto pids = runtime::container_pids(rt, rest[0]);
        if (!pids) return report(pids.error());
        if (ps_format == "json") {
            std::printf("%s\n", nlohmann::json(*pids).dump().c_str());
            return 0;
        }
        return print_ps(*pids, std::vector<std::string>(rest.begin() + 1, rest.end()));
    }
    if (pause->parsed()) return finish(runtime::pause_container(rt, id));
    if (resume->parsed()) return finish(runtime::resume_container(rt, id));
    if (update->parsed()) {
        auto resources = update_resources(update_flags);
        if (!resources) return report(resources.error());
        return finish(runtime::update_container(rt, id, *resources));
    }
    if (events->parsed()) {
        if (events_once) {
            auto json = runtime::container_stats(rt, id);
            if (!json) return report(json.error());
            std::printf("%s\n", json->c_str());
            return 0;
        }
        return finish(runtime::stream_events(rt, id, events_interval * 1000));
    }
    if (features->parsed()) {
        std::printf("%s\n", runtime::features_json().c_str());
        return 0;
    }
    if (spec->parsed()) {
        std::string path = spec_bundle + "/config.json";
        if (path_exists(path)) return report(Error{EEXIST, "File " + path + " exists. Remove it first"});
        auto written = write_file_atomic(path, runtime::default_spec_json(spec_rootless).dump(4) + "\n");
        return finish(written);
    }
    if (exec->parsed()) {
        auto rest = exec->remaining();
        if (rest.empty()) return report(Error{0, "exec: a container id is required"});
        exec_opts.id = rest[0];
        size_t first = (rest.size() > 1 && rest[1] == "--") ? 2 : 1;
        exec_opts.args.assign(rest.begin() + static_cast<long>(first), rest.end());
        auto code = runtime::exec_in_container(rt, exec_opts);
        return code ? *code : report(code.error());
    }
    return 1;
}

}  // namespace skiff::cli
