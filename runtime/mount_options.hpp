// Mount option strings from config.json ("ro", "nosuid", "rbind", "rprivate", "mode=755")
// turned into mount(2) flags, propagation changes and filesystem data.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace skiff::runtime {

struct MountOptions {
    unsigned long flags = 0;             // MS_RDONLY | MS_NOSUID | ... to set
    unsigned long clear_flags = 0;       // flags an option explicitly clears ("rw", "suid")
    std::vector<unsigned long> propagation;  // MS_PRIVATE | MS_REC ... applied in order
    bool bind = false;                   // "bind" or "rbind"
    bool recursive = false;              // "rbind"
    // mount_setattr(2) recursive attributes: "rro", "rnosuid", "rnodev", "rnoexec", ...
    unsigned long long recursive_attr_set = 0;
    unsigned long long recursive_attr_clr = 0;
    std::string data;                    // unknown options joined with ',' ("mode=755,size=65536k")
    bool tmpcopyup = false;              // crun's "tmpcopyup" (copy the target's contents into tmpfs)
};

// Unknown names go to `data` (they are the filesystem's own options). Never fails except on
// an empty option string.
Result<MountOptions> parse_mount_options(const std::vector<std::string>& options);

// rootfsPropagation value ("private", "rslave", ...) -> MS_* flags; error when unknown.
Result<unsigned long> parse_propagation(const std::string& value);

}  // namespace skiff::runtime
