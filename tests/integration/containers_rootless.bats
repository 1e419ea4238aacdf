#!/usr/bin/env bats
# Containers without root: uid 65534 (with a home and XDG dirs of its own) runs, lists,
# enters, stops and removes containers from an image whose layers hold whiteouts and an
# opaque dir, all through the user's own user + mount namespace (a "skiff-pause" process).
# Networking without root: pasta (Debian's passt) by default, ports published from the host,
# the host's loopback reached at the gateway address; traffic stays on this host.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    IMAGE_TAR=$BATS_FILE_TMPDIR/img.tar
    # busybox; a layer with /data/{old,keep}; one that makes /data opaque (only "new" in it)
    # and deletes /bin/ls.
    python3 "$BATS_TEST_DIRNAME/../fixtures/mkimage.py" build --out "$IMAGE_TAR" --format docker-archive \
        --tag rl/test:1 --busybox \
        --layer '[{"type":"dir","path":"data"},{"type":"file","path":"data/old","content":"old"},{"type":"file","path":"data/keep","content":"keep"}]' \
        --layer '[{"type":"opaque","path":"data"},{"type":"file","path":"data/new","content":"new"},{"type":"whiteout","path":"bin/ls"}]' \
        >/dev/null
    export IMAGE_TAR
}

setup() {
    load helpers
    USER_HOME=$(mktemp -d /tmp/skiff-rootless.XXXXXX)
    mkdir -m 700 "$USER_HOME/run" "$USER_HOME/data"
    chown -R 65534:65534 "$USER_HOME"
    as_nobody load -q < "$IMAGE_TAR" >/dev/null
}

# skiff as nobody: no sudo, no capabilities, the user's own HOME and XDG dirs.
as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups \
        env -i PATH=/usr/bin:/bin HOME="$USER_HOME" XDG_RUNTIME_DIR="$USER_HOME/run" \
        XDG_DATA_HOME="$USER_HOME/data" "$SKIFF" "$@"
}

teardown() {
    local ids pause userns pid
    # A failed check after `run --separate-stderr` shows only the status: say what it printed.
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${stderr:-}" ]; then echo "last command's stderr: $stderr" >&2; fi
    if [ -n "${HOST_SERVER_PID:-}" ]; then kill "$HOST_SERVER_PID" 2>/dev/null || true; fi
    ids=$(as_nobody ps -aq 2>/dev/null)
    if [ -n "$ids" ]; then as_nobody rm -f $ids >/dev/null 2>&1 || true; fi
    # The pause process and anything still in its user namespace (monitors, containers).
    pause=$(cut -d' ' -f1 "$USER_HOME/run/skiff/pause.pid" 2>/dev/null)
    if [ -n "$pause" ] && userns=$(readlink "/proc/$pause/ns/user" 2>/dev/null); then
        for pid in $(ls /proc | grep -E '^[0-9]+$'); do
            [ "$pid" = "$pause" ] && continue
            if [ "$(readlink "/proc/$pid/ns/user" 2>/dev/null)" = "$userns" ]; then kill -9 "$pid" 2>/dev/null || true; fi
        done
        kill -9 "$pause" 2>/dev/null || true
    fi
    rm -rf "$USER_HOME"
}

@test "rootless run: --rm prints and leaves nothing behind" {
    run --separate-stderr as_nobody run --rm --network none rl/test:1 echo hi
    [ "$status" -eq 0 ]
    [ "$output" = hi ]
    run as_nobody ps -aq
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ -z "$(ls "$USER_HOME/data/skiff/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$')" ]
    # One pause process holds the user's namespaces, owned by the user, in no namespace of root's.
    pause=$(cut -d' ' -f1 "$USER_HOME/run/skiff/pause.pid")
    [ "$(stat -c %u "/proc/$pause")" = 65534 ]
    [ "$(readlink /proc/$pause/ns/user)" != "$(readlink /proc/self/ns/user)" ]
    # Nothing was mounted in the host's mount namespace.
    ! grep -q "$USER_HOME" /proc/self/mountinfo
}

