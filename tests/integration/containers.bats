#!/usr/bin/env bats
# The container commands as a Docker user types them: run (attached and -d), create, start,
# stop, kill, rm, ps, logs, exec, wait, inspect; every run flag observed from inside the
# container; restart policies; names; and faults (a CLI or monitor killed with -9, 30
# parallel runs, a host "reboot"). Each test has its own --root and --runroot with one image,
# bb:1 (busybox, CMD ["sh"]); teardown removes every container, process, mount and cgroup the
# test made, even when it failed.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}
CGROUP_ROOT=/sys/fs/cgroup/unified/skiff
DEFAULT_CAPS=00000000a80425fb   # Docker's 14 default capabilities

# One store with bb:1 imported, copied for each test (faster than an import per test).
setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs"
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
    "$SKIFF" --root "$FIX/store" --runroot "$FIX/run" import -c 'CMD ["sh"]' "$FIX/rootfs.tar" bb:1 >/dev/null
}

# The default network's bridge and table of this file (helpers.bash).
teardown_file() {
    network_cleanup
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-ct.XXXXXX)
    R=$ROOT/root
    RR=$ROOT/run
    cp -a "$FIX/store" "$R"
    mkdir -p "$RR"
}

teardown() {
    [ -n "${ROOT:-}" ] || return 0
    reap_background
    # Monitors and CLIs of this test (their arguments name the test's root), by pid.
    local p cmd id
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline") || continue
        [[ "$cmd" == *"--root $R "* ]] && kill -9 "$p" 2>/dev/null
    done
    for id in $(container_ids; cat "$ROOT/seen" 2>/dev/null); do
        timeout 20 "$SKIFF" --root "$R" --runroot "$RR" rm -f "$id" >/dev/null 2>&1 || true
        if [ -d "$CGROUP_ROOT/$id" ]; then
            echo 1 > "$CGROUP_ROOT/$id/cgroup.kill" 2>/dev/null || true
            wait_for 30 rmdir "$CGROUP_ROOT/$id" 2>/dev/null || true
        fi
    done
    awk '{print $5}' /proc/self/mountinfo | grep "^$ROOT/" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$ROOT"
}

# --- helpers of this file ------------------------------------------------------------------

# Bounded: a hang fails the test (124) instead of stalling the suite.
sk() { timeout 60 "$SKIFF" --root "$R" --runroot "$RR" "$@"; }

