#include "runtime/cloned_binary.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/fd.hpp"
#include "runtime/exec_stub_bytes.hpp"

extern char** environ;

namespace skiff::runtime {

namespace {
constexpr int kSizeSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW;

// F_SEAL_WRITE fails with EBUSY while the kernel still holds a reference to
// one of the memfd's pages (seen in CI right after the copy). F_SEAL_FUTURE_WRITE
// never does and is enough here: nobody has the copy mapped writable, so it
// forbids every write that could follow. F_SEAL_WRITE is added when it can be.
Status seal_memfd(int fd, const char* what) {
    auto failed = [what] { return sys_error(std::string("seal ") + what); };
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) != 0) return failed();
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (::fcntl(fd, F_ADD_SEALS, kSizeSeals | F_SEAL_WRITE) == 0) return {};
        if (errno != EBUSY) return failed();
        ::usleep(1000);
    }
    if (::fcntl(fd, F_ADD_SEALS, kSizeSeals) != 0) return failed();
    return {};
}
}  // namespace

bool running_from_sealed_copy() {
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) return false;
    int seals = ::fcntl(self.get(), F_GET_SEALS);
    return seals >= 0 && (seals & kSizeSeals) == kSizeSeals && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0;
}

Status reexec_from_sealed_copy(char** argv) {
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) return sys_error("open /proc/self/exe");
    struct stat st;
    if (::fstat(self.get(), &st) != 0) return sys_error("stat /proc/self/exe");
    UniqueFd copy(::memfd_create("skiff-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!copy) return sys_error("memfd_create for the sealed runtime copy");
    off_t offset = 0;
    while (offset < st.st_size) {
        ssize_t n = ::sendfile(copy.get(), self.get(), &offset, static_cast<size_t>(st.st_size - offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("copy the runtime binary into a memfd");
        }
        if (n == 0) break;
    }
    SKIFF_CHECK(seal_memfd(copy.get(), "the runtime copy"));
    ::fexecve(copy.get(), argv, environ);
    return sys_error("execute the sealed runtime copy");
}

Result<UniqueFd> sealed_exec_stub_if_needed() {
    if (running_from_sealed_copy()) return UniqueFd();
    UniqueFd stub(::memfd_create("skiff-exec-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!stub) return sys_error("memfd_create for the exec stub");
    const unsigned char* data = kExecStub;
    size_t left = sizeof kExecStub;
    while (left > 0) {
        ssize_t n = ::write(stub.get(), data, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("write the exec stub");
        }
        data += n;
        left -= static_cast<size_t>(n);
    }
    SKIFF_CHECK(seal_memfd(stub.get(), "the exec stub"));
    return stub;
}

void exec_container_process(const std::string& path, char* const argv[], char* const envp[], int stub_fd) {
    if (stub_fd >= 0) {
        // stub PATH ARGV0 ARGS...
        std::vector<char*> stub_argv{const_cast<char*>("skiff-exec-stub"), const_cast<char*>(path.c_str())};
        for (char* const* a = argv; *a; ++a) stub_argv.push_back(*a);
        stub_argv.push_back(nullptr);
        ::execveat(stub_fd, "", stub_argv.data(), envp, AT_EMPTY_PATH);
        // A seccomp profile may allow execve but not execveat: the same memfd by path.
        std::string by_path = "/proc/self/fd/" + std::to_string(stub_fd);
        ::execve(by_path.c_str(), stub_argv.data(), envp);
        dprintf(STDERR_FILENO, "skiff: exec %s: through the exec stub: %s\n", path.c_str(), strerror(errno));
        _exit(126);
    }
    ::execve(path.c_str(), argv, envp);
    int err = errno;
    dprintf(STDERR_FILENO, "skiff-runtime: exec %s: %s\n", path.c_str(), strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

}  // namespace skiff::runtime
