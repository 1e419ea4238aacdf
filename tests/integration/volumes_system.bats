#!/usr/bin/env bats
# Volumes, `container prune` and `system df/prune`, used the way a Docker user would. Images
# come from a busybox rootfs tarball; each test has its own store (--root, --runroot) and
# leaves no container, mount or file behind.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}

# Fixtures, built once into $FIX: rootfs.tar (busybox) and rootfs2.tar (busybox plus a file,
# so importing it under the same tag leaves the first image dangling).
setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs" >/dev/null
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
    echo two > "$FIX/rootfs/two"
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs2.tar" .
    rm -f "$FIX/rootfs/two"
}

# The default network's bridge and table of this file (helpers.bash).
teardown_file() {
    network_cleanup
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-vs.XXXXXX)
}

teardown() {
    [ -n "${ROOT:-}" ] || return 0
    local ids
    ids=$(sk ps -aq --no-trunc 2>/dev/null || true)
    [ -z "$ids" ] || sk rm -f $ids >/dev/null 2>&1 || true
    # Nothing may stay mounted under the store; unmount leftovers so rm cannot cross them.
    grep -o " $ROOT[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$ROOT"
}

# --- helpers of this file ------------------------------------------------------------------

sk() { "$SKIFF" --root "$ROOT/root" --runroot "$ROOT/run" "$@"; }

# Run skiff expecting a refusal: exit 125 and exactly one line "Error: ..." on stderr.
refused() {
    run --separate-stderr "$SKIFF" --root "$ROOT/root" --runroot "$ROOT/run" "$@"
    printf 'skiff %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' "$*" "$status" "$output" "$stderr" >&2
    [ "$status" -eq 125 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "Error: "* ]]
}

says() {
    if [[ "$stderr" != *"$1"* ]]; then
        printf 'expected the error to say: %s\n  got: %s\n' "$1" "$stderr" >&2
        return 1
    fi
}

same() {
    if [ "$1" != "$2" ]; then
        printf 'expected: %s\n     got: %s\n' "$2" "$1" >&2
        return 1
    fi
}

import_busybox() { sk import "$FIX/rootfs.tar" "${1:-bb:1}" >/dev/null; }

# One row of `system df` as TOTAL|ACTIVE|SIZE|RECLAIMABLE.
df_row() {
    sk system df --format '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}' |
        grep "^$1|" | cut -d'|' -f2-
}

volumes() { sk volume ls -q | sort | tr '\n' ' '; }

# --- volumes -------------------------------------------------------------------------------

@test "a named volume keeps its data from one container to the next" {
    import_busybox
    sk run --rm -v data:/d bb:1 sh -c 'echo kept > /d/f'
    run sk run --rm -v data:/d bb:1 cat /d/f
    [ "$status" -eq 0 ]
    same "$output" "kept"
    same "$(volumes)" "data "
    # The file is where inspect says the volume lives.
    mountpoint=$(sk volume inspect --format '{{.Mountpoint}}' data)
    same "$mountpoint" "$ROOT/root/volumes/data/_data"
    same "$(cat "$mountpoint/f")" "kept"
    # --rm does not take named volumes with it.
    same "$(sk ps -aq)" ""
}