# Wait for a background pid of this test (killed after $2 seconds, 30 by default); its exit
# status is left in $status.
bounded_wait() {
    timeout "${2:-30}" tail --pid="$1" -f /dev/null || kill -9 "$1" 2>/dev/null
    status=0
    wait "$1" || status=$?
    # Reaped: teardown must not kill the pid, which may be someone else's by then.
    local keep=() p
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# Full ids of the container directories of this test's root.
container_ids() {
    local d
    for d in "$R"/containers/*/; do
        d=$(basename "$d")
        [[ "$d" =~ ^[0-9a-f]{64}$ ]] && echo "$d"
    done
    return 0
}

# $1 equals $2, or the difference is shown.
same() {
    if [ "$1" != "$2" ]; then
        printf 'expected: %s\n     got: %s\n' "$2" "$1" >&2
        return 1
    fi
}

# $output (or $stderr) holds $1, or both are shown.
has() {
    if [[ "$output" != *"$1"* && "${stderr:-}" != *"$1"* ]]; then
        printf 'expected to see: %s\n  output: %s\n  stderr: %s\n' "$1" "$output" "${stderr:-}" >&2
        return 1
    fi
}

field() { sk inspect --format "$2" "$1"; }
state_of() { sk inspect --format '{{.State.Status}}' "$1"; }
is_state() { [ "$(state_of "$1" 2>/dev/null)" = "$2" ]; }
is_field() { [ "$(field "$1" "$2" 2>/dev/null)" = "$3" ]; }
restarted_at_least() { [ "$(field "$1" '{{.RestartCount}}' 2>/dev/null)" -ge "$2" ]; }
record() { jq -r "$2" "$R/containers/$1/record.json"; }

# Mount points under this test's root (none expected when nothing runs).
our_mounts() { awk '{print $5}' /proc/self/mountinfo | grep "^$ROOT/" || true; }

# A process that runs (a zombie does not).
running_pid() { [ -e "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status"; }

# (A CLI started in the background is run directly, not through sk, so $! is its pid.)

# A container is gone without a trace: no record dir, no rootfs mount, no cgroup, no
# runtime state, no name.
no_trace() {
    local id=$1
    echo "$id" >> "$ROOT/seen"   # for teardown, should the check fail
    if [ -e "$R/containers/$id" ]; then echo "record dir left: $id" >&2; return 1; fi
    if our_mounts | grep -q "$id"; then echo "mount left: $(our_mounts)" >&2; return 1; fi
    if [ -e "$CGROUP_ROOT/$id" ]; then echo "cgroup left: $CGROUP_ROOT/$id" >&2; return 1; fi
    if [ -e "$RR/runtime/$id" ]; then echo "runtime state left: $RR/runtime/$id" >&2; return 1; fi
    if grep -q "$id" "$R/containers/names.json" 2>/dev/null; then echo "name left in names.json" >&2; return 1; fi
}

# CapEff of a container started with the given run flags.
cap_eff() { sk run --rm "$@" bb:1 sh -c 'grep CapEff /proc/self/status' | awk '{print $2}'; }

# A detached container whose sh exits 0 on SIGTERM (a trap): stops at once.
run_trapping() { sk run -d --name "$1" bb:1 sh -c 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'; }

# --- 1. attached run -------------------------------------------------------------------------

@test "run: output and exit code pass through" {
    run --separate-stderr sk run bb:1 echo hello
    [ "$status" -eq 0 ]
    same "$output" "hello"
    run sk run bb:1 sh -c 'echo to-err >&2; exit 3'
    [ "$status" -eq 3 ]
    has "to-err"
    # A child killed by a signal, as the shell reports it.
    run sk run bb:1 sh -c 'sleep 10 & kill -9 $!; wait $!'
    [ "$status" -eq 137 ]
}

@test "run: a container killed by SIGKILL exits 137; by SIGTERM with a trap, its own code" {
    "$SKIFF" --root "$R" --runroot "$RR" run --name victim bb:1 sleep 30 &
    pid=$!
    BG_PIDS+=("$pid")
    wait_for 50 is_state victim running
    sk kill victim
    bounded_wait "$pid"
    [ "$status" -eq 137 ]
    same "$(sk ps -a --filter name=victim --format '{{.Status}}' | cut -d' ' -f1-2)" "Exited (137)"
}

@test "run: command not found is 127, not executable is 126, both with a message" {
    run -127 --separate-stderr sk run bb:1 no-such-command
    [ "$status" -eq 127 ]
    has "no-such-command"
    run --separate-stderr sk run bb:1 /etc/passwd
    [ "$status" -eq 126 ]
    has "ermission denied"
    same "$(sk ps -a --format '{{.Status}}' | cut -d' ' -f1-2 | sort | tr '\n' ,)" "Exited (126),Exited (127),"
}

@test "docker's management form: container run, ls, inspect, exec, logs, stop, rm" {
    same "$(sk container run --rm bb:1 echo hi)" "hi"
    id=$(sk container run -d --name mgmt bb:1 sh -c 'echo started; sleep 30')
    same "$(sk container ls -q --no-trunc)" "$id"
    same "$(sk container list -q --no-trunc)" "$id"
    same "$(sk container ps -aq --no-trunc)" "$id"
    same "$(sk container inspect -f '{{.Name}} {{.State.Status}}' mgmt)" "/mgmt running"
    same "$(sk container exec mgmt echo inside)" "inside"
    same "$(sk container logs mgmt)" "started"
    # `container inspect` is containers only: an image name is not found there.
    run --separate-stderr sk container inspect bb:1
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"No such container: bb:1"* ]]
    same "$(sk container stop -t 1 mgmt)" "mgmt"
    same "$(sk container remove mgmt)" "mgmt"
    same "$(sk container ls -aq)" ""
    no_trace "$id"
    # `container ls` takes ps's flags, not another command's.
    run --separate-stderr sk container ls --rm
    [ "$status" -eq 125 ]
}

@test "run: an unknown image is 125 and makes no container" {
    run --separate-stderr sk run --pull never nope:1 true
    [ "$status" -eq 125 ]
    has "No such image"
    # Pulled when missing: the registry here is a closed loopback port.
    run --separate-stderr sk run 127.0.0.1:1/nope:1 true
    [ "$status" -eq 125 ]
    has "Unable to find image '127.0.0.1:1/nope:1' locally"
    same "$(sk ps -aq)" ""
    same "$(container_ids)" ""
}

@test "run --rm: no record, no mount, no cgroup, no runtime state afterwards" {
    run sk run --rm bb:1 sh -c 'echo bye; exit 5'
    [ "$status" -eq 5 ]
    same "$output" "bye"
    same "$(sk ps -aq)" ""
    same "$(container_ids)" ""
    same "$(our_mounts)" ""
    same "$(ls "$RR/runtime" 2>/dev/null)" ""
    # The writable layer goes from a process of its own after the CLI returned (a reader
    # of the output got EOF above, so it holds none of it); soon nothing is left.
    sk run --rm bb:1 sh -c 'head -c 1000000 /dev/zero > /big'
    wait_for 50 bash -c "[ -z \"\$(ls -A '$R/containers' | grep -v '^names\.')\" ]"
    same "$(ls -A "$R/containers")" "$(printf 'names.json\nnames.lock')"
    # So does the runtime's state directory, from the same remover (only the seccomp cache stays).
    wait_for 50 bash -c "[ -z \"\$(ls -A '$RR/runtime' | grep -v '^\.seccomp-cache\$')\" ]"
    same "$(ls -A "$RR/runtime")" ".seccomp-cache"
}

@test "run --rm: a volatile overlay (nothing synced for files about to go); a kept container's is not" {
    run sk run --rm --network none bb:1 grep ' / ' /proc/mounts
    [ "$status" -eq 0 ]
    [[ "$output" == "overlay / overlay "*volatile* ]]
    # Mounted again (start after stop) the same work dir is accepted: the marker is taken away.
    sk create --rm --name vol --network none bb:1 grep -c volatile /proc/mounts >/dev/null
    sk start -a vol | grep -qx 1
    run sk run --name kept --network none bb:1 grep ' / ' /proc/mounts
    [ "$status" -eq 0 ]
    [[ "$output" == "overlay / overlay "* && "$output" != *volatile* ]]
    sk start -a kept >/dev/null
    sk rm kept >/dev/null
}

# --- 2. run flags, seen from inside ----------------------------------------------------------

@test "run -e, --env-file, -w" {
    printf 'A=1\n# a comment\nB=two words\n\n' > "$ROOT/env"
    run sk run --rm -e X=y --env-file "$ROOT/env" -e A=over bb:1 sh -c 'echo "$X|$A|$B"'
    [ "$status" -eq 0 ]
    same "$output" "y|over|two words"
    run sk run --rm -w /work/dir bb:1 pwd
    [ "$status" -eq 0 ]
    same "$output" "/work/dir"
}

@test "run -u nobody and -u 1000:1000" {
    run sk run --rm -u nobody bb:1 sh -c 'id -u; id -g'
    [ "$status" -eq 0 ]
    same "$output" $'65534\n65534'
    run sk run --rm -u 1000:1000 bb:1 sh -c 'id -u; id -g'
    [ "$status" -eq 0 ]
    same "$output" $'1000\n1000'
    run sk run --rm -u nosuchuser bb:1 true
    [ "$status" -eq 125 ]
}

@test "run --entrypoint and -h; the default host name is the short id" {
    run sk run --rm --entrypoint echo bb:1 hello world
    [ "$status" -eq 0 ]
    same "$output" "hello world"
    run sk run --rm -h myhost bb:1 hostname
    same "$output" "myhost"
    run sk run --name named bb:1 hostname
    same "$output" "$(field named '{{.Id}}' | cut -c1-12)"
}

@test "run --read-only: / refuses writes, a --tmpfs stays writable" {
    run sk run --rm --read-only bb:1 touch /x
    [ "$status" -ne 0 ]
    has "Read-only file system"
    run sk run --rm --read-only --tmpfs /scratch bb:1 sh -c 'touch /scratch/a && grep " /scratch " /proc/mounts'
    [ "$status" -eq 0 ]
    [[ "$output" == "tmpfs /scratch tmpfs "* ]]
}

@test "run -v: a bind mount shows the host's file; :ro refuses writes" {
    mkdir "$ROOT/host"
    echo from-host > "$ROOT/host/f"
    run sk run --rm -v "$ROOT/host:/h" bb:1 sh -c 'cat /h/f; echo from-container > /h/g'
    [ "$status" -eq 0 ]
    same "$output" "from-host"
    same "$(cat "$ROOT/host/g")" "from-container"
    run sk run --rm -v "$ROOT/host:/h:ro" bb:1 sh -c 'cat /h/f; echo x > /h/ro'
    [ "$status" -ne 0 ]
    has "from-host"
    has "Read-only file system"
    [ ! -e "$ROOT/host/ro" ]
}

@test "run -v: a missing host directory is created (Docker's -v); --mount refuses it with 125" {
    run --separate-stderr sk run --rm -v "$ROOT/made/by/run:/x" bb:1 sh -c 'echo in > /x/f'
    [ "$status" -eq 0 ]
    same "$(cat "$ROOT/made/by/run/f")" "in"
    run --separate-stderr sk run --rm --mount "type=bind,source=$ROOT/absent,target=/x" bb:1 true
    [ "$status" -eq 125 ]
    has "bind source path does not exist"
}

@test "run: a failing mount at start is the engine's failure (125), not the command's (127)" {
    mkdir "$ROOT/src"
    sk create --name mnt -v "$ROOT/src:/x" bb:1 true >/dev/null
    rmdir "$ROOT/src"
    run --separate-stderr sk start -a mnt
    [ "$status" -eq 125 ]
}

@test "run -v NAME:/dir: a named volume keeps its data across containers" {
    run sk run --rm -v keep:/data bb:1 sh -c 'echo kept > /data/k'
    [ "$status" -eq 0 ]
    run sk run --rm -v keep:/data bb:1 cat /data/k
    [ "$status" -eq 0 ]
    same "$output" "kept"
    [ -f "$R/volumes/keep/_data/k" ]
}

@test "run: default capabilities are Docker's 14; --cap-add/--cap-drop change them" {
    same "$(cap_eff)" "$DEFAULT_CAPS"
    # + SYS_ADMIN (21), - NET_RAW (13); names in either case, with or without CAP_.
    same "$(cap_eff --cap-add SYS_ADMIN --cap-drop NET_RAW)" "00000000a82405fb"
    same "$(cap_eff --cap-add cap_sys_admin --cap-drop net_raw)" "00000000a82405fb"
    same "$(cap_eff --cap-drop ALL)" "0000000000000000"
    same "$(cap_eff --cap-drop ALL --cap-add CHOWN)" "0000000000000001"
    run sk run --rm --cap-add NOT_A_CAP bb:1 true
    [ "$status" -eq 125 ]
}

@test "run --privileged: every capability this host grants, no seccomp, no masked paths" {
    host_caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)
    run --separate-stderr sk run --rm --privileged bb:1 sh -c 'grep -E "^(CapEff|Seccomp):" /proc/self/status; ls /sys/firmware | wc -l'
    [ "$status" -eq 0 ]
    same "$(echo "$output" | awk '/CapEff/ {print $2}')" "$host_caps"
    same "$(echo "$output" | awk '/Seccomp/ {print $2}')" "0"
    same "${lines[2]}" "$(ls /sys/firmware | wc -l)"
}

@test "run --security-opt no-new-privileges" {
    same "$(sk run --rm bb:1 grep NoNewPrivs /proc/self/status | awk '{print $2}')" "0"
    same "$(sk run --rm --security-opt no-new-privileges bb:1 grep NoNewPrivs /proc/self/status | awk '{print $2}')" "1"
}

@test "run: the default seccomp profile filters (unshare refused); seccomp=unconfined does not" {
    same "$(sk run --rm bb:1 grep Seccomp: /proc/self/status | awk '{print $2}')" "2"
    run sk run --rm bb:1 busybox unshare -U true
    [ "$status" -ne 0 ]
    has "Operation not permitted"
    same "$(sk run --rm --security-opt seccomp=unconfined bb:1 grep Seccomp: /proc/self/status | awk '{print $2}')" "0"
    run sk run --rm --security-opt seccomp=unconfined bb:1 busybox unshare -U true
    [ "$status" -eq 0 ]
    run sk run --rm --security-opt seccomp=/no/such/profile.json bb:1 true
    [ "$status" -eq 125 ]
}

@test "run: an entrypoint that is /proc/self/exe reaches only the sealed exec stub (CVE-2019-5736)" {
    # skiff run does not re-execute from a sealed copy; PID 1 execs through a sealed memfd
    # stub, so /proc/self/exe at that execve is the stub, which execs its next argument.
    sk run --name mkevil bb:1 ln -s /proc/self/exe /evil >/dev/null
    sk commit mkevil evil:1 >/dev/null
    sk rm mkevil >/dev/null
    baseline=$(sk run --rm bb:1 readlink /proc/self/exe)
    run --separate-stderr sk run --rm --entrypoint /evil evil:1 /bin/sh sh -c 'readlink /proc/self/exe; echo $0'
    [ "$status" -eq 0 ]
    same "$output" "$(printf '%s\nsh' "$baseline")"
    # Alone it runs nothing: one line, 126.
    run --separate-stderr sk run --rm --entrypoint /evil evil:1
    [ "$status" -eq 126 ]
    [[ "$stderr" == *"skiff exec stub"* ]]
    # A missing program through the stub: 127, as Docker's "executable file not found".
    run -127 --separate-stderr sk run --rm --entrypoint /evil evil:1 /no/such/file x
    [ "$status" -eq 127 ]
    [[ "$stderr" == *"exec /no/such/file: no such file or directory"* ]]
}

@test "run: masked paths are /dev/null or empty; /proc/sys is read-only" {
    run sk run --rm bb:1 sh -c '
        for f in /proc/kcore /proc/keys /proc/timer_list; do
            [ -e $f ] || continue
            [ "$(stat -c %t:%T $f)" = 1:3 ] || echo "not masked: $f"
        done
        [ -z "$(ls -A /sys/firmware)" ] || echo "not masked: /sys/firmware"
        (echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo "writable: /proc/sys"
        echo checked'
    [ "$status" -eq 0 ]
    same "$output" "checked"
}

@test "run -l: labels in inspect and ps; --stop-signal and --stop-timeout in inspect" {
    sk create -l app=web -l tier=front --stop-signal SIGUSR1 --stop-timeout 3 --name lab bb:1 >/dev/null
    same "$(field lab '{{json .Config.Labels}}')" '{"app":"web","tier":"front"}'
    same "$(field lab '{{.Config.StopSignal}}')" "SIGUSR1"
    same "$(field lab '{{.Config.StopTimeout}}')" "3"
    same "$(field lab '{{.State.Status}}')" "created"
}

@test "run --network host sees the host's interfaces; none only lo; the default (bridge) eth0 too" {
    same "$(sk run --rm --network host bb:1 ls /sys/class/net | sort)" "$(ls /sys/class/net | sort)"
    same "$(sk run --rm bb:1 ls /sys/class/net | sort | tr '\n' ' ')" "eth0 lo "
    same "$(sk run --rm --network none bb:1 ls /sys/class/net)" "lo"
    run sk run --rm --network nosuchnet bb:1 true
    [ "$status" -eq 125 ]
}

@test "run -m, --pids-limit, --cpus: warned about here (hybrid cgroups), the container still runs" {
    run --separate-stderr sk run --rm -m 64m --pids-limit 10 --cpus 1 bb:1 echo ran
    [ "$status" -eq 0 ]
    same "$output" "ran"
    run --separate-stderr sk run --rm -m lots bb:1 true
    [ "$status" -eq 125 ]
}

@test "run --ulimit" {
    run sk run --rm --ulimit nofile=100:200 bb:1 sh -c 'ulimit -n; ulimit -Hn'
    [ "$status" -eq 0 ]
    same "$output" $'100\n200'
}

# --- 3. detached -----------------------------------------------------------------------------

@test "run -d: prints the id; ps shows it Up; inspect's State; stop; State again" {
    run --separate-stderr sk run -d --name det bb:1 sleep 30
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    id=$output
    same "$(sk ps --format '{{.ID}} {{.Names}}')" "${id:0:12} det"
    [[ "$(sk ps --format '{{.Status}}')" == Up* ]]
    sk inspect det > "$ROOT/running.json"
    jq -e --arg id "$id" '.[0] | .Id == $id and .Name == "/det" and .State.Status == "running" and
        .State.Running == true and .State.Pid > 0 and .State.ExitCode == 0 and
        (.State.StartedAt | startswith("20")) and .State.FinishedAt == "0001-01-01T00:00:00Z" and
        .Path == "sleep" and .Args == ["30"] and .Config.Image == "bb:1" and (.Image | startswith("sha256:"))' \
        "$ROOT/running.json"
    pid=$(jq '.[0].State.Pid' "$ROOT/running.json")
    same "$(tr '\0' ' ' < "/proc/$pid/cmdline")" "sleep 30 "
    run sk stop -t 1 det
    [ "$status" -eq 0 ]
    same "$output" "det"
    sk inspect det > "$ROOT/stopped.json"
    jq -e '.[0].State | .Status == "exited" and .Running == false and .Pid == 0 and .ExitCode == 137 and
        (.FinishedAt | startswith("20"))' "$ROOT/stopped.json"
    [ ! -e "/proc/$pid" ] || [ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" != "sleep 30 " ]
    same "$(our_mounts)" ""
}

@test "logs: stdout and stderr apart, -t, --tail" {
    sk run -d --name lg bb:1 sh -c 'echo out1; echo out2; sleep 0.1; echo err1 >&2; sleep 0.1; echo out3' >/dev/null
    same "$(sk wait lg)" "0"
    same "$(sk logs lg 2>/dev/null)" $'out1\nout2\nout3'
    same "$(sk logs lg 2>&1 >/dev/null)" "err1"
    run sk logs -t lg
    [ "${#lines[@]}" -eq 4 ]
    for l in "${lines[@]}"; do
        [[ "$l" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\ (out|err)[0-9]$ ]]
    done
    same "$(sk logs --tail 1 lg 2>&1)" "out3"
    same "$(sk logs --tail 2 lg 2>/dev/null)" "out3"
    same "$(sk logs --tail 2 lg 2>&1)" $'err1\nout3'
}

@test "logs --since/--until: exact times, fractions of a second included" {
    sk run -d --name win bb:1 sh -c 'echo early; sleep 0.3; echo late' >/dev/null
    same "$(sk wait win)" "0"
    run sk logs -t win
    [ "${#lines[@]}" -eq 2 ]
    mid=$(python3 - "${lines[0]%% *}" "${lines[1]%% *}" <<'PY'
import sys, datetime
def t(s):
    base, frac = s.rstrip('Z').split('.')
    d = datetime.datetime.strptime(base, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() + float('0.' + frac)
m = (t(sys.argv[1]) + t(sys.argv[2])) / 2
d = datetime.datetime.fromtimestamp(int(m), datetime.timezone.utc)
print(d.strftime('%Y-%m-%dT%H:%M:%S') + ('%.9f' % (m - int(m)))[1:] + 'Z')
PY
)
    same "$(sk logs --since "$mid" win)" "late"
    same "$(sk logs --until "$mid" win)" "early"
}

@test "run: SIGTERM to an attached run's CLI reaches the container" {
    "$SKIFF" --root "$R" --runroot "$RR" run --name relay bb:1 sh -c 'trap "echo relayed; exit 9" TERM; while :; do sleep 0.1; done' > "$ROOT/relay" &
    cli=$!
    BG_PIDS+=("$cli")
    wait_for 50 is_state relay running
    sleep 0.2
    kill -TERM "$cli"
    bounded_wait "$cli"
    [ "$status" -eq 9 ]
    same "$(cat "$ROOT/relay")" "relayed"
}

@test "run -d --rm: removed when it exits; wait still prints its code" {
    id=$(sk run -d --rm bb:1 sh -c 'sleep 0.5; exit 3')
    run --separate-stderr sk wait "$id"
    [ "$status" -eq 0 ]
    same "$output" "3"
    wait_for 50 [ ! -e "$R/containers/$id" ]
    same "$(sk ps -aq)" ""
    no_trace "$id"
}

@test "logs -f: follows until the container ends, then returns" {
    sk run -d --name fl bb:1 sh -c 'for i in 1 2 3 4 5; do echo tick$i; sleep 0.2; done' >/dev/null
    run timeout 10 "$SKIFF" --root "$R" --runroot "$RR" logs -f fl
    [ "$status" -eq 0 ]
    same "$output" $'tick1\ntick2\ntick3\ntick4\ntick5'
    # ... and when it is stopped.
    run_trapping fl2 >/dev/null
    timeout 10 "$SKIFF" --root "$R" --runroot "$RR" logs -f fl2 > "$ROOT/follow" &
    follower=$!
    BG_PIDS+=("$follower")
    wait_for 50 grep -q ready "$ROOT/follow"
    sk stop fl2
    bounded_wait "$follower"
    [ "$status" -eq 0 ]
    same "$(cat "$ROOT/follow")" $'ready\ngot-term'
}

@test "exec: output, exit code, -e, -w, -u; 127, 126; a stopped container is refused" {
    run_trapping ex >/dev/null
    run sk exec ex sh -c 'echo inside; exit 4'
    [ "$status" -eq 4 ]
    same "$output" "inside"
    run sk exec -e Q=1 -w /tmp -u nobody ex sh -c 'echo "$Q $(pwd) $(id -u)"'
    [ "$status" -eq 0 ]
    same "$output" "1 /tmp 65534"
    run -127 sk exec ex no-such-command
    [ "$status" -eq 127 ]
    run sk exec ex /etc/passwd
    [ "$status" -eq 126 ]
    # exec sees the container's processes: PID 1 is its sh.
    same "$(sk exec ex cat /proc/1/comm)" "sh"
    run sk exec -d ex sh -c 'echo detached > /tmp/d'
    [ "$status" -eq 0 ]
    wait_for 30 sk exec ex test -f /tmp/d
    sk stop ex
    run --separate-stderr sk exec ex true
    [ "$status" -eq 125 ]
    has "is not running"
}

@test "stop: a SIGTERM trap stops at once; a process ignoring it is killed after -t (137)" {
    run_trapping quick >/dev/null
    start=$(date +%s%N)
    sk stop quick
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$elapsed" -lt 2000 ]
    same "$(sk wait quick)" "0"
    sk run -d --name stubborn bb:1 sh -c 'trap "" TERM; while :; do sleep 0.1; done' >/dev/null
    start=$(date +%s%N)
    sk stop -t 1 stubborn
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$elapsed" -ge 900 ]
    [ "$elapsed" -lt 5000 ]
    [[ "$(sk ps -a --filter name=stubborn --format '{{.Status}}')" == "Exited (137)"* ]]
    # stop of a stopped container is fine, as in Docker.
    run sk stop stubborn
    [ "$status" -eq 0 ]
}

@test "stop uses --stop-signal" {
    sk run -d --stop-signal USR1 --name sig bb:1 sh -c 'trap "exit 42" USR1; while :; do sleep 0.1; done' >/dev/null
    sk stop -t 5 sig
    same "$(sk wait sig)" "42"
}

@test "kill -s, wait prints the code, start again, rm refuses a running container" {
    sk run -d --name k1 bb:1 sh -c 'trap "exit 7" USR2; trap "exit 8" HUP; while :; do sleep 0.1; done' >/dev/null
    sk wait k1 > "$ROOT/waited" &
    waiter=$!
    BG_PIDS+=("$waiter")
    sleep 0.2
    sk kill -s USR2 k1
    bounded_wait "$waiter"
    [ "$status" -eq 0 ]
    same "$(cat "$ROOT/waited")" "7"
    [[ "$(sk ps -a --format '{{.Status}}')" == "Exited (7)"* ]]
    # start again: the same container, running anew.
    run sk start k1
    [ "$status" -eq 0 ]
    same "$output" "k1"
    wait_for 50 is_state k1 running
    sk kill -s SIGHUP k1
    same "$(sk wait k1)" "8"
    sk start k1
    run --separate-stderr sk rm k1
    [ "$status" -eq 125 ]
    has "container is running"
    is_state k1 running
    id=$(field k1 '{{.Id}}')
    run sk rm -f k1
    [ "$status" -eq 0 ]
    no_trace "$id"
    run sk kill k1
    [ "$status" -eq 125 ]
    has "No such container"
}

@test "create then start -a; start of a running container is fine" {
    id=$(sk create --name cr bb:1 sh -c 'echo created-then-started; exit 6')
    [[ "$id" =~ ^[0-9a-f]{64}$ ]]
    same "$(sk ps -a --format '{{.Status}}')" "Created"
    run sk start -a cr
    [ "$status" -eq 6 ]
    same "$output" "created-then-started"
    run_trapping up >/dev/null
    run sk start up
    [ "$status" -eq 0 ]
}

# --- 4. restart policies ---------------------------------------------------------------------

@test "--restart on-failure:2: restarted twice, then exited" {
    sk run -d --restart on-failure:2 --name rf bb:1 sh -c 'echo try; exit 1' >/dev/null
    wait_for 50 is_field rf '{{.RestartCount}} {{.State.Status}}' "2 exited"
    sleep 0.5
    same "$(sk inspect --format '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' rf)" "2 exited 1"
    same "$(sk logs rf)" $'try\ntry\ntry'
    same "$(sk inspect --format '{{json .HostConfig.RestartPolicy}}' rf)" '{"MaximumRetryCount":2,"Name":"on-failure"}'
}

@test "--restart always: restarted until stopped, and not after" {
    sk run -d --restart always --name ra bb:1 sh -c 'echo up; sleep 0.1' >/dev/null
    wait_for 50 restarted_at_least ra 3
    sk stop -t 1 ra
    count=$(field ra '{{.RestartCount}}')
    sleep 2
    same "$(field ra '{{.RestartCount}} {{.State.Status}}')" "$count exited"
    monitor=$(record "$(field ra '{{.Id}}')" .monitor_pid)
    [ "$monitor" -eq 0 ] || [ ! -e "/proc/$monitor" ] || [[ "$(tr '\0' ' ' < /proc/$monitor/cmdline)" != *"$R"* ]]
}

@test "--restart: between two runs the container is restarting, not exited" {
    sk run -d --restart always --name rs bb:1 sh -c 'sleep 0.1; exit 1' >/dev/null
    wait_for 100 restarted_at_least rs 4
    # Back-off is now 1.6 s against a 0.1 s run: mostly restarting, never exited.
    for i in 1 2 3 4 5; do
        run field rs '{{.State.Status}}'
        [[ "$output" == running || "$output" == restarting ]]
        [[ "$(sk ps --filter name=rs --format '{{.Status}}')" =~ ^(Up|Restarting) ]]
        sleep 0.2
    done
    sk rm -f rs
}

@test "--restart with --rm is refused; so is an unknown policy" {
    run --separate-stderr sk run --rm --restart always bb:1 true
    [ "$status" -eq 125 ]
    has "conflicting options"
    run --separate-stderr sk run --restart sometimes bb:1 true
    [ "$status" -eq 125 ]
    has "invalid restart policy"
    same "$(container_ids)" ""
}

# --- 5. names --------------------------------------------------------------------------------

@test "names: a duplicate --name is Docker's conflict and nothing is half-made" {
    id=$(sk create --name dup bb:1)
    run --separate-stderr sk run --name dup bb:1 echo never
    [ "$status" -eq 125 ]
    has "Conflict. The container name \"/dup\" is already in use by container \"$id\""
    [[ "$output" != *never* ]]
    same "$(container_ids)" "$id"
    same "$(sk ps -aq --no-trunc)" "$id"
    same "$(our_mounts)" ""
    run sk run -d --name dup bb:1 sleep 1
    [ "$status" -eq 125 ]
    same "$(container_ids)" "$id"
    # The name is free again once the container is removed.
    sk rm dup
    sk run --rm --name dup bb:1 true
}

@test "names: generated ones look like adjective_surname; a bad --name is refused" {
    for i in 1 2 3; do sk create bb:1 >/dev/null; done
    run sk ps -a --format '{{.Names}}'
    [ "${#lines[@]}" -eq 3 ]
    for n in "${lines[@]}"; do [[ "$n" =~ ^[a-z]+_[a-z]+[0-9]*$ ]]; done
    same "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" "3"
    run --separate-stderr sk create --name 'bad/name' bb:1
    [ "$status" -eq 125 ]
    has "Invalid container name"
}

# --- 6. ps -----------------------------------------------------------------------------------

@test "ps: -a, -q, -n, -l, --no-trunc, the table" {
    sk run --name first bb:1 true
    sk run --name second bb:1 sh -c 'exit 2' || true
    sk run -d --name third bb:1 sleep 30 >/dev/null
    run sk ps
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[0]}" =~ ^CONTAINER\ ID\ +IMAGE\ +COMMAND\ +CREATED\ +STATUS\ +PORTS\ +NAMES$ ]]
    [[ "${lines[1]}" =~ ^[0-9a-f]{12}\ +bb:1\ +\"sleep\ 30\"\ +.*\ +Up\ .*\ +third$ ]]
    run sk ps -a
    [ "${#lines[@]}" -eq 4 ]
    same "$(sk ps -a --format '{{.Names}}' | tr '\n' ,)" "third,second,first,"
    same "$(sk ps -aq | wc -l)" "3"
    sk ps -aq | grep -Eqx '[0-9a-f]{12}'
    same "$(sk ps -aq --no-trunc | grep -Ecx '[0-9a-f]{64}')" "3"
    same "$(sk ps -n 2 --format '{{.Names}}' | tr '\n' ,)" "third,second,"
    same "$(sk ps -l --format '{{.Names}}')" "third"
    sk run --name fourth bb:1 echo a-rather-long-command-line-here
    run sk ps -a --no-trunc --filter name=fourth
    [[ "${lines[1]}" == *'"echo a-rather-long-command-line-here"'* ]]
    run sk ps -a --filter name=fourth
    [[ "${lines[1]}" != *'a-rather-long-command-line-here'* ]]
}

@test "ps --filter: status, exited, name, label, ancestor by name and id, before, since" {
    sk run --name ex0 -l tier=db bb:1 true
    sk run --name ex2 bb:1 sh -c 'exit 2' || true
    sk run -d --name live -l tier=web bb:1 sleep 30 >/dev/null
    sk create --name made bb:1 >/dev/null
    img=$(sk images -q --no-trunc bb:1)
    names() { sk ps -a "$@" --format '{{.Names}}' | sort | tr '\n' ,; }
    same "$(names --filter status=exited)" "ex0,ex2,"
    same "$(names --filter status=running)" "live,"
    same "$(names --filter status=created)" "made,"
    same "$(names --filter exited=2)" "ex2,"
    same "$(names --filter name=ex)" "ex0,ex2,"
    same "$(names --filter name=ex --filter status=running)" ""
    same "$(names --filter label=tier)" "ex0,live,"
    same "$(names --filter label=tier=web)" "live,"
    same "$(names --filter ancestor=bb:1)" "ex0,ex2,live,made,"
    same "$(names --filter ancestor="$img")" "ex0,ex2,live,made,"
    same "$(names --filter ancestor="${img:7:12}")" "ex0,ex2,live,made,"
    same "$(names --filter before=live)" "ex0,ex2,"
    same "$(names --filter since=ex2)" "live,made,"
    same "$(names --filter id="$(field live '{{.Id}}' | cut -c1-6)")" "live,"
    run --separate-stderr sk ps --filter colour=red
    [ "$status" -eq 125 ]
}

@test "ps --format: a template and json" {
    sk run -d --name fmt -l k=v bb:1 sleep 30 >/dev/null
    same "$(sk ps --format '{{.Names}}|{{.Image}}|{{.Command}}')" 'fmt|bb:1|"sleep 30"'
    sk ps --format json > "$ROOT/ps.json"
    jq -e --arg id "$(field fmt '{{.Id}}')" '
        .Names == "fmt" and .ID == ($id | .[0:12]) and .Image == "bb:1" and .State == "running" and
        (.Status | startswith("Up"))' "$ROOT/ps.json"
    run sk ps --format 'table {{.Names}}\t{{.Status}}'
    [[ "${lines[0]}" =~ ^NAMES\ +STATUS$ ]]
    [[ "${lines[1]}" =~ ^fmt\ +Up ]]
}

# --- 7. faults -------------------------------------------------------------------------------

@test "fault: the CLI of an attached run killed with -9; ps stays truthful, rm -f leaves nothing" {
    "$SKIFF" --root "$R" --runroot "$RR" run --name orphan bb:1 sleep 30 &
    cli=$!
    BG_PIDS+=("$cli")
    wait_for 50 is_state orphan running
    id=$(field orphan '{{.Id}}')
    pid=$(field orphan '{{.State.Pid}}')
    kill -9 "$cli"
    bounded_wait "$cli"
    # PID 1 outlived the CLI: running is the truth; once it is gone, Exited.
    run sk ps -a --format '{{.Names}} {{.Status}}'
    [ "$status" -eq 0 ]
    if running_pid "$pid"; then
        [[ "$output" == "orphan Up"* ]]
    else
        [[ "$output" == "orphan Exited"* ]]
    fi
    run sk rm -f orphan
    [ "$status" -eq 0 ]
    no_trace "$id"
    [ ! -e "/proc/$pid" ] || [ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" != "sleep 30 " ]
    same "$(sk ps -aq)" ""
}

@test "fault: the monitor of a detached container killed with -9; stop and rm still work" {
    id=$(sk run -d --name mon bb:1 sleep 30)
    monitor=$(record "$id" .monitor_pid)
    pid=$(record "$id" .pid)
    [ "$monitor" -gt 0 ]
    [ "$(cat "/proc/$monitor/comm")" = skiff-monitor ]
    kill -9 "$monitor"
    sleep 0.3
    # PID 1 may die with its monitor (PDEATHSIG) or outlive it: either way ps tells the truth.
    run sk ps -a --format '{{.Status}}'
    if running_pid "$pid"; then
        [[ "$output" == Up* ]]
        run sk exec mon echo still-here
        same "$output" "still-here"
    else
        [[ "$output" =~ ^Exited\ \((137|255)\) ]]
    fi
    run sk stop -t 1 mon
    [ "$status" -eq 0 ]
    [[ "$(sk ps -a --format '{{.Status}}')" =~ ^Exited\ \((137|255)\) ]]
    [ ! -e "/proc/$pid" ] || [ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" != "sleep 30 " ]
    same "$(our_mounts)" ""
    run sk rm mon
    [ "$status" -eq 0 ]
    no_trace "$id"
}

@test "fault: 30 parallel run -d give 30 unique names and ids, all listed, all removable" {
    local pids=() i
    for i in $(seq 1 30); do
        ( sk run -d bb:1 sleep 30 > "$ROOT/out.$i" 2> "$ROOT/err.$i" ) &
        pids+=("$!")
    done
    BG_PIDS+=("${pids[@]}")
    failed=0
    for p in "${pids[@]}"; do
        bounded_wait "$p" 60
        [ "$status" -eq 0 ] || failed=$((failed + 1))
    done
    if [ "$failed" -ne 0 ]; then cat "$ROOT"/err.* >&2; fi
    [ "$failed" -eq 0 ]
    same "$(cat "$ROOT"/out.* | grep -Ecx '[0-9a-f]{64}')" "30"
    same "$(cat "$ROOT"/out.* | sort -u | wc -l)" "30"
    same "$(sk ps -q --no-trunc | sort)" "$(cat "$ROOT"/out.* | sort)"
    same "$(sk ps --format '{{.Names}}' | sort -u | wc -l)" "30"
    same "$(sk ps --format '{{.Status}}' | grep -c '^Up')" "30"
    run sk rm -f $(sk ps -q)
    [ "$status" -eq 0 ]
    same "$(sk ps -aq)" ""
    for id in $(cat "$ROOT"/out.*); do no_trace "$id"; done
}

@test "fault: a host 'reboot' (processes killed, mounts gone, runroot deleted): Exited (255), rm -f leaves nothing" {
    ids=()
    for n in boot1 boot2 boot3; do ids+=("$(sk run -d --name $n bb:1 sleep 30)"); done
    for id in "${ids[@]}"; do
        kill -9 "$(record "$id" .monitor_pid)" "$(record "$id" .pid)"
    done
    for id in "${ids[@]}"; do
        wait_for 30 [ ! -e "/proc/$(record "$id" .pid)" ] || true
        umount "$R/containers/$id/rootfs"
        umount "$RR/netns/$id"   # a reboot takes the network namespaces too
    done
    rm -rf "$RR"
    same "$(our_mounts)" ""
    run sk ps -a --format '{{.Names}} {{.Status}}'
    [ "$status" -eq 0 ]
    for l in "${lines[@]}"; do [[ "$l" =~ ^boot[123]\ Exited\ \(255\) ]]; done
    [ "${#lines[@]}" -eq 3 ]
    for id in "${ids[@]}"; do
        run sk rm -f "$id"
        [ "$status" -eq 0 ]
        no_trace "$id"
    done
    same "$(sk ps -aq)" ""
    # And the engine works again after it.
    same "$(sk run --rm bb:1 echo back)" "back"
}