@test "rootless run: layers' whiteouts and opaque dirs take effect, made once" {
    run --separate-stderr as_nobody run --rm --network none rl/test:1 sh -c 'ls /data; test -e /bin/ls || echo no-ls; id -u'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'new\nno-ls\n0')" ]
    store=$USER_HOME/data/skiff
    top=$(grep -l '"bin/ls"' "$store"/layers/*/layer.json)
    [ "$(jq -r '.markers_made' "$top")" = true ]
    [ "$(stat -c %t:%T "$(dirname "$top")/diff/bin/ls")" = 0:0 ]
    [ "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.overlay.opaque").decode())' "$(dirname "$top")/diff/data")" = y ]
}

@test "rootless run -d: ps, logs, exec, stop, rm" {
    run --separate-stderr as_nobody run -d --name web --network none rl/test:1 \
        sh -c 'echo started; trap "exit 3" TERM; while true; do sleep 0.2; done'
    [ "$status" -eq 0 ]
    id=$output
    [ ${#id} -eq 64 ]
    run as_nobody ps --format '{{.Names}} {{.Status}}'
    [[ "$output" == "web Up"* ]]
    wait_for 50 bash -c "$(declare -f as_nobody); USER_HOME=$USER_HOME SKIFF=$SKIFF; as_nobody logs web | grep -q started"
    run --separate-stderr as_nobody exec web cat /data/new
    [ "$status" -eq 0 ]
    [ "$output" = new ]
    run --separate-stderr as_nobody exec web sh -c 'echo x > /data/made; id -u'
    [ "$status" -eq 0 ]
    [ "$output" = 0 ]
    # What the container wrote is the user's, in its upper dir.
    [ "$(stat -c %u "$USER_HOME/data/skiff/containers/$id/upper/data/made")" = 65534 ]
    run --separate-stderr as_nobody stop -t 5 web
    [ "$status" -eq 0 ]
    run as_nobody ps -a --format '{{.Names}} {{.Status}}'
    [[ "$output" == "web Exited (3)"* ]]
    run --separate-stderr as_nobody rm web
    [ "$status" -eq 0 ]
    run as_nobody ps -aq
    [ -z "$output" ]
    [ ! -e "$USER_HOME/data/skiff/containers/$id" ]
}

@test "rootless diff and commit: an opaque dir the container made (user.overlay.opaque)" {
    run --separate-stderr as_nobody run -d --name c1 --network none rl/test:1 \
        sh -c 'rm -rf /data && mkdir /data && echo z > /data/z && sleep 1000'
    [ "$status" -eq 0 ]
    wait_for 50 bash -c "$(declare -f as_nobody); USER_HOME=$USER_HOME SKIFF=$SKIFF; as_nobody exec c1 test -e /data/z"
    run --separate-stderr as_nobody diff c1
    [ "$status" -eq 0 ]
    [[ "$output" == *"A /data/z"* ]]
    [[ "$output" == *"D /data/new"* ]]
    # No cgroup to freeze it in: committed without pausing, --pause or not.
    run --separate-stderr as_nobody commit c1 rl/committed:1
    [ "$status" -eq 0 ]
    run --separate-stderr as_nobody rm -f c1
    [ "$status" -eq 0 ]
    run --separate-stderr as_nobody run --rm --network none rl/committed:1 sh -c 'cat /data/z; test -e /data/new || echo gone'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'z\ngone')" ]
}

@test "rootless run: limits without a cgroup, or a user other than root, are one clear error" {
    run --separate-stderr as_nobody run --rm --network none -m 64m rl/test:1 true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"need a cgroup"* ]]
    # Only root is mapped (to the user): another user in the container is refused up front.
    run --separate-stderr as_nobody run --rm --network none -u nobody rl/test:1 id
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"only root is mapped"* ]]
    run as_nobody ps -aq
    [ -z "$output" ]
}

@test "rootless: pause process killed while a container runs: the next command keeps its namespace" {
    run --separate-stderr as_nobody run -d --name k1 --network none rl/test:1 sleep 1000
    [ "$status" -eq 0 ]
    old=$(cut -d' ' -f1 "$USER_HOME/run/skiff/pause.pid")
    ns=$(readlink "/proc/$old/ns/user")
    kill -9 "$old"
    run --separate-stderr as_nobody exec k1 echo still-here
    [ "$status" -eq 0 ]
    [ "$output" = still-here ]
    new=$(cut -d' ' -f1 "$USER_HOME/run/skiff/pause.pid")
    [ "$new" != "$old" ]
    [ "$(readlink "/proc/$new/ns/user")" = "$ns" ]
    run --separate-stderr as_nobody rm -f k1
    [ "$status" -eq 0 ]
    run as_nobody ps -aq
    [ -z "$output" ]
}

@test "rootless cp both ways, export, restart" {
    run --separate-stderr as_nobody run -d --name c2 --network none rl/test:1 sleep 1000
    [ "$status" -eq 0 ]
    echo hello > "$USER_HOME/in.txt"
    chown 65534:65534 "$USER_HOME/in.txt"
    run --separate-stderr as_nobody cp "$USER_HOME/in.txt" c2:/tmp/in.txt
    [ "$status" -eq 0 ]
    run --separate-stderr as_nobody exec c2 cat /tmp/in.txt
    [ "$output" = hello ]
    run --separate-stderr as_nobody cp c2:/data/new "$USER_HOME/out.txt"
    [ "$status" -eq 0 ]
    [ "$(cat "$USER_HOME/out.txt")" = new ]
    run --separate-stderr as_nobody restart -t 1 c2
    [ "$status" -eq 0 ]
    run --separate-stderr as_nobody exec c2 cat /tmp/in.txt
    [ "$output" = hello ]
    run bash -c "$(declare -f as_nobody); USER_HOME=$USER_HOME SKIFF=$SKIFF; as_nobody export c2 | tar t"
    [ "$status" -eq 0 ]
    [[ "$output" == *"data/new"* ]]
    [[ "$output" == *"tmp/in.txt"* ]]
    [[ "$output" != *"data/old"* ]]
    run --separate-stderr as_nobody rm -f c2
    [ "$status" -eq 0 ]
}

# A server on this host's loopback only, for a container to reach through pasta.
start_host_server() {
    mkdir -p "$USER_HOME/www"
    echo hello-from-host > "$USER_HOME/www/index.html"
    python3 -m http.server --bind 127.0.0.1 --directory "$USER_HOME/www" 18391 >/dev/null 2>&1 &
    HOST_SERVER_PID=$!
    wait_for 50 curl -sf -o /dev/null http://127.0.0.1:18391/index.html
}

# pasta processes of this test's user (their command lines name its runroot).
pastas() { pgrep -u 65534 -f "pasta .*$USER_HOME/run" || true; }

@test "rootless networking: pasta by default: -p from the host, the host's loopback at the gateway, nothing left" {
    start_host_server
    run --separate-stderr as_nobody run -d --name pw -p 18392:80 rl/test:1 httpd -f -p 80 -h /etc
    [ "$status" -eq 0 ]
    id=$output
    run as_nobody ps --format '{{.Names}} {{.Ports}}'
    [ "$output" = "pw 0.0.0.0:18392->80/tcp" ]
    run as_nobody port pw
    [ "$output" = "80/tcp -> 0.0.0.0:18392" ]
    [ "$(as_nobody inspect --format '{{.HostConfig.NetworkMode}}' pw)" = pasta ]
    # From the host to the container's server, through pasta's socket on 18392.
    wait_for 50 curl -sf -o /dev/null http://127.0.0.1:18392/hostname
    [ "$(curl -s http://127.0.0.1:18392/hostname)" = "${id:0:12}" ]
    # From the container (exec joins its namespaces) to the host's loopback: the gateway
    # address is mapped to it. An interface besides lo, a default route.
    run --separate-stderr as_nobody exec pw sh -c \
        'gw=$(ip route | sed -n "s/^default via \([0-9.]*\).*/\1/p"); printf "GET /index.html HTTP/1.0\r\n\r\n" | timeout 5 nc "$gw" 18391 | tail -1'
    [ "$output" = hello-from-host ]
    [ -n "$(pastas)" ]
    # Low ports bind without a capability over the namespace (the engine's sysctl).
    run --separate-stderr as_nobody exec pw sh -c 'httpd -p 81 -h /etc && echo bound'
    [ "$output" = bound ]
    # A taken host port: one line, exit 125, the container not left running.
    run --separate-stderr as_nobody run --rm -p 18392:80 rl/test:1 true
    [ "$status" -eq 125 ]
    [ "$stderr" = "Error: Bind for 0.0.0.0:18392 failed: port is already allocated" ]
    run as_nobody ps -aq
    [ "$output" = "${id:0:12}" ]
    # stop ends pasta and the namespace; start makes them again.
    run --separate-stderr as_nobody stop -t 1 pw
    [ "$status" -eq 0 ]
    [ -z "$(pastas)" ]
    # pasta has exited, not just been told to: its listener is gone when stop returns.
    [ -z "$(ss -Htln 'sport = :18392')" ]
    [ -z "$(ls -A "$USER_HOME/run/skiff/netns" 2>/dev/null)" ]
    run --separate-stderr as_nobody start pw
    [ "$status" -eq 0 ]
    wait_for 50 curl -sf -o /dev/null http://127.0.0.1:18392/hostname
    run --separate-stderr as_nobody rm -f pw
    [ "$status" -eq 0 ]
    [ -z "$(pastas)" ]
    [ -z "$(ls -A "$USER_HOME/run/skiff/netns" 2>/dev/null)" ]
    ! curl -s -m 2 http://127.0.0.1:18392/
}

