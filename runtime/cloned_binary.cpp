#include "runtime/cloned_binary.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fd.hpp"

extern char** environ;

namespace skiff::runtime {

namespace {
constexpr int kRequiredSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

bool running_from_sealed_copy() {
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) return false;
    int seals = ::fcntl(self.get(), F_GET_SEALS);
    return seals >= 0 && (seals & kRequiredSeals) == kRequiredSeals;
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
    if (::fcntl(copy.get(), F_ADD_SEALS, kRequiredSeals) != 0) return sys_error("seal the runtime copy");
    ::fexecve(copy.get(), argv, environ);
    return sys_error("execute the sealed runtime copy");
}

}  // namespace skiff::runtime
