#include "cli/image_cli.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/container_cli.hpp"
#include "cli/output.hpp"
#include "cli/volume_cli.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/go_template.hpp"
#include "common/path.hpp"
#include "common/progress.hpp"
#include "engine/archive.hpp"
#include "engine/images.hpp"
#include "engine/store.hpp"

namespace skiff::cli {
namespace {

// Flags every command that talks to a registry shares (podman's names).
struct RegistryFlags {
    bool tls_verify = true;
    std::string creds;      // "user:password"
    std::string authfile;
    std::string registries_conf;

    void add_to(CLI::App* cmd) {
        cmd->add_option("--tls-verify", tls_verify, "verify TLS certificates (false also allows plain http)")
            ->default_str("true");
        cmd->add_option("--creds", creds, "USER:PASSWORD for the registry");
        cmd->add_option("--authfile", authfile, "credentials file (default: auth.json lookup)")
            ->envname("REGISTRY_AUTH_FILE");
        cmd->add_option("--registries-conf", registries_conf, "registries.conf to use")
            ->envname("CONTAINERS_REGISTRIES_CONF");
    }
    Result<engine::RegistryOptions> options() const {
        engine::RegistryOptions out;
        out.tls_verify = tls_verify;
        out.auth_file = authfile;
        out.registries_conf = registries_conf;
        if (!creds.empty()) {
            auto colon = creds.find(':');
            if (colon == std::string::npos) return fail("--creds: expected USER:PASSWORD");
            out.credentials = image::Credentials{creds.substr(0, colon), creds.substr(colon + 1)};
        }
        return out;
    }
};

std::string created_at(const std::string& rfc3339) {
    long long t = parse_rfc3339(rfc3339);
    if (t < 0) return rfc3339;
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    return buf;
}

void add_pull(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "pull", "download an image from a registry");
    if (!cmd) return;
    auto quiet = std::make_shared<bool>(false);
    auto platform = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto registry = std::make_shared<RegistryFlags>();
    cmd->add_flag("-q,--quiet", *quiet, "print only the image reference");
    cmd->add_option("--platform", *platform, "os/arch[/variant] to pull from a multi-platform image");
    registry->add_to(cmd);
    cmd->add_option("NAME", *name, "image reference")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        SKIFF_TRY(ref, image::parse_reference(*name));
        engine::PullOptions options;
        SKIFF_TRY(registry_options, registry->options());
        options.registry = registry_options;
        if (!platform->empty()) {
            SKIFF_TRY(p, image::parse_platform(*platform));
            options.platform = p;
        }
        auto store = open_store(globals);
        {
            // Its own scope: the display must be finished before anything else is printed.
            Progress progress(STDOUT_FILENO, Progress::mode_for(STDOUT_FILENO, *quiet));
            if (!*quiet) progress.message((ref.digest.empty() ? ref.tag : ref.digest) + ": Pulling from " + ref.repository);
            SKIFF_TRY(pulled, engine::pull_image(store, ref, options, progress));
            if (!*quiet) {
                progress.message("Digest: " + pulled.digest);
                progress.message(std::string("Status: ") +
                                 (pulled.downloaded ? "Downloaded newer image for " : "Image is up to date for ") +
                                 ref.familiar());
            }
        }
        std::printf("%s\n", ref.to_string().c_str());
        return ok();
    });
}

void add_push(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "push", "upload an image to a registry");
    if (!cmd) return;
    auto quiet = std::make_shared<bool>(false);
    auto source = std::make_shared<std::string>();
    auto destination = std::make_shared<std::string>();
    auto registry = std::make_shared<RegistryFlags>();
    cmd->add_flag("-q,--quiet", *quiet, "print nothing but errors");
    registry->add_to(cmd);
    cmd->add_option("IMAGE", *source, "image to push (its name is the destination)")->required();
    cmd->add_option("DESTINATION", *destination, "another reference to push it as (podman's form)");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        auto store = open_store(globals);
        std::string target = destination->empty() ? *source : *destination;
        SKIFF_TRY(ref, image::parse_reference(target));
        SKIFF_TRY(registry_options, registry->options());
        Progress progress(STDOUT_FILENO, Progress::mode_for(STDOUT_FILENO, *quiet));
        if (!*quiet) progress.message("The push refers to repository [" + ref.name() + "]");
        SKIFF_TRY(pushed, engine::push_image(store, *source, ref, registry_options, progress));
        if (!*quiet)
            progress.message(ref.tag + ": digest: " + pushed.digest + " size: " + std::to_string(pushed.size));
        return ok();
    });
}

