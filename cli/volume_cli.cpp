#include "cli/volume_cli.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/container_cli.hpp"
#include "cli/output.hpp"
#include "common/go_template.hpp"
#include "common/progress.hpp"
#include "engine/system.hpp"
#include "engine/volumes.hpp"

namespace skiff::cli {
namespace {

// Docker's units.HumanSize (four significant digits) for df and reclaimed space; listings
// use three, as human_bytes does by default.
// "1.2MB (45%)"; just the size when there is nothing at all (Docker's form).
std::string reclaimable_text(int64_t reclaimable, int64_t total) {
    if (total <= 0) return human_bytes(reclaimable, 4);
    return human_bytes(reclaimable, 4) + " (" + std::to_string(reclaimable * 100 / total) + "%)";
}

std::string labels_text(const std::map<std::string, std::string>& labels) {
    std::string out;
    for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
    return out;
}

// --- volume --------------------------------------------------------------------------------

void add_volume_create(CLI::App* volume, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*volume, globals, "create", "create a volume");
    if (!cmd) return;
    struct Flags {
        std::string name, driver = "local", name_flag;
        std::vector<std::string> labels, opts;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_option("-d,--driver", f->driver, "volume driver (only \"local\")");
    cmd->add_option("--label", f->labels, "KEY=VALUE metadata")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("-o,--opt", f->opts, "driver options (none are supported)")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--name", f->name_flag, "volume name");
    cmd->add_option("NAME", f->name, "volume name (default: a random one)");
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        if (f->driver != "local")
            return fail("create: volume driver \"" + f->driver + "\" is not supported (only \"local\")");
        // The local driver's options mount a device or tmpfs; skiff has no such volumes yet.
        if (!f->opts.empty()) return fail("create: volume options are not supported");
        if (!f->name.empty() && !f->name_flag.empty() && f->name != f->name_flag)
            return fail("conflicting options: either specify --name or provide positional arg, not both");
        std::map<std::string, std::string> labels;
        for (const auto& l : f->labels) {
            auto eq = l.find('=');
            labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
        }
        auto store = open_store(globals);
        SKIFF_CHECK(store.prepare());
        SKIFF_TRY(created, engine::create_volume(store, f->name.empty() ? f->name_flag : f->name, labels));
        std::printf("%s\n", created.name.c_str());
        return ok();
    });
}

void add_volume_ls(CLI::App* volume, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*volume, globals, "ls", "list volumes", {"list"});
    if (!cmd) return;
    struct Flags {
        bool quiet = false;
        std::vector<std::string> filters;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_flag("-q,--quiet", f->quiet, "only volume names");
    cmd->add_option("-f,--filter", f->filters, "dangling=true|false, name=, label=KEY[=VALUE], driver=")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--format", f->format, "Go template, 'table TEMPLATE' or 'json'");
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        engine::VolumeFilters filters;
        for (const auto& text : f->filters) SKIFF_CHECK(engine::add_volume_filter(filters, text));
        auto store = open_store(globals);
        SKIFF_TRY(volumes, engine::list_volumes(store));
        auto users = engine::volume_users(store);
        std::vector<nlohmann::json> objects;
        std::vector<std::vector<std::string>> rows{{"DRIVER", "VOLUME NAME"}};
        for (const auto& v : volumes) {
            if (!engine::volume_matches(v, users.contains(v.name), filters)) continue;
            if (f->quiet) {
                std::printf("%s\n", v.name.c_str());
                continue;
            }
            objects.push_back({{"Driver", v.driver}, {"Name", v.name}, {"Mountpoint", v.mountpoint},
                               {"Labels", labels_text(v.labels)}, {"Scope", v.scope}, {"CreatedAt", v.created_at},
                               {"Links", "N/A"}, {"Size", "N/A"}});
            rows.push_back({v.driver, v.name});
        }
        if (f->quiet) return ok();
        return print_rows(f->format, objects, rows, {{"Name", "VOLUME NAME"}});
    });
}

void add_volume_inspect(CLI::App* volume, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*volume, globals, "inspect", "show volumes in Docker's JSON form");
    if (!cmd) return;
    auto format = std::make_shared<std::string>();
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("-f,--format", *format, "Go template applied to each volume");
    cmd->add_option("NAME", *names, "volumes")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        auto store = open_store(globals);
        return print_inspected(*names, *format, [&](const std::string& n) -> Result<nlohmann::json> {
            SKIFF_TRY(volume, engine::find_volume(store, n));
            return engine::volume_json(volume);
        });
    });
}

