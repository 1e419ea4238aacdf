// commit, diff, export, pause, unpause, restart, rename, top and port of containers.
#include "engine/container_extras.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <thread>

#include "common/clock.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "engine/archive.hpp"
#include "engine/container_network.hpp"
#include "engine/containers.hpp"
#include "image/manifest_write.hpp"
#include "image/reference.hpp"
#include "overlay/container_rootfs.hpp"
#include "overlay/layer_store.hpp"
#include "runtime/runtime.hpp"

namespace skiff::engine {
namespace {

constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";

// Files the engine bind-mounts into every container; their mount points sit in the upper dir.
constexpr std::string_view kEngineMounts[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};

bool is_live(const state::ContainerRecord& record) {
    return record.status == state::Status::running || record.status == state::Status::paused;
}

Result<state::ContainerRecord> find_settled(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    return reconcile(store, found);
}

// The layer's media type in an OCI manifest (an image pulled as Docker v2s2 has Docker's).
Result<std::string> oci_layer_type(const std::string& media_type) {
    if (media_type.starts_with("application/vnd.oci.")) return media_type;
    SKIFF_TRY(compression, image::layer_compression(media_type));
    std::string type;
    switch (compression) {
    case image::Compression::none: type = kOciLayerTar; break;
    case image::Compression::gzip: type = kOciLayerGzip; break;
    case image::Compression::zstd: type = kOciLayerZstd; break;
    }
    // Docker's foreign layers are OCI's nondistributable ones.
    if (media_type.find("foreign") != std::string::npos)
        type.replace(type.find("layer."), 6, "layer.nondistributable.");
    return type;
}

// Resumes a container that commit froze, however commit ends.
class PauseGuard {
public:
    PauseGuard(runtime::RuntimeOptions rt, std::string id) : rt_(std::move(rt)), id_(std::move(id)) {}
    PauseGuard(const PauseGuard&) = delete;
    PauseGuard& operator=(const PauseGuard&) = delete;
    ~PauseGuard() { (void)runtime::resume_container(rt_, id_); }

private:
    runtime::RuntimeOptions rt_;
    std::string id_;
};

// The upper dir as a tar+gzip blob in the store. write_layer_diff writes to an fd and the
// blob writer takes buffers: a pipe between them, the diff on its own thread.
std::set<std::string> engine_placeholders(const std::string& container_dir, const std::vector<std::string>& lowers);

Result<DiffResult> store_diff_blob(const Store& store, const std::string& upper, const std::set<std::string>& exclude) {
    SKIFF_TRY(writer, store.blobs.begin_write());
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    std::optional<Result<DiffResult>> diff;
    std::thread producer([&] {
        // A write after the reader gave up fails with EPIPE here; SIGPIPE is only ever aimed
        // at this thread and dies with it.
        sigset_t pipe_signal;
        sigemptyset(&pipe_signal);
        sigaddset(&pipe_signal, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
        DiffOptions options;
        options.compression = LayerCompression::gzip;
        options.exclude = exclude;
        diff = write_layer_diff(upper, write_end.get(), options);
        write_end.reset();
    });
    Status copied = ok();
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(read_end.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) copied = sys_error("read the layer diff");
        if (n > 0) copied = writer.write(buf, static_cast<size_t>(n));
        if (n <= 0 || !copied) break;
    }
    read_end.reset();
    producer.join();
    if (!copied) return std::unexpected(copied.error());
    if (!*diff) return std::unexpected(diff->error());
    SKIFF_TRY(digest, writer.commit_computed());
    if (digest != (*diff)->blob_digest)
        return fail("the layer blob hashed to " + digest + ", the diff said " + (*diff)->blob_digest);
    return **diff;
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

Result<std::string> commit_impl(const Store& store, std::string_view container, const CommitOptions& options) {
    std::vector<std::string> tags;
    if (!options.reference.empty()) {
        SKIFF_TRY(ref, image::parse_reference(options.reference));
        if (!ref.digest.empty()) return fail("refusing to create a tag with a digest reference");
        tags.push_back(ref.to_string());
    }
    auto containers = container_store(store);
    SKIFF_TRY(record, find_settled(store, container));
    SKIFF_TRY(base, store.images.find(record.image_id));
    SKIFF_TRY(config_body, store.blobs.read(base.id, image::kMaxConfigBytes));
    SKIFF_TRY(config, image::parse_image_config(config_body));
    // Changes before the diff: a typo should not cost a large layer.
    for (const auto& change : options.changes) SKIFF_CHECK(apply_change(config.config, change));
    SKIFF_TRY(manifest_body, store.blobs.read(base.manifest_digest, image::kMaxManifestBytes));
    SKIFF_TRY(parsed, image::parse_manifest(manifest_body));
    if (!std::holds_alternative<image::Manifest>(parsed))
        return fail("image " + base.id + " is recorded with an index, not a manifest");
    const auto& base_manifest = std::get<image::Manifest>(parsed);

    SKIFF_CHECK(store.prepare());
    SKIFF_TRY(adding, store.lock_for_adding());
    std::optional<DiffResult> layer;
    {
        // The record's lock keeps a start (or the monitor's exit bookkeeping) from changing
        // what we read; the freezer keeps a running container's processes from writing.
        SKIFF_TRY(held, containers.lock(record.id));
        SKIFF_TRY(current, containers.load(record.id));
        std::optional<PauseGuard> paused;
        // A container without a cgroup of its own (rootless here) has no freezer: committed
        // running, as podman does by default.
        const bool has_cgroup = current.config.is_object() && !current.config.value("cgroup", "").empty();
        if (options.pause && has_cgroup && current.status == state::Status::running) {
            SKIFF_CHECK(with_context(runtime::pause_container(runtime_options(store), current.id),
                                     "pause " + current.id.substr(0, 12)));
            paused.emplace(runtime_options(store), current.id);
        }
        // Without the engine's mount points: Docker keeps them in an init layer it never commits.
        SKIFF_TRY(lowers, image_lower_dirs(store, base));
        const std::string dir = containers.dir_of(current.id);
        SKIFF_TRY(diff, store_diff_blob(store, path_join(dir, "upper"), engine_placeholders(dir, lowers)));
        layer = diff;
    }

    std::string parent_chain = base.layers.empty() ? "" : base.layers.back();
    if (!store.layers.has(chain_id(parent_chain, layer->diff_id))) {
        // Unpacking the stored blob checks its diff id once more.
        SKIFF_TRY(fd, store.blobs.open(layer->blob_digest));
        SKIFF_CHECK(store.layers.unpack(fd.get(), layer->diff_id, parent_chain));
    }

    config.created = rfc3339_now();
    config.diff_ids.push_back(layer->diff_id);
    config.history.push_back({config.created, join(record.command), options.author, options.message, false});
    std::vector<image::Descriptor> layers;
    for (const auto& d : base_manifest.layers) {
        SKIFF_TRY(type, oci_layer_type(d.media_type));
        layers.push_back({type, d.digest, d.size, std::nullopt, d.annotations});
    }
    layers.push_back({std::string(kOciLayerGzip), layer->blob_digest, layer->blob_size, std::nullopt, {}});
    SKIFF_TRY(recorded, store_oci_image(store, config, layers, tags, base.id));
    return recorded.id;
}

// The destinations of the container's mounts, from its OCI spec.
std::vector<std::string> mount_destinations(const std::string& container_dir) {
    std::vector<std::string> out;
    auto body = read_file(path_join(container_dir, "config.json"));
    if (!body) return out;
    auto spec = nlohmann::json::parse(*body, nullptr, false);
    if (spec.is_discarded() || !spec.contains("mounts") || !spec["mounts"].is_array()) return out;
    for (const auto& m : spec["mounts"])
        if (m.is_object() && m.contains("destination") && m["destination"].is_string())
            out.push_back(m["destination"].get<std::string>());
    return out;
}

// lstat of rel under dir, no component followed when it is a symlink.
bool lstat_below(const std::string& dir, const std::string& rel, struct stat* st, UniqueFd* opened = nullptr) {
    UniqueFd cur(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string rest = rel;
    while (cur) {
        auto slash = rest.find('/');
        std::string name = rest.substr(0, slash);
        if (slash == std::string::npos) {
            if (::fstatat(cur.get(), name.c_str(), st, AT_SYMLINK_NOFOLLOW) != 0) return false;
            if (opened && S_ISDIR(st->st_mode))
                *opened = UniqueFd(::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            return true;
        }
        cur = UniqueFd(::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        rest = rest.substr(slash + 1);
    }
    return false;
}

// The mount points of the engine's files (kEngineMounts) the runtime made in the upper dir,
// relative to it ("etc/hosts"): empty files where the image has none; the writes of the
// container go to the files mounted over them. Docker keeps them in an init layer, so commit
// leaves them out of the layer and diff does not list them; so too a directory that holds
// nothing else ("etc" of an image without /etc).
std::set<std::string> engine_placeholders(const std::string& container_dir, const std::vector<std::string>& lowers) {
    std::set<std::string> out;
    const std::string upper = path_join(container_dir, "upper");
    auto mounts = mount_destinations(container_dir);
    std::set<std::string> parents;
    for (auto path : kEngineMounts) {
        if (std::find(mounts.begin(), mounts.end(), path) == mounts.end()) continue;
        std::string rel(path.substr(1));
        struct stat st, lower;
        // What the runtime made as a mount target: an empty file where the image has none.
        if (!lstat_below(upper, rel, &st) || !S_ISREG(st.st_mode) || st.st_size != 0) continue;
        if (lower_layers_have(lowers, rel, &lower)) continue;
        out.insert(rel);
        parents.insert(dirname_of(rel));
    }
    // A directory holding nothing else is left out too when the image has none (made only
    // for them) or has it with the same mode and owners (copied up only for them).
    for (std::string rel : parents) {
        for (; rel != "." && !rel.empty(); rel = dirname_of(rel)) {
            struct stat st, lower;
            UniqueFd fd;
            if (!lstat_below(upper, rel, &st, &fd) || !fd) break;
            char opaque[2];
            bool replaced = ::fgetxattr(fd.get(), "trusted.overlay.opaque", opaque, sizeof opaque) > 0 ||
                            ::fgetxattr(fd.get(), "user.overlay.opaque", opaque, sizeof opaque) > 0;
            if (replaced) break;
            if (lower_layers_have(lowers, rel, &lower) &&
                (!S_ISDIR(lower.st_mode) || lower.st_mode != st.st_mode || lower.st_uid != st.st_uid ||
                 lower.st_gid != st.st_gid))
                break;
            bool only_placeholders = true;
            int listing = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
            DIR* d = listing < 0 ? nullptr : ::fdopendir(listing);
            if (!d) {
                if (listing >= 0) ::close(listing);
                break;
            }
            while (auto* ent = ::readdir(d)) {
                std::string n = ent->d_name;
                if (n != "." && n != ".." && !out.count(rel + "/" + n)) only_placeholders = false;
            }
            ::closedir(d);
            if (!only_placeholders) break;
            out.insert(rel);
        }
    }
    return out;
}

}  // namespace

Result<std::string> commit_container(const Store& store, std::string_view container, const CommitOptions& options) {
    return with_context(commit_impl(store, container, options), "commit");
}

Result<std::vector<Change>> container_changes(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(record, containers.find(container));
    SKIFF_TRY(image, store.images.find(record.image_id));
    SKIFF_TRY(lowers, image_lower_dirs(store, image));
    std::string dir = containers.dir_of(record.id);
    SKIFF_TRY(changes, list_changes(path_join(dir, "upper"), lowers));

    // Mount points of the engine's own files are not the container's changes (Docker keeps
    // them in an init layer); nor is a directory that changed only by holding them.
    auto mounts = mount_destinations(dir);
    std::vector<std::string> hidden;
    for (auto path : kEngineMounts)
        if (std::find(mounts.begin(), mounts.end(), path) != mounts.end()) hidden.emplace_back(path);
    auto is_hidden = [&](const Change& c) {
        return c.kind != Change::Kind::deleted && std::find(hidden.begin(), hidden.end(), c.path) != hidden.end();
    };
    std::erase_if(changes, is_hidden);
    auto holds_changes = [&](const std::string& dir_path) {
        return std::any_of(changes.begin(), changes.end(),
                           [&](const Change& c) { return c.path.starts_with(dir_path + "/"); });
    };
    std::erase_if(changes, [&](const Change& c) {
        if (c.kind != Change::Kind::changed) return false;
        bool parent_of_hidden = std::any_of(hidden.begin(), hidden.end(),
                                            [&](const std::string& h) { return h.starts_with(c.path + "/"); });
        return parent_of_hidden && !holds_changes(c.path);
    });
    // And what commit leaves out: a directory made only to hold them ("A /etc").
    auto placeholders = engine_placeholders(dir, lowers);
    std::erase_if(changes, [&](const Change& c) {
        return c.kind != Change::Kind::deleted && placeholders.count(c.path.substr(1));
    });
    return changes;
}

Status export_container(const Store& store, std::string_view container, int out_fd) {
    auto run = [&]() -> Status {
        auto containers = container_store(store);
        SKIFF_TRY(record, find_settled(store, container));
        // Held throughout: a start in the meantime would find our mount and run on it, and
        // lose its rootfs when we unmount.
        SKIFF_TRY(held, containers.lock(record.id));
        std::string dir = containers.dir_of(record.id);
        std::string rootfs = path_join(dir, "rootfs");
        SKIFF_TRY(mounted_here, mount_container_rootfs(store, dir, record.image_id, record.auto_remove));
        Status exported = export_rootfs(rootfs, out_fd);
        if (mounted_here) {
            Status unmounted = unmount_rootfs(rootfs);
            if (exported && !unmounted) return unmounted;
        }
        return exported;
    };
    return with_context(run(), "export");
}

Status pause_container(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(record, find_settled(store, container));
    auto updated = containers.update(record.id, [&](state::ContainerRecord& r) -> Status {
        if (r.status == state::Status::paused) return fail("Container " + r.id + " is already paused");
        if (r.status != state::Status::running) return fail("Container " + r.id + " is not running");
        SKIFF_CHECK(runtime::pause_container(runtime_options(store), r.id));
        r.status = state::Status::paused;
        return ok();
    });
    if (!updated) return std::unexpected(updated.error());
    return ok();
}

Status unpause_container(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(record, find_settled(store, container));
    auto updated = containers.update(record.id, [&](state::ContainerRecord& r) -> Status {
        if (r.status != state::Status::paused) return fail("Container " + r.id + " is not paused");
        SKIFF_CHECK(runtime::resume_container(runtime_options(store), r.id));
        r.status = state::Status::running;
        return ok();
    });
    if (!updated) return std::unexpected(updated.error());
    return ok();
}

Status restart_container(const Store& store, std::string_view container, int timeout) {
    auto containers = container_store(store);
    SKIFF_TRY(record, containers.find(container));
    // Marked so the monitor of a --rm container keeps it for the start that follows.
    SKIFF_CHECK(containers.update(record.id, [](state::ContainerRecord& r) -> Status {
        r.config["restarting"] = true;
        return ok();
    }));
    auto stopped = stop_container(store, record.id, timeout);
    (void)containers.update(record.id, [](state::ContainerRecord& r) -> Status {
        if (r.config.is_object()) r.config.erase("restarting");
        return ok();
    });
    SKIFF_CHECK(stopped);
    return start_detached(store, record.id);
}

Status rename_container(const Store& store, std::string_view container, std::string_view new_name) {
    auto containers = container_store(store);
    SKIFF_TRY(record, containers.find(container));
    std::string_view name = new_name;
    if (name.starts_with('/')) name.remove_prefix(1);
    if (name.empty()) return fail("Neither old nor new names may be empty");
    if (name == record.name) return fail("Renaming a container with the same name as its current name");
    Status renamed = containers.rename(record.id, name);
    if (!renamed && renamed.error().code == EEXIST) return with_context(renamed, "Error when allocating new name");
    if (renamed) refresh_names_after_rename(store, record.id);
    return renamed;
}

Result<std::vector<pid_t>> container_processes(const Store& store, std::string_view container) {
    SKIFF_TRY(record, find_settled(store, container));
    if (!is_live(record)) return fail("Container " + record.id + " is not running");
    return runtime::container_pids(runtime_options(store), record.id);
}

Result<std::vector<std::string>> container_ports(const Store& store, std::string_view container) {
    auto containers = container_store(store);
    SKIFF_TRY(found, containers.find(container));
    SKIFF_TRY(record, reconcile(store, found));
    return published_port_lines(record);
}

}  // namespace skiff::engine
