#include "cli/cp_cli.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "cli/output.hpp"
#include "common/progress.hpp"
#include "engine/container_cp.hpp"

namespace skiff::cli {
namespace {

// Docker's splitCpArg: "CONTAINER:PATH", or a local path ("/abs", "./a:b", no ':' at all).
std::pair<std::string, std::string> split_cp_arg(const std::string& arg) {
    if (arg.starts_with('/')) return {"", arg};
    auto colon = arg.find(':');
    if (colon == std::string::npos || arg.starts_with('.')) return {"", arg};
    return {arg.substr(0, colon), arg.substr(colon + 1)};
}

struct CpFlags {
    std::string src, dest;
    bool archive = false, follow_link = false, quiet = false;
};

int run_cp(const GlobalOptions& globals, const CpFlags& f) {
    auto [src_container, src_path] = split_cp_arg(f.src);
    auto [dest_container, dest_path] = split_cp_arg(f.dest);
    if (src_path.empty()) return report(Error{0, "source can not be empty"});
    if (dest_path.empty()) return report(Error{0, "destination can not be empty"});
    if (src_container.empty() && dest_container.empty())
        return report(Error{0, "must specify at least one container source"});
    if (!src_container.empty() && !dest_container.empty())
        return report(Error{0, "copying between containers is not supported"});
    engine::CopyOptions options{f.archive, f.follow_link};
    auto store = open_store(globals);
    Result<int64_t> copied;
    if (!src_container.empty()) {
        // A reader of "-" that goes away must not kill us with the rootfs still mounted.
        if (dest_path == "-") std::signal(SIGPIPE, SIG_IGN);
        copied = engine::copy_from_container(store, src_container, src_path, dest_path, options, STDOUT_FILENO);
    } else {
        copied = engine::copy_to_container(store, dest_container, src_path, dest_path, options, STDIN_FILENO);
    }
    if (!copied) return report(copied.error());
    // Docker's line, only for a terminal and not with a tar stream.
    if (!f.quiet && src_path != "-" && dest_path != "-" && ::isatty(STDERR_FILENO))
        std::fprintf(stderr, "Successfully copied %s to %s\n", human_bytes(*copied, 4).c_str(), f.dest.c_str());
    return 0;
}

}  // namespace

void add_cp_command(CLI::App& app, const GlobalOptions& globals, int& exit_code) {
    auto* cmd = add_command(app, globals, 
        "cp", "copy files between a container and the host: CONTAINER:SRC DEST|-, or SRC|- CONTAINER:DEST");
    if (!cmd) return;
    auto f = std::make_shared<CpFlags>();
    cmd->add_flag("-a,--archive", f->archive, "archive mode (copy all uid/gid information)");
    cmd->add_flag("-L,--follow-link", f->follow_link, "always follow symbol link in SRC_PATH");
    cmd->add_flag("-q,--quiet", f->quiet,
                  "suppress progress output during copy (suppressed anyway without a terminal)");
    cmd->add_option("SRC", f->src, "CONTAINER:SRC_PATH, or SRC_PATH on the host, or - (a tar on stdin)")->required();
    cmd->add_option("DEST", f->dest, "DEST_PATH on the host, or - (a tar on stdout), or CONTAINER:DEST_PATH")
        ->required();
    on_run(cmd, exit_code, [&globals, f] { return run_cp(globals, *f); });
}

}  // namespace skiff::cli