void add_images(CLI::App* parent, const std::string& name, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = name == "ls" ? add_command(*parent, globals, name, "list images", {"list"})
                             : add_command(*parent, globals, name, "list images");
    if (!cmd) return;
    struct Flags {
        bool all = false, quiet = false, digests = false, no_trunc = false;
        std::vector<std::string> filters;
        std::string format, repository;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_flag("-a,--all", f->all, "show all images (there are no hidden intermediate images yet)");
    cmd->add_flag("-q,--quiet", f->quiet, "only image ids");
    cmd->add_flag("--digests", f->digests, "show digests");
    cmd->add_flag("--no-trunc", f->no_trunc, "do not truncate ids");
    cmd->add_option("-f,--filter", f->filters, "dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--format", f->format, "Go template, 'table TEMPLATE' or 'json'");
    cmd->add_option("REPOSITORY", f->repository, "only this repository[:tag]");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        auto store = open_store(globals);
        engine::ImageFilters filters;
        for (const auto& text : f->filters) SKIFF_CHECK(engine::add_image_filter(filters, text));
        if (!f->format.empty() && f->format != "json" && f->format != "table") SKIFF_CHECK(GoTemplate::parse(f->format));
        SKIFF_TRY(rows, engine::list_images(store, filters,
                                            f->repository.empty() ? std::nullopt : std::optional<std::string>(f->repository)));
        auto id_of = [&](const std::string& id) { return f->no_trunc ? id : short_id(id); };
        if (f->quiet) {
            std::set<std::string> seen;
            for (const auto& row : rows)
                if (seen.insert(row.record.id).second) std::printf("%s\n", id_of(row.record.id).c_str());
            return ok();
        }
        std::vector<nlohmann::json> objects;
        std::vector<std::vector<std::string>> table;
        std::vector<std::string> header{"REPOSITORY", "TAG"};
        if (f->digests) header.push_back("DIGEST");
        for (const char* h : {"IMAGE ID", "CREATED", "SIZE"}) header.push_back(h);
        table.push_back(header);
        for (const auto& row : rows) {
            std::string size = human_bytes(row.record.size);
            objects.push_back({{"Repository", row.repository}, {"Tag", row.tag}, {"Digest", row.digest},
                               {"ID", id_of(row.record.id)}, {"CreatedSince", time_ago(row.record.created)},
                               {"CreatedAt", created_at(row.record.created)}, {"Size", size},
                               {"VirtualSize", size}, {"SharedSize", "N/A"}, {"UniqueSize", "N/A"},
                               {"Containers", "N/A"}, {"Labels", row.labels}});
            std::vector<std::string> line{row.repository, row.tag};
            if (f->digests) line.push_back(row.digest);
            for (auto s : {id_of(row.record.id), time_ago(row.record.created), size}) line.push_back(s);
            table.push_back(line);
        }
        nlohmann::json headers = {{"ID", "IMAGE ID"}, {"CreatedSince", "CREATED"}, {"CreatedAt", "CREATED AT"}};
        return print_rows(f->format, objects, table, headers);
    });
}

void add_inspect(CLI::App* parent, const std::string& name, const GlobalOptions& globals, int& exit_code) {
    bool top_level = parent->get_parent() == nullptr;
    // `image inspect` is images only, `container inspect` containers only; `inspect` tries a
    // container first, as Docker does.
    std::string kind = top_level ? "" : parent->get_name();
    auto* cmd = add_command(*parent, globals, name,
                            top_level ? "show containers or images in Docker's JSON form"
                                      : "show " + kind + "s in Docker's JSON form");
    if (!cmd) return;
    auto format = std::make_shared<std::string>();
    auto type = std::make_shared<std::string>(kind);
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("-f,--format", *format, "Go template applied to each object");
    if (top_level) cmd->add_option("--type", *type, "container or image (default: whichever the name is)");
    cmd->add_option("NAME", *names, "containers or images")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        if (!type->empty() && *type != "image" && *type != "container")
            return fail("\"" + *type + "\" is not a valid value for --type");
        auto store = open_store(globals);
        return print_inspected(*names, *format, [&](const std::string& n) -> Result<nlohmann::json> {
            Result<nlohmann::json> found = fail("No such object: " + n);
            if (*type != "image") found = inspect_container_json(globals, n);
            if (!found && *type != "container") found = engine::inspect_image(store, n);
            if (!found && type->empty()) found = fail("No such object: " + n);
            return found;
        });
    });
}

