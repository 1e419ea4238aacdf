#include "cli/container_extra_cli.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>

#include "cli/output.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/container_extras.hpp"
#include "engine/containers.hpp"

namespace skiff::cli {
namespace {

std::vector<std::string> split_words(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

struct Captured {
    int status = 0;  // exit code, or 128 + signal
    std::string out, err;
};

// Run `argv` (found on PATH) with stdout and stderr captured. stderr goes to a memfd, so a
// chatty ps cannot block on a pipe we are not reading yet.
Result<Captured> capture(const std::vector<std::string>& argv) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd out_read(out[0]), out_write(out[1]);
    UniqueFd err_file(::memfd_create("skiff-ps-stderr", MFD_CLOEXEC));
    if (!err_file) return sys_error("memfd_create");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork");
    if (child == 0) {
        ::dup2(out_write.get(), STDOUT_FILENO);
        ::dup2(err_file.get(), STDERR_FILENO);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    out_write.reset();
    Captured result;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(out_read.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        result.out.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::lseek(err_file.get(), 0, SEEK_SET);
    for (;;) {
        ssize_t n = ::read(err_file.get(), buf, sizeof buf);
        if (n <= 0) break;
        result.err.append(buf, static_cast<size_t>(n));
    }
    return result;
}

// Docker's top: ps on the host, then only the rows whose PID column is one of the container's.
Status top(const engine::Store& store, const std::string& name, std::vector<std::string> ps_args) {
    SKIFF_TRY(pids, engine::container_processes(store, name));
    std::vector<std::string> argv{"ps"};
    if (ps_args.empty()) {
        std::string list;
        for (pid_t p : pids) list += (list.empty() ? "" : ",") + std::to_string(p);
        ps_args = {"-o", "pid,user,time,cmd"};
        if (!list.empty()) ps_args.insert(ps_args.end(), {"-p", list});
    }
    argv.insert(argv.end(), ps_args.begin(), ps_args.end());
    SKIFF_TRY(ran, capture(argv));
    // ps -p exits 1 when none of the pids is left; that is an empty list, not an error.
    if (ran.status != 0 && !(ran.status == 1 && ran.err.empty())) {
        std::string err = ran.err;
        while (!err.empty() && err.back() == '\n') err.pop_back();
        std::replace(err.begin(), err.end(), '\n', ' ');
        return fail("ps: exit status " + std::to_string(ran.status) + (err.empty() ? "" : ": " + err));
    }
    std::istringstream lines(ran.out);
    std::string header;
    std::getline(lines, header);
    auto columns = split_words(header);
    auto pid_column = std::find(columns.begin(), columns.end(), "PID");
    if (pid_column == columns.end()) return fail("Couldn't find PID field in ps output");
    size_t index = static_cast<size_t>(pid_column - columns.begin());
    std::string shown = header + "\n";
    for (std::string line; std::getline(lines, line);) {
        auto fields = split_words(line);
        if (fields.size() <= index) continue;
        pid_t pid = 0;
        try {
            pid = static_cast<pid_t>(std::stol(fields[index]));
        } catch (...) {
            continue;
        }
        if (std::find(pids.begin(), pids.end(), pid) != pids.end()) shown += line + "\n";
    }
    std::fputs(shown.c_str(), stdout);
    return ok();
}

// Docker's `port`: "80/tcp -> 0.0.0.0:8080" from the record's "0.0.0.0:8080->80/tcp"; with
// PRIVATE_PORT[/PROTO] only the host sides of that port.
Status port(const engine::Store& store, const std::string& name, const std::string& wanted) {
    SKIFF_TRY(ports, engine::container_ports(store, name));
    std::string filter = wanted;
    if (!filter.empty() && filter.find('/') == std::string::npos) filter += "/tcp";
    bool any = false;
    for (const auto& p : ports) {
        auto arrow = p.find("->");
        if (arrow == std::string::npos) continue;  // exposed, not published
        std::string host = p.substr(0, arrow), inside = p.substr(arrow + 2);
        if (filter.empty()) {
            std::printf("%s -> %s\n", inside.c_str(), host.c_str());
        } else if (inside == filter) {
            std::printf("%s\n", host.c_str());
            any = true;
        }
    }
    if (!filter.empty() && !any) return fail("No public port '" + filter + "' published for " + name);
    return ok();
}

Status export_to(const engine::Store& store, const std::string& name, const std::string& output) {
    if (output.empty()) {
        if (::isatty(STDOUT_FILENO)) return fail("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        // A reader that goes away must not kill us with the rootfs still mounted.
        std::signal(SIGPIPE, SIG_IGN);
        return engine::export_container(store, name, STDOUT_FILENO);
    }
    // Written beside the target and renamed: a failed export leaves no half archive behind.
    std::string temp = output + ".skiff-tmp-" + std::to_string(::getpid());
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return sys_error("create " + output);
    auto exported = engine::export_container(store, name, fd.get());
    if (exported && ::fsync(fd.get()) != 0) exported = sys_error("write " + output);
    if (exported && ::rename(temp.c_str(), output.c_str()) != 0) exported = sys_error("rename to " + output);
    if (!exported) ::unlink(temp.c_str());
    return exported;
}

int status_code(const Status& done) { return done ? 0 : report(done.error()); }

}  // namespace

void add_container_extra_commands(CLI::App& app, const GlobalOptions& globals, int& exit_code) {
    if (auto* cmd = add_command(app, globals, "commit", "create a new image from a container's changes")) {
        struct Flags {
            std::string container, reference;
            engine::CommitOptions options;
        };
        auto f = std::make_shared<Flags>();
        cmd->add_option("-m,--message", f->options.message, "commit message");
        cmd->add_option("-a,--author", f->options.author, "author (e.g. \"Jane Doe <jane@example.com>\")");
        cmd->add_option("-c,--change", f->options.changes, "apply a Dockerfile instruction to the image")
            ->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        cmd->add_flag("-p,--pause", f->options.pause, "pause the container during the commit (default true)");
        cmd->add_option("CONTAINER", f->container, "container")->required();
        cmd->add_option("REPOSITORY", f->reference, "REPOSITORY[:TAG] for the new image");
        on_run(cmd, exit_code, [&globals, f] {
            engine::CommitOptions options = f->options;
            options.reference = f->reference;
            auto id = engine::commit_container(open_store(globals), f->container, options);
            if (!id) return report(id.error());
            std::printf("%s\n", id->c_str());
            return 0;
        });
    }
    if (auto* cmd = add_command(app, globals, "diff", "list the changes to a container's file system (A added, C changed, D deleted)")) {
        auto name = std::make_shared<std::string>();
        cmd->add_option("CONTAINER", *name, "container")->required();
        on_run(cmd, exit_code, [&globals, name] {
            auto changes = engine::container_changes(open_store(globals), *name);
            if (!changes) return report(changes.error());
            for (const auto& c : *changes) std::printf("%s\n", c.to_string().c_str());
            return 0;
        });
    }
    if (auto* cmd = add_command(app, globals, "export", "write a container's file system as a tar archive")) {
        auto name = std::make_shared<std::string>();
        auto output = std::make_shared<std::string>();
        cmd->add_option("-o,--output", *output, "file to write (default: stdout)");
        cmd->add_option("CONTAINER", *name, "container")->required();
        on_run(cmd, exit_code, [&globals, name, output] {
            return status_code(export_to(open_store(globals), *name, *output));
        });
    }
    if (auto* cmd = add_command(app, globals, "pause", "freeze every process of containers")) {
        auto names = std::make_shared<std::vector<std::string>>();
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names] {
            auto store = open_store(globals);
            return each_container(*names, [&](const std::string& n) { return engine::pause_container(store, n); });
        });
    }
    if (auto* cmd = add_command(app, globals, "unpause", "thaw the processes of paused containers")) {
        auto names = std::make_shared<std::vector<std::string>>();
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names] {
            auto store = open_store(globals);
            return each_container(*names, [&](const std::string& n) { return engine::unpause_container(store, n); });
        });
    }
    if (auto* cmd = add_command(app, globals, "restart", "stop and start containers again")) {
        auto names = std::make_shared<std::vector<std::string>>();
        auto timeout = std::make_shared<int>(-1);
        cmd->add_option("-t,--time,--timeout", *timeout, "seconds to wait before killing (default: the container's, 10)");
        cmd->add_option("CONTAINER", *names, "containers")->required();
        on_run(cmd, exit_code, [&globals, names, timeout] {
            auto store = open_store(globals);
            return each_container(*names, [&](const std::string& n) {
                return engine::restart_container(store, n, *timeout);
            });
        });
    }
    if (auto* cmd = add_command(app, globals, "rename", "rename a container")) {
        auto names = std::make_shared<std::vector<std::string>>();
        cmd->add_option("NAMES", *names, "OLD NEW")->required()->expected(2);
        on_run(cmd, exit_code, [&globals, names] {
            return status_code(engine::rename_container(open_store(globals), (*names)[0], (*names)[1]));
        });
    }
    if (auto* cmd = add_command(app, globals, "top", "show the processes of a running container (ps on the host)")) {
        cmd->set_help_flag("--help", "Print this help message and exit");
        // CONTAINER and the ps options after it are ours to hand on, not CLI11's.
        cmd->prefix_command();
        on_run(cmd, exit_code, [&globals, cmd] {
            auto rest = cmd->remaining();
            if (rest.empty()) return report(Error{0, "\"top\" requires at least 1 argument: CONTAINER [ps OPTIONS]"});
            std::vector<std::string> ps_args(rest.begin() + 1, rest.end());
            return status_code(top(open_store(globals), rest.front(), ps_args));
        });
    }
    if (auto* cmd = add_command(app, globals, "port", "list a container's published ports")) {
        auto name = std::make_shared<std::string>();
        auto private_port = std::make_shared<std::string>();
        cmd->add_option("CONTAINER", *name, "container")->required();
        cmd->add_option("PRIVATE_PORT", *private_port, "PRIVATE_PORT[/PROTO]: only the host side of this one");
        on_run(cmd, exit_code, [&globals, name, private_port] {
            return status_code(port(open_store(globals), *name, *private_port));
        });
    }
    if (auto* cmd = add_command(app, globals, "attach", "attach to a running container's output, and its input with -i")) {
        auto name = std::make_shared<std::string>();
        auto options = std::make_shared<engine::AttachOptions>();
        cmd->add_flag("--no-stdin", options->no_stdin, "do not attach stdin");
        cmd->add_flag("--sig-proxy{true}", options->sig_proxy, "proxy received signals to the process (default true)");
        cmd->add_option("--detach-keys", options->detach_keys, "key sequence that detaches (default ctrl-p,ctrl-q)");
        cmd->add_option("CONTAINER", *name, "container")->required();
        on_run(cmd, exit_code, [&globals, name, options] {
            auto code = engine::attach_container(open_store(globals), *name, *options);
            return code ? *code : report(code.error());
        });
    }
    if (app.get_parent() == nullptr) {
        // Internal, not in --help: what skiff-monitor execs once the container's PID 1 has
        // exited (engine::container_exited).
        auto* cmd = app.add_subcommand("container-exited", "");
        cmd->group("");
        auto id = std::make_shared<std::string>();
        auto code = std::make_shared<int>(0);
        cmd->add_option("ID", *id)->required();
        cmd->add_option("CODE", *code)->required();
        on_run(cmd, exit_code, [&globals, id, code] {
            engine::container_exited(open_store(globals), *id, *code);
            return 0;
        });
    }
}

}  // namespace skiff::cli
