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

# Containers run by the engine's tests join the default "bridge" network. Each test file run
# gets its own network state (SKIFF_NETWORK_DIR), nftables table, default bridge and /24
# subnet, named after this run's file temp dir, so it never meets a user's skiff networks
# nor another file running at the same time. A file that sets these itself (network.bats)
# keeps its own. Call network_cleanup from teardown_file: it deletes the bridges and the table.
_skiff_net_tag=$(printf '%s' "${BATS_FILE_TMPDIR:-$$}" | md5sum | cut -c1-6)
export SKIFF_NETWORK_DIR=${SKIFF_NETWORK_DIR:-${BATS_FILE_TMPDIR:-/tmp}/network}
export SKIFF_NFT_TABLE=${SKIFF_NFT_TABLE:-skiff_it_$_skiff_net_tag}
export SKIFF_BRIDGE=${SKIFF_BRIDGE:-skit$_skiff_net_tag}
export SKIFF_BRIDGE_SUBNET=${SKIFF_BRIDGE_SUBNET:-10.$((128 + 0x${_skiff_net_tag:0:2} % 64)).$((0x${_skiff_net_tag:2:2})).0/24}

network_cleanup() {
    local f iface
    for f in "$SKIFF_NETWORK_DIR"/networks/*.json; do
        [ -e "$f" ] || continue
        iface=$(jq -r '.interface // empty' "$f" 2>/dev/null)
        [ -n "$iface" ] && ip link del "$iface" 2>/dev/null
    done
    ip link del "$SKIFF_BRIDGE" 2>/dev/null || true
    nft delete table inet "$SKIFF_NFT_TABLE" 2>/dev/null || true
    rm -rf "$SKIFF_NETWORK_DIR"
    # A sync with no network left detaches the loopback redirect programs of this table,
    # should a failed test have left a published port behind.
    local scratch
    scratch=$(mktemp -d /tmp/skiff-net-cleanup.XXXXXX)
    "$SKIFF" --root "$scratch/root" --runroot "$scratch/run" network prune -f >/dev/null 2>&1 || true
    ip link del "$SKIFF_BRIDGE" 2>/dev/null || true
    nft delete table inet "$SKIFF_NFT_TABLE" 2>/dev/null || true
    rm -rf "$scratch" "$SKIFF_NETWORK_DIR"
}
