# Shared set-up for the integration tests (bats). Each test gets its own bundle with a
# busybox-static rootfs, its own --root for runtime state, and a teardown that removes
# every container, mount and cgroup the test made, even when it failed.

SKIFF_BUILD=${SKIFF_BUILD:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build}
SKIFF=${SKIFF:-$SKIFF_BUILD/cli/skiff}
RUNTIME=${RUNTIME:-$SKIFF_BUILD/cli/skiff-runtime}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# A fresh bundle at $BUNDLE: rootfs with busybox and its applets, config.json from
# `skiff-runtime spec` with terminal off. $STATE_ROOT isolates runtime state per test.
setup_bundle() {
    TEST_TMP=$(mktemp -d /tmp/skiff-it.XXXXXX)
    BUNDLE=$TEST_TMP/bundle
    STATE_ROOT=$TEST_TMP/state
    mkdir -p "$BUNDLE/rootfs/bin" "$BUNDLE/rootfs/etc" "$BUNDLE/rootfs/tmp" "$STATE_ROOT"
    cp "$BUSYBOX" "$BUNDLE/rootfs/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$BUNDLE/rootfs/bin/$applet"
    done
    echo "root:x:0:0:root:/root:/bin/sh" > "$BUNDLE/rootfs/etc/passwd"
    echo "root:x:0:" > "$BUNDLE/rootfs/etc/group"
    (cd "$BUNDLE" && "$RUNTIME" spec)
    config_set '.process.terminal = false | .root.readonly = false'
    CONTAINER_ID="it-$$-${BATS_TEST_NUMBER:-0}"
}

# Apply a jq filter to the bundle's config.json.
config_set() {
    local tmp
    tmp=$(mktemp)
    jq "$@" "$BUNDLE/config.json" > "$tmp" && mv "$tmp" "$BUNDLE/config.json"
}

# Set process.args from the arguments (each kept whole, newlines included).
config_args() {
    local json
    json=$(jq -cn '$ARGS.positional' --args -- "$@")
    config_set --argjson a "$json" '.process.args = $a'
}

rt() { "$RUNTIME" --root "$STATE_ROOT" "$@"; }

# Run the container in the foreground; bats' `run` captures output and status.
run_container() { run "$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "${1:-$CONTAINER_ID}"; }

teardown_bundle() {
    if [ -n "${STATE_ROOT:-}" ] && [ -d "$STATE_ROOT" ]; then
        for id in $("$RUNTIME" --root "$STATE_ROOT" list -q 2>/dev/null); do
            "$RUNTIME" --root "$STATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
        done
        # Directories of containers whose create was interrupted.
        for dir in "$STATE_ROOT"/*/; do
            [ -d "$dir" ] && "$RUNTIME" --root "$STATE_ROOT" delete --force "$(basename "$dir")" >/dev/null 2>&1
        done
    fi
    if [ -n "${TEST_TMP:-}" ]; then
        # Nothing of ours may stay mounted; unmount leftovers so the rm below cannot cross them.
        grep -o " $TEST_TMP[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
        rm -rf "$TEST_TMP"
    fi
}

# The cgroup of a container (absolute path), from its state.
container_cgroup() {
    jq -r '.cgroupRoot + "/" + .cgroupPath' "$STATE_ROOT/$1/state.json"
}

# Background processes a test starts go into BG_PIDS; teardown kills and reaps them.
BG_PIDS=()
reap_background() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}

# Wait until a command succeeds, up to N tenths of a second.
wait_for() {
    local tries=$1; shift
    while [ "$tries" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}
