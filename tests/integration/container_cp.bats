#!/usr/bin/env bats
# `cp` between containers and the host, the way a Docker user types it: both directions,
# files, directories, "dir/.", "-" tar streams, -a, -L, running, created and stopped
# containers, volumes and binds, a read-only rootfs, and symlinks in the container that
# point at host files (never followed out of the container). Every test has its own store
# with a busybox image bb:1 and leaves no container and no mount behind.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}

setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs" >/dev/null
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-cp.XXXXXX)
    T=$ROOT/host
    mkdir -p "$T"
    sk import "$FIX/rootfs.tar" bb:1 >/dev/null
}

teardown() {
    [ -n "${ROOT:-}" ] || return 0
    local id leftovers
    for id in $(sk ps -aq --no-trunc 2>/dev/null); do
        sk rm -f "$id" >/dev/null 2>&1 || true
    done
    leftovers=$(grep -o " $ROOT[^ ]*" /proc/mounts || true)
    for m in $(echo "$leftovers" | sort -r); do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$ROOT"
    if [ -n "$leftovers" ]; then
        echo "left mounted:$leftovers" >&2
        return 1
    fi
}

# --- helpers of this file ------------------------------------------------------------------

sk() { "$SKIFF" --root "$ROOT/root" --runroot "$ROOT/run" "$@"; }

upper_of() { echo "$ROOT/root/containers/$(sk inspect "$1" | jq -r '.[0].Id')/upper"; }

# A running container `c1` with /hello.txt and /d/sub/f.
start_c1() {
    sk run -d --network none --name c1 "$@" bb:1 \
        sh -c 'echo hello > /hello.txt; mkdir -p /d/sub; echo deep > /d/sub/f; touch /ready; exec sleep 1000' >/dev/null
    for _ in $(seq 100); do [ -e "$(upper_of c1)/ready" ] && return 0; sleep 0.1; done
    return 1
}

# Nothing of this test's store is mounted but the rootfs of running containers.
mounted() { grep -c " $ROOT" /proc/mounts || true; }

# --- files and directories -------------------------------------------------------------------

@test "cp: a file out of a running container, to a new file or into a directory" {
    start_c1
    sk cp c1:/hello.txt "$T/out.txt"
    [ "$(cat "$T/out.txt")" = hello ]
    mkdir "$T/dir"
    sk cp c1:hello.txt "$T/dir"
    [ "$(cat "$T/dir/hello.txt")" = hello ]
    # An existing file is overwritten.
    echo old > "$T/old.txt"
    sk cp c1:/hello.txt "$T/old.txt"
    [ "$(cat "$T/old.txt")" = hello ]
    # A destination ending in / must be an existing directory.
    run sk cp c1:/hello.txt "$T/newdir/"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: no such directory" ]
    [ ! -e "$T/newdir" ]
}

@test "cp: a file into a running container, new, renamed, overwriting" {
    start_c1
    echo from-host > "$T/h.txt"
    sk cp "$T/h.txt" c1:/tmp/
    [ "$(sk exec c1 cat /tmp/h.txt)" = from-host ]
    sk cp "$T/h.txt" c1:/renamed
    [ "$(sk exec c1 cat /renamed)" = from-host ]
    sk cp "$T/h.txt" c1:/hello.txt
    [ "$(sk exec c1 cat /hello.txt)" = from-host ]
    # A relative container path is taken from /.
    sk cp "$T/h.txt" c1:tmp/rel
    [ "$(sk exec c1 cat /tmp/rel)" = from-host ]
    # /etc/hosts is the engine's file bind-mounted: written in place, the container sees it.
    echo "10.1.2.3 db" > "$T/hosts"
    sk cp "$T/hosts" c1:/etc/hosts
    [ "$(sk exec c1 cat /etc/hosts)" = "10.1.2.3 db" ]
    sk cp c1:/etc/hosts "$T/hosts-back"
    [ "$(cat "$T/hosts-back")" = "10.1.2.3 db" ]
}

