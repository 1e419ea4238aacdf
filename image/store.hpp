// The image store on disk (design.md section 4):
//
//   <root>/blobs/sha256/<hex>     manifests, configs, compressed layers; a blob is only ever
//                                 visible under its name once its bytes hashed to that name
//   <root>/blobs/tmp/             blobs being written (temp names; removed on failure)
//   <root>/images.json            the image records, replaced atomically (tmp + rename)
//   <root>/store.lock             flock: shared by pulls/loads/imports while they add content,
//                                 exclusive for garbage collection (rmi, prune), so a layer a
//                                 pull has just unpacked is never collected before it is recorded
//   <root>/images.lock            flock: serialises read-modify-write of images.json
//
// Nothing here assumes root or a fixed path: the root comes from the caller (--root).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/result.hpp"

namespace skiff::image {

// A held flock on a file under the store root; released by the destructor.
class StoreLock {
public:
    enum class Mode { shared, exclusive };
    // Blocks until the lock is granted. Creates the lock file when missing.
    static Result<StoreLock> acquire(const std::string& path, Mode mode);
    StoreLock(StoreLock&&) noexcept = default;
    StoreLock& operator=(StoreLock&&) noexcept = default;

private:
    explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

class BlobStore {
public:
    explicit BlobStore(std::string root);  // the store root, not the blobs dir

    // "<root>/blobs/sha256/<hex>" for "sha256:<hex>" (digest already validated by the caller).
    std::string path(std::string_view digest) const;
    bool has(std::string_view digest) const;
    // Whole blob, refused when larger than max_bytes; re-verified against its name so a
    // corrupted store is reported, never used.
    Result<std::string> read(std::string_view digest, size_t max_bytes) const;
    // Opened read-only for streaming (push, save, unpack of a blob already present).
    Result<UniqueFd> open(std::string_view digest) const;
    Result<int64_t> size(std::string_view digest) const;

    // A blob being written: bytes are hashed as they arrive; commit() checks digest and size
    // (when expected_size >= 0), fsyncs and renames into place. Destroyed without commit, or
    // after a failed commit, the temp file is removed.
    class Writer {
    public:
        Writer(Writer&&) noexcept;
        Writer& operator=(Writer&&) noexcept;
        ~Writer();
        Status write(const void* data, size_t size);
        int64_t written() const { return written_; }
        // Err "digest mismatch for <expected>: got sha256:<actual>" / "size mismatch ...".
        Status commit(std::string_view expected_digest, int64_t expected_size = -1);
        // For content whose digest is not known up front (import, commit): commit under the
        // digest the bytes hashed to, returned.
        Result<std::string> commit_computed();

    private:
        friend class BlobStore;
        Writer(std::string temp_path, std::string blobs_dir, UniqueFd fd);
        std::string temp_path_;
        std::string blobs_dir_;
        UniqueFd fd_;
        Sha256 hash_;
        int64_t written_ = 0;
        bool done_ = false;
    };
    Result<Writer> begin_write() const;
    // Write a small blob in one go (manifests, configs), verified against expected_digest.
    Status put(std::string_view bytes, std::string_view expected_digest) const;
    // Same, digest computed; returns "sha256:<hex>".
    Result<std::string> put_computed(std::string_view bytes) const;

    Status remove(std::string_view digest) const;
    // Every blob digest present ("sha256:<hex>").
    Result<std::vector<std::string>> list() const;
    // Re-hash the blob; error says what it hashed to.
    Status verify(std::string_view digest) const;
    // Remove temp files left by a killed writer (older than a minute, so a live pull's are kept).
    Status remove_stale_temps() const;

private:
    std::string root_;
};

// One image: identified by its config digest (the image id, as in Docker).
struct ImageRecord {
    std::string id;               // "sha256:<hex>" of the config blob
    std::string manifest_digest;  // the manifest stored for this image (blobs/)
    std::string manifest_media_type;
    std::vector<std::string> repo_tags;     // "docker.io/library/busybox:latest"
    std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:<manifest>"
    std::vector<std::string> layers;        // chain ids, lowest first
    std::vector<std::string> diff_ids;      // as in the config, lowest first
    std::string parent;           // image id this one was committed/built from, or ""
    std::string created;          // the config's "created"
    std::string added;            // RFC 3339 time this store recorded it
    int64_t size = 0;             // unpacked bytes of all layers (Docker's "Size")
};

// images.json: every ImageRecord, keyed by id. Mutations take images.lock, re-read the file,
// apply, and replace it atomically, so parallel CLI invocations never lose an update.
class ImageStore {
public:
    explicit ImageStore(std::string root);

    Result<std::vector<ImageRecord>> list() const;
    // By full reference ("docker.io/library/busybox:latest" or "name@sha256:<manifest>"), by
    // image id ("sha256:<hex>" or "<hex>") or by a unique id prefix of at least 3 hex digits.
    // Err "No such image: <text>" (code ENOENT) / "ambiguous image id prefix <text>".
    Result<ImageRecord> find(std::string_view text) const;

    // Insert or merge: tags/digests of `record` are added (and taken away from any other
    // image that had them, which becomes dangling when it has none left).
    Status add(const ImageRecord& record) const;
    // Add a tag (full reference) to image `id`, moving it from any other image.
    Status tag(std::string_view id, std::string_view full_reference) const;
    // Remove one tag or digest reference; returns the record after the change.
    Result<ImageRecord> untag(std::string_view full_reference) const;
    Status remove(std::string_view id) const;

private:
    std::string root_;
};

}  // namespace skiff::image
