#!/bin/sh
# The checks run inside the VM: skiff-runtime against a pure cgroup v2 kernel, where every
# controller is there and limits really bite. Prints TAP ("ok N - name" / "not ok N - name",
# "# " diagnostics, the plan last) on the serial console for tests/vm/run-vm-tests.
# Runs under busybox sh; skiff-runtime is /bin/skiff-runtime.

CG=/sys/fs/cgroup
STATE=/run/skiff-runtime
ROOTFS=/rootfs
LOGS=/tmp/logs
mkdir -p "$LOGS"
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    shift
    for line in "$@"; do echo "# $line"; done
}
# Show a file as TAP diagnostics.
diag_file() { [ -f "$1" ] && sed 's/^/#   /' "$1" | head -n 40; }

# ---- the bundle ---------------------------------------------------------------------------

# One busybox root filesystem (read-only in every container); each check has its own
# config.json in /bundles/<id> pointing at it.
make_rootfs() {
    mkdir -p "$ROOTFS/bin" "$ROOTFS/proc" "$ROOTFS/dev" "$ROOTFS/sys" "$ROOTFS/tmp" "$ROOTFS/etc"
    cp /bin/busybox "$ROOTFS/bin/busybox"
    for applet in $(busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$ROOTFS/bin/$applet"
    done
    echo "root:x:0:0:root:/:/bin/sh" > "$ROOTFS/etc/passwd"
}

# make_bundle ID ARGS RESOURCES: ARGS is the inside of a JSON array ('"sh","-c","..."'),
# RESOURCES a linux.resources object. Commands avoid '"' so no JSON escaping is needed.
make_bundle() {
    mkdir -p "/bundles/$1"
    cat > "/bundles/$1/config.json" <<JSON
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": [$2],
    "env": ["PATH=/bin", "HOME=/"],
    "cwd": "/",
    "noNewPrivileges": true
  },
  "root": {"path": "$ROOTFS", "readonly": true},
  "hostname": "$1",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}, {"type": "cgroup"}],
    "resources": $3
  }
}
JSON
}

# ---- helpers over skiff-runtime -----------------------------------------------------------

# The container's cgroup directory, from the runtime's own record.
cg_dir() {
    root=$(sed -n 's/.*"cgroupRoot": *"\([^"]*\)".*/\1/p' "$STATE/$1/state.json" 2>/dev/null)
    path=$(sed -n 's/.*"cgroupPath": *"\([^"]*\)".*/\1/p' "$STATE/$1/state.json" 2>/dev/null)
    [ -n "$root" ] && [ -n "$path" ] && echo "$root/$path"
}

status_of() { skiff-runtime state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }

# Wait (up to 30 s) for the container to have stopped.
wait_stopped() {
    i=0
    while [ $i -lt 300 ]; do
        [ "$(status_of "$1")" = stopped ] && return 0
        usleep 100000
        i=$((i + 1))
    done
    return 1
}

# The number after KEY in a flat-keyed file (memory.events, cpu.stat).
key_value() { sed -n "s/^$2 //p" "$1" 2>/dev/null; }

# create + start, so the group can be read after the process ends and before delete.
create_start() {
    skiff-runtime create -b "/bundles/$1" "$1" > "$LOGS/$1.log" 2>&1 < /dev/null &&
        skiff-runtime start "$1" >> "$LOGS/$1.log" 2>&1
}

cleanup() { skiff-runtime delete -f "$1" > /dev/null 2>&1; }

# ---- checks -------------------------------------------------------------------------------

check_unified() {
    controllers=$(cat "$CG/cgroup.controllers" 2>/dev/null)
    for c in memory cpu pids; do
        case " $controllers " in *" $c "*) ;; *)
            not_ok "pure cgroup v2 with memory, cpu and pids" "cgroup.controllers: $controllers"
            return ;;
        esac
    done
    ok "pure cgroup v2 with memory, cpu and pids"
}