void add_volume_rm(CLI::App* volume, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*volume, globals, "rm", "remove volumes", {"remove"});
    if (!cmd) return;
    auto force = std::make_shared<bool>(false);
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_flag("-f,--force", *force, "no error for volumes that do not exist");
    cmd->add_option("NAME", *names, "volumes")->required();
    cmd->callback([=, &globals, &exit_code] {
        auto store = open_store(globals);
        exit_code = 0;
        // Every volume is tried; one failure makes the command fail (as rmi).
        for (const auto& n : *names) {
            auto removed = engine::remove_volume(store, n);
            if (removed) {
                std::printf("%s\n", n.c_str());
            } else if (!(*force && removed.error().code == ENOENT)) {
                exit_code = report(removed.error());
            }
        }
    });
}

void print_volume_prune(const engine::VolumePruneReport& report) {
    if (report.deleted.empty()) return;
    std::printf("Deleted Volumes:\n");
    for (const auto& name : report.deleted) std::printf("%s\n", name.c_str());
    std::printf("\n");
}

void add_volume_prune(CLI::App* volume, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*volume, globals, "prune", "remove unused volumes");
    if (!cmd) return;
    auto all = std::make_shared<bool>(false);
    auto force = std::make_shared<bool>(false);
    cmd->add_flag("-a,--all", *all, "every unused volume, not only anonymous ones");
    cmd->add_flag("-f,--force", *force, "do not ask for confirmation");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        std::string warning =
            *all ? "WARNING! This will remove all local volumes not used by at least one container."
                 : "WARNING! This will remove anonymous local volumes not used by at least one container.";
        if (!*force && !confirmed(warning)) return ok();
        SKIFF_TRY(report, engine::prune_volumes(open_store(globals), *all));
        print_volume_prune(report);
        std::printf("Total reclaimed space: %s\n", human_bytes(report.reclaimed, 4).c_str());
        return ok();
    });
}

// --- container prune -----------------------------------------------------------------------

void print_container_prune(const engine::ContainerPruneReport& report) {
    for (const auto& e : report.failures) std::fprintf(stderr, "Warning: %s\n", e.message().c_str());
    if (report.deleted.empty()) return;
    std::printf("Deleted Containers:\n");
    for (const auto& id : report.deleted) std::printf("%s\n", id.c_str());
    std::printf("\n");
}

void add_container_prune(CLI::App* container, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*container, globals, "prune", "remove all stopped containers");
    if (!cmd) return;
    auto force = std::make_shared<bool>(false);
    cmd->add_flag("-f,--force", *force, "do not ask for confirmation");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        if (!*force && !confirmed("WARNING! This will remove all stopped containers.")) return ok();
        SKIFF_TRY(report, engine::prune_containers(open_store(globals)));
        print_container_prune(report);
        std::printf("Total reclaimed space: %s\n", human_bytes(report.reclaimed, 4).c_str());
        return ok();
    });
}

// --- system --------------------------------------------------------------------------------

void print_df_verbose(const engine::DiskUsage& usage) {
    std::vector<std::vector<std::string>> rows{
        {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}};
    for (const auto& i : usage.images)
        rows.push_back({i.repository, i.tag, short_id(i.record.id), time_ago(i.record.created), human_bytes(i.size),
                        human_bytes(i.shared_size), human_bytes(i.size - i.shared_size), std::to_string(i.containers)});
    std::printf("Images space usage:\n\n%s\n", align_columns(rows).c_str());

    rows = {{"CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"}};
    for (const auto& c : usage.containers)
        rows.push_back({c.record.id.substr(0, 12), c.record.image, container_command_text(c.record, false), std::to_string(c.volumes),
                        human_bytes(c.size), time_ago(c.record.created), container_status_text(c.record), c.record.name});
    std::printf("Containers space usage:\n\n%s\n", align_columns(rows).c_str());

    rows = {{"VOLUME NAME", "LINKS", "SIZE"}};
    for (const auto& v : usage.volumes)
        rows.push_back({v.volume.name, std::to_string(v.links), human_bytes(v.size)});
    std::printf("Local Volumes space usage:\n\n%s\n", align_columns(rows).c_str());

    // No builder yet: Docker's empty section.
    std::printf("Build cache usage: 0B\n\n%s",
                align_columns({{"CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"}}).c_str());
}

