#!/usr/bin/env bats
# Every feature of config.json that skiff-runtime implements, checked from inside the
# container: namespaces, mounts, devices, process attributes, security settings, the
# console, hooks, exec, and the verbs that act on a running container.

load helpers

# `ip netns add` (the namespace-path test) makes /run/netns a mount point of itself and
# leaves it: undone at the end unless it was one before.
setup_file() {
    if mountpoint -q /run/netns; then export RUN_NETNS_WAS_MOUNTED=1; else export RUN_NETNS_WAS_MOUNTED=0; fi
}

teardown_file() {
    if [ "$RUN_NETNS_WAS_MOUNTED" = 0 ] && [ -z "$(ip netns list)" ]; then
        umount /run/netns 2>/dev/null || true
    fi
}

setup() {
    setup_bundle
    NETNS=
    LISTENER_PID=
    MSG_QUEUE=
}

teardown() {
    if [ -n "${LISTENER_PID:-}" ]; then
        kill "$LISTENER_PID" 2>/dev/null || true
        wait "$LISTENER_PID" 2>/dev/null || true
    fi
    teardown_bundle
    if [ -n "${MSG_QUEUE:-}" ]; then
        python3 -c "import ctypes; ctypes.CDLL(None).msgctl($MSG_QUEUE, 0, None)" || true
    fi
    if [ -n "${NETNS:-}" ]; then
        ip netns del "$NETNS" 2>/dev/null || true
    fi
}

# --- helpers of this file ------------------------------------------------------------------

# Succeeds when the last `run` exited 0 (prints its output otherwise).
succeeded() {
    if [ "$status" -ne 0 ]; then
        printf 'exit status %s\n--- output ---\n%s\n' "$status" "$output" >&2
        return 1
    fi
}

# Succeeds when $output has a line exactly equal to $1 (prints both otherwise).
has_line() {
    if ! printf '%s\n' "$output" | grep -qxF -- "$1"; then
        printf 'expected a line: %s\n--- output ---\n%s\n' "$1" "$output" >&2
        return 1
    fi
}

# Succeeds when $output contains $1 somewhere.
has_text() {
    if [[ "$output" != *"$1"* ]]; then
        printf 'expected text: %s\n--- output ---\n%s\n' "$1" "$output" >&2
        return 1
    fi
}

# The value of a /proc/<pid>/status field, e.g. `status_field CapEff` (from $output).
status_field() {
    printf '%s\n' "$output" | sed -n "s/^$1:[[:space:]]*//p" | head -n 1
}

# Create and start the container in the background; its stdout/stderr go to files.
start_detached() {
    if ! rt create --bundle "$BUNDLE" --pid-file "$TEST_TMP/pid" "$CONTAINER_ID" \
        > "$TEST_TMP/stdout" 2> "$TEST_TMP/stderr" < /dev/null; then
        cat "$TEST_TMP/stdout" "$TEST_TMP/stderr" >&2
        return 1
    fi
    rt start "$CONTAINER_ID"
}

init_pid() { rt state "$CONTAINER_ID" | jq -r .pid; }

status_is() { [ "$(rt state "$CONTAINER_ID" 2>/dev/null | jq -r .status)" = "$1" ]; }

# Host pids in the container's cgroup whose command line is exactly $1 (args joined by spaces).
pids_matching() {
    local cg pid cmdline
    cg=$(container_cgroup "$CONTAINER_ID")
    for pid in $(cat "$cg/cgroup.procs"); do
        cmdline=$( (tr '\0' ' ' < "/proc/$pid/cmdline") 2>/dev/null)
        if [ "$cmdline" = "$1 " ]; then
            echo "$pid"
        fi
    done
}

no_pid_matching() { [ -z "$(pids_matching "$1")" ]; }
some_pid_matching() { [ -n "$(pids_matching "$1")" ]; }

# Set process.capabilities from five comma-separated lists (bounding effective permitted
# inheritable ambient).
config_caps() {
    config_set --arg b "$1" --arg e "$2" --arg p "$3" --arg i "$4" --arg a "$5" '
        def l(s): if s == "" then [] else s | split(",") end;
        .process.capabilities = {bounding: l($b), effective: l($e), permitted: l($p),
                                 inheritable: l($i), ambient: l($a)}'
}

# --- namespaces ----------------------------------------------------------------------------

@test "pid namespace: the container's process is PID 1" {
    config_args sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "; echo; ps -o pid | wc -l'
    run_container
    succeeded
    [ "${lines[0]}" = 1 ]
    [ "${lines[1]}" = "sh -c echo \$\$; cat /proc/1/cmdline | tr \"\0\" \" \"; echo; ps -o pid | wc -l " ]
    # sh, ps and wc (plus the header): nothing of the host is visible.
    [ "${lines[2]}" -le 4 ]
}

@test "uts namespace: hostname and domainname come from the spec and stay inside" {
    config_set '.hostname = "it-host" | .domainname = "it.example"'
    host_before=$(hostname)
    config_args sh -c 'hostname; cat /proc/sys/kernel/domainname'
    run_container
    succeeded
    [ "${lines[0]}" = it-host ]
    [ "${lines[1]}" = it.example ]
    [ "$(hostname)" = "$host_before" ]
}

