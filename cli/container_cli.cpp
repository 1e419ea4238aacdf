#include "cli/container_cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fnmatch.h>
#include <ftw.h>

#include "cli/output.hpp"
#include "common/clock.hpp"
#include "common/go_template.hpp"
#include "common/progress.hpp"
#include "engine/container_network.hpp"
#include "engine/containers.hpp"
#include "network/network.hpp"

namespace skiff::cli {
namespace {

// Flags of `run` and `create`, Docker's names.
struct RunFlags {
    bool detach = false, interactive = false, tty = false, remove = false, read_only = false, privileged = false;
    bool init = false;
    std::string name, workdir, user, entrypoint, hostname, restart = "no", pull = "missing", ip;
    std::string memory, cpus, stop_signal, platform;
    bool entrypoint_set = false;
    int64_t pids_limit = 0;
    int stop_timeout = 10;
    std::vector<std::string> env, env_files, volumes, mounts, tmpfs, cap_add, cap_drop, security_opts, labels, ulimits;
    std::vector<std::string> networks, publish, dns, add_hosts, network_aliases;
    bool publish_all = false;

    void add_to(CLI::App* cmd, bool with_detach) {
        auto one = [](CLI::Option* o) { return o->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll); };
        // -h is --hostname here, as in Docker; help stays --help.
        cmd->set_help_flag("--help", "Print this help message and exit");
        if (with_detach) cmd->add_flag("-d,--detach", detach, "run in the background and print the container id");
        cmd->add_flag("-i,--interactive", interactive, "keep stdin open");
        cmd->add_flag("-t,--tty", tty, "allocate a terminal");
        cmd->add_flag("--rm", remove, "remove the container when it exits");
        cmd->add_flag("--init", init, "run skiff-init as PID 1: it forwards signals and reaps zombies");
        cmd->add_option("--name", name, "container name");
        one(cmd->add_option("-e,--env", env, "KEY=VALUE (or KEY: taken from this environment)"));
        one(cmd->add_option("--env-file", env_files, "file of KEY=VALUE lines"));
        cmd->add_option("-w,--workdir", workdir, "working directory inside the container");
        cmd->add_option("-u,--user", user, "user[:group] (names from the image's /etc/passwd and /etc/group)");
        cmd->add_option("--entrypoint", entrypoint, "override the image's ENTRYPOINT")->each([this](const std::string&) {
            entrypoint_set = true;
        });
        one(cmd->add_option("-v,--volume", volumes, "HOST:CONTAINER[:ro] bind mount, NAME:CONTAINER volume, or CONTAINER (anonymous)"));
        one(cmd->add_option("--mount", mounts, "type=bind|volume|tmpfs,source=...,target=...[,readonly]"));
        one(cmd->add_option("--tmpfs", tmpfs, "PATH[:options] tmpfs mount"));
        cmd->add_flag("--read-only", read_only, "mount the root filesystem read-only");
        cmd->add_option("-h,--hostname", hostname, "container host name (default: the id's first 12 digits)");
        one(cmd->add_option("--cap-add", cap_add, "add a capability (or ALL)"));
        one(cmd->add_option("--cap-drop", cap_drop, "drop a capability (or ALL)"));
        cmd->add_flag("--privileged", privileged, "every capability, no seccomp, no masked paths");
        one(cmd->add_option("--security-opt", security_opts, "seccomp=unconfined|FILE, no-new-privileges"));
        cmd->add_option("--stop-signal", stop_signal, "signal for stop (default SIGTERM or the image's)");
        cmd->add_option("--stop-timeout", stop_timeout, "seconds before stop kills (default 10)");
        one(cmd->add_option("-l,--label", labels, "KEY=VALUE label"));
        one(cmd->add_option("--ulimit", ulimits, "NAME=SOFT[:HARD]"));
        cmd->add_option("-m,--memory", memory, "memory limit (e.g. 512m)");
        cmd->add_option("--cpus", cpus, "CPUs (e.g. 1.5)");
        cmd->add_option("--pids-limit", pids_limit, "maximum number of processes");
        one(cmd->add_option("--network,--net", networks,
                            "bridge (the default as root), pasta (the default without root), none, host, container:NAME|ID, "
                            "or a network's name (repeatable)"));
        one(cmd->add_option("-p,--publish", publish, "[IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ranges allowed"));
        cmd->add_flag("-P,--publish-all", publish_all, "publish every EXPOSEd port to a random host port");
        cmd->add_option("--ip", ip, "IPv4 address on the (user) network");
        one(cmd->add_option("--network-alias,--net-alias", network_aliases, "another name on the (user) network"));
        one(cmd->add_option("--dns", dns, "nameserver instead of the host's"));
        one(cmd->add_option("--add-host", add_hosts, "NAME:IP line in /etc/hosts (IP may be host-gateway)"));
        cmd->add_option("--restart", restart, "no | on-failure[:N] | always | unless-stopped");
        cmd->add_option("--pull", pull, "missing (default) | always | never");
        cmd->add_option("--platform", platform, "os/arch[/variant] when the image is pulled");
    }

