#!/usr/bin/env bats
# The monitor of a detached container (skiff-monitor, a small static program that the
# double-forked monitor becomes once PID 1 runs), `attach` through its socket, and `--init`
# (skiff-init as PID 1). Each test has its own --root and --runroot with bb:1 (busybox, CMD
# ["sh"]); teardown removes every container, process, mount and cgroup the test made.
# Containers use --network none: what is tested here has nothing to do with networks.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}
CGROUP_ROOT=/sys/fs/cgroup/unified/skiff

setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs"
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
    "$SKIFF" --root "$FIX/store" --runroot "$FIX/run" import -c 'CMD ["sh"]' "$FIX/rootfs.tar" bb:1 >/dev/null
    # Drives a command on a pty of 33 rows and 77 columns: writes each INPUT argument (Python
    # escapes) after its EXPECT has been read, and prints the exit code and what was read.
    #   drive_pty.py TIMEOUT 'EXPECT=>INPUT' ... -- CMD...
    cat > "$FIX/drive_pty.py" <<'PY'
import os, pty, select, struct, subprocess, sys, time, fcntl, termios
timeout = float(sys.argv[1])
split = sys.argv.index("--")
steps = [s.split("=>", 1) for s in sys.argv[2:split]]
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
proc = subprocess.Popen(sys.argv[split + 1:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
os.close(slave)
seen = b""
def read_until(token):
    global seen
    end = time.time() + timeout
    while token.encode() not in seen and time.time() < end:
        if select.select([master], [], [], 0.1)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                return False
    return token.encode() in seen
for expect, data in steps:
    if not read_until(expect):
        proc.kill()
        print("did not see: " + expect)
        break
    os.write(master, data.encode().decode("unicode_escape").encode("latin-1"))
try:
    code = proc.wait(timeout=timeout)
except subprocess.TimeoutExpired:
    proc.kill()
    code = "timeout"
while select.select([master], [], [], 0.2)[0]:
    try:
        seen += os.read(master, 4096)
    except OSError:
        break
print("exit=%s" % code)
print(seen.decode(errors="replace"))
PY
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-ma.XXXXXX)
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
    for id in $(container_ids); do
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

sk() { timeout 60 "$SKIFF" --root "$R" --runroot "$RR" "$@"; }

bounded_wait() {
    timeout "${2:-30}" tail --pid="$1" -f /dev/null || kill -9 "$1" 2>/dev/null
    status=0
    wait "$1" || status=$?
    local keep=() p
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

container_ids() {
    local d
    for d in "$R"/containers/*/; do
        d=$(basename "$d")
        [[ "$d" =~ ^[0-9a-f]{64}$ ]] && echo "$d"
    done
    return 0
}

same() {
    if [ "$1" != "$2" ]; then
        printf 'expected: %s\n     got: %s\n' "$2" "$1" >&2
        return 1
    fi
}

has() {
    if [[ "$output" != *"$1"* && "${stderr:-}" != *"$1"* ]]; then
        printf 'expected to see: %s\n  output: %s\n  stderr: %s\n' "$1" "$output" "${stderr:-}" >&2
        return 1
    fi
}

record() { jq -r "$2" "$R/containers/$1/record.json"; }
state_of() { sk inspect --format '{{.State.Status}}' "$1"; }
is_state() { [ "$(state_of "$1" 2>/dev/null)" = "$2" ]; }
restarted_at_least() { [ "$(sk inspect --format '{{.RestartCount}}' "$1" 2>/dev/null)" -ge "$2" ]; }
our_mounts() { awk '{print $5}' /proc/self/mountinfo | grep "^$ROOT/" || true; }
logs_have() { sk logs "$1" 2>/dev/null | grep -q "$2"; }
# A pid that no longer runs anything of this test.
gone() { [ ! -e "/proc/$1" ] || [[ "$(tr '\0' ' ' < "/proc/$1/cmdline")" != *"$R"* ]]; }
kib_of() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# Processes of the container (host pids), from its cgroup.
container_procs() { cat "$CGROUP_ROOT/$1/cgroup.procs" 2>/dev/null; }

# --- 1. the monitor --------------------------------------------------------------------------

@test "monitor: PID 1 is the child of skiff-monitor, a small static program; RSS under 1 MiB" {
    id=$(sk run -d --network none --name mon bb:1 sleep 30)
    monitor=$(record "$id" .monitor_pid)
    pid=$(record "$id" .pid)
    same "$(cat "/proc/$monitor/comm")" "skiff-monitor"
    same "$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")" "$monitor"
    # (`run -d` returns once PID 1 runs; the exec of skiff-monitor follows at once.)
    wait_for 20 [ "$(readlink "/proc/$monitor/exe")" = "$(readlink -f "$SKIFF_BUILD/cli/skiff-monitor")" ]
    # Static: no interpreter, no shared libraries mapped.
    [ -z "$(grep '\.so' "/proc/$monitor/maps")" ]
    # It runs in no cgroup of the container and keeps no fd of the CLI that started it.
    [ -z "$(container_procs "$id" | grep -x "$monitor")" ]
    for fd in /proc/$monitor/fd/*; do
        target=$(readlink "$fd")
        [[ "$target" == /dev/null || "$target" == pipe:* || "$target" == socket:* || \
           "$target" == anon_inode:* || "$target" == "$R/containers/$id/container.log" ]]
    done
    sleep 0.3
    rss=$(kib_of "$monitor" VmRSS)
    echo "skiff-monitor VmRSS: $rss kB" >&2
    [ "$rss" -le 1024 ]
    sk stop -t 1 mon
    # The monitor (skiff again by then) ends right after recording the exit.
    wait_for 50 gone "$monitor"
    same "$(ls "$RR/attach")" ""
}

@test "monitor: the log keeps stdout and stderr apart, one json-file record per line" {
    sk run -d --network none --name lg bb:1 sh -c 'echo out1; echo err1 >&2; printf "tab\t\"q\"\\\\ \033[0m\n"; printf "no newline"' >/dev/null
    sk wait lg >/dev/null
    run --separate-stderr sk logs lg
    same "$output" $'out1\ntab\t"q"\\ \033[0m\nno newline'
    same "$stderr" "err1"
    # Docker's json-file format, written by skiff-monitor exactly as the engine writes it.
    id=$(sk inspect --format '{{.Id}}' lg)
    log=$R/containers/$id/container.log
    same "$(wc -l < "$log")" "4"
    while read -r line; do
        [[ "$line" =~ ^\{\"log\":\".*\",\"stream\":\"(stdout|stderr)\",\"time\":\"20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z\"\}$ ]]
    done < "$log"
    grep -qF '{"log":"tab\t\"q\"\\ \u001b[0m\n","stream":"stdout"' "$log"
    # An attached run of the same command writes the same records (times aside).
    sk run --network none --name lg2 bb:1 sh -c 'echo out1; echo err1 >&2; printf "tab\t\"q\"\\\\ \033[0m\n"; printf "no newline"' >/dev/null 2>&1
    id2=$(sk inspect --format '{{.Id}}' lg2)
    # Two pipes have no order between them (Docker's neither): compare each stream's records.
    for stream in stdout stderr; do
        same "$(grep "\"stream\":\"$stream\"" "$R/containers/$id2/container.log" | sed 's/"time":"[^"]*"//')" \
             "$(grep "\"stream\":\"$stream\"" "$log" | sed 's/"time":"[^"]*"//')"
    done
}

@test "monitor: --restart runs PID 1 again under the same monitor process; its exit is recorded" {
    id=$(sk run -d --network none --restart on-failure:2 --name rs bb:1 sh -c 'echo run; sleep 0.3; exit 4')
    first=$(record "$id" .monitor_pid)
    wait_for 100 restarted_at_least rs 2
    wait_for 50 is_state rs exited
    same "$(sk inspect --format '{{.RestartCount}} {{.State.ExitCode}}' rs)" "2 4"
    same "$(record "$id" .monitor_pid)" "$first"
    same "$(sk logs rs)" $'run\nrun\nrun'
    wait_for 50 gone "$first"
    same "$(our_mounts)" ""
}

@test "monitor: kill -9 of skiff-monitor takes PID 1 with it; ps says 255 or 137; the socket goes" {
    id=$(sk run -d --network none --name k9 bb:1 sleep 30)
    monitor=$(record "$id" .monitor_pid)
    pid=$(record "$id" .pid)
    [ -S "$RR/attach/$id" ]
    kill -9 "$monitor"
    wait_for 50 [ ! -e "/proc/$pid" ]
    [[ "$(sk ps -a --format '{{.Status}}')" =~ ^Exited\ \((137|255)\) ]]
    [ ! -e "$RR/attach/$id" ]
    same "$(our_mounts)" ""
    sk rm k9
}

@test "monitor: run -d -i keeps PID 1's stdin open (cat waits), -d alone gives it /dev/null" {
    sk run -d --network none -i --name open bb:1 cat >/dev/null
    sk run -d --network none --name closed bb:1 cat >/dev/null
    sleep 0.5
    is_state open running
    wait_for 50 is_state closed exited
}

@test "container-exited is internal: not in --help, refused for a container whose PID 1 runs" {
    run sk --help
    [[ "$output" != *container-exited* ]]
    sk run -d --network none --name busy bb:1 sleep 30 >/dev/null
    id=$(sk inspect --format '{{.Id}}' busy)
    run --separate-stderr sk container-exited "$id" 0
    [ "$status" -eq 125 ]
    is_state busy running
}

# --- 2. attach -------------------------------------------------------------------------------

@test "attach: stdin of a -i container, and its exit code" {
    sk run -d --network none -i --name rd bb:1 sh -c 'read l; echo got $l; exit 3' >/dev/null
    run --separate-stderr sk attach rd <<< "hi"
    [ "$status" -eq 3 ]
    same "$output" "got hi"
    is_state rd exited
}

@test "attach: a ticking container's output as it comes, stderr apart; --no-stdin" {
    sk run -d --network none -i --name tick bb:1 sh -c 'sleep 0.5; for i in 1 2 3 4 5; do echo tick$i; echo tock$i >&2; sleep 0.2; done' >/dev/null
    "$SKIFF" --root "$R" --runroot "$RR" attach --no-stdin tick > "$ROOT/out" 2> "$ROOT/err" &
    cli=$!
    BG_PIDS+=("$cli")
    # Live: the first ticks are there before the container is done.
    wait_for 50 grep -q tick2 "$ROOT/out"
    [ -z "$(grep tick5 "$ROOT/out")" ]
    bounded_wait "$cli"
    [ "$status" -eq 0 ]
    same "$(cat "$ROOT/out")" $'tick1\ntick2\ntick3\ntick4\ntick5'
    same "$(cat "$ROOT/err")" $'tock1\ntock2\ntock3\ntock4\ntock5'
}

@test "attach: two clients at once both see the output; one leaving does not disturb the other" {
    sk run -d --network none --name two bb:1 sh -c 'sleep 0.5; for i in 1 2 3 4 5 6; do echo n$i; sleep 0.2; done' >/dev/null
    "$SKIFF" --root "$R" --runroot "$RR" attach two > "$ROOT/a" &
    a=$!
    "$SKIFF" --root "$R" --runroot "$RR" attach --sig-proxy=false two > "$ROOT/b" &
    b=$!
    BG_PIDS+=("$a" "$b")
    wait_for 50 grep -q n2 "$ROOT/b"
    kill -9 "$b"
    bounded_wait "$a"
    [ "$status" -eq 0 ]
    same "$(cat "$ROOT/a")" $'n1\nn2\nn3\nn4\nn5\nn6'
}

@test "attach --sig-proxy: SIGTERM to attach reaches PID 1; =false leaves the container alone" {
    sk run -d --network none --name sig bb:1 sh -c 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
    "$SKIFF" --root "$R" --runroot "$RR" attach sig > "$ROOT/out" &
    cli=$!
    BG_PIDS+=("$cli")
    sleep 0.5
    kill -TERM "$cli"
    bounded_wait "$cli"
    [ "$status" -eq 5 ]
    same "$(cat "$ROOT/out")" "got-term"
    sk run -d --network none --name nosig bb:1 sh -c 'trap "echo got-term; exit 5" TERM; while :; do sleep 0.1; done' >/dev/null
    "$SKIFF" --root "$R" --runroot "$RR" attach --sig-proxy=false nosig > "$ROOT/out2" &
    cli=$!
    BG_PIDS+=("$cli")
    sleep 0.5
    kill -TERM "$cli"
    bounded_wait "$cli"
    [ "$status" -eq 143 ]
    is_state nosig running
}

@test "attach -t: the terminal in raw mode, its size, ctrl-p ctrl-q detaches and the container goes on" {
    sk run -d --network none -it --name term bb:1 sh >/dev/null
    # (The shell printed its prompt before we came: a return asks for a new one.)
    run python3 "$FIX/drive_pty.py" 10 '=>\r' '#=>echo hello-$((6*7)); stty size\r' '33 77=>\x10\x11' -- \
        "$SKIFF" --root "$R" --runroot "$RR" attach term
    has "exit=0"
    has "hello-42"
    has "33 77"
    is_state term running
    # Again, with a key of our own.
    run python3 "$FIX/drive_pty.py" 10 '=>\r' '#=>echo x$((1+1))\r' 'x2=>\x01' -- \
        "$SKIFF" --root "$R" --runroot "$RR" attach --detach-keys ctrl-a term
    has "exit=0"
    has "x2"
    is_state term running
    # What the shell printed is in the log too (the pty is one stream: stdout).
    run sk logs term
    has "hello-42"
    # exit from the terminal ends the container and the attach with its code.
    run python3 "$FIX/drive_pty.py" 10 '=>\r' '#=>exit 6\r' -- "$SKIFF" --root "$R" --runroot "$RR" attach term
    has "exit=6"
    wait_for 50 is_state term exited
}

@test "attach: refused for stopped and paused containers, bad detach keys, -t without a terminal" {
    sk create --network none --name made bb:1 true >/dev/null
    run --separate-stderr sk attach made
    [ "$status" -eq 125 ]
    has "You cannot attach to a stopped container, start it first"
    sk run -d --network none -it --name tty bb:1 sh >/dev/null
    run --separate-stderr sk attach tty < /dev/null
    [ "$status" -eq 125 ]
    has "the input device is not a TTY"
    run --separate-stderr sk attach --detach-keys ctrl-9 tty
    [ "$status" -eq 125 ]
    has "Invalid detach keys"
    sk pause tty
    run --separate-stderr sk attach --no-stdin tty
    [ "$status" -eq 125 ]
    has "You cannot attach to a paused container, unpause it first"
    sk unpause tty
    run --separate-stderr sk attach nosuch
    [ "$status" -eq 125 ]
    has "No such container: nosuch"
}

@test "start -a of a container already running detached attaches to it" {
    sk run -d --network none --name sa bb:1 sh -c 'sleep 0.5; echo late-line; exit 2' >/dev/null
    run --separate-stderr sk start -a sa
    [ "$status" -eq 2 ]
    same "$output" "late-line"
}

# --- 3. --init -------------------------------------------------------------------------------

@test "--init: skiff-init is PID 1 (as docker-init); the command's exit code passes through" {
    run --separate-stderr sk run --rm --network none --init bb:1 ps -o pid,comm
    [ "$status" -eq 0 ]
    same "${lines[1]// /}" "1docker-init"
    [[ "${lines[2]}" == *ps ]]
    run sk run --rm --network none --init bb:1 sh -c 'exit 7'
    [ "$status" -eq 7 ]
    run sk run --rm --network none --init bb:1 sh -c 'kill -9 $$'
    [ "$status" -eq 137 ]
    run -127 --separate-stderr sk run --rm --network none --init bb:1 no-such-command
    has "no-such-command"
    # Kept in the record: inspect shows it, and a restart still runs it.
    id=$(sk create --network none --init --name ic bb:1 sleep 30)
    same "$(sk inspect --format '{{.Path}}' ic)" "/sbin/docker-init"
    sk start ic
    pid=$(record "$id" .pid)
    same "$(cat "/proc/$pid/comm")" "docker-init"
}

@test "--init: orphans are reaped (without it, a sleep as PID 1 leaves zombies)" {
    sk run -d --network none --init --name reaped bb:1 sh -c '(sleep 0.2 &); exec sleep 30' >/dev/null
    sk run -d --network none --name zombie bb:1 sh -c '(sleep 0.2 &); exec sleep 30' >/dev/null
    sleep 1
    run sk exec reaped ps -o stat,comm
    [[ "$output" != *Z* ]]
    run sk exec zombie ps -o stat,comm
    [[ "$output" == *Z* ]]
}

@test "--init: stop's SIGTERM reaches the command (143 at once); kill -s forwards other signals" {
    sk run -d --network none --init --name st bb:1 sleep 30 >/dev/null
    start=$(date +%s)
    sk stop -t 10 st
    [ $(( $(date +%s) - start )) -lt 5 ]
    same "$(sk inspect --format '{{.State.ExitCode}}' st)" "143"
    sk run -d --network none --init --name usr bb:1 sh -c 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
    wait_for 50 logs_have usr ready
    sk kill -s USR1 usr
    wait_for 50 logs_have usr got-usr1
    sk rm -f usr
}

@test "--init with -t: the command owns the terminal (its process group is the foreground one)" {
    sk run -d --network none --init -it --name it bb:1 sh >/dev/null
    # /proc/2/stat of sh (PID 2 under skiff-init): field 5 its process group, 8 the
    # terminal's foreground group.
    run sk exec it sh -c 'cut -d" " -f5,8 /proc/2/stat'
    same "$output" "2 2"
}
