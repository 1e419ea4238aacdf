#!/usr/bin/env bats
# commit, diff, export, pause, unpause, restart, rename, top and port, used the way a Docker
# user would. Every test has its own store (--root, --runroot) with a busybox image bb:1
# imported from a rootfs tarball, and leaves no container and no mount behind.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}

setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs" >/dev/null
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
}

# The default network's bridge and table of this file (helpers.bash).
teardown_file() {
    network_cleanup
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-cx.XXXXXX)
    sk import "$FIX/rootfs.tar" bb:1 >/dev/null
    BASE_ID=$(sk inspect bb:1 | jq -r '.[0].Id')
}

teardown() {
    [ -n "${ROOT:-}" ] || return 0
    local id leftovers
    for id in $(sk ps -aq --no-trunc 2>/dev/null); do
        sk rm -f "$id" >/dev/null 2>&1 || true
    done
    leftovers=$(grep -o " $ROOT[^ ]*" /proc/mounts || true)
    # Unmount what is left so the rm below cannot cross into it, then fail the test.
    for m in $(echo "$leftovers" | sort -r); do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$ROOT"
    if [ -n "$leftovers" ]; then
        echo "left mounted:$leftovers" >&2
        return 1
    fi
}

# --- helpers of this file ------------------------------------------------------------------

sk() { "$SKIFF" --root "$ROOT/root" --runroot "$ROOT/run" "$@"; }

state_of() { sk inspect "$1" | jq -r '.[0].State.Status'; }
pid_of() { sk inspect "$1" | jq -r '.[0].State.Pid'; }
upper_of() { echo "$ROOT/root/containers/$(sk inspect "$1" | jq -r '.[0].Id')/upper"; }

# --- commit ----------------------------------------------------------------------------------

