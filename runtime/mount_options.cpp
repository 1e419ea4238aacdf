#include "runtime/mount_options.hpp"

// glibc >= 2.36 defines MOUNT_ATTR_* here too; including <linux/mount.h> as well would
// redefine them.
#include <sys/mount.h>

#include <string_view>

namespace skiff::runtime {

namespace {

// A flag an option sets, or clears when `clears` is true ("rw" clears MS_RDONLY).
struct FlagOption {
    std::string_view name;
    bool clears;
    unsigned long flag;
};

// runc's mountFlags table (libcontainer/specconv). "acl"/"noacl" are deliberately absent,
// as in current runc (opencontainers/runc#3738): MS_POSIXACL is kernel-internal, so they go to
// the filesystem as data, where ext4 and friends understand them.
constexpr FlagOption kFlagOptions[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"sync", false, MS_SYNCHRONOUS},
};

struct PropagationOption {
    std::string_view name;
    unsigned long flags;
};

constexpr PropagationOption kPropagationOptions[] = {
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
};

// mount_setattr(2) attributes applied to the whole subtree ("rro" = recursive read-only).
struct RecursiveAttrOption {
    std::string_view name;
    bool clears;
    unsigned long long attr;
};

constexpr RecursiveAttrOption kRecursiveAttrOptions[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

template <typename Table>
auto find_option(const Table& table, std::string_view name) -> decltype(&table[0]) {
    for (const auto& entry : table)
        if (entry.name == name) return &entry;
    return nullptr;
}

// The atime attributes are one field, not independent bits: mount_setattr(2) requires
// MOUNT_ATTR__ATIME in attr_clr whenever an atime mode is set (MOUNT_ATTR_RELATIME is 0).
bool is_atime_attr(unsigned long long attr) {
    return (attr & MOUNT_ATTR__ATIME) == attr;
}

}  // namespace

Result<MountOptions> parse_mount_options(const std::vector<std::string>& options) {
    MountOptions parsed;
    for (const auto& option : options) {
        if (option.empty()) return fail("empty mount option");

        // Later options win over earlier ones ("ro,rw" is rw), as with mount(8).
        if (const auto* f = find_option(kFlagOptions, option)) {
            if (f->clears) {
                parsed.flags &= ~f->flag;
                parsed.clear_flags |= f->flag;
            } else {
                parsed.flags |= f->flag;
                parsed.clear_flags &= ~f->flag;
            }
        } else if (const auto* p = find_option(kPropagationOptions, option)) {
            parsed.propagation.push_back(p->flags);
        } else if (const auto* r = find_option(kRecursiveAttrOptions, option)) {
            if (r->clears) {
                parsed.recursive_attr_clr |= r->attr;
                parsed.recursive_attr_set &= ~r->attr;
            } else {
                parsed.recursive_attr_set |= r->attr;
                parsed.recursive_attr_clr &= ~r->attr;
                if (is_atime_attr(r->attr)) parsed.recursive_attr_clr |= MOUNT_ATTR__ATIME;
            }
        } else if (option == "tmpcopyup") {
            parsed.tmpcopyup = true;
        } else if (option == "defaults") {
            // mount(8)'s "use the default flags": nothing to set, and no filesystem accepts it
            // as data.
        } else if (option == "idmap" || option == "ridmap") {
            return fail("mount option \"" + option + "\": id-mapped mounts are not supported");
        } else {
            if (!parsed.data.empty()) parsed.data += ',';
            parsed.data += option;
        }
    }
    // Derived from the flags so "bind" after "rbind" stays recursive, matching what mount(2)
    // would do with the accumulated MS_BIND | MS_REC.
    parsed.bind = (parsed.flags & MS_BIND) != 0;
    parsed.recursive = parsed.bind && (parsed.flags & MS_REC) != 0;
    return parsed;
}

Result<unsigned long> parse_propagation(const std::string& value) {
    if (const auto* p = find_option(kPropagationOptions, value)) return p->flags;
    return fail("unknown mount propagation \"" + value + "\"");
}

}  // namespace skiff::runtime