@test "ipc namespace: the container has its own ipc namespace and SysV objects" {
    host_ipc=$(readlink /proc/self/ns/ipc)
    key=$((0x5c1ff000 + $$ % 4096))
    # A SysV message queue made on the host must not be visible inside.
    MSG_QUEUE=$(python3 -c "import ctypes; print(ctypes.CDLL(None).msgget($key, 0o1600))")
    [ "$MSG_QUEUE" -ge 0 ]
    [ "$(wc -l < /proc/sysvipc/msg)" -ge 2 ]
    config_args sh -c 'readlink /proc/self/ns/ipc; cat /proc/sysvipc/msg | wc -l'
    run_container
    succeeded
    [[ "${lines[0]}" == ipc:\[* ]]
    [ "${lines[0]}" != "$host_ipc" ]
    # Only the header line of /proc/sysvipc/msg.
    [ "${lines[1]}" = 1 ]
}

@test "network namespace: only the loopback interface exists" {
    config_args sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; readlink /proc/self/ns/net'
    run_container
    succeeded
    [ "${lines[0]}" = lo ]
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[1]}" != "$(readlink /proc/self/ns/net)" ]
}

@test "mount namespace: container mounts are not visible on the host and vice versa" {
    config_args sh -c 'readlink /proc/self/ns/mnt; grep -c " /sys/fs/cgroup/unified " /proc/self/mountinfo; exec sleep 1000'
    start_detached
    wait_for 30 test -s "$TEST_TMP/stdout"
    wait_for 30 sh -c "[ \$(wc -l < '$TEST_TMP/stdout') -ge 2 ]"
    [ "$(sed -n 1p "$TEST_TMP/stdout")" != "$(readlink /proc/self/ns/mnt)" ]
    # The host's cgroup2 mount is not in the container's mount table.
    [ "$(sed -n 2p "$TEST_TMP/stdout")" = 0 ]
    # The container's /proc, /dev, ... did not propagate back to the host.
    run grep -c " $BUNDLE/rootfs" /proc/self/mountinfo
    [ "$output" = 0 ]
    pid=$(init_pid)
    grep -q " /proc proc " "/proc/$pid/mounts"
}

@test "user namespace: uidMappings/gidMappings map root to 100000" {
    chmod 755 "$TEST_TMP"
    chown -R 100000:100000 "$BUNDLE/rootfs"
    config_set '.linux.namespaces += [{"type": "user"}]
        | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
    config_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map | tr -s " " | sed "s/^ //"; id -u; id -g; touch /tmp/made-inside'
    run_container
    succeeded
    [ "${lines[0]}" = "0 100000 65536" ]
    [ "${lines[1]}" = "0 100000 65536" ]
    [ "${lines[2]}" = 0 ]
    [ "${lines[3]}" = 0 ]
    # Root inside is 100000 on the host.
    [ "$(stat -c %u:%g "$BUNDLE/rootfs/tmp/made-inside")" = 100000:100000 ]
}

@test "cgroup namespace: /proc/self/cgroup shows the container's group as the root" {
    config_args sh -c 'grep "^0::" /proc/self/cgroup; exec sleep 1000'
    start_detached
    wait_for 30 test -s "$TEST_TMP/stdout"
    [ "$(cat "$TEST_TMP/stdout")" = "0::/" ]
    # Seen from the host the process is in the container's own group.
    pid=$(init_pid)
    cgpath=$(jq -r .cgroupPath "$STATE_ROOT/$CONTAINER_ID/state.json")
    [ "$(grep '^0::' "/proc/$pid/cgroup")" = "0::/${cgpath#/}" ]
}

@test "joining a network namespace by path shows its interfaces" {
    NETNS="skiff-it-$$-$BATS_TEST_NUMBER"
    ip netns add "$NETNS"
    ip -n "$NETNS" link add it-v0 type veth peer name it-v1
    config_set --arg p "/var/run/netns/$NETNS" \
        '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = $p else . end]'
    config_args sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort; readlink /proc/self/ns/net'
    run_container
    succeeded
    [ "${lines[0]}" = it-v0 ]
    [ "${lines[1]}" = it-v1 ]
    [ "${lines[2]}" = lo ]
    [ "${lines[3]}" = "net:[$(stat -L -c %i "/var/run/netns/$NETNS")]" ]
}

@test "a new user namespace together with a network namespace by path: joined before the clone" {
    # The container's own user namespace holds no capability over a namespace ours owns:
    # the runtime joins it first (on its cloning thread only), then exec joins it too.
    NETNS="skiff-it-$$-$BATS_TEST_NUMBER"
    ip netns add "$NETNS"
    ip -n "$NETNS" link add it-v2 type veth peer name it-v3
    chmod 755 "$TEST_TMP"
    chown -R 100000:100000 "$BUNDLE/rootfs"
    config_set --arg p "/var/run/netns/$NETNS" \
        '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = $p else . end]
        | .linux.namespaces += [{"type": "user"}]
        | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
    config_args sh -c 'readlink /proc/self/ns/net; exec sleep 1000'
    start_detached
    wait_for 30 test -s "$TEST_TMP/stdout"
    [ "$(cat "$TEST_TMP/stdout")" = "net:[$(stat -L -c %i "/var/run/netns/$NETNS")]" ]
    pid=$(init_pid)
    [ "$(readlink /proc/$pid/ns/user)" != "$(readlink /proc/self/ns/user)" ]
    # exec joins it too (before the user namespace, where it may).
    run rt exec "$CONTAINER_ID" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'it-v2\nit-v3\nlo')" ]
}

# --- mounts --------------------------------------------------------------------------------