check_modules() {
    failed=""
    while read -r module; do
        [ -n "$module" ] || continue
        insmod "/lib/modules/$module" > "$LOGS/insmod.log" 2>&1 || failed="$failed $module"
    done < /lib/modules/load-order
    if [ -z "$failed" ]; then ok "kernel modules load (overlay, veth, bridge)"; else
        not_ok "kernel modules load (overlay, veth, bridge)" "failed:$failed"; diag_file "$LOGS/insmod.log"; fi
}

check_hello() {
    make_bundle hello '"echo","hello from skiff"' '{}'
    skiff-runtime run -b /bundles/hello hello > "$LOGS/hello.log" 2>&1 < /dev/null
    rc=$?
    if [ $rc -eq 0 ] && grep -q "hello from skiff" "$LOGS/hello.log"; then
        ok "run: a busybox container prints and exits 0"
    else
        not_ok "run: a busybox container prints and exits 0" "exit $rc"; diag_file "$LOGS/hello.log"
    fi
    cleanup hello
}

# dd's 100 MB buffer is filled from /dev/zero, so every page of it is touched.
ALLOC='"dd","if=/dev/zero","of=/dev/null","bs=100M","count=1"'

check_oom_run() {
    name="memory: a 16 MiB limit OOM-kills a 100 MB allocation (run exits 137)"
    make_bundle oomrun "$ALLOC" '{"memory": {"limit": 16777216}}'
    skiff-runtime run -b /bundles/oomrun oomrun > "$LOGS/oomrun.log" 2>&1 < /dev/null
    rc=$?
    if [ $rc -eq 137 ]; then ok "$name"; else not_ok "$name" "exit $rc, want 137"; diag_file "$LOGS/oomrun.log"; fi
    cleanup oomrun
}

check_oom_events() {
    name="memory: the group has memory.max 16777216 and memory.events oom_kill >= 1"
    make_bundle oom "$ALLOC" '{"memory": {"limit": 16777216}}'
    if ! create_start oom; then not_ok "$name" "create/start failed"; diag_file "$LOGS/oom.log"; cleanup oom; return; fi
    dir=$(cg_dir oom)
    if ! wait_stopped oom; then not_ok "$name" "did not stop"; diag_file "$LOGS/oom.log"; cleanup oom; return; fi
    max=$(cat "$dir/memory.max" 2>/dev/null)
    kills=$(key_value "$dir/memory.events" oom_kill)
    if [ "$max" = 16777216 ] && [ "${kills:-0}" -ge 1 ]; then ok "$name"; else
        not_ok "$name" "group $dir: memory.max=$max oom_kill=$kills"; diag_file "$LOGS/oom.log"; fi
    cleanup oom
}

check_pids() {
    name="pids: pids.max=10 stops a fork loop"
    # shellcheck disable=SC2016  # expanded by the container's shell
    make_bundle pids '"sh","-c","i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done; echo forked all 30"' \
        '{"pids": {"limit": 10}}'
    skiff-runtime run -b /bundles/pids pids > "$LOGS/pids.log" 2>&1 < /dev/null
    if grep -Eq "can't fork|Resource temporarily unavailable" "$LOGS/pids.log" && ! grep -q "forked all" "$LOGS/pids.log"; then
        ok "$name"
    else
        not_ok "$name"; diag_file "$LOGS/pids.log"
    fi
    cleanup pids
}

check_cpu() {
    name="cpu: cpu.max 10000 100000 throttles a busy loop (nr_throttled > 0)"
    # Not timeout as PID 1: the container's init ignores the SIGTERM timeout sends it.
    make_bundle cpu '"sh","-c","timeout 1 yes > /dev/null; exit 0"' '{"cpu": {"quota": 10000, "period": 100000}}'
    if ! create_start cpu; then not_ok "$name" "create/start failed"; diag_file "$LOGS/cpu.log"; cleanup cpu; return; fi
    dir=$(cg_dir cpu)
    if ! wait_stopped cpu; then not_ok "$name" "did not stop"; diag_file "$LOGS/cpu.log"; cleanup cpu; return; fi
    max=$(cat "$dir/cpu.max" 2>/dev/null)
    throttled=$(key_value "$dir/cpu.stat" nr_throttled)
    if [ "$max" = "10000 100000" ] && [ "${throttled:-0}" -gt 0 ]; then ok "$name"; else
        not_ok "$name" "group $dir: cpu.max=$max nr_throttled=$throttled"; diag_file "$LOGS/cpu.log"; fi
    cleanup cpu
}

