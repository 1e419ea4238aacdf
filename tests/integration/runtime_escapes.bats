#!/usr/bin/env bats
# Known container escapes, replayed against skiff-runtime. Each must be blocked.
#   CVE-2019-5736   a container process overwrites the runtime binary through /proc/<pid>/exe
#   CVE-2024-21626  a host fd still open in the container process: cwd or args[0] reached
#                   through /proc/self/fd/N lands outside the container's root
#   CVE-2021-30465  a symlink at a mount destination sends the mount outside the rootfs

load helpers

bats_require_minimum_version 1.5.0

BUILD_RUNTIME=$RUNTIME

setup() {
    setup_bundle
    # A host directory the container must never reach. Its marker file names it in output.
    HOSTDIR=$TEST_TMP/hostdir
    mkdir -p "$HOSTDIR"
    echo "HOST-SECRET-CONTENT" > "$HOSTDIR/host-secret"
    BG_PIDS=()
}

teardown() {
    reap_background
    # A successful CVE-2019-5736 attack would have broken the copy the test ran: clean up
    # with the build's binary.
    RUNTIME=$BUILD_RUNTIME
    teardown_bundle
}

# --- helpers of this file ------------------------------------------------------------------

container_status() { "$RUNTIME" --root "$STATE_ROOT" state "$1" 2>/dev/null | jq -r .status; }

# Succeeds when $output does not contain $1 (prints it otherwise).
output_lacks() {
    if [[ "$output" == *"$1"* ]]; then
        printf 'output must not contain: %s\n--- output ---\n%s\n' "$1" "$output" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# CVE-2019-5736: the runtime binary through /proc/<pid>/exe

# Run this test on a private copy of the runtime so a successful attack cannot damage the
# build. It is named skiff-runtime so the argv[0] dispatch picks the runtime CLI.
use_runtime_copy() {
    cp "$(readlink -f "$BUILD_RUNTIME")" "$TEST_TMP/skiff-runtime"
    RUNTIME=$TEST_TMP/skiff-runtime
    RUNTIME_SUM=$(sha256sum < "$RUNTIME")
}

runtime_copy_unchanged() {
    local now
    now=$(sha256sum < "$RUNTIME")
    if [ "$now" != "$RUNTIME_SUM" ]; then
        echo "the runtime binary was modified from inside the container:" >&2
        tail -c 64 "$RUNTIME" | od -c | tail -3 >&2
        return 1
    fi
}

# /attack.sh in the rootfs: for $1 seconds, every process it can see that does not run
# busybox is attacked through /proc/<pid>/exe: a direct write, and an fd held open (the
# O_PATH trick of the original exploit) that is written through /proc/self/fd once no one
# executes the file any more. Successes go to /attack.log; "done" marks a full run.
install_attacker() {
    cat > "$BUNDLE/rootfs/attack.sh" <<'EOF'
#!/bin/sh
end=$(( $(date +%s) + $1 ))
log=/attack.log
: > $log
attack() {
    p=$1
    ( : < /proc/$p/exe ) 2>/dev/null || return 1   # not openable (yet): try again later
    t=$(readlink /proc/$p/exe 2>/dev/null) || return 1
    [ "$t" = /bin/busybox ] && return 0
    echo "opened /proc/$p/exe -> $t" >> $log
    { echo pwned >> /proc/$p/exe; } 2>/dev/null && echo "SUCCESS direct write of /proc/$p/exe -> $t" >> $log
    (
        exec 3< /proc/$p/exe 2> /dev/null || exit 0
        while [ $(date +%s) -lt $end ]; do
            if { echo pwned >> /proc/self/fd/3; } 2>/dev/null; then
                echo "SUCCESS write through a held fd of /proc/$p/exe -> $t" >> $log
                exit 0
            fi
            sleep 0.1
        done
    ) &
    return 0
}
done_pids=" "
while [ $(date +%s) -lt $end ]; do
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        case "$done_pids" in *" $p "*) continue ;; esac
        attack $p && done_pids="$done_pids$p "
    done
done
wait
echo done >> $log
EOF
    chmod 755 "$BUNDLE/rootfs/attack.sh"
}

# Start container $1 running the attacker for $2 seconds.
start_attacker() {
    install_attacker
    config_args /attack.sh "$2"
    rt run -d --bundle "$BUNDLE" "$1"
}

# Wait for the attacker in container $1 to finish; then nothing may have been written.
attack_failed() {
    local id=$1
    wait_for 150 eval '[ "$(container_status "$id")" = stopped ]'
    echo "--- attack log ---" >&2
    cat "$BUNDLE/rootfs/attack.log" >&2
    grep -qx done "$BUNDLE/rootfs/attack.log"
    if grep -q SUCCESS "$BUNDLE/rootfs/attack.log"; then
        echo "the attack succeeded (above)" >&2
        return 1
    fi
    runtime_copy_unchanged
}