@test "bind mount rw: a file written inside appears on the host" {
    mkdir "$TEST_TMP/shared"
    echo from-host > "$TEST_TMP/shared/in.txt"
    config_set --arg s "$TEST_TMP/shared" \
        '.mounts += [{"destination": "/mnt/rw", "type": "bind", "source": $s, "options": ["bind", "rw"]}]'
    config_args sh -c 'cat /mnt/rw/in.txt; echo from-container > /mnt/rw/out.txt'
    run_container
    succeeded
    [ "$output" = from-host ]
    [ "$(cat "$TEST_TMP/shared/out.txt")" = from-container ]
}

@test "bind mount ro: reads work, writes fail with EROFS" {
    mkdir "$TEST_TMP/shared"
    echo from-host > "$TEST_TMP/shared/in.txt"
    config_set --arg s "$TEST_TMP/shared" \
        '.mounts += [{"destination": "/mnt/ro", "type": "bind", "source": $s, "options": ["bind", "ro"]}]'
    config_args sh -c 'cat /mnt/ro/in.txt; echo x > /mnt/ro/in.txt; echo x > /mnt/ro/new.txt; grep " /mnt/ro " /proc/mounts'
    run_container
    succeeded
    [ "${lines[0]}" = from-host ]
    has_text "/mnt/ro/in.txt: Read-only file system"
    has_text "/mnt/ro/new.txt: Read-only file system"
    [[ "$(printf '%s\n' "$output" | grep ' /mnt/ro ')" == *" ro,"* ]]
    [ "$(cat "$TEST_TMP/shared/in.txt")" = from-host ]
    [ ! -e "$TEST_TMP/shared/new.txt" ]
}

@test "bind mount of a single file" {
    echo "injected=yes" > "$TEST_TMP/host.conf"
    config_set --arg s "$TEST_TMP/host.conf" \
        '.mounts += [{"destination": "/etc/injected.conf", "type": "bind", "source": $s, "options": ["bind", "ro"]}]'
    config_args sh -c 'test -f /etc/injected.conf && cat /etc/injected.conf; ls -A /etc | sort | tr "\n" " "'
    run_container
    succeeded
    [ "${lines[0]}" = "injected=yes" ]
    [ "${lines[1]}" = "group injected.conf passwd " ]
    # The bind target was created as a file in the rootfs, not a directory.
    [ -f "$BUNDLE/rootfs/etc/injected.conf" ]
}

@test "tmpfs mount honours size and mode options" {
    config_set '.mounts += [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                             "options": ["nosuid", "nodev", "size=1m", "mode=1750"]}]'
    config_args sh -c 'grep " /scratch " /proc/mounts; stat -c %a /scratch; echo data > /scratch/f && cat /scratch/f'
    run_container
    succeeded
    [[ "${lines[0]}" == "tmpfs /scratch tmpfs rw,nosuid,nodev,"* ]]
    [[ "${lines[0]}" == *"size=1024k"* ]]
    [[ "${lines[0]}" == *"mode=1750"* ]]
    [ "${lines[1]}" = 1750 ]
    [ "${lines[2]}" = data ]
    [ ! -e "$BUNDLE/rootfs/scratch/f" ]
}

@test "rbind carries submounts; plain bind does not; rro makes submounts read-only" {
    mkdir -p "$TEST_TMP/tree/sub"
    mount -t tmpfs -o size=1m skiff-it-sub "$TEST_TMP/tree/sub"
    echo in-submount > "$TEST_TMP/tree/sub/file"
    config_set --arg s "$TEST_TMP/tree" \
        '.mounts += [{"destination": "/mnt/rbind", "type": "bind", "source": $s, "options": ["rbind"]},
                     {"destination": "/mnt/bind", "type": "bind", "source": $s, "options": ["bind"]},
                     {"destination": "/mnt/rro", "type": "bind", "source": $s, "options": ["rbind", "rro"]}]'
    config_args sh -c 'cat /mnt/rbind/sub/file; ls -A /mnt/bind/sub | wc -l; touch /mnt/rbind/sub/rw-ok && echo rw-ok; touch /mnt/rro/sub/x; touch /tmp/root-still-rw && echo root-rw'
    run_container
    umount "$TEST_TMP/tree/sub"
    succeeded
    [ "${lines[0]}" = in-submount ]
    [ "${lines[1]}" = 0 ]
    has_line rw-ok
    has_text "touch: /mnt/rro/sub/x: Read-only file system"
    # rro applies to that mount tree only, not to the rootfs around it.
    has_line root-rw
}

@test "mount propagation options are applied (shared vs private)" {
    mkdir -p "$TEST_TMP/a" "$TEST_TMP/b"
    config_set --arg a "$TEST_TMP/a" --arg b "$TEST_TMP/b" \
        '.mounts += [{"destination": "/mnt/shared", "type": "bind", "source": $a, "options": ["rbind", "rshared"]},
                     {"destination": "/mnt/private", "type": "bind", "source": $b, "options": ["rbind", "rprivate"]}]'
    config_args sh -c 'awk "\$5 == \"/mnt/shared\" || \$5 == \"/mnt/private\" { print \$5, \$7 }" /proc/self/mountinfo'
    run_container
    succeeded
    shared=$(printf '%s\n' "$output" | awk '$1 == "/mnt/shared" { print $2 }')
    private=$(printf '%s\n' "$output" | awk '$1 == "/mnt/private" { print $2 }')
    [[ "$shared" == shared:* ]]
    # No optional fields: field 7 is the "-" separator.
    [ "$private" = - ]
}