@test "cp: directories both ways, and dir/. copies only the contents" {
    start_c1
    # Out: a new destination becomes the copy; an existing directory receives it.
    sk cp c1:/d "$T/new"
    [ "$(cat "$T/new/sub/f")" = deep ]
    mkdir "$T/exist" "$T/exist2"
    sk cp c1:/d "$T/exist"
    [ "$(cat "$T/exist/d/sub/f")" = deep ]
    sk cp c1:/d/. "$T/exist2"
    [ "$(cat "$T/exist2/sub/f")" = deep ]
    [ ! -e "$T/exist2/d" ]

    # In: the same three cases.
    mkdir -p "$T/src/x"
    echo a > "$T/src/x/a"
    sk cp "$T/src" c1:/newdir
    [ "$(sk exec c1 cat /newdir/x/a)" = a ]
    sk cp "$T/src" c1:/tmp
    [ "$(sk exec c1 cat /tmp/src/x/a)" = a ]
    sk cp "$T/src/." c1:/d
    [ "$(sk exec c1 cat /d/x/a)" = a ]
    [ "$(sk exec c1 cat /d/sub/f)" = deep ]

    # A directory cannot replace a file.
    run sk cp "$T/src" c1:/hello.txt
    [ "$status" -eq 125 ]
    [ "$output" = "Error: cannot copy directory" ]
    touch "$T/plain"
    run sk cp c1:/d "$T/plain"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: cannot copy directory" ]
}