@test "rootless networking: --add-host host-gateway, container:<x>, and what needs root refused" {
    start_host_server
    run --separate-stderr as_nobody run --rm --add-host gw:host-gateway rl/test:1 \
        sh -c 'printf "GET /index.html HTTP/1.0\r\n\r\n" | timeout 5 nc gw 18391 | tail -1'
    [ "$status" -eq 0 ]
    [ "$output" = hello-from-host ]
    run --separate-stderr as_nobody run -d --name owner -p 18393:80 rl/test:1 httpd -f -p 80 -h /etc
    [ "$status" -eq 0 ]
    owner=$output
    # A second container in the first one's namespace (joined before its own user namespace).
    run --separate-stderr as_nobody run --rm --network container:owner rl/test:1 \
        sh -c 'printf "GET /hostname HTTP/1.0\r\n\r\n" | timeout 5 nc 127.0.0.1 80 | tail -1'
    [ "$status" -eq 0 ]
    [ "$output" = "${owner:0:12}" ]
    run --separate-stderr as_nobody run --rm --network bridge rl/test:1 true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"bridge and user networks need root"* ]]
    run --separate-stderr as_nobody network connect bridge owner
    [ "$status" -ne 0 ]
    run --separate-stderr as_nobody rm -f owner
    [ "$status" -eq 0 ]
    [ -z "$(pastas)" ]
}
