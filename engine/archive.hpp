// Images to and from files: save, load, import (design.md section 5).
//
// save:   docker-archive (manifest.json + repositories + <id>.json + <layer>/layer.tar, what
//         `docker save` wrote before 25) or oci-archive (an OCI image layout in a tar:
//         oci-layout, index.json with org.opencontainers.image.ref.name annotations, blobs/).
// load:   either of those, and the combined layout Docker 25+ writes (OCI layout whose
//         index.json is accompanied by manifest.json), from a file or stdin, plain or
//         gzip/zstd-compressed. Every blob is verified against its digest; the images are
//         recorded only after all layers are unpacked.
// import: a root filesystem tarball (plain/gzip/zstd) becomes a one-layer image, with
//         Dockerfile-style --change instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
//         WORKDIR, VOLUME, STOPSIGNAL, ONBUILD refused) and a commit message.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "engine/store.hpp"
#include "image/manifest.hpp"
#include "image/store.hpp"

namespace skiff::engine {

enum class ArchiveFormat { docker_archive, oci_archive };

// Write `images` (references or ids, as `skiff save` takes them) to out_fd. Tags given by
// name are kept in the archive; images given by id are saved untagged.
Status save_images(const Store& store, const std::vector<std::string>& images,
                   ArchiveFormat format, int out_fd);

struct LoadedImage {
    std::string id;
    std::vector<std::string> repo_tags;  // full references
};
// Read an archive from in_fd (a file or a pipe; read once, front to back where the format
// allows, spooled to a temp dir under the store root otherwise).
Result<std::vector<LoadedImage>> load_images(const Store& store, int in_fd);

// Apply one Dockerfile-style instruction ("CMD [\"sh\"]", "ENV A=b C=d", "EXPOSE 80/tcp",
// "WORKDIR /app", ...) to `config`. Err names the instruction: "--change: unknown instruction X".
Status apply_change(image::RunConfig& config, std::string_view instruction);

struct ImportOptions {
    std::vector<std::string> changes;
    std::string message;        // history comment
    std::string tag;            // full reference, or "" for an untagged image
    image::Platform platform;   // default: host
};
Result<image::ImageRecord> import_rootfs(const Store& store, int in_fd, const ImportOptions& options);

}  // namespace skiff::engine
