#!/usr/bin/env bats
# The OCI lifecycle as a user of skiff-runtime drives it: create, state, start, kill, delete.

load helpers

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
