// Rootless networking through pasta (Debian's passt): start_pasta, stop_pasta,
// host_default_gateway, resolve_host_ports.
#include <fcntl.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/pidfd.hpp"
#include "network/network.hpp"
#include "network/ports.hpp"

namespace skiff::network {

namespace {

// pasta's -t/-u list: "8080:80,127.0.0.1/8081:81", or "none".
std::string port_spec(const std::vector<PortMapping>& ports, const std::string& protocol) {
    std::string out;
    for (const auto& p : ports) {
        if (p.protocol != protocol) continue;
        if (!out.empty()) out += ",";
        if (!p.host_ip.empty()) out += p.host_ip + "/";
        out += std::to_string(p.host_port) + ":" + std::to_string(p.container_port);
    }
    return out.empty() ? "none" : out;
}

// What pasta said on stderr, without its complaints about a missing syslog.
std::string drain_messages(int fd) {
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, size_t(n));
    std::istringstream lines(text);
    std::string line, out;
    while (std::getline(lines, line)) {
        if (line.empty() || line.find("bytes to syslog") != std::string::npos) continue;
        if (!out.empty()) out += "; ";
        out += line;
    }
    return out;
}

}  // namespace

Result<std::vector<PortMapping>> resolve_host_ports(const std::vector<PortMapping>& ports) {
    return resolve_ports(ports, {});
}

Result<pid_t> start_pasta(const std::string& netns_path, const std::vector<PortMapping>& ports) {
    for (const auto& p : ports)
        if (p.host_port == 0 || p.host_port_end != 0)
            return fail("rootless networking: host port of " + std::to_string(p.container_port) + "/" + p.protocol +
                        " not decided (resolve_host_ports first)");
    // pasta writes its pid here once the namespace is configured, then forks to background:
    // when the launcher exits 0 the network is ready and the file names the daemon.
    const char* tmp = std::getenv("TMPDIR");
    std::string pid_path = std::string(tmp && *tmp ? tmp : "/tmp") + "/skiff-pasta-XXXXXX";
    UniqueFd pid_file(::mkostemp(pid_path.data(), O_CLOEXEC));
    if (!pid_file) return sys_error("create a pid file for pasta");
    struct Unlink {
        const std::string& path;
        ~Unlink() { ::unlink(path.c_str()); }
    } unlink_pid_file{pid_path};

    std::vector<std::string> args = {"pasta", "--config-net", "--quiet", "--netns", netns_path,
                                     "--pid", pid_path, "-t", port_spec(ports, "tcp"), "-u", port_spec(ports, "udp"),
                                     // nothing from the namespace to the host's own ports
                                     "-T", "none", "-U", "none"};
    // As root pasta would switch to nobody, who may not enter a root-owned namespace.
    if (::geteuid() == 0) args.insert(args.end(), {"--runas", "0"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return sys_error("pipe for pasta");
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork for pasta");
    if (child == 0) {
        int null_fd = ::open("/dev/null", O_RDWR);
        if (null_fd < 0) ::_exit(127);
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(null_fd, STDOUT_FILENO);
        ::dup2(write_end.get(), STDERR_FILENO);
        ::execvp("pasta", argv.data());
        static constexpr char kMissing[] = "pasta not found (install passt)\n";
        (void)!::write(STDERR_FILENO, kMissing, sizeof kMissing - 1);
        ::_exit(127);
    }
    write_end.reset();
    int status = 0;
    while (::waitpid(child, &status, 0) < 0)
        if (errno != EINTR) return sys_error("wait for pasta");
    std::string messages = drain_messages(read_end.get());
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("rootless networking: pasta failed" + (messages.empty() ? std::string() : ": " + messages));
    SKIFF_TRY(text, read_file_limited(pid_path, 64));
    char* end = nullptr;
    long pid = std::strtol(text.c_str(), &end, 10);
    if (pid <= 0 || end == text.c_str()) return fail("rootless networking: pasta wrote no pid");
    return pid_t(pid);
}

void stop_pasta(pid_t pid) {
    if (pid <= 0) return;
    // A pidfd first: the name check and the signals then reach this process, never a
    // later one with the same pid.
    UniqueFd pidfd = open_pidfd(pid);
    if (!pidfd) return;
    // One binary: Debian's pasta links to passt, and passt.avx2 runs where the CPU has it.
    auto comm = read_file_limited("/proc/" + std::to_string(pid) + "/comm", 64);
    if (!comm || !(comm->starts_with("pasta") || comm->starts_with("passt"))) return;
    // Wait for it: until it has exited its listeners hold the host ports, and a `start`
    // right after `stop` would find them taken.
    auto signal_and_wait = [&](int signal, int timeout_ms) {
        return !signal_pidfd(pidfd.get(), signal) || wait_pidfd_exit(pidfd.get(), timeout_ms);
    };
    if (!signal_and_wait(SIGTERM, 2000)) signal_and_wait(SIGKILL, 1000);
}

Result<std::string> host_default_gateway() {
    std::ifstream routes("/proc/net/route");
    if (!routes) return sys_error("open /proc/net/route");
    std::string line;
    std::getline(routes, line);  // header
    while (std::getline(routes, line)) {
        std::istringstream fields(line);
        std::string interface, destination, gateway;
        if (!(fields >> interface >> destination >> gateway)) continue;
        if (destination != "00000000") continue;
        // Both are the address's bytes in memory order, as hex.
        uint32_t raw = uint32_t(std::strtoul(gateway.c_str(), nullptr, 16));
        char text[INET_ADDRSTRLEN];
        in_addr address{raw};
        if (!::inet_ntop(AF_INET, &address, text, sizeof text)) continue;
        return std::string(text);
    }
    return fail("the host has no IPv4 default route (host-gateway has no address)");
}

}  // namespace skiff::network