@test "commit: a stopped container's changes become an image that runs" {
    sk run --name maker bb:1 sh -c 'echo made-here > /file; rm /etc/group; mkdir -p /d/e; echo x > /d/e/f'
    run sk commit -m "my message" -a "Jane <j@example.com>" maker made:1
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    local id=$output

    run sk run --rm made:1 cat /file /d/e/f
    [ "$status" -eq 0 ]
    [ "$output" = "made-here
x" ]
    # The deletion is a whiteout in the new layer.
    run sk run --rm made:1 test -e /etc/group
    [ "$status" -eq 1 ]
    run sk run --rm bb:1 test -e /etc/group
    [ "$status" -eq 0 ]

    run sk inspect made:1
    [ "$(echo "$output" | jq -r '.[0].Id')" = "$id" ]
    [ "$(echo "$output" | jq -r '.[0].Parent')" = "$BASE_ID" ]
    [ "$(echo "$output" | jq -r '.[0].Comment')" = "my message" ]
    [ "$(echo "$output" | jq -r '.[0].RootFS.Layers | length')" -eq 2 ]
    [ "$(sk inspect bb:1 | jq -r '.[0].RootFS.Layers[0]')" = "$(echo "$output" | jq -r '.[0].RootFS.Layers[0]')" ]
    run sk history --no-trunc made:1
    [[ "${lines[1]}" == *"sh -c echo made-here"* ]]
    [[ "${lines[1]}" == *"my message"* ]]
    run sk images --format '{{.Repository}}:{{.Tag}}'
    [[ "$output" == *"made:1"* ]]
}

@test "commit: without a repository the image is untagged; the tag is normalised" {
    sk run --name maker bb:1 touch /x
    run sk commit maker
    [ "$status" -eq 0 ]
    local id=$output
    [ "$(sk inspect "$id" | jq -r '.[0].RepoTags | length')" -eq 0 ]
    run sk commit maker localhost:5000/team/app
    [ "$status" -eq 0 ]
    [ "$(sk inspect "$output" | jq -r '.[0].RepoTags[0]')" = "localhost:5000/team/app:latest" ]
}

@test "commit: a running container is committed and keeps running, paused or not" {
    sk run -d --name live bb:1 sh -c 'echo alive > /alive; exec sleep 1000' >/dev/null
    local before
    before=$(pid_of live)
    # The file is written just after start: wait for it in the upper dir.
    for _ in $(seq 50); do [ -e "$(upper_of live)/alive" ] && break; sleep 0.1; done

    run sk commit live live:paused
    [ "$status" -eq 0 ]
    [ "$(state_of live)" = running ]
    [ "$(pid_of live)" = "$before" ]
    # Not left frozen: the container still runs commands (a frozen one would hang exec).
    run timeout 10 "$SKIFF" --root "$ROOT/root" --runroot "$ROOT/run" exec live echo still-here
    [ "$output" = still-here ]

    run sk commit --pause=false live live:unpaused
    [ "$status" -eq 0 ]
    [ "$(state_of live)" = running ]

    run sk run --rm live:paused cat /alive
    [ "$output" = alive ]
    run sk run --rm live:unpaused cat /alive
    [ "$output" = alive ]
}

@test "commit: a paused container stays paused" {
    sk run -d --name frozen bb:1 sleep 1000 >/dev/null
    sk pause frozen
    run sk commit frozen f:1
    [ "$status" -eq 0 ]
    [ "$(state_of frozen)" = paused ]
    sk unpause frozen
}

@test "commit: --change sets the image's config" {
    sk run --name maker bb:1 sh -c 'echo hi > /greeting'
    run sk commit -c 'ENV GREETING_FILE=/greeting' -c 'CMD ["sh", "-c", "cat $GREETING_FILE"]' \
        --change 'LABEL stage=committed' maker greet:1
    [ "$status" -eq 0 ]
    run sk run --rm greet:1
    [ "$status" -eq 0 ]
    [ "$output" = hi ]
    [ "$(sk inspect greet:1 | jq -r '.[0].Config.Labels.stage')" = committed ]
}

@test "commit: errors are one line with exit 125 and leave no image" {
    run sk commit nope x:1
    [ "$status" -eq 125 ]
    [[ "$output" == *"No such container: nope"* ]]
    [ "${#lines[@]}" -eq 1 ]

    sk run --name maker bb:1 true
    local count
    count=$(sk images -q | wc -l)
    run sk commit -c 'FROM scratch' maker x:1
    [ "$status" -eq 125 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$(sk images -q | wc -l)" -eq "$count" ]
    run sk commit maker 'Bad:Ref!'
    [ "$status" -eq 125 ]
    [[ "$output" == *"invalid reference format"* ]]
}

# --- diff --------------------------------------------------------------------------------------

@test "diff: added, changed and deleted paths as Docker prints them" {
    sk run --name changer bb:1 sh -c 'echo new > /new; mkdir -p /d/e; echo x > /d/e/f; rm /etc/group; echo more >> /etc/passwd'
    run sk diff changer
    [ "$status" -eq 0 ]
    [ "$output" = "A /d
A /d/e
A /d/e/f
C /etc
D /etc/group
C /etc/passwd
A /new" ]
}

@test "diff: a fresh container has no changes (the engine's mount points are not listed)" {
    sk run --name quiet bb:1 true
    run sk diff quiet
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run sk diff nope
    [ "$status" -eq 125 ]
    [[ "$output" == *"No such container: nope"* ]]
}

# --- export ------------------------------------------------------------------------------------

@test "export: a stopped container's whole file system, mounted only for the export" {
    sk run --name exp bb:1 sh -c 'echo exported > /marker; rm -f /etc/group'
    sk export -o "$ROOT/out.tar" exp
    run tar -xOf "$ROOT/out.tar" marker
    [ "$output" = exported ]
    run tar -tf "$ROOT/out.tar"
    [[ "$output" == *"bin/busybox"* ]]
    [[ "$output" != *"etc/group"* ]]
    [[ "$output" != *".wh."* ]]
    [ "$(state_of exp)" = exited ]
    run grep " $ROOT" /proc/mounts
    [ "$status" -eq 1 ]
    # Still startable afterwards, and to stdout as well.
    sk export exp | tar -t | grep -qx marker
    run sk start -a exp
    [ "$status" -eq 0 ]
}

@test "export: a running container stays running and mounted" {
    sk run -d --name live bb:1 sh -c 'echo up > /up; exec sleep 1000' >/dev/null
    for _ in $(seq 50); do [ -e "$(upper_of live)/up" ] && break; sleep 0.1; done
    run bash -c "'$SKIFF' --root '$ROOT/root' --runroot '$ROOT/run' export live | tar -xO up"
    [ "$output" = up ]
    [ "$(state_of live)" = running ]
    run sk exec live cat /up
    [ "$output" = up ]
}

@test "export: refuses a terminal, and a missing container" {
    sk create --name idle bb:1 true >/dev/null
    run script -qec "'$SKIFF' --root '$ROOT/root' --runroot '$ROOT/run' export idle" /dev/null
    [ "$status" -eq 125 ]
    [[ "$output" == *"cowardly refusing to save to a terminal"* ]]
    run sk export -o "$ROOT/x.tar" nope
    [ "$status" -eq 125 ]
    [[ "$output" == *"No such container: nope"* ]]
    [ ! -e "$ROOT/x.tar" ]
}

# --- pause / unpause ---------------------------------------------------------------------------

@test "pause freezes every process and unpause thaws them" {
    sk run -d --name counter bb:1 sh -c 'i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.05; done' >/dev/null
    local count_file
    count_file="$(upper_of counter)/count"
    for _ in $(seq 50); do [ -s "$count_file" ] && break; sleep 0.1; done

    run sk pause counter
    [ "$status" -eq 0 ]
    [ "$output" = counter ]
    [ "$(state_of counter)" = paused ]
    [ "$(sk inspect counter | jq -r '.[0].State.Paused')" = true ]
    run sk ps --format '{{.Status}}'
    [[ "$output" == *"(Paused)"* ]]
    local a b
    a=$(cat "$count_file")
    sleep 0.5
    b=$(cat "$count_file")
    [ "$a" = "$b" ]

    run sk unpause counter
    [ "$status" -eq 0 ]
    [ "$output" = counter ]
    [ "$(state_of counter)" = running ]
    sleep 0.5
    [ "$(cat "$count_file")" != "$b" ]
}

@test "pause and unpause: Docker's errors" {
    sk run -d --name live bb:1 sleep 1000 >/dev/null
    sk create --name idle bb:1 true >/dev/null
    local live_id idle_id
    live_id=$(sk inspect live | jq -r '.[0].Id')
    idle_id=$(sk inspect idle | jq -r '.[0].Id')

    run sk unpause live
    [ "$status" -eq 125 ]
    [ "$output" = "Error: Container $live_id is not paused" ]
    run sk pause idle
    [ "$status" -eq 125 ]
    [ "$output" = "Error: Container $idle_id is not running" ]
    sk pause live
    run sk pause live
    [ "$status" -eq 125 ]
    [ "$output" = "Error: Container $live_id is already paused" ]
    run sk exec live true
    [ "$status" -eq 125 ]
    [[ "$output" == *"is paused"* ]]
    # Several at once: each tried, the failure reported, the rest done.
    run sk unpause live nope
    [ "$status" -eq 125 ]
    [[ "$output" == *"live"* ]]
    [[ "$output" == *"No such container: nope"* ]]
    [ "$(state_of live)" = running ]
}

@test "a paused container can be stopped and removed" {
    sk run -d --name frozen bb:1 sleep 1000 >/dev/null
    sk pause frozen
    sk stop -t 1 frozen
    [ "$(state_of frozen)" = exited ]
    sk run -d --name frozen2 bb:1 sleep 1000 >/dev/null
    sk pause frozen2
    sk rm -f frozen2
    run sk inspect frozen2
    [ "$status" -ne 0 ]
}

# --- restart -----------------------------------------------------------------------------------

@test "restart: a running container gets a new PID 1, a stopped one is started" {
    sk run -d --name again bb:1 sleep 1000 >/dev/null
    local before
    before=$(pid_of again)
    run sk restart -t 0 again
    [ "$status" -eq 0 ]
    [ "$output" = again ]
    [ "$(state_of again)" = running ]
    [ "$(pid_of again)" != "$before" ]
    [ "$(pid_of again)" -gt 0 ]

    sk run --name once bb:1 true
    [ "$(state_of once)" = exited ]
    sk create --name later bb:1 sleep 1000 >/dev/null
    run sk restart later
    [ "$status" -eq 0 ]
    [ "$(state_of later)" = running ]

    run sk restart nope
    [ "$status" -eq 125 ]
    [[ "$output" == *"No such container: nope"* ]]
}

# --- rename ------------------------------------------------------------------------------------

@test "rename: the new name works and the old one is free" {
    sk run -d --name old bb:1 sleep 1000 >/dev/null
    sk create --name other bb:1 true >/dev/null
    local id
    id=$(sk inspect old | jq -r '.[0].Id')
    run sk rename old new
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(sk inspect new | jq -r '.[0].Id')" = "$id" ]
    [ "$(sk inspect new | jq -r '.[0].Name')" = /new ]
    run sk inspect old
    [ "$status" -ne 0 ]
    run sk exec new echo renamed
    [ "$output" = renamed ]

    run sk rename new other
    [ "$status" -eq 125 ]
    [[ "$output" == *'Conflict. The container name "/other" is already in use'* ]]
    run sk rename new new
    [ "$status" -eq 125 ]
    [[ "$output" == *"Renaming a container with the same name as its current name"* ]]
    run sk rename new 'bad name'
    [ "$status" -eq 125 ]
    [[ "$output" == *"Invalid container name"* ]]
    # The old name can be taken by a new container.
    sk create --name old bb:1 true >/dev/null
}

# --- top ---------------------------------------------------------------------------------------

@test "top: the container's processes only, with the default columns or ps options" {
    sk run -d --name busy bb:1 sh -c 'sleep 1001 & exec sleep 1000' >/dev/null
    sleep 0.3
    run sk top busy
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^\ *PID\ +USER\ +TIME\ +CMD$ ]]
    [ "${#lines[@]}" -eq 3 ]
    [[ "$output" == *"sleep 1000"* ]]
    [[ "$output" == *"sleep 1001"* ]]
    [[ "$output" == *"$(pid_of busy) root"* ]]

    run sk top busy -ef
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == UID*PID*PPID*CMD ]]
    [ "${#lines[@]}" -eq 3 ]

    run sk top busy -o comm
    [ "$status" -eq 125 ]
    [[ "$output" == *"Couldn't find PID field in ps output"* ]]
}

