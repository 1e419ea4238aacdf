// Unpacked layers, shared by every image that uses them (design.md section 4):
//
//   <root>/layers/<chain-hex>/diff/        the layer's files (overlayfs lower dir form)
//   <root>/layers/<chain-hex>/layer.json   LayerRecord
//   <root>/layers/.tmp-<chain-hex>-<pid>/  a layer being unpacked; renamed when complete
//
// chain id (OCI image spec): chain(L0) = diff_id(L0); chain(Ln) = sha256(chain(Ln-1) + " " +
// diff_id(Ln)). Two images with the same layers in the same order share the directories.
// A layer is visible under its name only once fully unpacked and its diff id verified.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "overlay/unpack.hpp"

namespace skiff {

struct LayerRecord {
    std::string chain_id;   // "sha256:<hex>"
    std::string diff_id;    // "sha256:<hex>" of the uncompressed tar
    std::string parent;     // chain id of the layer below, "" for the first
    int64_t size = 0;       // bytes of file content unpacked
    // Unpacked without privilege: whiteouts/opaque dirs recorded here instead of as
    // overlayfs char devices/xattrs, and owners not applied (rootless run uses these).
    bool privileged = true;
    std::vector<std::string> whiteouts;
    std::vector<std::string> opaque_dirs;
    // Rootless overlay: the recorded whiteouts were made in diff/ as 0/0 char devices (which
    // Linux >= 5.8 lets anyone make) and opaque dirs as user.overlay.opaque=y (what overlayfs
    // reads with userxattr), by materialize_markers. Lower dirs then mount as they are.
    bool markers_made = false;
};

// chain id of diff_id on top of parent ("" for the bottom layer).
std::string chain_id(std::string_view parent_chain_id, std::string_view diff_id);
// chain ids of a whole stack of diff ids, lowest first.
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

class LayerStore {
public:
    explicit LayerStore(std::string root);  // the store root (layers/ is created below it)

    bool has(std::string_view chain_id) const;
    // "<root>/layers/<hex>/diff": an overlay lower dir.
    std::string diff_path(std::string_view chain_id) const;
    Result<LayerRecord> get(std::string_view chain_id) const;
    Result<std::vector<LayerRecord>> list() const;

    // Unpack the (decompressed or compressed, libarchive detects) tar read from fd as the
    // layer diff_id on top of parent. Fails, leaving nothing, when the stream's diff id is not
    // diff_id. When another process completed the same layer first, theirs is kept and this
    // returns it (concurrent pulls of one image are safe).
    // `before_publish`, when given, is asked once the files are complete and checked: an error
    // from it (pull: the compressed blob failed its digest) throws the unpacked layer away.
    Result<LayerRecord> unpack(int fd, std::string_view diff_id, std::string_view parent_chain_id,
                               const UnpackOptions& options = {},
                               const std::function<Status()>& before_publish = {});
    // Record an already unpacked directory (commit, import): moved into place.
    Result<LayerRecord> adopt(const std::string& unpacked_dir, std::string_view diff_id,
                              std::string_view parent_chain_id, const LayerStats& stats);

    // An unprivileged layer's recorded whiteouts and opaque dirs made in its diff/ for a
    // rootless overlay mount (userxattr), once: markers_made is then saved in layer.json.
    // Nothing to do for privileged layers or when already made. Safe to race with itself.
    Result<LayerRecord> materialize_markers(std::string_view chain_id);

    Status remove(std::string_view chain_id);
    // Remove .tmp-* directories whose pid no longer lives (a killed pull).
    Status remove_stale_temps();

private:
    std::string root_;
};

}  // namespace skiff