# pause, resume, kill --all and delete on one detached container with children.
check_lifecycle() {
    make_bundle life '"sh","-c","sleep 1000 & sleep 1000 & wait"' '{"pids": {"limit": 50}}'
    skiff-runtime run -d -b /bundles/life life > "$LOGS/life.log" 2>&1 < /dev/null
    dir=$(cg_dir life)
    usleep 300000  # let the shell start its children

    skiff-runtime pause life >> "$LOGS/life.log" 2>&1
    if grep -q "^frozen 1" "$dir/cgroup.events" 2>/dev/null && [ "$(status_of life)" = paused ]; then
        ok "pause: the group is frozen and the state says paused"
    else
        not_ok "pause: the group is frozen and the state says paused" "group $dir, status $(status_of life)"
        diag_file "$LOGS/life.log"
    fi

    skiff-runtime resume life >> "$LOGS/life.log" 2>&1
    if grep -q "^frozen 0" "$dir/cgroup.events" 2>/dev/null && [ "$(status_of life)" = running ]; then
        ok "resume: the group is thawed and the state says running"
    else
        not_ok "resume: the group is thawed and the state says running" "status $(status_of life)"
        diag_file "$LOGS/life.log"
    fi

    members=$(wc -l < "$dir/cgroup.procs" 2>/dev/null)
    skiff-runtime kill --all life KILL >> "$LOGS/life.log" 2>&1
    wait_stopped life
    left=$(wc -l < "$dir/cgroup.procs" 2>/dev/null)
    if [ "${members:-0}" -ge 3 ] && [ "$left" = 0 ] && [ "$(status_of life)" = stopped ]; then
        ok "kill --all: every process of the group is killed"
    else
        not_ok "kill --all: every process of the group is killed" "members before: $members, after: $left"
        diag_file "$LOGS/life.log"
    fi

    skiff-runtime delete life >> "$LOGS/life.log" 2>&1
    if [ -n "$dir" ] && [ ! -e "$dir" ] && [ ! -e "$STATE/life" ]; then
        ok "delete: the container's group and state are gone"
    else
        not_ok "delete: the container's group and state are gone" "group $dir"; diag_file "$LOGS/life.log"
    fi
    cleanup life
}

check_update() {
    name="update --resources: memory.max and pids.max of a running container change"
    if ! skiff-runtime --help 2>&1 | grep -q "^ *update "; then
        not_ok "$name" "this skiff-runtime has no update command"
        return
    fi
    make_bundle upd '"sleep","1000"' '{"memory": {"limit": 67108864}, "pids": {"limit": 100}}'
    skiff-runtime run -d -b /bundles/upd upd > "$LOGS/upd.log" 2>&1 < /dev/null
    dir=$(cg_dir upd)
    echo '{"memory": {"limit": 33554432}, "pids": {"limit": 20}}' > /tmp/upd.json
    skiff-runtime update --resources /tmp/upd.json upd >> "$LOGS/upd.log" 2>&1
    rc=$?
    mem=$(cat "$dir/memory.max" 2>/dev/null)
    pids=$(cat "$dir/pids.max" 2>/dev/null)
    if [ $rc -eq 0 ] && [ "$mem" = 33554432 ] && [ "$pids" = 20 ]; then ok "$name"; else
        not_ok "$name" "update exit $rc; group $dir: memory.max=$mem pids.max=$pids"; diag_file "$LOGS/upd.log"; fi
    cleanup upd
}

echo "# kernel $(uname -r), skiff $(skiff-runtime --version 2>&1 | head -n 1), up $(cut -d' ' -f1 /proc/uptime)s"
make_rootfs
check_unified
check_modules
check_hello
check_oom_run
check_oom_events
check_pids
check_cpu
check_lifecycle
check_update
echo "# tests done at $(cut -d' ' -f1 /proc/uptime)s of uptime"
echo "1..$n"
