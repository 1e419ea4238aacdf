// `create`: the record, the container's directories and its OCI spec from the image config
// and the flags; nothing runs until `start`.
#include <seccomp.h>

#include <algorithm>
#include <cstdio>

#include "cgroups/cgroups.hpp"
#include "common/clock.hpp"
#include "common/fs.hpp"
#include "engine/rootless.hpp"
#include "engine/container_network.hpp"
#include "engine/containers.hpp"
#include "engine/helper_binaries.hpp"
#include "engine/volumes.hpp"
#include "overlay/container_rootfs.hpp"
#include "runtime/spec.hpp"

namespace skiff::engine {
namespace {

Result<image::ImageRecord> image_for_run(const Store& store, const RunRequest& request, Progress& progress) {
    if (request.pull != "always") {
        auto found = find_image(store, request.image);
        if (found || found.error().code != ENOENT) return found;
        if (request.pull == "never") return found;
    }
    SKIFF_TRY(ref, image::parse_reference(request.image));
    if (request.pull != "always")
        std::fprintf(stderr, "Unable to find image '%s' locally\n", ref.familiar().c_str());
    SKIFF_TRY(pulled, pull_image(store, ref, request.pull_options, progress));
    return pulled.record;
}

}  // namespace

Result<state::ContainerRecord> create_container(const Store& store, const RunRequest& request, Progress& progress) {
    SKIFF_CHECK(validate_restart_policy(request.restart_policy, request.auto_remove));
    SKIFF_CHECK(store.prepare());
    SKIFF_TRY(image_record, image_for_run(store, request, progress));
    SKIFF_TRY(config_body, store.blobs.read(image_record.id, image::kMaxConfigBytes));
    SKIFF_TRY(image_config, image::parse_image_config(config_body));

    state::ContainerRecord record;
    record.name = request.name;
    record.image_id = image_record.id;
    record.image = request.image;
    record.created = rfc3339_now();
    record.status = state::Status::created;
    record.restart_policy = request.restart_policy;
    record.auto_remove = request.auto_remove;
    record.labels = image_config.config.labels;
    for (const auto& [k, v] : request.labels) record.labels[k] = v;
    record.stop_signal = !request.spec.stop_signal.empty() ? request.spec.stop_signal : image_config.config.stop_signal;
    record.stop_timeout = request.stop_timeout;
    record.tty = request.spec.tty;
    record.interactive = request.spec.interactive;
    // Networks, ports, --ip/--dns/--add-host checked before anything is made.
    SKIFF_TRY(network, prepare_container_network(store, request.spec, image_config));
    record.network_mode = network.mode;
    record.config = nlohmann::json{{"net", network.config}};
    auto containers = container_store(store);
    SKIFF_TRY(created, containers.create(record));

    // From here on a failure removes what was made: the record, its directory, the mount.
    auto made = [&]() -> Result<state::ContainerRecord> {
        std::string dir = containers.dir_of(created.id);
        for (const char* sub : {"upper", "work", "rootfs"}) SKIFF_CHECK(mkdir_p(path_join(dir, sub), 0755));
        RunSpecOptions options = request.spec;
        options.extra_hosts = network.extra_hosts;  // host-gateway resolved
        std::vector<state::MountRecord> mounts;
        for (auto& volume : options.volumes) {
            state::MountRecord m;
            m.type = volume.type;
            m.destination = volume.destination;
            m.rw = !volume.read_only;
            if (volume.type == "bind" && volume.create_source && !path_exists(volume.source))
                SKIFF_CHECK(mkdir_p(volume.source, 0755));
            if (volume.type == "volume") {
                // build_spec wants the volume's directory, not its name.
                std::string name = volume.source;
                SKIFF_TRY(path, ensure_volume(store, name));
                volume.source = path;
                m.volume_name = name;
            }
            m.source = volume.source;
            mounts.push_back(m);
        }
        // The image's VOLUMEs not covered by a flag become anonymous volumes, as in Docker.
        for (const auto& path : image_config.config.volumes) {
            bool covered = std::any_of(options.volumes.begin(), options.volumes.end(),
                                       [&](const VolumeMount& v) { return v.destination == path; });
            if (covered) continue;
            std::string name;
            SKIFF_TRY(source, ensure_volume(store, name));
            VolumeMount v;
            v.type = "volume";
            v.source = source;
            v.destination = path;
            options.volumes.push_back(v);
            mounts.push_back({"volume", source, path, "", true, name});
        }
        // The spec needs the image's files (user names in /etc/passwd): mount for the build.
        std::string rootfs = path_join(dir, "rootfs");
        SKIFF_CHECK(mount_container_rootfs(store, dir, image_record.id, request.auto_remove));
        SpecInputs inputs;
        inputs.image = &image_config;
        inputs.rootfs = rootfs;
        inputs.container_id = created.id;
        inputs.container_dir = dir;
        if (options.init) {
            // skiff-init, bound at /sbin/docker-init (Docker's place for its init).
            SKIFF_TRY(init, helper_binary("skiff-init"));
            inputs.init_path = init;
        }
        set_spec_network_inputs(store, created.id, network, inputs);
        // Names this libseccomp does not know would fail the launch; runc drops them too.
        inputs.syscall_known = [](const std::string& name) {
            return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
        };
        inputs.seccomp_cache_dir = seccomp_oci_cache_dir(store);
        auto spec = build_spec(inputs, options);
        if (!spec || !request.keep_rootfs_mounted) (void)unmount_rootfs(rootfs);
        if (!spec) return std::unexpected(spec.error());
        // The cgroup is named here once, absolute, so every later CLI (whatever cgroup it runs
        // in) and the clean-up after a lost runroot find the same group.
        std::string cgroup;
        if (spec->contains("linux") && (*spec)["linux"].value("cgroupsPath", "").empty()) {
            auto parent = cgroups::own_group();
            auto rel = cgroups::resolve_cgroups_path("", parent ? *parent : "/", "skiff/" + created.id);
            if (rel) {
                cgroup = *rel;
                (*spec)["linux"]["cgroupsPath"] = "/" + cgroup;
            }
        }
        SKIFF_CHECK(rootless_spec(*spec));  // not root: a user namespace, no cgroup (engine/rootless.hpp)
        if (!(*spec)["linux"].contains("cgroupsPath")) cgroup.clear();
        const std::string config_path = path_join(dir, "config.json");
        std::string config_text = spec->dump();  // compact, as containerd writes bundles
        SKIFF_CHECK(write_file_atomic(config_path, config_text, 0600,
                                      request.auto_remove ? Durability::atomic : Durability::synced));
        std::vector<std::string> command;
        if (spec->contains("process") && (*spec)["process"].contains("args"))
            command = (*spec)["process"]["args"].get<std::vector<std::string>>();
        std::string hostname = spec->value("hostname", "");
        // `run` starts it from this process next: the runtime takes the spec as built.
        if (request.keep_rootfs_mounted)
            runtime::remember_written_spec(config_path, std::move(*spec), std::move(config_text));
        return containers.update(created.id, [&](state::ContainerRecord& r) -> Status {
            r.mounts = mounts;
            r.command = command;
            r.hostname = hostname;
            r.log_path = containers.log_path_of(created.id);
            if (!cgroup.empty()) {
                if (!r.config.is_object()) r.config = nlohmann::json::object();
                r.config["cgroup"] = cgroup;
            }
            return ok();
        });
    }();
    if (!made) {
        (void)unmount_rootfs(path_join(containers.dir_of(created.id), "rootfs"));
        (void)containers.remove(created.id);
        return std::unexpected(made.error());
    }
    return made;
}

}  // namespace skiff::engine