@test "CVE-2019-5736: a container cannot write the runtime binary while exec joins it" {
    use_runtime_copy
    start_attacker attacked 4
    sleep 0.5
    # Every exec puts a runtime process (until its execve) in the attacker's pid namespace.
    for i in $(seq 15); do
        rt exec attacked true
        rt exec --cwd /tmp attacked sh -c 'exit 0'
        rt exec -d attacked true
    done
    attack_failed attacked
}

@test "CVE-2019-5736: a container cannot write the runtime binary of a container created in its pid namespace" {
    use_runtime_copy
    start_attacker attacker 5
    attacker_pid=$(rt state attacker | jq .pid)

    # Second container, born into the attacker's pid namespace: from clone until `start`
    # its process is the runtime binary, with the container's credentials.
    mkdir "$TEST_TMP/bundle-b"
    jq --arg root "$BUNDLE/rootfs" --arg ns "/proc/$attacker_pid/ns/pid" \
        '.root.path = $root | .process.args = ["sh", "-c", "echo started > /tmp/b-ran"]
         | .linux.namespaces = [.linux.namespaces[] | if .type == "pid" then .path = $ns else . end]' \
        "$BUNDLE/config.json" > "$TEST_TMP/bundle-b/config.json"
    rt create --bundle "$TEST_TMP/bundle-b" victim
    sleep 2
    rt start victim
    wait_for 30 test -e "$BUNDLE/rootfs/tmp/b-ran"
    attack_failed attacker
    rt delete --force victim
}

@test "CVE-2019-5736: exec of a binary that is /proc/self/exe does not hand the container the runtime binary" {
    use_runtime_copy
    # The image's "evil" is the runtime itself, reached through the magic link when the
    # exec'd process calls execve. It waits on a fifo so the attacker cannot miss it.
    ln -s /proc/self/exe "$BUNDLE/rootfs/bin/evil"
    mkfifo "$BUNDLE/rootfs/tmp/fifo"
    start_attacker attacked 6
    sleep 0.5
    "$RUNTIME" --root "$STATE_ROOT" exec attacked evil runtime --log /tmp/fifo list \
        > "$TEST_TMP/exec.out" 2>&1 &
    BG_PIDS+=($!)
    sleep 2
    # Let it go (if it ever got that far) and exit, so the held fds become writable.
    timeout 3 cat "$BUNDLE/rootfs/tmp/fifo" > /dev/null || true
    wait_for 50 eval '! kill -0 ${BG_PIDS[0]} 2>/dev/null'
    cat "$TEST_TMP/exec.out" >&2
    attack_failed attacked
}

# ---------------------------------------------------------------------------------------------
# CVE-2024-21626: host fds inside the container

