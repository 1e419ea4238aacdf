// process seccomp filters from linux.seccomp, built with libseccomp.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "common/result.hpp"
#include "runtime/spec.hpp"

namespace skiff::runtime {

// An opaque compiled filter (owns a scmp_filter_ctx).
class SeccompFilter {
public:
    SeccompFilter() = default;
    explicit SeccompFilter(void* ctx) : ctx_(ctx) {}
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;
    SeccompFilter(SeccompFilter&& o) noexcept
        : ctx_(o.ctx_), has_notify_(o.has_notify_), program_(std::move(o.program_)), kernel_flags_(o.kernel_flags_) {
        o.ctx_ = nullptr;
        o.has_notify_ = false;
    }
    SeccompFilter& operator=(SeccompFilter&& o) noexcept;
    ~SeccompFilter();

    // Human-readable filter (libseccomp's PFC form); used by tests and `--debug`.
    Result<std::string> export_pfc() const;
    // Install into the calling thread (seccomp_load). Returns the listener fd when the
    // filter has SCMP_ACT_NOTIFY rules, else -1.
    Result<int> load();
    bool needs_notify_listener() const { return has_notify_; }

    void* ctx() const { return ctx_; }
    void set_has_notify(bool v) { has_notify_ = v; }

    // The BPF program as the kernel takes it, compiled ahead (from a cache or exported from
    // libseccomp), with SECCOMP_FILTER_FLAG_* flags: load() then installs it with one
    // seccomp(2) call instead of generating it in the container's process.
    void set_program(std::vector<struct sock_filter> program, unsigned kernel_flags) {
        program_ = std::move(program);
        kernel_flags_ = kernel_flags;
    }
    const std::vector<struct sock_filter>& program() const { return program_; }

private:
    void* ctx_ = nullptr;
    bool has_notify_ = false;
    std::vector<struct sock_filter> program_;
    unsigned kernel_flags_ = 0;
};

// Build a filter from the spec. Errors name the field, e.g.
// "linux.seccomp.syscalls[3].names[1]: unknown syscall \"fooo\"".
// With a cache_dir, the compiled BPF program is kept there under the sha256 of the profile
// (and of this libseccomp and architecture), and a later build of the same profile reads it
// instead of compiling: Docker's default profile costs libseccomp ~10 ms per container.
// Filters with SCMP_ACT_NOTIFY are never cached (they need libseccomp's listener).
Result<SeccompFilter> build_seccomp_filter(const Seccomp& seccomp, const std::string& cache_dir = "");

// Validate the names in a seccomp section without building (used by parse-time checks).
Status validate_seccomp(const Seccomp& seccomp);

// Actions, operators, architectures and flags this build supports (for `features`).
std::vector<std::string> seccomp_known_actions();
std::vector<std::string> seccomp_known_operators();
std::vector<std::string> seccomp_known_architectures();
std::vector<std::string> seccomp_known_flags();

}  // namespace skiff::runtime