@test "volume create, ls and inspect speak Docker's language" {
    run sk volume create --label app=web --label tier web-data
    [ "$status" -eq 0 ]
    same "$output" "web-data"
    anon=$(sk volume create)
    [[ "$anon" =~ ^[0-9a-f]{64}$ ]]
    # Creating an existing volume is no error, as in Docker.
    same "$(sk volume create web-data)" "web-data"

    run sk volume ls
    [ "$status" -eq 0 ]
    same "${lines[0]}" "DRIVER    VOLUME NAME"
    [[ "$output" == *"local     web-data"* ]]
    [[ "$output" == *"local     $anon"* ]]
    same "$(sk volume ls -q -f label=app=web)" "web-data"
    same "$(sk volume ls -q -f label=tier)" "web-data"
    same "$(sk volume ls -q -f label=app=db)" ""
    same "$(sk volume ls -q -f name=web)" "web-data"
    same "$(sk volume ls --format '{{.Name}} {{.Driver}} {{.Labels}}' -f name=web)" "web-data local app=web,tier="
    same "$(sk volume ls -q -f dangling=false)" ""
    same "$(sk volume ls -q -f dangling=true | wc -l)" "2"

    run sk volume inspect web-data
    [ "$status" -eq 0 ]
    same "$(jq -r 'length' <<<"$output")" "1"
    same "$(jq -r '.[0].Name' <<<"$output")" "web-data"
    same "$(jq -r '.[0].Driver' <<<"$output")" "local"
    same "$(jq -r '.[0].Scope' <<<"$output")" "local"
    same "$(jq -r '.[0].Mountpoint' <<<"$output")" "$ROOT/root/volumes/web-data/_data"
    same "$(jq -c '.[0].Labels' <<<"$output")" '{"app":"web","tier":""}'
    same "$(jq -c '.[0].Options' <<<"$output")" 'null'
    [[ "$(jq -r '.[0].CreatedAt' <<<"$output")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]]
    same "$(sk volume inspect --format '{{.Name}}' web-data "$anon")" "web-data
$anon"

    refused volume inspect nope
    says "No such volume: nope"
    refused volume create 'bad/name'
    says 'includes invalid characters for a local volume name'
    refused volume create x
    says 'includes invalid characters'
    refused volume ls -f colour=red
    says "invalid filter 'colour'"
}

@test "volume rm refuses a volume a container mounts, even a stopped one" {
    import_busybox
    id=$(sk create -v data:/d bb:1 true)
    refused volume rm data
    says "remove data: volume is in use - [$id]"
    refused volume rm -f data
    says "volume is in use"
    [ -d "$ROOT/root/volumes/data/_data" ]
    same "$(sk volume ls -q -f dangling=false)" "data"

    sk rm "$id"
    run sk volume rm data
    [ "$status" -eq 0 ]
    same "$output" "data"
    same "$(volumes)" ""
    [ ! -e "$ROOT/root/volumes/data" ]

    refused volume rm nope
    says "No such volume: nope"
    run sk volume rm -f nope
    [ "$status" -eq 0 ]
}

@test "an anonymous volume from -v /path goes with rm -v; a named one stays" {
    import_busybox
    id=$(sk create -v /anon -v named:/named bb:1 true)
    anon=$(sk inspect --format '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}' "$id")
    [[ "$anon" =~ ^[0-9a-f]{64}$ ]]
    same "$(volumes)" "$(printf '%s\n' "$anon" named | sort | tr '\n' ' ')"
    sk rm -v "$id"
    same "$(volumes)" "named "
    [ ! -e "$ROOT/root/volumes/$anon" ]
}

@test "volume prune takes unused anonymous volumes; -a every unused one" {
    import_busybox
    sk create --name keeper -v /kept bb:1 true >/dev/null
    kept=$(sk inspect --format '{{range .Mounts}}{{.Name}}{{end}}' keeper)
    # Docker's `run --rm` takes anonymous volumes along; `rm` without -v leaves them.
    sk run --name user -v /gone bb:1 sh -c 'echo 12345 > /gone/f'
    gone=$(sk inspect --format '{{range .Mounts}}{{.Name}}{{end}}' user)
    sk rm user >/dev/null
    [[ "$gone" =~ ^[0-9a-f]{64}$ ]]
    sk volume create named >/dev/null
    sk volume create >/dev/null  # unnamed by `volume create`: not anonymous, as in Docker

    # Without -f it asks; anything but y keeps everything.
    run --separate-stderr sk volume prune <<<"n"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"WARNING! This will remove anonymous local volumes not used by at least one container."* ]]
    [[ "$stderr" == *"[y/N]"* ]]
    same "$(sk volume ls -q | wc -l)" "4"

    run --separate-stderr sk volume prune <<<"y"
    [ "$status" -eq 0 ]
    same "${lines[0]}" "Deleted Volumes:"
    same "${lines[1]}" "$gone"
    same "${lines[2]}" "Total reclaimed space: 6B"
    same "$(sk volume ls -q | wc -l)" "3"
    sk volume inspect "$kept" named >/dev/null

    run sk volume prune -a -f
    [ "$status" -eq 0 ]
    same "${lines[0]}" "Deleted Volumes:"
    same "${#lines[@]}" "4"
    [[ "$output" == *named* ]]
    same "$(volumes)" "$kept "

    run sk volume prune -a -f
    same "$output" "Total reclaimed space: 0B"
}