# The names in /proc/self/fd of `ls` run in the container: 0 1 2, and 3 for ls's own
# directory stream. Anything more is an fd the runtime let through.
@test "CVE-2024-21626: no host fd survives into the container process, from create or exec" {
    config_args sleep 100
    exec 7< "$HOSTDIR"
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    rt start "$CONTAINER_ID"
    run rt exec "$CONTAINER_ID" sh -c 'ls /proc/1/fd | sort -n | tr "\n" " "'
    [ "$status" -eq 0 ]
    echo "pid 1 fds: $output"
    [ "$output" = "0 1 2 " ]

    run rt exec "$CONTAINER_ID" ls /proc/self/fd
    exec 7<&-
    [ "$status" -eq 0 ]
    echo "exec fds: $output"
    [ "$(echo "$output" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]

    run rt exec "$CONTAINER_ID" sh -c 'for f in /proc/self/fd/*; do echo "$f -> $(readlink "$f")"; done; cat /proc/self/fd/7/host-secret 2>&1'
    output_lacks "$HOSTDIR"
    output_lacks "HOST-SECRET-CONTENT"
}

@test "CVE-2024-21626: process.cwd through /proc/self/fd/N does not leave the container's root" {
    exec 7< "$HOSTDIR"
    config_args sh -c 'echo "cwd=$(pwd)"; ls -a; ls -a ..'
    for n in 3 4 5 6 7 8 9 10; do
        config_set --arg cwd "/proc/self/fd/$n" '.process.cwd = $cwd'
        run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "$CONTAINER_ID-$n"
        echo "cwd /proc/self/fd/$n: exit $status, stdout: $output, stderr: $stderr"
        output_lacks host-secret
        output_lacks cgroup.procs
        output_lacks state.json
        output_lacks unreachable
        if [ "$status" -ne 0 ]; then
            [[ "$stderr" == *cwd* ]]
        else
            [[ "$output" == "cwd=/"* ]]
        fi
        [ ! -e "$STATE_ROOT/$CONTAINER_ID-$n" ]
    done
    exec 7<&-
}

@test "CVE-2024-21626: exec --cwd /proc/self/fd/N does not leave the container's root" {
    config_args sleep 100
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    exec 7< "$HOSTDIR"
    for n in 3 4 5 6 7 8 9 10; do
        run --separate-stderr rt exec --cwd "/proc/self/fd/$n" "$CONTAINER_ID" sh -c 'echo "cwd=$(pwd)"; ls -a; ls -a ..'
        echo "exec --cwd /proc/self/fd/$n: exit $status, stdout: $output, stderr: $stderr"
        output_lacks host-secret
        output_lacks cgroup.procs
        output_lacks unreachable
        if [ "$status" -ne 0 ]; then
            [[ "$stderr" == *cwd* ]]
        else
            [[ "$output" == "cwd=/"* ]]
        fi
    done
    exec 7<&-
    [ "$(container_status "$CONTAINER_ID")" = running ]
}

# A host-only executable the container must not be able to run: busybox outside the rootfs.
# "/proc/self/fd/N/../../../../../../../../<host path>" climbs from whatever directory fd N
# is (the inherited fd 7, or any fd the runtime itself left open) to the host's root.
host_exec_paths() {
    cp "$BUSYBOX" "$HOSTDIR/busybox"
    local n
    echo "/proc/self/fd/7/busybox"
    for n in 3 4 5 6 7 8 9 10; do
        echo "/proc/self/fd/$n/../../../../../../../../..$HOSTDIR/busybox"
    done
}

@test "CVE-2024-21626: args[0] through /proc/self/fd/N cannot run a host binary" {
    exec 7< "$HOSTDIR"
    i=0
    for path in $(host_exec_paths); do
        i=$((i + 1))
        config_args "$path" echo ESCAPED
        echo "args[0]: $path"
        run ! --separate-stderr "$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "$CONTAINER_ID-$i"
        echo "  exit $status, stdout: $output, stderr: $stderr"
        output_lacks ESCAPED
        [ ! -e "$STATE_ROOT/$CONTAINER_ID-$i" ]
    done
    exec 7<&-
}

@test "CVE-2024-21626: exec of /proc/self/fd/N/... cannot run a host binary" {
    config_args sleep 100
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    exec 7< "$HOSTDIR"
    for path in $(host_exec_paths); do
        echo "exec $path"
        run ! --separate-stderr rt exec "$CONTAINER_ID" "$path" echo ESCAPED
        echo "  exit $status, stdout: $output, stderr: $stderr"
        output_lacks ESCAPED
    done
    exec 7<&-
    [ "$(container_status "$CONTAINER_ID")" = running ]
}

# ---------------------------------------------------------------------------------------------
# CVE-2021-30465: symlinks at mount destinations

# HOSTDIR becomes a shared mount and the container's mounts rshared: a mount that landed on
# HOSTDIR inside the container's namespace would then show on the host too.
share_hostdir() {
    mount --bind "$HOSTDIR" "$HOSTDIR"
    mount --make-shared "$HOSTDIR"
    config_set '.linux.rootfsPropagation = "rshared"'
    HOST_MOUNTS_BEFORE=$(grep -cF "$TEST_TMP" /proc/self/mountinfo)
}

# The host's view: HOSTDIR holds exactly what it held, and no mount was added under TEST_TMP.
hostdir_untouched() {
    [ "$(ls -A "$HOSTDIR")" = host-secret ]
    [ "$(cat "$HOSTDIR/host-secret")" = HOST-SECRET-CONTENT ]
    grep -F "$TEST_TMP" /proc/self/mountinfo >&2
    [ "$(grep -cF "$TEST_TMP" /proc/self/mountinfo)" -eq "$HOST_MOUNTS_BEFORE" ]
}

# Run a container that reports what /mnt shows, and stays until killed so the host can look
# at its mounts while they exist.
run_mnt_reporter() {
    config_args sh -c 'ls -A /mnt > /tmp/mnt-listing; cat /mnt/* > /tmp/mnt-content 2>&1; touch /tmp/reported; sleep 100'
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    wait_for 50 test -e "$BUNDLE/rootfs/tmp/reported"
}

@test "CVE-2021-30465: an absolute symlink at a bind mount's destination resolves inside the rootfs" {
    share_hostdir
    mkdir "$TEST_TMP/src"
    echo "from-the-bind-source" > "$TEST_TMP/src/src-file"
    ln -s "$HOSTDIR" "$BUNDLE/rootfs/mnt"
    config_set --arg src "$TEST_TMP/src" '.mounts += [{destination: "/mnt", type: "bind", source: $src, options: ["rbind"]}]'
    run_mnt_reporter

    hostdir_untouched
    # Inside, /mnt shows the mount: the symlink was followed within the rootfs.
    [ "$(cat "$BUNDLE/rootfs/tmp/mnt-listing")" = src-file ]
    [ "$(cat "$BUNDLE/rootfs/tmp/mnt-content")" = from-the-bind-source ]
    [ -d "$BUNDLE/rootfs$HOSTDIR" ]
    [ -L "$BUNDLE/rootfs/mnt" ]

    rt delete --force "$CONTAINER_ID"
    hostdir_untouched
}

@test "CVE-2021-30465: a ../../.. relative symlink at a bind mount's destination cannot climb out of the rootfs" {
    share_hostdir
    mkdir "$TEST_TMP/src"
    echo "from-the-bind-source" > "$TEST_TMP/src/src-file"
    # On the host this names HOSTDIR; inside the root ".." stops at "/".
    ln -s "../../../../../../../../..$HOSTDIR" "$BUNDLE/rootfs/mnt"
    [ "$(readlink -f "$BUNDLE/rootfs/mnt")" = "$HOSTDIR" ]
    config_set --arg src "$TEST_TMP/src" '.mounts += [{destination: "/mnt", type: "bind", source: $src, options: ["rbind"]}]'
    run_mnt_reporter

    hostdir_untouched
    [ "$(cat "$BUNDLE/rootfs/tmp/mnt-listing")" = src-file ]
    [ "$(cat "$BUNDLE/rootfs/tmp/mnt-content")" = from-the-bind-source ]
    [ -d "$BUNDLE/rootfs$HOSTDIR" ]

    rt delete --force "$CONTAINER_ID"
    hostdir_untouched
}

@test "CVE-2021-30465: a tmpfs mounted at a symlinked destination lands inside the rootfs" {
    share_hostdir
    ln -s ../../hostdir "$BUNDLE/rootfs/mnt"
    [ "$(readlink -f "$BUNDLE/rootfs/mnt")" = "$HOSTDIR" ]
    config_set '.mounts += [{destination: "/mnt/sub", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]'
    config_args sh -c 'echo inside > /mnt/sub/written; grep " /hostdir/sub " /proc/self/mountinfo > /tmp/mount-line; touch /tmp/reported; sleep 100'
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    wait_for 50 test -e "$BUNDLE/rootfs/tmp/reported"

    hostdir_untouched
    [ ! -e "$HOSTDIR/sub" ]
    # Inside: the tmpfs is at /hostdir/sub (the symlink resolved in the root), and it took
    # the write, which therefore reached neither the host's HOSTDIR nor the rootfs.
    grep -q " tmpfs " "$BUNDLE/rootfs/tmp/mount-line"
    [ -d "$BUNDLE/rootfs/hostdir/sub" ]
    [ ! -e "$BUNDLE/rootfs/hostdir/sub/written" ]

    rt delete --force "$CONTAINER_ID"
    hostdir_untouched
}

@test "CVE-2021-30465: swapping the destination between a directory and a symlink during create never mounts outside the rootfs" {
    share_hostdir
    config_set '.mounts += [{destination: "/mnt", type: "tmpfs", source: "race-tmpfs", options: ["size=1m"]}]'
    # Where the tmpfs is, as the container sees it.
    config_args sh -c 'grep " race-tmpfs " /proc/self/mountinfo | cut -d" " -f5'
    # The attacker (anyone who can write the rootfs, e.g. another container sharing it)
    # flips /mnt as fast as it can.
    (
        cd "$BUNDLE/rootfs"
        while :; do
            rm -f mnt; mkdir mnt
            rmdir mnt; ln -s "$HOSTDIR" mnt
        done 2>/dev/null
    ) &
    BG_PIDS+=($!)
    for i in $(seq 25); do
        run "$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "$CONTAINER_ID-$i"
        echo "run $i: exit $status: $output"
        hostdir_untouched
        [ ! -e "$STATE_ROOT/$CONTAINER_ID-$i" ]
        # A directory at mount time: /mnt. A symlink: its target, inside the root. Or none: the
        # attacker's rmdir of the mount point detaches it in every namespace. Nothing else.
        if [ "$status" -eq 0 ]; then
            [ "$output" = /mnt ] || [ "$output" = "$HOSTDIR" ] || [ -z "$output" ]
        fi
    done
}