@test "top: a stopped container is refused" {
    sk run --name done bb:1 true
    local id
    id=$(sk inspect done | jq -r '.[0].Id')
    run sk top done
    [ "$status" -eq 125 ]
    [ "$output" = "Error: Container $id is not running" ]
}

# --- port --------------------------------------------------------------------------------------

@test "port: nothing is published without networking" {
    sk run -d --name web bb:1 sleep 1000 >/dev/null
    run sk port web
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run sk port web 80
    [ "$status" -eq 125 ]
    [ "$output" = "Error: No public port '80/tcp' published for web" ]
    run sk port nope
    [ "$status" -eq 125 ]
    [[ "$output" == *"No such container: nope"* ]]
}

# --- the engine's mount points in commit, diff and export -----------------------------------

# The files of the last layer of IMAGE, from a `save` of it, sorted.
top_layer_files() {
    local out=$ROOT/saved-$RANDOM
    mkdir -p "$out"
    sk save -o "$out/img.tar" "$1"
    tar -C "$out" -xf "$out/img.tar"
    tar -tf "$out/$(jq -r '.[0].Layers[-1]' "$out/manifest.json")" | sort
}

@test "commit: the empty /etc/hosts, /etc/hostname, /etc/resolv.conf the engine mounts over stay out" {
    # An image without /etc: the runtime makes /etc and the three files as mount points.
    tar -C "$FIX/rootfs" -cf "$ROOT/noetc.tar" bin dev proc sys tmp
    sk import "$ROOT/noetc.tar" noetc:1 >/dev/null
    sk run --network none --name ne noetc:1 /bin/sh -c 'echo made > /tmp/made'
    [ -f "$(upper_of ne)/etc/hosts" ]
    run sk diff ne
    [ "$output" = "C /tmp
A /tmp/made" ]
    sk commit ne ne:2 >/dev/null
    run top_layer_files ne:2
    [ "$output" = "tmp/
tmp/made" ]
    run sk run --rm --network none ne:2 cat /tmp/made
    [ "$output" = made ]
    # export shows the whole file system as the container saw it: the mount points are
    # there, empty, as in Docker's export.
    run bash -c "'$SKIFF' --root '$ROOT/root' --runroot '$ROOT/run' export ne | tar -tv | grep ' etc/host'"
    [[ "$output" == *" 0 "*"etc/hostname"* ]]
    [[ "$output" == *" 0 "*"etc/hosts"* ]]

    # An image with /etc: /etc holds them only, so neither it nor they are in the layer...
    sk run --network none --name quiet bb:1 true
    sk commit quiet q:1 >/dev/null
    run top_layer_files q:1
    [ -z "$output" ]
    # ... but the container's own files in /etc are.
    sk run --network none --name he bb:1 sh -c 'echo x > /etc/newfile; echo 10.9.9.9 db >> /etc/hosts'
    sk commit he he:1 >/dev/null
    run top_layer_files he:1
    [ "$output" = "etc/
etc/newfile" ]
    run sk run --rm --network none he:1 cat /etc/newfile
    [ "$output" = x ]
    run sk diff he
    [ "$output" = "C /etc
A /etc/newfile" ]
}