@test "cp: - streams a tar to stdout and extracts one from stdin" {
    start_c1
    run bash -c "'$SKIFF' --root '$ROOT/root' --runroot '$ROOT/run' cp c1:/d - | tar -t | sort"
    [ "$status" -eq 0 ]
    [ "$output" = "d/
d/sub/
d/sub/f" ]
    sk cp c1:/hello.txt - | tar -xO hello.txt > "$T/streamed"
    [ "$(cat "$T/streamed")" = hello ]

    mkdir -p "$T/src/x"
    echo a > "$T/src/x/a"
    tar -C "$T/src" -cf - x | sk cp - c1:/tmp/
    [ "$(sk exec c1 cat /tmp/x/a)" = a ]
    # Compressed too, as Docker accepts.
    tar -C "$T/src" -czf - x | sk cp - c1:/d
    [ "$(sk exec c1 cat /d/x/a)" = a ]
    # "-" needs a directory to extract into.
    run sk cp - c1:/hello.txt < /dev/null
    [ "$status" -eq 125 ]
    [ "$output" = 'Error: destination "c1:/hello.txt" must be a directory' ]
}

@test "cp: files copied in belong to the container's root, -a keeps the owners" {
    start_c1
    echo owned > "$T/owned"
    chown 1234:5678 "$T/owned"
    sk cp "$T/owned" c1:/o1
    [ "$(sk exec c1 stat -c %u:%g /o1)" = 0:0 ]
    sk cp -a "$T/owned" c1:/o2
    [ "$(sk exec c1 stat -c %u:%g /o2)" = 1234:5678 ]
    mkdir -p "$T/tree/in"
    chown -R 1234:5678 "$T/tree"
    sk cp --archive "$T/tree" c1:/tree
    [ "$(sk exec c1 stat -c %u:%g /tree/in)" = 1234:5678 ]

    # Out: the user running cp owns the copy, unless -a.
    sk exec c1 chown 42:43 /hello.txt
    sk cp c1:/hello.txt "$T/plain"
    [ "$(stat -c %u:%g "$T/plain")" = "$(id -u):$(id -g)" ]
    sk cp -a c1:/hello.txt "$T/kept"
    [ "$(stat -c %u:%g "$T/kept")" = 42:43 ]
}

@test "cp: a symlink as SRC is copied as a link, -L copies what it points to" {
    start_c1
    sk exec c1 ln -s /hello.txt /link
    sk cp c1:/link "$T/l1"
    [ -L "$T/l1" ]
    [ "$(readlink "$T/l1")" = /hello.txt ]
    sk cp -L c1:/link "$T/l2"
    [ ! -L "$T/l2" ]
    [ "$(cat "$T/l2")" = hello ]
    # Followed, it keeps the link's name.
    mkdir "$T/into"
    sk cp --follow-link c1:/link "$T/into"
    [ "$(cat "$T/into/link")" = hello ]

    echo from-host > "$T/h.txt"
    ln -s "$T/h.txt" "$T/hl"
    sk cp "$T/hl" c1:/hl
    [ "$(sk exec c1 readlink /hl)" = "$T/h.txt" ]
    sk cp -L "$T/hl" c1:/hl2
    [ "$(sk exec c1 cat /hl2)" = from-host ]
}

@test "cp: a created and a stopped container are mounted only for the copy" {
    echo from-host > "$T/h.txt"
    sk create --network none --name cr bb:1 cat /in.txt >/dev/null
    sk cp "$T/h.txt" cr:/in.txt
    [ "$(mounted)" -eq 0 ]
    sk cp cr:/in.txt "$T/back"
    [ "$(cat "$T/back")" = from-host ]
    [ "$(mounted)" -eq 0 ]
    run sk start -a cr
    [ "$status" -eq 0 ]
    [ "$output" = from-host ]

    sk run --network none --name st bb:1 sh -c 'mkdir -p /out && echo stopped > /out/s.txt'
    sk cp st:/out "$T/out"
    [ "$(cat "$T/out/s.txt")" = stopped ]
    sk cp "$T/h.txt" st:/out/
    sk cp st:/out/h.txt - | tar -xO > "$T/again"
    [ "$(cat "$T/again")" = from-host ]
    [ "$(mounted)" -eq 0 ]
    [ "$(sk inspect st | jq -r '.[0].State.Status')" = exited ]
}

@test "cp: a path under a volume or bind mount is the mount's, running or stopped" {
    echo from-host > "$T/h.txt"
    mkdir "$T/bind"
    sk volume create vol1 >/dev/null
    sk run -d --network none --name cv -v vol1:/data -v "$T/bind:/b" bb:1 sleep 1000 >/dev/null
    sk cp "$T/h.txt" cv:/data/
    [ "$(cat "$ROOT/root/volumes/vol1/_data/h.txt")" = from-host ]
    [ "$(sk exec cv cat /data/h.txt)" = from-host ]
    [ ! -e "$(upper_of cv)/data/h.txt" ]
    sk cp "$T/h.txt" cv:/b/x
    [ "$(cat "$T/bind/x")" = from-host ]
    # A symlink in the container into the volume leads there, as the container sees it.
    sk exec cv ln -s /data/h.txt /tovol
    sk cp -L cv:/tovol "$T/viaLink"
    [ "$(cat "$T/viaLink")" = from-host ]

    sk stop -t 0 cv >/dev/null
    echo second > "$T/second"
    sk cp "$T/second" cv:/data/second
    [ "$(cat "$ROOT/root/volumes/vol1/_data/second")" = second ]
    sk cp cv:/data/h.txt "$T/fromvol"
    [ "$(cat "$T/fromvol")" = from-host ]
    [ "$(mounted)" -eq 0 ]
}

@test "cp: a read-only rootfs or volume refuses copies into it" {
    echo from-host > "$T/h.txt"
    sk run -d --network none --read-only --name ro -v vol2:/data -v vol3:/rovol:ro bb:1 sleep 1000 >/dev/null
    run sk cp "$T/h.txt" ro:/tmp/
    [ "$status" -eq 125 ]
    [ "$output" = "Error: container rootfs is marked read-only" ]
    run sk cp "$T/h.txt" ro:/rovol/
    [ "$status" -eq 125 ]
    [ "$output" = "Error: mounted volume is marked read-only" ]
    # A writable volume of it still takes files, and copying out works.
    sk cp "$T/h.txt" ro:/data/
    [ "$(sk exec ro cat /data/h.txt)" = from-host ]
    sk cp ro:/bin/busybox "$T/bb"
    cmp "$T/bb" "$FIX/rootfs/bin/busybox"
}

@test "cp: symlinks in the container never lead to host files" {
    start_c1
    # The host's canary; the container points at it in every way it can.
    mkdir -p "$T/hostdir"
    echo canary > "$T/hostdir/canary"
    echo payload > "$T/payload"
    local before
    before=$(stat -c '%i %s %Y' "$T/hostdir/canary")
    sk exec c1 ln -s "$T/hostdir/canary" /abs
    sk exec c1 ln -s ../../../../../../../../../..$T/hostdir /up
    sk exec c1 sh -c "rm /etc/passwd && ln -s $T/hostdir/canary /etc/passwd"

    # Reading: nothing of the host's comes out.
    run sk cp -L c1:/abs "$T/r1"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: No such container:path: c1:/abs" ]
    run sk cp c1:/up/canary "$T/r2"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: No such container:path: c1:/up/canary" ]
    run sk cp -L c1:/etc/passwd "$T/r3"
    [ "$status" -eq 125 ]
    [ ! -e "$T/r1" ] && [ ! -e "$T/r2" ] && [ ! -e "$T/r3" ]

    # Writing: refused where the container has no such directory...
    run sk cp "$T/payload" c1:/up/canary
    [ "$status" -eq 125 ]
    [[ "$output" == "Error: Could not find the file /up in container c1" ]]
    run sk cp "$T/payload" c1:/abs
    [ "$status" -eq 125 ]
    run sk cp "$T/payload" c1:/etc/passwd
    [ "$status" -eq 125 ]
    # ... and kept inside the container where it has one.
    sk exec c1 mkdir -p "$T/hostdir"
    sk cp "$T/payload" c1:/abs
    sk cp "$T/payload" c1:/up/other
    sk cp "$T/payload" c1:/etc/passwd
    [ "$(sk exec c1 cat "$T/hostdir/canary")" = payload ]
    [ "$(sk exec c1 cat "$T/hostdir/other")" = payload ]
    [ "$(sk exec c1 cat /etc/passwd)" = payload ]
    sk cp -L c1:/up/canary "$T/r4"
    [ "$(cat "$T/r4")" = payload ]
    sk cp c1:/up/. "$T/r5"
    [ "$(cat "$T/r5/canary")" = payload ]

    # A tar that climbs out or writes through its own symlink stays inside too.
    python3 - "$T/evil.tar" "$T/hostdir" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    link = tarfile.TarInfo("esc"); link.type = tarfile.SYMTYPE; link.linkname = sys.argv[2]
    t.addfile(link)
    for name in ("esc/canary", "esc/new"):
        data = b"evil\n"; f = tarfile.TarInfo(name); f.size = len(data); t.addfile(f, io.BytesIO(data))
EOF
    sk cp - c1:/tmp < "$T/evil.tar" || true
    python3 - "$T/climb.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"evil\n"; f = tarfile.TarInfo("../../../../../../../../tmp/skiff-cp-climb"); f.size = len(data)
    t.addfile(f, io.BytesIO(data))
EOF
    run sk cp - c1:/tmp < "$T/climb.tar"
    [ "$status" -eq 125 ]
    [ ! -e /tmp/skiff-cp-climb ]

    [ "$(cat "$T/hostdir/canary")" = canary ]
    [ "$(stat -c '%i %s %Y' "$T/hostdir/canary")" = "$before" ]
    [ ! -e "$T/hostdir/other" ] && [ ! -e "$T/hostdir/new" ]
    [ "$(ls "$T/hostdir")" = canary ]
}

@test "cp: errors are one line with exit 125, in Docker's words" {
    start_c1
    echo x > "$T/h.txt"
    run sk cp c1:/nope "$T/x"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: No such container:path: c1:/nope" ]
    run sk cp nope:/etc/passwd "$T/x"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: No such container:path: nope:/etc/passwd" ]
    run sk cp "$T/h.txt" nope:/tmp
    [ "$status" -eq 125 ]
    [ "$output" = "Error: No such container: nope" ]
    run sk cp "$T/h.txt" c1:/nope/x
    [ "$status" -eq 125 ]
    [ "$output" = "Error: Could not find the file /nope in container c1" ]
    run sk cp "$T/missing" c1:/tmp
    [ "$status" -eq 125 ]
    [ "$output" = "Error: lstat $T/missing: No such file or directory" ]
    run sk cp c1:/hello.txt/ "$T/x"
    [ "$status" -eq 125 ]
    [ "${#lines[@]}" -eq 1 ]
    run sk cp "$T/h.txt" "$T/y"
    [ "$status" -eq 125 ]
    [ "$output" = "Error: must specify at least one container source" ]
    run sk cp c1:/hello.txt c1:/tmp
    [ "$status" -eq 125 ]
    [ "$output" = "Error: copying between containers is not supported" ]
    [ ! -e "$T/x" ] && [ ! -e "$T/y" ]
    # A local path with a colon is written ./a:b.
    echo colon > "$T/a:b"
    (cd "$T" && sk cp ./a:b c1:/tmp/colon)
    [ "$(sk exec c1 cat /tmp/colon)" = colon ]
}