void add_history(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "history", "show the layers of an image and what made them");
    if (!cmd) return;
    struct Flags {
        bool human = true, no_trunc = false, quiet = false;
        std::string format, image;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_option("-H,--human", f->human, "human readable sizes and dates")->default_str("true");
    cmd->add_flag("--no-trunc", f->no_trunc, "do not truncate output");
    cmd->add_flag("-q,--quiet", f->quiet, "only image ids");
    cmd->add_option("--format", f->format, "Go template, 'table TEMPLATE' or 'json'");
    cmd->add_option("IMAGE", f->image, "image")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        auto store = open_store(globals);
        SKIFF_TRY(rows, engine::image_history(store, f->image));
        auto id_of = [&](const std::string& id) { return id == "<missing>" || f->no_trunc ? id : short_id(id); };
        if (f->quiet) {
            for (const auto& r : rows) std::printf("%s\n", id_of(r.id).c_str());
            return ok();
        }
        std::vector<nlohmann::json> objects;
        std::vector<std::vector<std::string>> table{{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}};
        for (const auto& r : rows) {
            std::string created = f->human ? time_ago(r.created) : r.created;
            std::string size = f->human ? human_bytes(r.size) : std::to_string(r.size);
            std::string by = f->no_trunc ? r.created_by : ellipsis(r.created_by, 45);
            objects.push_back({{"ID", id_of(r.id)}, {"CreatedSince", time_ago(r.created)}, {"CreatedAt", r.created},
                               {"CreatedBy", by}, {"Size", size}, {"Comment", r.comment}});
            table.push_back({id_of(r.id), created, by, size, r.comment});
        }
        return print_rows(f->format, objects, table, {{"ID", "IMAGE"}, {"CreatedSince", "CREATED"}, {"CreatedBy", "CREATED BY"}});
    });
}

void add_tag(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "tag", "give an image another name");
    if (!cmd) return;
    auto source = std::make_shared<std::string>();
    auto target = std::make_shared<std::string>();
    cmd->add_option("SOURCE", *source, "image")->required();
    cmd->add_option("TARGET", *target, "new reference")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status { return engine::tag_image(open_store(globals), *source, *target); });
}

void print_removal(const engine::RemovalReport& report, bool lowercase) {
    for (const auto& u : report.untagged) std::printf("%s: %s\n", lowercase ? "untagged" : "Untagged", u.c_str());
    for (const auto& d : report.deleted) std::printf("%s: %s\n", lowercase ? "deleted" : "Deleted", d.c_str());
}

void add_rmi(CLI::App* parent, const std::string& name, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, name, "remove images");
    if (!cmd) return;
    auto force = std::make_shared<bool>(false);
    auto images = std::make_shared<std::vector<std::string>>();
    cmd->add_flag("-f,--force", *force, "remove even with several tags or when a container uses it");
    cmd->add_option("IMAGE", *images, "images")->required();
    cmd->callback([=, &globals, &exit_code] {
        auto store = open_store(globals);
        exit_code = 0;
        // Like Docker: every image is tried; one failure makes the whole command fail.
        for (const auto& image : *images) {
            auto removed = engine::remove_image(store, image, *force);
            if (!removed) exit_code = report(removed.error());
            else print_removal(*removed, false);
        }
    });
}

void add_image_prune(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "prune", "remove unused images");
    if (!cmd) return;
    auto all = std::make_shared<bool>(false);
    auto force = std::make_shared<bool>(false);
    cmd->add_flag("-a,--all", *all, "every image no container uses, not only dangling ones");
    cmd->add_flag("-f,--force", *force, "do not ask for confirmation");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        std::string warning = *all ? "WARNING! This will remove all images without at least one container associated to them."
                                   : "WARNING! This will remove all dangling images.";
        if (!*force && !confirmed(warning)) return ok();
        SKIFF_TRY(report, engine::prune_images(open_store(globals), *all));
        if (!report.untagged.empty() || !report.deleted.empty()) {
            std::printf("Deleted Images:\n");
            print_removal(report, true);
            std::printf("\n");
        }
        std::printf("Total reclaimed space: %s\n", human_bytes(report.reclaimed, 4).c_str());
        return ok();
    });
}

