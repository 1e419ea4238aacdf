#include "common/mount.hpp"

#include <sys/mount.h>

namespace skiff {

Result<ScopedMount> ScopedMount::mount(const std::string& source, const std::string& target,
                                       const std::string& fstype, unsigned long flags,
                                       const std::string& data) {
    if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) != 0)
        return sys_error("mount " + source + " on " + target);
    return ScopedMount(target);
}

void ScopedMount::unmount() {
    if (target_.empty()) return;
    ::umount2(target_.c_str(), MNT_DETACH);
    target_.clear();
}

}  // namespace skiff
