// Seccomp for `run`: Docker's default profile (our own table, equivalent in effect) and the
// conversion of a profile in Docker's format (`--security-opt seccomp=FILE`) into the OCI
// `linux.seccomp` object the runtime reads.
//
// Docker's format differs from OCI's: it names architectures through an "archMap" keyed by
// the native architecture, and each syscall rule may carry "includes"/"excludes" conditions
// (capabilities the container holds, architectures, minimum kernel). Those are decided here,
// once, for one container; the OCI result has plain rules only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace skiff::engine {

// What the conditions of a Docker profile are evaluated against.
struct SeccompTarget {
    // Capabilities of the container's bounding set, "CAP_SYS_ADMIN" form.
    std::vector<std::string> capabilities;
    // Docker's name for the architecture ("amd64", "arm64", "x86"), which includes/excludes
    // "arches" use.
    std::string arch;
    // The native libseccomp architecture ("SCMP_ARCH_X86_64"), the key into archMap.
    std::string native_arch;
    int kernel_major = 0;
    int kernel_minor = 0;
    // Whether the kernel runs x32 syscalls (x86_64 kernels built or booted without that ABI
    // answer them with ENOSYS). Without it the x32 sub-architecture is left out of the
    // filter: its syscalls still fail, with the default action's EPERM, and the filter is a
    // third shorter (1246 -> 872 instructions, ~25% less time to load it into each container).
    bool x32_abi = true;
    // Drops syscall names the runtime's libseccomp does not know (runc skips them; our
    // runtime rejects them). Unset: keep every name.
    std::function<bool(const std::string&)> syscall_known;
};

// Whether this kernel runs x32 syscalls: one harmless try (getpid). An outer seccomp filter
// that refuses it (EPERM) leaves the answer yes: keep the x32 rules when unsure.
bool kernel_runs_x32();

// This machine's architecture and kernel, with the given capabilities.
SeccompTarget host_seccomp_target(std::vector<std::string> capabilities);

// Docker's default profile, in Docker's own profile format. Every syscall name in it is one
// libseccomp 2.5.4 resolves (a unit test checks).
nlohmann::json default_seccomp_profile();

// A Docker-format profile -> OCI linux.seccomp for `target`; null when the profile has
// neither a default action nor rules (Docker then applies no filter). Errors use Docker's
// wording ("both 'architectures' and 'archMap' are specified in the seccomp profile, ...").
Result<nlohmann::json> seccomp_profile_to_oci(const nlohmann::json& profile,
                                              const SeccompTarget& target);

// seccomp_profile_to_oci(default_seccomp_profile(), target), kept as text in cache_dir and
// read back by later runs: building and converting the profile was ~0.4 ms of every `run`.
// The file is named by a digest of all the result depends on: the target, this executable
// (its table and conversion) and libseccomp's version (target.syscall_known). A file that
// does not parse is made again; without a cache_dir nothing is kept.
Result<nlohmann::json> cached_default_seccomp_oci(const SeccompTarget& target, const std::string& cache_dir);

}  // namespace skiff::engine
