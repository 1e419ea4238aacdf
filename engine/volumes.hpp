// Local volumes (design.md section 4): `volume create/ls/inspect/rm/prune` and the volumes
// containers mount.
//
//   <root>/volumes/<name>/_data         the volume's files (bind-mounted into containers)
//   <root>/volumes/<name>/volume.json   {Name, Driver, Mountpoint, CreatedAt, Labels, Scope,
//                                        Options}, written atomically
//   <root>/volumes/.lock                flock: create, remove and prune
//   <root>/volumes/.removing-<name>-*   a volume being deleted (never listed)
//
// A directory without volume.json (made before volume.json existed) is still a volume,
// created when its directory was. A volume is in use while any container record (whatever
// its state) lists it among its mounts, as in Docker.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "engine/store.hpp"

namespace skiff::engine {

// Docker marks the volumes it makes for `-v /path` and image VOLUMEs with this label; only
// those go with `rm -v` and a plain `volume prune`.
inline constexpr std::string_view kAnonymousVolumeLabel = "com.docker.volume.anonymous";

struct Volume {
    std::string name;
    std::string driver = "local";
    std::string mountpoint;  // <root>/volumes/<name>/_data
    std::string created_at;  // RFC 3339
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> options;
    std::string scope = "local";

    // Labelled anonymous, or (no volume.json) named by 64 hex digits as the old code did.
    bool anonymous = false;
};

// Docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]+ (so at least two characters). Err with Docker's
// wording "\"NAME\" includes invalid characters for a local volume name, ...".
Status validate_volume_name(std::string_view name);

// For `run -v NAME:/dst` and image VOLUMEs: the volume's _data directory, creating the volume
// (with volume.json) when missing. An empty name gets a random 64-hex name, labelled
// anonymous, and is set in `name`.
Result<std::string> ensure_volume(const Store& store, std::string& name);

// `volume create`: an existing volume of that name is returned as is (Docker does the same);
// an empty name gets a random one (not anonymous: the user asked for it).
Result<Volume> create_volume(const Store& store, std::string name,
                             const std::map<std::string, std::string>& labels);

// Err "No such volume: NAME" (ENOENT).
Result<Volume> find_volume(const Store& store, std::string_view name);
// Sorted by name.
Result<std::vector<Volume>> list_volumes(const Store& store);

// Docker's `volume inspect` object.
nlohmann::json volume_json(const Volume& volume);

// Volume name -> ids of the containers whose records mount it (record order).
std::map<std::string, std::vector<std::string>> volume_users(const Store& store);

// `volume rm`: Err "remove NAME: volume is in use - [ID, ...]" while a container
// mounts it, "No such volume: NAME" (ENOENT) when it does not exist.
Status remove_volume(const Store& store, std::string_view name);

struct VolumeFilters {
    std::optional<bool> dangling;
    std::vector<std::string> names;    // substrings of the name (Docker matches loosely)
    std::vector<std::string> labels;   // "key" or "key=value"
    std::vector<std::string> drivers;
};
// "dangling=true", "name=x", "label=k[=v]", "driver=local"; anything else is an error.
Status add_volume_filter(VolumeFilters& filters, std::string_view text);
// `in_use`: mounted by any container.
bool volume_matches(const Volume& volume, bool in_use, const VolumeFilters& filters);

struct VolumePruneReport {
    std::vector<std::string> deleted;  // names
    int64_t reclaimed = 0;             // bytes of their files
};
// Unused anonymous volumes; every unused volume with `all` (Docker 23+).
Result<VolumePruneReport> prune_volumes(const Store& store, bool all);

// Bytes of the files under path (symlinks not followed, hard links counted once, other
// mounts not crossed), like Docker's directory.Size. 0 when it does not exist.
int64_t directory_size(const std::string& path);

}  // namespace skiff::engine
