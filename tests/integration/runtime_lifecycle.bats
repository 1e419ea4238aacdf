#!/usr/bin/env bats
# The OCI lifecycle as a user of skiff-runtime drives it: create, state, start, kill, delete.

load helpers

bats_require_minimum_version 1.5.0

setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "run prints the container's output and returns its exit code" {
    config_args sh -c 'echo hello from $(hostname); exit 3'
    run_container
    [ "$status" -eq 3 ]
    [ "$output" = "hello from skiff" ]
}

@test "create stops before exec; start runs the process; state follows" {
    config_args sh -c 'echo started > /tmp/marker; sleep 100'
    rt create --bundle "$BUNDLE" --pid-file "$TEST_TMP/pid" "$CONTAINER_ID"
    run rt state "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .status)" = created ]
    [ "$(echo "$output" | jq -r .pid)" = "$(cat "$TEST_TMP/pid")" ]
    [ ! -e "$BUNDLE/rootfs/tmp/marker" ]

    rt start "$CONTAINER_ID"
    [ "$(rt state "$CONTAINER_ID" | jq -r .status)" = running ]
    wait_for 30 test -e "$BUNDLE/rootfs/tmp/marker"

    rt kill "$CONTAINER_ID" KILL
    wait_for 30 sh -c "[ \"\$($RUNTIME --root $STATE_ROOT state $CONTAINER_ID | jq -r .status)\" = stopped ]"
    cgroup=$(container_cgroup "$CONTAINER_ID")
    rt delete "$CONTAINER_ID"
    [ ! -d "$STATE_ROOT/$CONTAINER_ID" ]
    [ ! -d "$cgroup" ]
}

@test "without a mount namespace the container shares the host's and is chroot'ed, mounting nothing" {
    config_set '.linux.namespaces |= map(select(.type != "mount")) | .linux.maskedPaths = [] | .linux.readonlyPaths = []'
    config_args sleep 100
    mounts_before=$(wc -l < /proc/self/mountinfo)
    # The container keeps the stdio it is given: files, so nothing waits on it.
    rt create --bundle "$BUNDLE" "$CONTAINER_ID" > "$TEST_TMP/out" 2> "$TEST_TMP/err"
    grep -q "mounts: not applied" "$TEST_TMP/err"
    pid=$(rt state "$CONTAINER_ID" | jq -r .pid)
    [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]
    [ "$(readlink /proc/$pid/root)" = "$BUNDLE/rootfs" ]
    [ "$(wc -l < /proc/self/mountinfo)" -eq "$mounts_before" ]
    rt start "$CONTAINER_ID"
    [ "$(rt state "$CONTAINER_ID" | jq -r .status)" = running ]
}

@test "masked paths without a mount namespace are refused" {
    config_set '.linux.namespaces |= map(select(.type != "mount"))'
    run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$CONTAINER_ID"
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"need a mount namespace"* ]]
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
}

@test "delete of a created container needs --force; it is left created without it" {
    config_args sleep 100
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" delete "$CONTAINER_ID"
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"it is created"* ]]
    [ "$(rt state "$CONTAINER_ID" | jq -r .status)" = created ]
    rt delete --force "$CONTAINER_ID"
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
}

@test "a seccomp profile that forbids getcwd does not stop the container from starting" {
    config_set '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}'
    config_args sh -c 'echo started'
    run_container
    [ "$status" -eq 0 ]
    [ "$output" = started ]
}

@test "rootless: an unprivileged user runs a container from 'spec --rootless' without sudo" {
    rm "$BUNDLE/config.json"
    (cd "$BUNDLE" && "$RUNTIME" spec --rootless)
    # `spec --rootless` maps root to whoever ran it (root here): map the user's own id.
    config_set '.process.terminal = false | .linux.uidMappings[0].hostID = 65534 | .linux.gidMappings[0].hostID = 65534'
    config_args sh -c 'id -u; cat /proc/self/uid_map'
    chmod 755 "$TEST_TMP"
    chown -R 65534:65534 "$BUNDLE"   # a rootless user's bundle is their own
    mkdir -m 700 "$TEST_TMP/xdg" && chown 65534:65534 "$TEST_TMP/xdg"
    run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
        env XDG_RUNTIME_DIR="$TEST_TMP/xdg" "$RUNTIME" run --bundle "$BUNDLE" "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 0 ]
    [[ "${lines[1]}" =~ ^\ +0\ +65534\ +1$ ]]
    # Not allowed to make a group in the unified tree: said once, and the container ran.
    [[ "$stderr" == *"runs without its own cgroup"* ]]
    [ ! -e "$TEST_TMP/xdg/skiff-runtime/$CONTAINER_ID" ]
}