void add_save(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "save", "write images to a tar archive");
    if (!cmd) return;
    auto output = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("docker-archive");
    auto images = std::make_shared<std::vector<std::string>>();
    cmd->add_option("-o,--output", *output, "file to write (default: stdout)");
    cmd->add_option("--format", *format, "docker-archive (default) or oci-archive");
    cmd->add_option("IMAGE", *images, "images")->required();
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        engine::ArchiveFormat kind;
        if (*format == "docker-archive") kind = engine::ArchiveFormat::docker_archive;
        else if (*format == "oci-archive") kind = engine::ArchiveFormat::oci_archive;
        else return fail("--format " + *format + ": expected docker-archive or oci-archive");
        auto store = open_store(globals);
        if (output->empty()) {
            if (::isatty(STDOUT_FILENO)) return fail("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            return engine::save_images(store, *images, kind, STDOUT_FILENO);
        }
        // Written beside the target and renamed: a failed save leaves no half archive behind.
        std::string temp = *output + ".skiff-tmp-" + std::to_string(::getpid());
        UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) return sys_error("create " + *output);
        auto saved = engine::save_images(store, *images, kind, fd.get());
        if (saved && ::fsync(fd.get()) != 0) saved = sys_error("write " + *output);
        if (saved && ::rename(temp.c_str(), output->c_str()) != 0) saved = sys_error("rename to " + *output);
        if (!saved) ::unlink(temp.c_str());
        return saved;
    });
}

void add_load(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "load", "read images from a tar archive (docker-archive or OCI)");
    if (!cmd) return;
    auto input = std::make_shared<std::string>();
    auto quiet = std::make_shared<bool>(false);
    cmd->add_option("-i,--input", *input, "file to read (default: stdin)");
    cmd->add_flag("-q,--quiet", *quiet, "print less");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        UniqueFd fd;
        int in = STDIN_FILENO;
        if (!input->empty()) {
            fd = UniqueFd(::open(input->c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) return sys_error("open " + *input);
            in = fd.get();
        } else if (::isatty(STDIN_FILENO)) {
            return fail("requested load from stdin, but stdin is empty");
        }
        SKIFF_TRY(loaded, engine::load_images(open_store(globals), in));
        for (const auto& image : loaded) {
            if (image.repo_tags.empty()) std::printf("Loaded image ID: %s\n", image.id.c_str());
            for (const auto& t : image.repo_tags) {
                auto ref = image::parse_reference(t);
                std::printf("Loaded image: %s\n", ref ? ref->familiar().c_str() : t.c_str());
            }
        }
        return ok();
    });
}

void add_import(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "import", "make an image from a root filesystem tarball");
    if (!cmd) return;
    struct Flags {
        std::vector<std::string> changes;
        std::string message, platform, file, reference;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_option("-c,--change", f->changes, "Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL)")
        ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("-m,--message", f->message, "commit message");
    cmd->add_option("--platform", f->platform, "os/arch[/variant] to record (default: this host)");
    cmd->add_option("FILE", f->file, "tarball, or - for stdin")->required();
    cmd->add_option("REFERENCE", f->reference, "name[:tag] for the image");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        engine::ImportOptions options;
        options.changes = f->changes;
        options.message = f->message;
        options.platform = image::host_platform();
        if (!f->platform.empty()) {
            SKIFF_TRY(p, image::parse_platform(f->platform));
            options.platform = p;
        }
        if (!f->reference.empty()) {
            SKIFF_TRY(ref, image::parse_reference(f->reference));
            if (!ref.digest.empty()) return fail("import: a reference with a digest cannot be a tag: " + f->reference);
            options.tag = ref.to_string();
        }
        // Check the instructions before reading anything.
        image::RunConfig scratch;
        for (const auto& c : f->changes) SKIFF_CHECK(engine::apply_change(scratch, c));
        UniqueFd fd;
        int in = STDIN_FILENO;
        if (f->file != "-") {
            fd = UniqueFd(::open(f->file.c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) return sys_error("open " + f->file);
            in = fd.get();
        }
        SKIFF_TRY(record, engine::import_rootfs(open_store(globals), in, options));
        std::printf("%s\n", record.id.c_str());
        return ok();
    });
}

std::string read_secret(const std::string& prompt) {
    std::fprintf(stderr, "%s", prompt.c_str());
    termios old{};
    bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    }
    return line;
}