    Result<engine::RunRequest> request(const std::vector<std::string>& positional) const {
        if (positional.empty()) return fail("\"run\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
        engine::RunRequest r;
        r.image = positional[0];
        r.name = name;
        r.detach = detach;
        r.auto_remove = remove;
        r.restart_policy = restart;
        r.stop_timeout = stop_timeout;
        r.pull = pull;
        if (pull != "missing" && pull != "always" && pull != "never")
            return fail("invalid pull option: '" + pull + "': must be one of \"always\", \"missing\" or \"never\"");
        if (!platform.empty()) {
            SKIFF_TRY(p, image::parse_platform(platform));
            r.pull_options.platform = p;
        }
        auto& s = r.spec;
        s.command.assign(positional.begin() + 1, positional.end());
        if (entrypoint_set) s.entrypoint = entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{entrypoint};
        for (const auto& file : env_files) {
            SKIFF_TRY(lines, engine::read_env_file(file));
            s.env.insert(s.env.end(), lines.begin(), lines.end());
        }
        s.env.insert(s.env.end(), env.begin(), env.end());
        s.workdir = workdir;
        s.user = user;
        s.hostname = hostname;
        s.tty = tty;
        s.interactive = interactive;
        s.init = init;
        s.read_only = read_only;
        s.privileged = privileged;
        s.cap_add = cap_add;
        s.cap_drop = cap_drop;
        for (const auto& opt : security_opts) {
            if (opt == "no-new-privileges" || opt == "no-new-privileges:true" || opt == "no-new-privileges=true") {
                s.no_new_privileges = true;
            } else if (opt.starts_with("seccomp=") || opt.starts_with("seccomp:")) {
                s.seccomp_profile = opt.substr(8);
            } else {
                return fail("invalid --security-opt: " + opt);
            }
        }
        for (const auto& v : volumes) {
            SKIFF_TRY(mount, engine::parse_volume(v));
            s.volumes.push_back(mount);
        }
        for (const auto& m : mounts) {
            SKIFF_TRY(mount, engine::parse_mount(m));
            s.volumes.push_back(mount);
        }
        s.tmpfs = tmpfs;
        s.ulimits = ulimits;
        if (!memory.empty()) {
            SKIFF_TRY(bytes, engine::parse_memory(memory));
            s.memory = bytes;
        }
        if (!cpus.empty()) {
            SKIFF_TRY(n, engine::parse_cpus(cpus));
            s.cpus = n;
        }
        if (pids_limit != 0) s.pids_limit = pids_limit;
        // Docker's default network is "bridge"; without root there is no bridge to join, so
        // the default there is pasta (podman's rootless default).
        s.network_mode = networks.empty() ? (::geteuid() == 0 ? "bridge" : "pasta") : networks.front();
        if (networks.size() > 1) s.networks.assign(networks.begin() + 1, networks.end());
        for (const auto& spec : publish) SKIFF_CHECK(network::parse_publish(spec));
        s.publish = publish;
        s.publish_all = publish_all;
        s.ip = ip;
        s.network_aliases = network_aliases;
        s.dns = dns;
        for (const auto& h : add_hosts) SKIFF_CHECK(engine::validate_extra_host(h));
        s.extra_hosts = add_hosts;
        s.stop_signal = stop_signal;
        for (const auto& l : labels) {
            auto eq = l.find('=');
            r.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
        }
        return r;
    }
};

int run_or_create(const GlobalOptions& globals, const RunFlags& flags, const std::vector<std::string>& positional,
                  bool start) {
    auto request = flags.request(positional);
    if (!request) return report(request.error());
    if (start && !flags.detach && flags.tty && !::isatty(STDIN_FILENO) && flags.interactive)
        return report(Error{0, "the input device is not a TTY"});
    request->keep_rootfs_mounted = start;
    auto store = open_store(globals);
    Progress progress(STDERR_FILENO, Progress::mode_for(STDERR_FILENO, false));
    auto created = engine::create_container(store, *request, progress);
    if (!created) return report(created.error());
    if (!start) {
        std::printf("%s\n", created->id.c_str());
        return 0;
    }
    if (flags.detach) {
        auto started = engine::start_detached(store, created->id);
        if (!started) {
            int code = report(started.error());
            if (started.error().code == ENOENT) code = 127;
            else if (started.error().code == EACCES) code = 126;
            return code;
        }
        std::printf("%s\n", created->id.c_str());
        return 0;
    }
    auto code = engine::start_attached(store, created->id);
    if (!code) return report(code.error());
    return *code;
}

// Lists are filtered like `docker ps --filter`.
struct PsFilter {
    std::vector<std::pair<std::string, std::string>> terms;
};

bool matches(const engine::Store& store, const state::ContainerRecord& r, const PsFilter& filter,
             const std::vector<state::ContainerRecord>& all) {
    for (const auto& [key, value] : filter.terms) {
        if (key == "id") {
            if (!r.id.starts_with(value)) return false;
        } else if (key == "name") {
            if (r.name.find(value) == std::string::npos) return false;
        } else if (key == "status") {
            bool backoff = r.config.is_object() && r.config.value("backoff", false);
            std::string status = backoff && r.status == state::Status::exited ? "restarting" : std::string(state::to_string(r.status));
            if (status != value) return false;
        } else if (key == "exited") {
            if (r.status != state::Status::exited || std::to_string(r.exit_code) != value) return false;
        } else if (key == "label") {
            auto eq = value.find('=');
            auto it = r.labels.find(value.substr(0, eq));
            if (it == r.labels.end() || (eq != std::string::npos && it->second != value.substr(eq + 1))) return false;
        } else if (key == "ancestor") {
            // By name, id or digest: the image it names, and images built on it (their
            // layers start with its layers).
            auto wanted = engine::find_image(store, value);
            if (!wanted) return false;
            auto own = store.images.find(r.image_id);
            if (!own) return false;
            const auto& base = wanted->layers;
            bool built_on = own->id == wanted->id ||
                            (base.size() <= own->layers.size() && std::equal(base.begin(), base.end(), own->layers.begin()) &&
                             !base.empty());
            if (!built_on) return false;
        } else if (key == "before" || key == "since") {
            auto other = std::find_if(all.begin(), all.end(), [&](const auto& c) {
                return c.name == value || c.id.starts_with(value);
            });
            if (other == all.end()) return false;
            auto mine = skiff::parse_rfc3339(r.created), theirs = skiff::parse_rfc3339(other->created);
            if (!mine || !theirs) return false;
            if (key == "before" && !(*mine < *theirs)) return false;
            if (key == "since" && !(*mine > *theirs)) return false;
        }
    }
    return true;
}

long long tree_bytes;
int add_size(const char*, const struct stat* st, int type, struct FTW*) {
    if (type == FTW_F) tree_bytes += st->st_size;
    return 0;
}

int ps(const GlobalOptions& globals, bool all, bool quiet, bool no_trunc, bool size, int last, bool latest,
       const std::vector<std::string>& filters, const std::string& format) {
    PsFilter filter;
    for (const auto& f : filters) {
        auto eq = f.find('=');
        std::string key = f.substr(0, eq);
        static const std::vector<std::string> known = {"id", "name", "label", "status", "exited", "ancestor", "before", "since"};
        if (eq == std::string::npos || std::find(known.begin(), known.end(), key) == known.end())
            return report(Error{0, "invalid filter '" + f + "'"});
        filter.terms.emplace_back(key, f.substr(eq + 1));
    }
    if (!format.empty() && format != "json" && format != "table") {
        auto parsed = GoTemplate::parse(format);
        if (!parsed) return report(parsed.error());
    }
    auto store = open_store(globals);
    auto containers = engine::container_store(store);
    auto listed = containers.list();
    if (!listed) return report(listed.error());
    std::vector<state::ContainerRecord> records;
    for (const auto& r : *listed) {
        auto settled = engine::reconcile(store, r);
        records.push_back(settled ? *settled : r);
    }
    if (latest) last = 1;
    bool show_all = all || last > 0;
    std::vector<nlohmann::json> objects;
    std::vector<std::vector<std::string>> table{{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
    if (size) table[0].push_back("SIZE");
    int shown = 0;
    for (const auto& r : records) {
        bool backoff = r.config.is_object() && r.config.value("backoff", false);
        // A container waiting to be restarted is listed with the running ones, as in Docker.
        bool running = r.status == state::Status::running || r.status == state::Status::paused || backoff;
        if (!show_all && !running) continue;
        if (!matches(store, r, filter, records)) continue;
        if (last > 0 && shown >= last) break;
        ++shown;
        std::string id = no_trunc ? r.id : r.id.substr(0, 12);
        if (quiet) {
            std::printf("%s\n", id.c_str());
            continue;
        }
        std::string created = time_ago(r.created);
        std::string sz;
        if (size) {
            tree_bytes = 0;
            ::nftw((containers.dir_of(r.id) + "/upper").c_str(), add_size, 16, FTW_PHYS);
            auto image = store.images.find(r.image_id);
            sz = human_bytes(tree_bytes) + " (virtual " + human_bytes(tree_bytes + (image ? image->size : 0)) + ")";
        }
        std::string ports = engine::ports_column(r);
        objects.push_back({{"ID", id}, {"Image", r.image}, {"Command", container_command_text(r, no_trunc)},
                           {"CreatedAt", r.created}, {"RunningFor", created}, {"Status", container_status_text(r)},
                           {"State", state::to_string(r.status)}, {"Ports", ports}, {"Names", r.name},
                           {"Labels", r.labels}, {"Size", sz}, {"Mounts", ""}, {"Networks", r.network_mode}});
        std::vector<std::string> row{id, r.image, container_command_text(r, no_trunc), created, container_status_text(r), ports, r.name};
        if (size) row.push_back(sz);
        table.push_back(row);
    }
    if (quiet) return 0;
    auto printed = print_rows(format, objects, table,
                              {{"ID", "CONTAINER ID"}, {"RunningFor", "CREATED"}, {"Names", "NAMES"}});
    return printed ? 0 : report(printed.error());
}

}  // namespace

std::string container_status_text(const state::ContainerRecord& r) {
    switch (r.status) {
    case state::Status::created: return "Created";
    case state::Status::running: return "Up " + human_duration(seconds_since(r.started));
    case state::Status::paused: return "Up " + human_duration(seconds_since(r.started)) + " (Paused)";
 case state::Status::exited:
        if (r.config.is_object() && r.config.value("backoff", false))
            return "Restarting (" + std::to_string(r.exit_code) + ") " + human_duration(seconds_since(r.finished)) + " ago";
        return "Exited (" + std::to_string(r.exit_code) + ") " + human_duration(seconds_since(r.finished)) + " ago";
    case state::Status::dead: return "Dead";
    case state::Status::removing: return "Removal In Progress";
    }
    return "";
}

std::string container_command_text(const state::ContainerRecord& r, bool no_trunc) {
    std::string joined;
    for (const auto& a : r.command) joined += (joined.empty() ? "" : " ") + a;
    return "\"" + (no_trunc ? joined : ellipsis(joined, 20)) + "\"";
}

void add_container_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code) {
    // Under `container` Docker calls them `ls` (or `list`, `ps`) and `rm` (or `remove`).
    bool in_group = app.get_parent() != nullptr;
    for (const char* verb : {"run", "create"}) {
        bool start = std::string(verb) == "run";
        auto* cmd = add_command(app, globals, verb,
                                start ? "create and start a container from an image"
                                      : "create a container from an image (without starting it)");
        if (!cmd) continue;
        auto flags = std::make_shared<RunFlags>();
        flags->add_to(cmd, start);
        // IMAGE and everything after it are the container's, not ours.
        cmd->prefix_command();
        cmd->positionals_at_end(false);
        on_run(cmd, exit_code, [&globals, flags, cmd, start] {
            return run_or_create(globals, *flags, cmd->remaining(), start);
        });
    }
    if (auto* cmd = add_command(app, globals, "start", "start stopped or created containers (detached)")) {
        auto names = std::make_shared<std::vector<std::string>>();
        auto attach = std::make_shared<bool>(false);
        cmd->add_flag("-a,--attach", *attach, "wait for the container and show its output (one container)");
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names, attach] {
            auto store = open_store(globals);
            if (*attach) {
                if (names->size() != 1) return report(Error{0, "you cannot start and attach multiple containers at once"});
                auto code = engine::start_attached(store, names->front());
                return code ? *code : report(code.error());
            }
            return each_container(*names, [&](const std::string& n) { return engine::start_detached(store, n); });
        });
    }
    if (auto* cmd = add_command(app, globals, "stop", "stop running containers (stop signal, then SIGKILL)")) {
        auto names = std::make_shared<std::vector<std::string>>();
        auto timeout = std::make_shared<int>(-1);
        cmd->add_option("-t,--time,--timeout", *timeout, "seconds to wait before killing (default: the container's, 10)");
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names, timeout] {
            auto store = open_store(globals);
            return each_container(*names, [&](const std::string& n) { return engine::stop_container(store, n, *timeout); });
        });
    }
    if (auto* cmd = add_command(app, globals, "kill", "send a signal to running containers (default SIGKILL)")) {
        auto names = std::make_shared<std::vector<std::string>>();
        auto signal = std::make_shared<std::string>("SIGKILL");
        cmd->add_option("-s,--signal", *signal, "signal name or number");
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names, signal] {
            auto store = open_store(globals);
            return each_container(*names, [&](const std::string& n) { return engine::kill_container(store, n, *signal); });
        });
    }
    if (auto* cmd = in_group ? add_command(app, globals, "rm", "remove containers", {"remove"})
                             : add_command(app, globals, "rm", "remove containers")) {
        auto names = std::make_shared<std::vector<std::string>>();
        auto force = std::make_shared<bool>(false);
        auto volumes = std::make_shared<bool>(false);
        cmd->add_flag("-f,--force", *force, "kill a running container first");
        cmd->add_flag("-v,--volumes", *volumes, "remove its anonymous volumes too");
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names, force, volumes] {
            auto store = open_store(globals);
            return each_container(*names, [&](const std::string& n) {
                return engine::remove_container(store, n, *force, *volumes);
            });
        });
    }
    if (auto* cmd = in_group ? add_command(app, globals, "ls", "list containers", {"list", "ps"})
                             : add_command(app, globals, "ps", "list containers")) {
        struct Flags {
            bool all = false, quiet = false, no_trunc = false, size = false, latest = false;
            int last = 0;
            std::vector<std::string> filters;
            std::string format;
        };
        auto f = std::make_shared<Flags>();
        cmd->add_flag("-a,--all", f->all, "all containers (default: running ones)");
        cmd->add_flag("-q,--quiet", f->quiet, "only ids");
        cmd->add_flag("--no-trunc", f->no_trunc, "do not truncate");
        cmd->add_flag("-s,--size", f->size, "show sizes");
        cmd->add_flag("-l,--latest", f->latest, "the latest created container");
        cmd->add_option("-n,--last", f->last, "the last N created containers");
        cmd->add_option("-f,--filter", f->filters, "id=, name=, label=, status=, exited=, ancestor=, before=, since=")
            ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        cmd->add_option("--format", f->format, "Go template, 'table TEMPLATE' or 'json'");
        on_run(cmd, exit_code, [&globals, f] {
            return ps(globals, f->all, f->quiet, f->no_trunc, f->size, f->last, f->latest, f->filters, f->format);
        });
    }
    if (auto* cmd = add_command(app, globals, "logs", "show a container's output")) {
        struct Flags {
            bool follow = false, timestamps = false;
            std::string tail = "all", since, until, name;
        };
        auto f = std::make_shared<Flags>();
        cmd->add_flag("-f,--follow", f->follow, "keep printing until the container stops");
        cmd->add_flag("-t,--timestamps", f->timestamps, "show each line's time");
        cmd->add_option("-n,--tail", f->tail, "only the last N lines (default all)");
        cmd->add_option("--since", f->since, "RFC 3339 time, unix seconds, or a duration like 10m");
        cmd->add_option("--until", f->until, "RFC 3339 time, unix seconds, or a duration like 10m");
        cmd->add_option("CONTAINER", f->name, "container")->required();
        on_run(cmd, exit_code, [&globals, f] {
            engine::LogOptions options;
            options.follow = f->follow;
            options.timestamps = f->timestamps;
            if (f->tail != "all") {
                try {
                    options.tail = std::stoul(f->tail);
                } catch (...) {
                    return report(Error{0, "invalid value for --tail: " + f->tail});
                }
            }
            auto to_seconds = [](const std::string& text) -> Result<Timestamp> {
                if (auto t = skiff::parse_rfc3339(text)) return *t;
                char unit = text.empty() ? 0 : text.back();
                try {
                    if (unit == 's' || unit == 'm' || unit == 'h') {
                        long long n = std::stoll(text.substr(0, text.size() - 1));
                        long long mult = unit == 's' ? 1 : unit == 'm' ? 60 : 3600;
                        return Timestamp{static_cast<long long>(std::time(nullptr)) - n * mult, 0};
                    }
                    // Unix seconds, with an optional fraction as Docker takes them.
                    size_t used = 0;
                    double n = std::stod(text, &used);
                    if (used == text.size()) {
                        auto whole = static_cast<long long>(n);
                        return Timestamp{whole, static_cast<long>((n - static_cast<double>(whole)) * 1e9)};
                    }
                } catch (...) {
                }
                return fail("invalid time: " + text);
            };
            if (!f->since.empty()) {
                auto s = to_seconds(f->since);
                if (!s) return report(s.error());
                options.since = *s;
            }
            if (!f->until.empty()) {
                auto u = to_seconds(f->until);
                if (!u) return report(u.error());
                options.until = *u;
            }
            auto printed = engine::print_logs(open_store(globals), f->name, options);
            return printed ? 0 : report(printed.error());
        });
    }
    if (auto* cmd = add_command(app, globals, "exec", "run a command in a running container")) {
        struct Flags {
            bool interactive = false, tty = false, detach = false, privileged = false;
            std::vector<std::string> env;
            std::string workdir, user;
        };
        auto f = std::make_shared<Flags>();
        cmd->set_help_flag("--help", "Print this help message and exit");
        cmd->add_flag("-i,--interactive", f->interactive, "keep stdin open");
        cmd->add_flag("-t,--tty", f->tty, "allocate a terminal");
        cmd->add_flag("-d,--detach", f->detach, "run it in the background");
        cmd->add_flag("--privileged", f->privileged, "every capability for this process");
        cmd->add_option("-e,--env", f->env, "KEY=VALUE")->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        cmd->add_option("-w,--workdir", f->workdir, "working directory");
        cmd->add_option("-u,--user", f->user, "user[:group] (names from the container's /etc/passwd)");
        cmd->prefix_command();
        on_run(cmd, exit_code, [&globals, f, cmd] {
            auto rest = cmd->remaining();
            if (rest.size() < 2) return report(Error{0, "\"exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]"});
            if (f->tty && !f->detach && !::isatty(STDIN_FILENO) && f->interactive)
                return report(Error{0, "the input device is not a TTY"});
            engine::ExecRequest request;
            request.command.assign(rest.begin() + 1, rest.end());
            request.env = f->env;
            request.workdir = f->workdir;
            request.user = f->user;
            request.tty = f->tty;
            request.interactive = f->interactive;
            request.detach = f->detach;
            request.privileged = f->privileged;
            auto outcome = engine::exec_in_container(open_store(globals), rest.front(), request);
            if (!outcome) return report(outcome.error());
            if (outcome->error) report(*outcome->error);
            return outcome->exit_code;
        });
    }
    if (auto* cmd = add_command(app, globals, "wait", "block until containers stop, then print their exit codes")) {
        auto names = std::make_shared<std::vector<std::string>>();
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names] {
            auto store = open_store(globals);
            int code = 0;
            for (const auto& n : *names) {
                auto waited = engine::wait_container(store, n);
                if (waited) std::printf("%d\n", *waited);
                else code = report(waited.error());
            }
            return code;
        });
    }
}

Result<nlohmann::json> inspect_container_json(const GlobalOptions& globals, std::string_view name) {
    return engine::inspect_container(open_store(globals), name);
}

}  // namespace skiff::cli