@test "mqueue is mounted fresh for the container's ipc namespace" {
    config_args sh -c 'grep " /dev/mqueue " /proc/mounts; touch /dev/mqueue/it-queue && cat /dev/mqueue/it-queue'
    run_container
    succeeded
    [[ "${lines[0]}" == "mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec"* ]]
    # A file created in an mqueue filesystem is a message queue.
    [[ "${lines[1]}" == QSIZE:0* ]]
}

@test "a cgroup2 mount at /sys/fs/cgroup shows the container's own group, read-only" {
    config_args sh -c 'grep " /sys/fs/cgroup " /proc/mounts; cat /sys/fs/cgroup/cgroup.procs; echo +pids > /sys/fs/cgroup/cgroup.subtree_control'
    run_container
    [[ "${lines[0]}" == "cgroup2 /sys/fs/cgroup cgroup2 ro,"* ]]
    # The root of the container's view is its own group: PID 1 is in it.
    has_line 1
    has_text "Read-only file system"
}

# --- rootfs --------------------------------------------------------------------------------

@test "readonly rootfs: writing to / fails with EROFS, tmpfs mounts stay writable" {
    config_set '.root.readonly = true'
    config_args sh -c 'touch /newfile; touch /tmp/newfile; echo ok > /dev/shm/f && cat /dev/shm/f; awk "\$2 == \"/\" { print \$4 }" /proc/mounts'
    run_container
    has_text "touch: /newfile: Read-only file system"
    has_text "touch: /tmp/newfile: Read-only file system"
    has_line ok
    [[ "${lines[-1]}" == ro,* ]]
    [ ! -e "$BUNDLE/rootfs/newfile" ]
    [ ! -e "$BUNDLE/rootfs/tmp/newfile" ]
}

@test "rootfsPropagation is applied to the container's root mount" {
    config_set '.linux.rootfsPropagation = "shared"'
    config_args sh -c 'awk "\$5 == \"/\" { print \$7 }" /proc/self/mountinfo'
    run_container
    succeeded
    [[ "$output" == shared:* ]]
}

@test "maskedPaths: masked files read empty, masked directories are empty read-only tmpfs" {
    mkdir "$BUNDLE/rootfs/secret"
    echo hidden > "$BUNDLE/rootfs/secret/data"
    echo hidden > "$BUNDLE/rootfs/etc/secret.conf"
    config_set '.linux.maskedPaths += ["/secret", "/etc/secret.conf", "/proc/timer_list"]'
    config_args sh -c '
        echo "timer_list=$(wc -c < /proc/timer_list)"
        echo "secret.conf=$(cat /etc/secret.conf)"
        echo "secret=$(ls -A /secret | wc -l)"
        grep " /secret " /proc/mounts
        grep " /proc/acpi " /proc/mounts
        touch /secret/x'
    run_container
    has_line "timer_list=0"
    has_line "secret.conf="
    has_line "secret=0"
    printf '%s\n' "$output" | grep -q "^tmpfs /secret tmpfs ro,"
    printf '%s\n' "$output" | grep -q "^tmpfs /proc/acpi tmpfs ro,"
    has_text "/secret/x: Read-only file system"
    [ "$(cat "$BUNDLE/rootfs/secret/data")" = hidden ]
}

@test "readonlyPaths: /proc/sys and a rootfs directory are read-only" {
    mkdir "$BUNDLE/rootfs/data"
    config_set '.linux.readonlyPaths += ["/data"]'
    config_args sh -c 'echo other > /proc/sys/kernel/hostname; touch /data/f; grep -E " /proc/sys | /data " /proc/mounts | cut -d" " -f2,4; hostname'
    run_container
    has_text "/proc/sys/kernel/hostname: Read-only file system"
    has_text "touch: /data/f: Read-only file system"
    printf '%s\n' "$output" | grep -q "^/proc/sys ro,"
    printf '%s\n' "$output" | grep -q "^/data ro,"
    has_line skiff
}

# --- devices -------------------------------------------------------------------------------

@test "default devices exist with the right numbers and modes" {
    config_args sh -c 'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a %u:%g" /dev/$d; done
        echo x > /dev/null && echo null-ok
        head -c 4 /dev/zero | od -An -tx1
        echo x > /dev/full'
    run_container
    has_line "/dev/null character special file 1:3 666 0:0"
    has_line "/dev/zero character special file 1:5 666 0:0"
    has_line "/dev/full character special file 1:7 666 0:0"
    has_line "/dev/random character special file 1:8 666 0:0"
    has_line "/dev/urandom character special file 1:9 666 0:0"
    has_line "/dev/tty character special file 5:0 666 0:0"
    has_line null-ok
    has_line " 00 00 00 00"
    has_text "No space left on device"
}

@test "/dev symlinks: fd, stdin, stdout, stderr, ptmx" {
    config_args sh -c 'for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done; ls /dev/fd/ | sort -n | head -1'
    run_container
    succeeded
    has_line "fd -> /proc/self/fd"
    has_line "stdin -> /proc/self/fd/0"
    has_line "stdout -> /proc/self/fd/1"
    has_line "stderr -> /proc/self/fd/2"
    has_line "ptmx -> pts/ptmx"
    has_line 0
}