void add_login(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "login", "store credentials for a registry (after checking them)");
    if (!cmd) return;
    struct Flags {
        std::string username, password, registry;
        bool password_stdin = false;
    };
    auto f = std::make_shared<Flags>();
    auto registry = std::make_shared<RegistryFlags>();
    cmd->add_option("-u,--username", f->username, "user name");
    cmd->add_option("-p,--password", f->password, "password (prefer --password-stdin)");
    cmd->add_flag("--password-stdin", f->password_stdin, "read the password from stdin");
    registry->add_to(cmd);
    cmd->add_option("REGISTRY", f->registry, "registry host[:port]")->required();
    on_run(cmd, exit_code, [=]() -> Status {
        std::string user = f->username, password = f->password;
        if (f->password_stdin) {
            if (!password.empty()) return fail("--password and --password-stdin are mutually exclusive");
            if (user.empty()) return fail("must provide --username with --password-stdin");
            std::getline(std::cin, password);
            while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
        }
        if (user.empty()) {
            std::fprintf(stderr, "Username: ");
            std::getline(std::cin, user);
        }
        if (password.empty()) password = read_secret("Password: ");
        if (user.empty() || password.empty()) return fail("login: user name and password are required");
        SKIFF_TRY(options, registry->options());
        SKIFF_CHECK(engine::login(f->registry, {user, password}, options));
        std::printf("Login Succeeded\n");
        return ok();
    });
}

void add_logout(CLI::App* parent, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*parent, globals, "logout", "remove stored credentials for a registry");
    if (!cmd) return;
    auto registry_name = std::make_shared<std::string>();
    auto registry = std::make_shared<RegistryFlags>();
    registry->add_to(cmd);
    cmd->add_option("REGISTRY", *registry_name, "registry host[:port]")->required();
    on_run(cmd, exit_code, [=]() -> Status {
        SKIFF_TRY(options, registry->options());
        SKIFF_CHECK(engine::logout(*registry_name, options));
        std::printf("Removed login credentials for %s\n", registry_name->c_str());
        return ok();
    });
}

void add_system_check(CLI::App* system, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(*system, globals, "check", "verify every blob, layer and image record of the store");
    if (!cmd) return;
    auto repair = std::make_shared<bool>(false);
    cmd->add_flag("-r,--repair", *repair, "remove what is broken (and the images that need it)");
    on_run(cmd, exit_code, [=, &globals]() -> Status {
        SKIFF_TRY(report, engine::check_store(open_store(globals), *repair));
        for (const auto& p : report.problems) std::printf("%s\n", p.c_str());
        for (const auto& r : report.repaired) std::printf("repaired: %s\n", r.c_str());
        std::printf("checked %lld images, %lld layers, %lld blobs: %zu problem%s\n",
                    static_cast<long long>(report.images_checked), static_cast<long long>(report.layers_checked),
                    static_cast<long long>(report.blobs_checked), report.problems.size(),
                    report.problems.size() == 1 ? "" : "s");
        if (!report.problems.empty() && !*repair) return fail("the store has problems; `skiff system check --repair` removes what is broken");
        return ok();
    });
}

}  // namespace

void add_image_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code) {
    // Docker's top-level forms ...
    add_pull(&app, globals, exit_code);
    add_push(&app, globals, exit_code);
    add_images(&app, "images", globals, exit_code);
    add_inspect(&app, "inspect", globals, exit_code);
    add_history(&app, globals, exit_code);
    add_tag(&app, globals, exit_code);
    add_rmi(&app, "rmi", globals, exit_code);
    add_save(&app, globals, exit_code);
    add_load(&app, globals, exit_code);
    add_import(&app, globals, exit_code);
    add_login(&app, globals, exit_code);
    add_logout(&app, globals, exit_code);
    // ... and the `image` management command.
    if (auto* image = add_group(app, globals, "image", "manage images")) {
        add_images(image, "ls", globals, exit_code);
        add_inspect(image, "inspect", globals, exit_code);
        add_history(image, globals, exit_code);
        add_tag(image, globals, exit_code);
        add_rmi(image, "rm", globals, exit_code);
        add_image_prune(image, globals, exit_code);
        add_pull(image, globals, exit_code);
        add_push(image, globals, exit_code);
        add_save(image, globals, exit_code);
        add_load(image, globals, exit_code);
        add_import(image, globals, exit_code);
    }
    if (auto* container = container_group(app, globals)) add_inspect(container, "inspect", globals, exit_code);
    if (auto* system = add_group(app, globals, "system", "manage the store")) {
        add_system_check(system, globals, exit_code);
        add_system_commands(system, globals, exit_code);
    }
}

}  // namespace skiff::cli
