// ScopedMount: unmounts (lazily, MNT_DETACH) on destruction unless released.
// Used where a mount must not outlive a failed operation (overlay rootfs, bind targets).
#pragma once

#include <string>
#include <utility>

#include "common/result.hpp"

namespace skiff {

class ScopedMount {
public:
    ScopedMount() = default;
    explicit ScopedMount(std::string target) : target_(std::move(target)) {}
    ScopedMount(const ScopedMount&) = delete;
    ScopedMount& operator=(const ScopedMount&) = delete;
    ScopedMount(ScopedMount&& o) noexcept : target_(std::exchange(o.target_, {})) {}
    ScopedMount& operator=(ScopedMount&& o) noexcept {
        if (this != &o) {
            unmount();
            target_ = std::exchange(o.target_, {});
        }
        return *this;
    }
    ~ScopedMount() { unmount(); }

    // mount(2), returning a guard for the new mount.
    static Result<ScopedMount> mount(const std::string& source, const std::string& target,
                                     const std::string& fstype, unsigned long flags,
                                     const std::string& data);

    const std::string& target() const { return target_; }
    // Keep the mount: the caller takes over its lifetime.
    std::string release() { return std::exchange(target_, {}); }
    void unmount();

private:
    std::string target_;
};

}  // namespace skiff