@test "linux.devices adds device nodes with the given mode and owner" {
    config_set '.linux.devices = [
            {"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 384, "uid": 1000, "gid": 1001},
            {"path": "/dev/sub/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]
        | .linux.resources.devices += [{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                                       {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
        | .process.capabilities.bounding += ["CAP_DAC_OVERRIDE"]
        | .process.capabilities.effective += ["CAP_DAC_OVERRIDE"]
        | .process.capabilities.permitted += ["CAP_DAC_OVERRIDE"]'
    config_args sh -c 'stat -c "%n %F %t:%T %a %u:%g" /dev/myzero /dev/sub/mynull; head -c 3 /dev/myzero | od -An -tx1'
    run_container
    succeeded
    has_line "/dev/myzero character special file 1:5 600 1000:1001"
    has_line "/dev/sub/mynull character special file 1:3 666 0:0"
    has_line " 00 00 00"
}

# --- process attributes ----------------------------------------------------------------------

@test "sysctl values are set inside the container's namespaces only" {
    host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
    host_shm=$(cat /proc/sys/kernel/shm_rmid_forced)
    config_set '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}'
    config_args sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced'
    run_container
    succeeded
    [ "${lines[0]}" = 1 ]
    [ "${lines[1]}" = 1 ]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]
    [ "$(cat /proc/sys/kernel/shm_rmid_forced)" = "$host_shm" ]
}

@test "sysctl without its namespace is refused (the host's value is untouched)" {
    # No ipc namespace and /proc/sys left writable: only the runtime's check protects the host.
    config_set '.linux.namespaces |= map(select(.type != "ipc"))
        | .linux.readonlyPaths |= map(select(. != "/proc/sys"))
        | .linux.sysctl = {"kernel.shm_rmid_forced": "1"}'
    host_shm=$(cat /proc/sys/kernel/shm_rmid_forced)
    config_args true
    run_container
    now=$(cat /proc/sys/kernel/shm_rmid_forced)
    [ "$now" = "$host_shm" ] || echo "$host_shm" > /proc/sys/kernel/shm_rmid_forced
    [ "$status" -ne 0 ]
    has_text "kernel.shm_rmid_forced"
    [ "$now" = "$host_shm" ]
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
}

@test "rlimits: NOFILE, NPROC and CORE soft and hard limits" {
    config_set '.process.rlimits = [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_CORE", "soft": 1024, "hard": 4096}]'
    config_args sh -c 'ulimit -n; ulimit -Hn; grep -E "^Max (processes|core file size)" /proc/self/limits | tr -s " "'
    run_container
    succeeded
    [ "${lines[0]}" = 1024 ]
    [ "${lines[1]}" = 2048 ]
    has_line "Max core file size 1024 4096 bytes "
    has_line "Max processes 300 400 processes "
}

@test "oomScoreAdj is applied to the container process" {
    config_set '.process.oomScoreAdj = 500'
    config_args cat /proc/self/oom_score_adj
    run_container
    succeeded
    [ "$output" = 500 ]
}

@test "user: uid, gid and additionalGids" {
    config_set '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}'
    config_args sh -c 'id; grep -E "^(Uid|Gid|Groups):" /proc/self/status'
    run_container
    succeeded
    has_line "uid=1000 gid=1000 groups=10,20"
    [ "$(status_field Uid)" = "$(printf '1000\t1000\t1000\t1000')" ]
    [ "$(status_field Gid)" = "$(printf '1000\t1000\t1000\t1000')" ]
    [ "$(status_field Groups | sed 's/[[:space:]]*$//')" = "10 20" ]
}

@test "user.umask sets the mode of new files" {
    config_set '.process.user.umask = 63'
    config_args sh -c 'umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d'
    run_container
    succeeded
    [ "${lines[0]}" = 0077 ]
    [ "${lines[1]}" = 600 ]
    [ "${lines[2]}" = 700 ]
}

@test "without user.umask the container keeps the caller's umask" {
    config_args sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'
    umask 0027
    run_container
    umask 0022
    succeeded
    [ "${lines[0]}" = 0027 ]
    [ "${lines[1]}" = 640 ]
}

@test "cwd, env and args with spaces reach the process" {
    config_set '.process.cwd = "/var/lib/app" | .process.env += ["GREETING=hello  world", "EMPTY="]'
    config_args sh -c 'pwd; echo "[$GREETING]"; echo "empty=${EMPTY-unset}"; printf "<%s>\n" "$@"' sh "a b" "  c  " ""
    run_container
    succeeded
    [ "${lines[0]}" = /var/lib/app ]
    [ "${lines[1]}" = "[hello  world]" ]
    [ "${lines[2]}" = "empty=" ]
    [ "${lines[3]}" = "<a b>" ]
    [ "${lines[4]}" = "<  c  >" ]
    [ "${lines[5]}" = "<>" ]
}

# --- capabilities ----------------------------------------------------------------------------

# CAP_CHOWN=0 -> 0x1, CAP_KILL=5 -> 0x20, CAP_SETUID=7 -> 0x80, CAP_NET_BIND_SERVICE=10 -> 0x400.

@test "capabilities for a non-root user: bounding, inheritable and ambient sets" {
    config_set '.process.user = {"uid": 1000, "gid": 1000}'
    config_caps CAP_CHOWN,CAP_KILL,CAP_NET_BIND_SERVICE \
        CAP_CHOWN,CAP_NET_BIND_SERVICE \
        CAP_CHOWN,CAP_KILL,CAP_NET_BIND_SERVICE \
        CAP_KILL,CAP_NET_BIND_SERVICE \
        CAP_NET_BIND_SERVICE
    config_args grep ^Cap /proc/self/status
    run_container
    succeeded
    [ "$(status_field CapBnd)" = 0000000000000421 ]
    [ "$(status_field CapInh)" = 0000000000000420 ]
    [ "$(status_field CapAmb)" = 0000000000000400 ]
    # After execve a non-root process without file capabilities keeps only its ambient set.
    [ "$(status_field CapPrm)" = 0000000000000400 ]
    [ "$(status_field CapEff)" = 0000000000000400 ]
}

@test "capabilities for root with noNewPrivileges: permitted limits what exec grants" {
    config_set '.process.noNewPrivileges = true'
    config_caps CAP_CHOWN,CAP_KILL,CAP_SETUID,CAP_NET_BIND_SERVICE \
        CAP_CHOWN \
        CAP_CHOWN,CAP_KILL,CAP_NET_BIND_SERVICE \
        "" ""
    config_args grep ^Cap /proc/self/status
    run_container
    succeeded
    [ "$(status_field CapBnd)" = 00000000000004a1 ]
    [ "$(status_field CapInh)" = 0000000000000000 ]
    [ "$(status_field CapAmb)" = 0000000000000000 ]
    # Root's exec would grant the whole bounding set; no_new_privs caps it at permitted.
    [ "$(status_field CapPrm)" = 0000000000000421 ]
    [ "$(status_field CapEff)" = 0000000000000421 ]
}

@test "an ambient capability missing from permitted is an error" {
    config_set '.process.user = {"uid": 1000, "gid": 1000}'
    config_caps CAP_NET_BIND_SERVICE "" "" CAP_NET_BIND_SERVICE CAP_NET_BIND_SERVICE
    config_args true
    run_container
    [ "$status" -ne 0 ]
    has_text "ambient"
    has_text "CAP_NET_BIND_SERVICE"
}

@test "chown is denied without CAP_CHOWN and allowed with it" {
    config_args sh -c 'touch /tmp/f; chown 1000 /tmp/f; stat -c %u /tmp/f'
    # The default spec gives CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE only.
    run_container
    has_text "Operation not permitted"
    [ "${lines[-1]}" = 0 ]

    config_caps CAP_CHOWN CAP_CHOWN CAP_CHOWN "" ""
    run_container
    succeeded
    [ "$output" = 1000 ]
}

@test "noNewPrivileges sets NoNewPrivs" {
    config_args grep ^NoNewPrivs: /proc/self/status
    config_set '.process.noNewPrivileges = true'
    run_container
    succeeded
    [ "$output" = "$(printf 'NoNewPrivs:\t1')" ]

    config_set '.process.noNewPrivileges = false'
    run_container
    succeeded
    [ "$output" = "$(printf 'NoNewPrivs:\t0')" ]
}

# --- seccomp -------------------------------------------------------------------------------

@test "seccomp: filter mode is on and a blocked syscall returns errnoRet" {
    config_set '.linux.seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}'
    config_args sh -c 'grep ^Seccomp: /proc/self/status; mkdir /tmp/x; touch /tmp/y && echo touch-ok'
    run_container
    has_line "$(printf 'Seccomp:\t2')"
    has_text "can't create directory '/tmp/x': Function not implemented"
    has_line touch-ok
    [ ! -e "$BUNDLE/rootfs/tmp/x" ]
    [ -e "$BUNDLE/rootfs/tmp/y" ]
}

@test "seccomp: a rule with an argument condition blocks only matching calls" {
    config_set '.linux.seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                      "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}]}'
    config_args sh -c 'sleep 100 & p=$!; kill -9 $p; echo "kill9=$?"; kill -15 $p; echo "kill15=$?"; wait $p; echo "wait=$?"'
    run_container
    succeeded
    has_text "Operation not permitted"
    has_line "kill9=1"
    has_line "kill15=0"
    has_line "wait=143"
}

# --- console -------------------------------------------------------------------------------

@test "terminal with --console-socket: the pty master is handed over and sized" {
    cat > "$TEST_TMP/console.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
with open(out + ".name", "wb") as f:
    f.write(msg)
data = b""
while True:
    try:
        chunk = os.read(fds[0], 4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
with open(out + ".tmp", "wb") as f:
    f.write(data)
os.rename(out + ".tmp", out)
EOF
    python3 "$TEST_TMP/console.py" "$TEST_TMP/console.sock" "$TEST_TMP/console.out" &
    LISTENER_PID=$!
    wait_for 50 test -S "$TEST_TMP/console.sock"

    config_set '.process.terminal = true | .process.consoleSize = {"height": 30, "width": 100}'
    config_args sh -c 'tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty'
    rt create --bundle "$BUNDLE" --console-socket "$TEST_TMP/console.sock" "$CONTAINER_ID"
    rt start "$CONTAINER_ID"
    wait_for 100 test -e "$TEST_TMP/console.out"
    wait "$LISTENER_PID"
    LISTENER_PID=
    output=$(tr -d '\r' < "$TEST_TMP/console.out")
    has_line /dev/pts/0
    has_line "30 100"
    has_line all-tty
    [ "$(cat "$TEST_TMP/console.out.name")" = /dev/pts/0 ]
}

@test "terminal without --console-socket is refused by create" {
    config_set '.process.terminal = true'
    run rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    [ "$status" -ne 0 ]
    has_text "console-socket"
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
}

@test "run in the foreground with a terminal relays the container's output" {
    config_set '.process.terminal = true'
    config_args sh -c 'tty; echo hello-from-tty'
    run_container < /dev/null
    succeeded
    output=$(printf '%s' "$output" | tr -d '\r')
    has_line /dev/pts/0
    has_line hello-from-tty
}

# --- hooks ---------------------------------------------------------------------------------

# The hooks recorded so far, in order, equal $1 (space separated).
hooks_logged() {
    local logged
    logged=$(tr '\n' ' ' < "$BUNDLE/rootfs/hooks.log" | sed 's/ $//')
    if [ "$logged" != "$1" ]; then
        printf 'hooks run: %s\nexpected:  %s\n' "$logged" "$1" >&2
        return 1
    fi
}

@test "hooks of every kind run in order with the right state" {
    mkdir "$BUNDLE/rootfs/hooks"
    # Records its name in hooks.log and its stdin (the state) in state-<name>.json, both in
    # the directory given: the rootfs seen from the host, or / inside the container.
    cat > "$BUNDLE/rootfs/hooks/record.sh" <<'EOF'
#!/bin/sh
cat > "$2/state-$1.json"
# A slow startContainer hook: poststart must still wait for it (and for the exec after it).
if [ "$1" = startContainer ]; then sleep 0.5; fi
echo "$1" >> "$2/hooks.log"
EOF
    chmod 755 "$BUNDLE/rootfs/hooks/record.sh"
    host_hook=$BUNDLE/rootfs/hooks/record.sh
    config_set --arg h "$host_hook" --arg d "$BUNDLE/rootfs" '
        def hook(n; d; p): {path: p, args: [p, n, d], env: ["PATH=/usr/bin:/bin"]};
        .hooks = {
            prestart: [hook("prestart"; $d; $h)],
            createRuntime: [hook("createRuntime"; $d; $h)],
            createContainer: [hook("createContainer"; $d; $h)],
            startContainer: [hook("startContainer"; "/"; "/hooks/record.sh")],
            poststart: [hook("poststart"; $d; $h)],
            poststop: [hook("poststop"; $d; $h)]}'
    config_args sleep 1000
    rt create --bundle "$BUNDLE" --pid-file "$TEST_TMP/pid" "$CONTAINER_ID"
    pid=$(cat "$TEST_TMP/pid")
    hooks_logged "prestart createRuntime createContainer"
    rt start "$CONTAINER_ID"
    hooks_logged "prestart createRuntime createContainer startContainer poststart"
    rt kill "$CONTAINER_ID" KILL
    wait_for 50 status_is stopped
    rt delete "$CONTAINER_ID"
    hooks_logged "prestart createRuntime createContainer startContainer poststart poststop"

    bundle=$(realpath "$BUNDLE")
    for kind in prestart:creating createRuntime:creating createContainer:creating \
                startContainer:created poststart:running poststop:stopped; do
        name=${kind%%:*}
        want=${kind#*:}
        state=$BUNDLE/rootfs/state-$name.json
        [ "$(jq -r .status "$state")" = "$want" ] || { echo "$name: status $(jq -r .status "$state"), want $want"; false; }
        [ "$(jq -r .id "$state")" = "$CONTAINER_ID" ]
        [ "$(jq -r .bundle "$state")" = "$bundle" ]
        if [ "$name" != poststop ]; then
            [ "$(jq -r .pid "$state")" = "$pid" ] || { echo "$name: pid $(jq -r .pid "$state"), want $pid"; false; }
        fi
    done
}

@test "a hook that exceeds its timeout fails create and leaves nothing behind" {
    cat > "$TEST_TMP/slow-hook.sh" <<'EOF'
#!/bin/sh
exec sleep 5
EOF
    chmod 755 "$TEST_TMP/slow-hook.sh"
    config_set --arg h "$TEST_TMP/slow-hook.sh" \
        '.hooks = {createRuntime: [{path: $h, timeout: 1, env: ["PATH=/usr/bin:/bin"]}]}'
    config_args sleep 1000
    SECONDS=0
    run rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    elapsed=$SECONDS
    [ "$status" -ne 0 ]
    has_text "timed out"
    has_text "createRuntime"
    [ "$elapsed" -lt 4 ]
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
    [ -z "$(rt list -q)" ]
    [ -z "$(find /sys/fs/cgroup/unified -type d -name "$CONTAINER_ID" 2>/dev/null)" ]
    # No process of the container survives: none has the rootfs mounted.
    [ -z "$(grep -l " $BUNDLE/rootfs" /proc/[0-9]*/mountinfo 2>/dev/null)" ]
}

# --- exec ----------------------------------------------------------------------------------

@test "exec with env, cwd and user, without a terminal" {
    config_args sleep 1000
    start_detached
    run rt exec --env FOO=bar --cwd /tmp -u 1000:1001 "$CONTAINER_ID" \
        sh -c 'echo "FOO=$FOO"; pwd; id -u; id -g; tty' < /dev/null
    [ "$status" -eq 1 ]  # tty's "not a tty"
    has_line FOO=bar
    has_line /tmp
    has_line 1000
    has_line 1001
    has_line "not a tty"
}

@test "exec joins the container's pid namespace and cgroup" {
    config_args sleep 1000
    start_detached
    run rt exec "$CONTAINER_ID" sh -c 'ps -o pid,args | awk "\$1 == 1"; echo "self=$$"; cat /proc/self/cgroup | grep ^0::; grep ^0:: /proc/1/cgroup'
    succeeded
    [ "$(echo "${lines[0]}" | tr -s ' ' | sed 's/^ //')" = "1 sleep 1000" ]
    self=${lines[1]#self=}
    [ "$self" -gt 1 ]
    [ "${lines[2]}" = "0::/" ]
    [ "${lines[3]}" = "0::/" ]

    # From the host: a detached exec'd process is in the same cgroup as PID 1.
    rt exec -d --pid-file "$TEST_TMP/exec.pid" "$CONTAINER_ID" sleep 1001 < /dev/null > /dev/null 2>&1
    exec_pid=$(cat "$TEST_TMP/exec.pid")
    [ "$(grep ^0:: "/proc/$exec_pid/cgroup")" = "$(grep ^0:: "/proc/$(init_pid)/cgroup")" ]
    [ "$(readlink "/proc/$exec_pid/ns/pid")" = "$(readlink "/proc/$(init_pid)/ns/pid")" ]
    [ "$(readlink "/proc/$exec_pid/ns/mnt")" = "$(readlink "/proc/$(init_pid)/ns/mnt")" ]
    [ "$(readlink "/proc/$exec_pid/ns/net")" = "$(readlink "/proc/$(init_pid)/ns/net")" ]
}

# --- verbs on a running container ------------------------------------------------------------

@test "kill --all signals every process, kill alone only PID 1" {
    config_args sh -c 'sleep 1001 & sleep 1002 & trap "echo usr1 >> /tmp/trapped" USR1; while :; do sleep 0.1; done'
    start_detached
    wait_for 50 some_pid_matching "sleep 1002"

    rt kill "$CONTAINER_ID" USR1
    wait_for 50 test -s "$BUNDLE/rootfs/tmp/trapped"
    some_pid_matching "sleep 1001"
    some_pid_matching "sleep 1002"

    rt kill --all "$CONTAINER_ID" USR1
    wait_for 50 no_pid_matching "sleep 1001"
    wait_for 50 no_pid_matching "sleep 1002"
    wait_for 50 sh -c "[ \$(wc -l < '$BUNDLE/rootfs/tmp/trapped') -eq 2 ]"
    status_is running
}

@test "pause freezes every process and resume thaws them" {
    config_args sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; usleep 20000; done'
    start_detached
    wait_for 50 test -s "$BUNDLE/rootfs/tmp/counter"
    cg=$(container_cgroup "$CONTAINER_ID")

    rt pause "$CONTAINER_ID"
    status_is paused
    grep -qx "frozen 1" "$cg/cgroup.events"
    before=$(cat "$BUNDLE/rootfs/tmp/counter")
    sleep 0.5
    [ "$(cat "$BUNDLE/rootfs/tmp/counter")" = "$before" ]

    rt resume "$CONTAINER_ID"
    status_is running
    grep -qx "frozen 0" "$cg/cgroup.events"
    wait_for 50 sh -c "[ \"\$(cat '$BUNDLE/rootfs/tmp/counter')\" != '$before' ]"
}

@test "ps lists the container's processes" {
    config_args sh -c 'sleep 1003 & exec sleep 1004'
    start_detached
    wait_for 50 some_pid_matching "sleep 1003"
    run rt ps "$CONTAINER_ID"
    succeeded
    [[ "${lines[0]}" == *PID* ]]
    shown=$(printf '%s\n' "${lines[@]:1}" | awk '{ print $2 }' | sort -n | tr '\n' ' ')
    expected=$(sort -n "$(container_cgroup "$CONTAINER_ID")/cgroup.procs" | tr '\n' ' ')
    [ "$shown" = "$expected" ]
    has_text "sleep 1003"
    has_text "sleep 1004"
    [ "${#lines[@]}" -eq 3 ]
}

@test "list shows the container with its status and pid" {
    config_args sleep 1000
    start_detached
    run rt list
    succeeded
    [[ "${lines[0]}" == ID* ]]
    row=$(printf '%s\n' "$output" | awk -v id="$CONTAINER_ID" '$1 == id')
    [ "$(echo "$row" | awk '{ print $2, $3, $4 }')" = "$(init_pid) running $(realpath "$BUNDLE")" ]
    run rt list -f json
    [ "$(echo "$output" | jq -r --arg id "$CONTAINER_ID" '.[] | select(.id == $id) | .status')" = running ]
    run rt list -q
    [ "$output" = "$CONTAINER_ID" ]
}

@test "features prints valid JSON with ociVersionMax" {
    run rt features
    succeeded
    echo "$output" | jq -e . >/dev/null
    [ "$(echo "$output" | jq -r .ociVersionMax)" = 1.2.0 ]
    [ "$(echo "$output" | jq -r '.hooks | sort | join(",")')" = \
        "createContainer,createRuntime,poststart,poststop,prestart,startContainer" ]
    [ "$(echo "$output" | jq -r '.linux.namespaces | sort | join(",")')" = "cgroup,ipc,mount,network,pid,user,uts" ]
    echo "$output" | jq -e '.linux.seccomp.enabled == true and (.linux.seccomp.archs | index("SCMP_ARCH_X86_64"))' >/dev/null
    echo "$output" | jq -e '.linux.capabilities | index("CAP_CHOWN")' >/dev/null
}
