# Sourced by the benches that run podman containers beside skiff (bench/run, bench/network).

# podman (runc, cgroupfs) on this hybrid host would make its groups in the v1 hierarchies,
# which nothing here may touch: the bench, cleanup included, re-executes itself in a private
# mount namespace whose /sys/fs/cgroup is the unified (v2) tree alone (the v1 mounts detached
# there, not in the host's namespace), so both tools take their cgroup v2 paths. Mounts made
# inside go with it. Call first, as: bench_in_v2_only_mounts "$0" "$@"
bench_in_v2_only_mounts() {
    [ -n "${SKIFF_BENCH_PRIVATE_MOUNTS:-}" ] && return 0
    export SKIFF_BENCH_PRIVATE_MOUNTS=1
    exec unshare -m --propagation private bash -c \
        'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec bash "$0" "$@"' "$@"
}

# podman's configuration for the bench ($1/containers.conf): runc itself (runc.real where a
# wrapper sits at runc; the namespace above is already v2 only), cgroupfs, file events,
# nofile/nproc ulimits and pids_limit = 0 (the unified tree has no pids controller on this
# hybrid host). Also notes whether podman's parent group exists yet (see below).
podman_bench_config() {
    local runc
    runc=$(command -v runc.real || command -v runc || echo runc)
    cat > "$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
pids_limit = 0
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
runc = ["$runc"]
CONF
    podman_parent_made=1
    [ -e /sys/fs/cgroup/libpod_parent ] && podman_parent_made=0
    return 0
}

# podman makes a parent group (and a conmon group in it) on first use and leaves them:
# removed when this bench made them and they are empty.
podman_bench_remove_parent() {
    [ "${podman_parent_made:-0}" = 1 ] && rmdir /sys/fs/cgroup/libpod_parent/conmon /sys/fs/cgroup/libpod_parent 2>/dev/null
    return 0
}
