#!/usr/bin/env bats
# Bad input and faults. Every refusal is one line on stderr that names what is wrong, a
# non-zero exit, and nothing left behind: no state directory, no cgroup, no mount, no
# process. A `create` killed midway leaves something `delete --force` can always remove.

load helpers

bats_require_minimum_version 1.5.0

CGROUP_BASE=/sys/fs/cgroup/unified/skiff

setup() {
    setup_bundle
    BG_PIDS=()
}

teardown() {
    reap_background
    teardown_bundle
}

# --- helpers of this file ------------------------------------------------------------------

# Run the runtime expecting a refusal: non-zero exit, nothing on stdout, exactly one line on
# stderr. The line is left in $stderr for the caller to check what it names.
refused() {
    run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" "$@"
    printf 'skiff-runtime %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' "$*" "$status" "$output" "$stderr" >&2
    [ "$status" -ne 0 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
}

# The refusal names $1 (a fixed string).
says() {
    if [[ "$stderr" != *"$1"* ]]; then
        printf 'expected the error to say: %s\n  got: %s\n' "$1" "$stderr" >&2
        return 1
    fi
}

# Pids of live processes that belong to this test: a runtime or hook (its command line or
# working directory names the test's directory), or a container process (its root mount is
# a directory of the test's). Zombies have none of these and are not counted.
test_processes() {
    local p info
    for p in /proc/[0-9]*; do
        info="$(readlink "$p/cwd" 2>/dev/null) $({ tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null)"
        if [[ "$info" == *"$TEST_TMP"* ]] || grep -qF " $TEST_TMP/bundle/rootfs / " "$p/mountinfo" 2>/dev/null; then
            echo "${p#/proc/}"
        fi
    done
    return 0
}

# Nothing of container $1 is left: state, cgroup, mounts, processes.
nothing_left() {
    local id=$1 procs
    if [ -e "$STATE_ROOT/$id" ]; then
        echo "state directory $STATE_ROOT/$id left behind: $(ls -A "$STATE_ROOT/$id")" >&2
        return 1
    fi
    if [ -e "$CGROUP_BASE/$id" ]; then
        echo "cgroup $CGROUP_BASE/$id left behind (procs: $(cat "$CGROUP_BASE/$id/cgroup.procs" 2>/dev/null))" >&2
        return 1
    fi
    if grep -F "$TEST_TMP" /proc/self/mountinfo >&2; then
        echo "mounts under $TEST_TMP left behind (above)" >&2
        return 1
    fi
    procs=$(test_processes)
    if [ -n "$procs" ]; then
        echo "processes left behind:" >&2
        ps -o pid,ppid,stat,args -p "$(echo $procs | tr ' ' ',')" >&2 || true
        return 1
    fi
}

# True once process $1 has exited (gone, or a zombie waiting for its new parent to reap it).
process_gone() {
    [ ! -e "/proc/$1" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = Z ] ||
        [ ! -e "/proc/$1/status" ]
}

container_status() { "$RUNTIME" --root "$STATE_ROOT" state "$1" 2>/dev/null | jq -r .status; }

# A hook entry (JSON) that writes its pid to $1, then sleeps $2 seconds.
pausing_hook() {
    jq -n --arg marker "$1" --arg secs "$2" \
        '{path: "/bin/sh", args: ["sh", "-c", "echo $$ > \($marker); exec sleep \($secs)"]}'
}

# Start `skiff-runtime create` in the background ($CREATE_PID: the runtime itself, not a
# subshell), output to $TEST_TMP/create.out.
create_in_background() {
    "$RUNTIME" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$1" > "$TEST_TMP/create.out" 2>&1 &
    CREATE_PID=$!
    BG_PIDS+=("$CREATE_PID")
}

# --- bad input -------------------------------------------------------------------------------

@test "a bundle without config.json is refused, naming the file" {
    rm "$BUNDLE/config.json"
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says "$BUNDLE/config.json"
    says "No such file or directory"
    nothing_left "$CONTAINER_ID"
}

@test "malformed JSON in config.json is refused with the parser's position" {
    printf '{"ociVersion": "1.2.0", "process": {"args": ["sh"]\n' > "$BUNDLE/config.json"
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says "invalid JSON"
    says "line 2"
    nothing_left "$CONTAINER_ID"
}

@test "a field of the wrong type (process.args as a string) is refused, naming the field" {
    config_set '.process.args = "sh -c true"'
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says "process.args: expected array, got string"
    nothing_left "$CONTAINER_ID"
}

@test "an unknown namespace type is refused, naming it" {
    config_set '.linux.namespaces += [{"type": "bogus"}]'
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says 'linux.namespaces[6].type: unknown namespace "bogus"'
    nothing_left "$CONTAINER_ID"
}

@test "an unknown capability is refused, naming it" {
    config_set '.process.capabilities.effective += ["CAP_BOGUS"]'
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says 'process.capabilities.effective[3]: unknown capability "CAP_BOGUS"'
    nothing_left "$CONTAINER_ID"
}

@test "an unknown syscall name in the seccomp profile is refused, naming it" {
    config_set '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{names: ["getpid", "no_such_syscall"], action: "SCMP_ACT_ERRNO"}]}'
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says 'unknown syscall "no_such_syscall"'
    says 'linux.seccomp.syscalls[0].names[1]'
    nothing_left "$CONTAINER_ID"
}

@test "a missing rootfs directory is refused, naming root.path" {
    config_set '.root.path = "no-such-rootfs"'
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says "root.path"
    says "$BUNDLE/no-such-rootfs"
    says "No such file or directory"
    nothing_left "$CONTAINER_ID"
}

@test "a second create with the same id fails; the first container is untouched and still works" {
    config_args sh -c 'echo first > /tmp/ran; sleep 100'
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    first_pid=$(rt state "$CONTAINER_ID" | jq .pid)
    cp "$STATE_ROOT/$CONTAINER_ID/state.json" "$TEST_TMP/state-before"

    # The second bundle differs, so a clobbered state would show.
    cp -a "$BUNDLE" "$TEST_TMP/bundle2"
    BUNDLE=$TEST_TMP/bundle2 config_args sh -c 'echo second > /tmp/ran'
    [ "$(jq -r '.process.args[2]' "$TEST_TMP/bundle2/config.json")" = "echo second > /tmp/ran" ]
    refused create --bundle "$TEST_TMP/bundle2" "$CONTAINER_ID"
    says "container \"$CONTAINER_ID\" already exists"

    cmp "$STATE_ROOT/$CONTAINER_ID/state.json" "$TEST_TMP/state-before"
    [ "$(container_status "$CONTAINER_ID")" = created ]
    [ "$(rt state "$CONTAINER_ID" | jq .pid)" = "$first_pid" ]
    [ "$(rt state "$CONTAINER_ID" | jq -r .bundle)" = "$BUNDLE" ]
    [ -d "$CGROUP_BASE/$CONTAINER_ID" ]
    grep -qx "$first_pid" "$CGROUP_BASE/$CONTAINER_ID/cgroup.procs"

    rt start "$CONTAINER_ID"
    wait_for 30 test -e "$BUNDLE/rootfs/tmp/ran"
    [ "$(cat "$BUNDLE/rootfs/tmp/ran")" = first ]
    [ ! -e "$TEST_TMP/bundle2/rootfs/tmp/ran" ]
    [ "$(container_status "$CONTAINER_ID")" = running ]

    rt delete --force "$CONTAINER_ID"
    nothing_left "$CONTAINER_ID"
}

@test "args[0] that is not in the rootfs: \"executable file not found\" at create" {
    config_args no-such-program --flag
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says 'exec: "no-such-program": executable file not found in $PATH'
    nothing_left "$CONTAINER_ID"

    config_args /bin/no-such-program
    refused run --bundle "$BUNDLE" "$CONTAINER_ID"
    says 'exec: "/bin/no-such-program"'
    says "No such file or directory"
    nothing_left "$CONTAINER_ID"
}

@test "invalid container ids are refused before anything is made" {
    for id in "bad/id" "../escaped" ".." "-dash-first" "with space" "tab	id"; do
        refused create --bundle "$BUNDLE" -- "$id"
        says "invalid container id"
    done
    [ -z "$(ls -A "$STATE_ROOT")" ]
    [ ! -e "$TEST_TMP/escaped" ]
    [ ! -e "$CGROUP_BASE/escaped" ]
    [ ! -e "$CGROUP_BASE/bad" ]
    nothing_left "bad"
}

@test "start of an unknown container is refused, naming the id" {
    refused start no-such-container
    says 'container "no-such-container" does not exist'
    [ -z "$(ls -A "$STATE_ROOT")" ]
    nothing_left no-such-container
}

@test "kill of a stopped container is refused; the container stays until deleted" {
    config_args true
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    rt start "$CONTAINER_ID"
    wait_for 50 eval '[ "$(container_status "$CONTAINER_ID")" = stopped ]'

    refused kill "$CONTAINER_ID" KILL
    says "cannot kill container \"$CONTAINER_ID\": it is stopped"
    [ "$(container_status "$CONTAINER_ID")" = stopped ]

    rt delete "$CONTAINER_ID"
    nothing_left "$CONTAINER_ID"
}

@test "delete of a running container needs --force; without it the container keeps running" {
    config_args sleep 100
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    rt start "$CONTAINER_ID"
    pid=$(rt state "$CONTAINER_ID" | jq .pid)

    refused delete "$CONTAINER_ID"
    says "cannot delete container \"$CONTAINER_ID\": it is running"
    says "--force"
    [ "$(container_status "$CONTAINER_ID")" = running ]
    kill -0 "$pid"
    [ -d "$CGROUP_BASE/$CONTAINER_ID" ]

    run --separate-stderr rt delete --force "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    wait_for 30 process_gone "$pid"
    nothing_left "$CONTAINER_ID"
}

@test "a cgroupsPath that climbs out of the cgroup tree is refused; no group is made" {
    for path in "../../x-$CONTAINER_ID" "/../x-$CONTAINER_ID" "a/../../../x-$CONTAINER_ID"; do
        config_set --arg p "$path" '.linux.cgroupsPath = $p'
        refused create --bundle "$BUNDLE" "$CONTAINER_ID"
        says "cgroupsPath \"$path\""
        says "escapes the cgroup hierarchy"
        [ ! -e "/sys/fs/cgroup/unified/x-$CONTAINER_ID" ]
        [ ! -e "/sys/fs/cgroup/x-$CONTAINER_ID" ]
        [ ! -e "$CGROUP_BASE/a" ]
        nothing_left "$CONTAINER_ID"
    done
}

@test "a cgroupsPath whose group has processes is refused; they keep running, nothing is made" {
    group=/sys/fs/cgroup/unified/skiff-it-$$/shared
    config_set --arg p "skiff-it-$$/shared" '.linux.cgroupsPath = $p'
    config_args sleep 100
    rt create --bundle "$BUNDLE" first
    pid=$(rt state first | jq .pid)

    # The same group for a second container: refused; its clean-up leaves the first alone.
    refused create --bundle "$BUNDLE" "$CONTAINER_ID"
    says "linux.cgroupsPath: cgroup \"/skiff-it-$$/shared\" already has processes"
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
    [ "$(container_status first)" = created ]
    grep -qx "$pid" "$group/cgroup.procs"

    # An empty group that already exists is the container's to use.
    rt delete --force first
    wait_for 30 process_gone "$pid"
    mkdir "$group"
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    grep -qx "$(rt state "$CONTAINER_ID" | jq .pid)" "$group/cgroup.procs"
    rt delete --force "$CONTAINER_ID"
    nothing_left "$CONTAINER_ID"
    rmdir "/sys/fs/cgroup/unified/skiff-it-$$"
}

# --- faults: `create` killed midway ---------------------------------------------------------

@test "create killed with SIGKILL during a createRuntime hook: child dies, delete --force removes all" {
    config_args sleep 100
    config_set --argjson h "$(pausing_hook "$TEST_TMP/hook.pid" 2)" '.hooks.createRuntime = [$h]'
    create_in_background "$CONTAINER_ID"
    wait_for 50 test -s "$TEST_TMP/hook.pid"

    # Paused mid-way: state recorded, the child cloned and waiting for the hooks.
    [ "$(jq .creatorPid "$STATE_ROOT/$CONTAINER_ID/state.json")" = "$CREATE_PID" ]
    child=$(jq .pid "$STATE_ROOT/$CONTAINER_ID/state.json")
    [ "$child" -gt 0 ]
    kill -0 "$child"
    [ "$(container_status "$CONTAINER_ID")" = creating ]

    kill -9 "$CREATE_PID"
    wait "$CREATE_PID" || true
    # PR_SET_PDEATHSIG: the half-made container process dies with its runtime.
    wait_for 30 process_gone "$child"
    [ "$(container_status "$CONTAINER_ID")" = stopped ]

    refused start "$CONTAINER_ID"
    says "cannot start container \"$CONTAINER_ID\""

    run --separate-stderr rt delete --force "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    # The hook belongs to no container; let it finish its sleep.
    wait_for 50 process_gone "$(cat "$TEST_TMP/hook.pid")"
    nothing_left "$CONTAINER_ID"
}

@test "create killed with SIGKILL during a createContainer hook: container and hook die, delete --force removes all" {
    config_args sleep 100
    # The hook runs in the container's mount namespace but before pivot_root, where host
    # paths still resolve: its marker lands where the test can see it.
    config_set --argjson h "$(pausing_hook "$TEST_TMP/hook.pid" 30)" '.hooks.createContainer = [$h]'
    create_in_background "$CONTAINER_ID"
    wait_for 50 test -s "$TEST_TMP/hook.pid"
    child=$(jq .pid "$STATE_ROOT/$CONTAINER_ID/state.json")
    kill -0 "$child"
    # The hook runs as a child of the container process (pid 2 of its pid namespace).
    hook=$(pgrep -P "$child" -x sleep)
    [ -n "$hook" ]
    [ -d "$CGROUP_BASE/$CONTAINER_ID" ]
    grep -qx "$child" "$CGROUP_BASE/$CONTAINER_ID/cgroup.procs"

    kill -9 "$CREATE_PID"
    wait "$CREATE_PID" || true
    wait_for 30 process_gone "$child"
    # With pid 1 of its namespace gone, the 30 s hook is killed too.
    wait_for 30 process_gone "$hook"
    [ "$(container_status "$CONTAINER_ID")" = stopped ]

    run --separate-stderr rt delete --force "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    nothing_left "$CONTAINER_ID"
}

@test "create that finished, then its container process killed with SIGKILL: stopped, start refused, delete cleans" {
    config_args sleep 100
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    pid=$(rt state "$CONTAINER_ID" | jq .pid)
    [ "$(container_status "$CONTAINER_ID")" = created ]

    kill -9 "$pid"
    wait_for 30 process_gone "$pid"
    wait_for 30 eval '[ "$(container_status "$CONTAINER_ID")" = stopped ]'

    refused start "$CONTAINER_ID"
    says "cannot start container \"$CONTAINER_ID\": it is stopped"

    run --separate-stderr rt delete "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    nothing_left "$CONTAINER_ID"
}

@test "a foreground run killed with SIGKILL leaves a container delete --force removes" {
    config_args sleep 100
    "$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "$CONTAINER_ID" > "$TEST_TMP/run.out" 2>&1 &
    run_pid=$!
    BG_PIDS+=("$run_pid")
    wait_for 50 eval '[ "$(container_status "$CONTAINER_ID")" = running ]'
    pid=$(rt state "$CONTAINER_ID" | jq .pid)

    kill -9 "$run_pid"
    wait "$run_pid" || true

    run --separate-stderr rt delete --force "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    wait_for 30 process_gone "$pid"
    nothing_left "$CONTAINER_ID"
}