# --- container prune -------------------------------------------------------------------------

@test "container prune removes exited and created containers, not running ones" {
    import_busybox
    exited=$(sk create bb:1 true)
    sk start "$exited" >/dev/null
    sk wait "$exited" >/dev/null
    created=$(sk create bb:1 true)
    running=$(sk run -d bb:1 sleep 100)

    run sk container prune <<<"n"
    [ "$status" -eq 0 ]
    same "$(sk ps -aq | wc -l)" "3"

    run sk container prune -f
    [ "$status" -eq 0 ]
    same "${lines[0]}" "Deleted Containers:"
    [[ "$output" == *"$exited"* ]]
    [[ "$output" == *"$created"* ]]
    [[ "$output" != *"$running"* ]]
    [[ "${lines[-1]}" == "Total reclaimed space: "* ]]
    same "$(sk ps -aq --no-trunc)" "$running"
    [ ! -e "$ROOT/root/containers/$exited" ]
    sk rm -f "$running" >/dev/null
}

# --- system df / prune ---------------------------------------------------------------------

@test "system df counts images, containers and volumes as they come and go" {
    run sk system df
    [ "$status" -eq 0 ]
    same "${lines[0]}" "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    same "$(df_row Images)" "0|0|0B|0B"
    same "$(df_row Containers)" "0|0|0B|0B"
    same "$(df_row 'Local Volumes')" "0|0|0B|0B"
    same "$(df_row 'Build Cache')" "0|0|0B|0B"

    import_busybox
    images=$(df_row Images)
    [[ "$images" =~ ^1\|0\|[0-9.]+MB\|[0-9.]+MB\ \(100%\)$ ]]

    # A stopped container with 50kB written, and a volume holding 5 bytes.
    sk run --name writer -v data:/d bb:1 sh -c 'dd if=/dev/zero of=/big bs=1000 count=50 2>/dev/null; echo four > /d/f'
    same "$(df_row Containers)" "1|0|50kB|50kB (100%)"
    same "$(df_row 'Local Volumes')" "1|1|5B|0B (0%)"
    same "$(df_row Images | cut -d'|' -f1,2,4)" "1|1|0B (0%)"

    # A running one is active; its image is counted once.
    running=$(sk run -d bb:1 sleep 100)
    same "$(df_row Containers | cut -d'|' -f1,2)" "2|1"
    same "$(df_row Images | cut -d'|' -f1,2)" "1|1"

    run sk system df -v
    [ "$status" -eq 0 ]
    [[ "$output" == *"Images space usage:"* ]]
    [[ "$output" == *"REPOSITORY   TAG       IMAGE ID"* ]]
    [[ "$output" =~ bb\ +1\ +[0-9a-f]{12}\ .*\ 2$'\n' ]]
    [[ "$output" == *"Containers space usage:"* ]]
    [[ "$output" =~ writer ]]
    [[ "$output" == *"${running:0:12}"* ]]
    [[ "$output" =~ data\ +1\ +5B ]]
    [[ "$output" == *"Build cache usage: 0B"* ]]

    sk rm -f "$running" writer >/dev/null
    same "$(df_row Containers)" "0|0|0B|0B"
    same "$(df_row 'Local Volumes')" "1|0|5B|5B (100%)"
    [[ "$(df_row Images)" =~ ^1\|0\| ]]
}