void add_system_df(CLI::App* system, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*system, globals, "df", "show the disk space the store uses");
    if (!cmd) return;
    auto verbose = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>();
    cmd->add_flag("-v,--verbose", *verbose, "every image, container and volume");
    cmd->add_option("--format", *format, "Go template, 'table TEMPLATE' or 'json'");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        SKIFF_TRY(usage, engine::disk_usage(open_store(globals)));
        if (*verbose) {
            print_df_verbose(usage);
            return ok();
        }
        int64_t containers_size = 0, containers_reclaimable = 0;
        int running = 0;
        for (const auto& c : usage.containers) {
            containers_size += c.size;
            if (engine::is_stopped(c.record)) containers_reclaimable += c.size;
            else ++running;
        }
        int64_t volumes_size = 0, volumes_reclaimable = 0;
        int volumes_active = 0;
        for (const auto& v : usage.volumes) {
            volumes_size += v.size;
            if (v.links > 0) ++volumes_active;
            else volumes_reclaimable += v.size;
        }
        struct Line {
            std::string type;
            size_t total;
            int active;
            int64_t size;
            std::string reclaimable;
        };
        std::vector<Line> lines{
            {"Images", usage.images.size(), usage.active_images, usage.images_size,
             reclaimable_text(usage.images_reclaimable, usage.images_size)},
            {"Containers", usage.containers.size(), running, containers_size,
             reclaimable_text(containers_reclaimable, containers_size)},
            {"Local Volumes", usage.volumes.size(), volumes_active, volumes_size,
             reclaimable_text(volumes_reclaimable, volumes_size)},
            {"Build Cache", 0, 0, 0, "0B"},
        };
        std::vector<nlohmann::json> objects;
        std::vector<std::vector<std::string>> rows{{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}};
        for (const auto& l : lines) {
            objects.push_back({{"Type", l.type}, {"TotalCount", std::to_string(l.total)},
                               {"Active", std::to_string(l.active)}, {"Size", human_bytes(l.size, 4)},
                               {"Reclaimable", l.reclaimable}});
            rows.push_back(
                {l.type, std::to_string(l.total), std::to_string(l.active), human_bytes(l.size, 4), l.reclaimable});
        }
        return print_rows(*format, objects, rows, {{"TotalCount", "TOTAL"}});
    });
}

void add_system_prune(CLI::App* system, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*system, globals, "prune", "remove stopped containers, unused networks and images, (optionally) volumes, and the seccomp caches");
    if (!cmd) return;
    struct Flags {
        bool all = false, force = false, volumes = false;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_flag("-a,--all", f->all, "every unused image, not only dangling ones");
    cmd->add_flag("-f,--force", f->force, "do not ask for confirmation");
    cmd->add_flag("--volumes", f->volumes, "anonymous volumes no container uses too");
    on_run(cmd, exit_code, [f, &globals]() -> Status {
        // Docker's text, less the build cache skiff does not have.
        std::string warning = "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container";
        if (f->volumes) warning += "\n  - all anonymous volumes not used by at least one container";
        warning += f->all ? "\n  - all images without at least one container associated to them"
                          : "\n  - all dangling images";
        warning += "\n  - skiff's seccomp caches (made again when next needed)\n";
        if (!f->force && !confirmed(warning)) return ok();
        SKIFF_TRY(report, engine::prune_system(open_store(globals), f->all, f->volumes));
        print_container_prune(report.containers);
        if (!report.networks.empty()) {
            std::printf("Deleted Networks:\n");
            for (const auto& n : report.networks) std::printf("%s\n", n.c_str());
            std::printf("\n");
        }
        print_volume_prune(report.volumes);
        if (!report.images.untagged.empty() || !report.images.deleted.empty()) {
            std::printf("Deleted Images:\n");
            for (const auto& u : report.images.untagged) std::printf("untagged: %s\n", u.c_str());
            for (const auto& d : report.images.deleted) std::printf("deleted: %s\n", d.c_str());
            std::printf("\n");
        }
        std::printf("Total reclaimed space: %s\n", human_bytes(report.reclaimed(), 4).c_str());
        return ok();
    });
}

}  // namespace

void add_volume_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code) {
    if (auto* volume = add_group(app, globals, "volume", "manage volumes")) {
        add_volume_create(volume, globals, exit_code);
        add_volume_ls(volume, globals, exit_code);
        add_volume_inspect(volume, globals, exit_code);
        add_volume_rm(volume, globals, exit_code);
        add_volume_prune(volume, globals, exit_code);
    }

    if (auto* container = container_group(app, globals)) add_container_prune(container, globals, exit_code);
}

void add_system_commands(CLI::App* system, const GlobalOptions& globals, int& exit_code) {
    add_system_df(system, globals, exit_code);
    add_system_prune(system, globals, exit_code);
}

}  // namespace skiff::cli