@test "system prune without -a takes stopped containers and dangling images only" {
    import_busybox
    sk import "$FIX/rootfs2.tar" bb:1 >/dev/null  # the first import is dangling now
    sk import "$FIX/rootfs.tar" other:1 >/dev/null
    same "$(sk images -q | wc -l)" "3"
    same "$(sk images -q -f dangling=true | wc -l)" "1"
    stopped=$(sk create -v /anon bb:1 true)

    run --separate-stderr sk system prune <<<"n"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"WARNING! This will remove:"* ]]
    [[ "$stderr" == *"  - all stopped containers"* ]]
    [[ "$stderr" == *"  - all dangling images"* ]]
    [[ "$stderr" == *"  - skiff's seccomp caches"* ]]
    [[ "$stderr" != *"volumes"* ]]
    same "$(sk ps -aq | wc -l)" "1"

    run sk system prune -f
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Containers:"*"$stopped"* ]]
    [[ "$output" == *"Deleted Images:"* ]]
    [[ "$output" != *"Deleted Volumes:"* ]]
    [[ "${lines[-1]}" == "Total reclaimed space: "* ]]
    same "$(sk ps -aq)" ""
    # bb:1 (the second import) and other:1 stay; the anonymous volume too, without --volumes.
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" "bb:1 other:1 "
    same "$(sk volume ls -q | wc -l)" "1"
}

@test "system prune drops the seccomp caches; the next run makes them again" {
    import_busybox
    sk run --rm bb:1 true
    same "$(ls "$ROOT/run/cache" | grep -c '^seccomp-.*\.json$')" "1"
    same "$(ls "$ROOT/run/runtime/.seccomp-cache" | grep -c '\.bpf$')" "1"
    # An entry another skiff build or profile left is dropped with them.
    echo '{}' > "$ROOT/run/cache/seccomp-0123456789abcdef0123456789abcdef.json"
    run sk system prune -f
    [ "$status" -eq 0 ]
    [ ! -e "$ROOT/run/cache" ]
    [ ! -e "$ROOT/run/runtime/.seccomp-cache" ]
    run sk run --rm bb:1 sh -c 'grep ^Seccomp: /proc/self/status'
    [ "$status" -eq 0 ]
    same "$output" "Seccomp:	2"
    same "$(ls "$ROOT/run/cache" | wc -l)" "1"
    same "$(ls "$ROOT/run/runtime/.seccomp-cache" | grep -c '\.bpf$')" "1"
}

@test "system prune -a -f --volumes empties the store but for named volumes and what runs" {
    import_busybox
    sk import "$FIX/rootfs2.tar" two:1 >/dev/null
    sk run -v /anon -v named:/named bb:1 sh -c 'echo x > /anon/f; echo y > /named/f'
    sk create bb:1 true >/dev/null
    running=$(sk run -d two:1 sleep 100)

    run sk system prune -a -f --volumes
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Containers:"* ]]
    [[ "$output" == *"Deleted Volumes:"* ]]
    [[ "$output" == *"untagged: bb:1"* ]]
    # What the running container uses is kept.
    same "$(sk ps -aq --no-trunc)" "$running"
    same "$(sk images --format '{{.Repository}}:{{.Tag}}')" "two:1"
    same "$(volumes)" "named "

    sk rm -f "$running" >/dev/null
    run sk system prune -a -f --volumes
    [ "$status" -eq 0 ]
    [[ "$output" == *"untagged: two:1"* ]]
    same "$(sk images -q)" ""
    same "$(sk ps -aq)" ""
    same "$(ls -A "$ROOT/root/layers" "$ROOT/root/blobs/sha256" | grep -v -e '^$' -e ':$' || true)" ""
    same "$(df_row Images)" "0|0|0B|0B"
    # Docker 23+: named volumes need `volume prune -a`.
    same "$(volumes)" "named "
    run sk volume prune -a -f
    same "$(volumes)" ""
    same "$(df_row 'Local Volumes')" "0|0|0B|0B"
}
