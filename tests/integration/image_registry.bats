#!/usr/bin/env bats
# Images and registries: pull, push, login, mirrors and what a careful client refuses.
# Every registry is a docker-registry on 127.0.0.1 (tests/integration/registry.bash), every
# image is made by tests/fixtures/mkimage.py. Each test uses a fresh store (--root) and its
# own auth file and registries.conf, so nothing of the host's configuration takes part.

load helpers
load registry

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}

# Registries: plain (no auth; also the mirror), origin (plain, what the mirror mirrors),
# priv (htpasswd alice:secret), tok (bearer tokens, bob:hunter2, anonymous pull).
# Fixtures are built once into $FIX; $ESC is an outside directory hostile layers aim at.
setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    export ESC
    ESC=$(mktemp -d /tmp/skiff-esc.XXXXXX)
    mkdir -p "$FIX" "$ESC/dir"
    echo secret > "$ESC/secret"

    start_registry plain
    start_registry origin
    start_registry priv --htpasswd alice:secret
    start_registry tok --token bob:hunter2

    # Independent fixtures are made in parallel (python's start-up dominates).
    local jobs=()
    local hello='[{"type":"file","path":"hello.txt","content":"hello from skiff\n","mode":420}]'
    {
        mk build --out "$FIX/bb" --busybox --layer "$hello" || exit 1
        local pushes=() pid status=0
        mk push --registry "$REGISTRY_PLAIN" --repo src/bb --tag v1 "$FIX/bb" > "$FIX/bb.digest" & pushes+=($!)
        mk push --registry "$REGISTRY_PLAIN" --repo mirrored/bb --tag v1 "$FIX/bb" & pushes+=($!)
        mk push --registry "$REGISTRY_ORIGIN" --repo mirrored/bb --tag v1 "$FIX/bb" & pushes+=($!)
        mk push --registry "$REGISTRY_PRIV" --user alice:secret --repo priv/bb --tag v1 "$FIX/bb" & pushes+=($!)
        mk push --registry "$REGISTRY_TOK" --user bob:hunter2 --repo tok/bb --tag v1 "$FIX/bb" & pushes+=($!)
        for pid in "${pushes[@]}"; do wait "$pid" || status=1; done
        exit "$status"
    } >/dev/null 3>&- &
    jobs+=($!)
    mk build --out "$FIX/bb.tar" --format docker-archive --tag load/bb:v1 --busybox --layer "$hello" >/dev/null 3>&- &
    jobs+=($!)

    # Two layers with everything a layer can say about a file system.
    local lower upper
    lower='[{"type":"dir","path":"etc","mode":493},
             {"type":"file","path":"etc/keep","content":"keep\n"},
             {"type":"file","path":"etc/gone","content":"gone\n"},
             {"type":"dir","path":"opq"},
             {"type":"file","path":"opq/old","content":"old\n"}]'
    upper='[{"type":"dir","path":"etc","mode":493},
             {"type":"whiteout","path":"etc/gone"},
             {"type":"dir","path":"opq","mode":493},
             {"type":"opaque","path":"opq"},
             {"type":"file","path":"opq/new","content":"new\n"},
             {"type":"dir","path":"data","mode":488,"mtime":1500000000},
             {"type":"file","path":"data/a","content":"shared\n","mode":416,"uid":1000,"gid":1001,
              "mtime":1600000000,"xattrs":{"user.color":"blue"}},
             {"type":"hardlink","path":"data/b","target":"data/a"},
             {"type":"symlink","path":"data/link","target":"a"},
             {"type":"file","path":"data/run.sh","content":"#!/bin/sh\n","mode":493}]'
    mk_push fs/docker "$FIX/fs-docker" --media docker --compression gzip --layer "$lower" --layer "$upper" &
    jobs+=($!)
    mk_push fs/oci "$FIX/fs-oci" --media oci --compression zstd --layer "$lower" --layer "$upper" &
    jobs+=($!)

    # Two platforms, as an OCI index and as a Docker manifest list.
    local media
    for media in oci docker; do
        {
            mk build --out "$FIX/amd64-$media" --media "$media" --platform linux/amd64 \
                --layer "[{\"type\":\"file\",\"path\":\"arch\",\"content\":\"amd64 $media\\n\"}]" &&
            mk build --out "$FIX/arm64-$media" --media "$media" --platform linux/arm64 \
                --layer "[{\"type\":\"file\",\"path\":\"arch\",\"content\":\"arm64 $media\\n\"}]" &&
            mk push --registry "$REGISTRY_PLAIN" --repo "multi/$media" --tag v1 --media "$media" \
                --index "linux/amd64=$FIX/amd64-$media" --index "linux/arm64=$FIX/arm64-$media"
        } >/dev/null 3>&- &
        jobs+=($!)
    done

    # Layers of their own (registry_corrupt_blob changes a blob for every repository).
    mk_push corrupt/one "$FIX/corrupt" --layer '[{"type":"file","path":"noise","size":200000,"seed":801}]' &
    jobs+=($!)
    # The big layer takes long enough to fail that the small one (pulled alongside) is done.
    mk_push resume/img "$FIX/resume" --compression none \
        --layer '[{"type":"file","path":"small","size":2000,"seed":1301}]' \
        --layer '[{"type":"file","path":"big","size":8000000,"seed":1302}]' &
    jobs+=($!)
    mk_push rmi/img "$FIX/rmi" --layer '[{"type":"file","path":"x","size":5000,"seed":1401}]' \
        --layer '[{"type":"file","path":"y","content":"y\n"}]' &
    jobs+=($!)
    mk_push big/img "$FIX/big" --layer '[{"type":"file","path":"big","size":3000000,"seed":1101}]' &
    jobs+=($!)

    # Hostile layers: each aims at its own place under $ESC.
    local up=../../../../../../../../../../../..
    mk_push hostile/dotdot "$FIX/hostile-dotdot" \
        --layer "[{\"type\":\"file\",\"path\":\"$up$ESC/dotdot\",\"content\":\"x\"}]" &
    jobs+=($!)
    mk_push hostile/absolute "$FIX/hostile-absolute" \
        --layer "[{\"type\":\"file\",\"path\":\"$ESC/absolute\",\"content\":\"x\"}]" &
    jobs+=($!)
    mk_push hostile/symlink-abs "$FIX/hostile-symlink-abs" \
        --layer "[{\"type\":\"symlink\",\"path\":\"link\",\"target\":\"$ESC/dir\"},
                  {\"type\":\"file\",\"path\":\"link/through-abs\",\"content\":\"x\"}]" &
    jobs+=($!)
    mk_push hostile/symlink-rel "$FIX/hostile-symlink-rel" \
        --layer "[{\"type\":\"symlink\",\"path\":\"link\",\"target\":\"$up$ESC/dir\"},
                  {\"type\":\"file\",\"path\":\"link/through-rel\",\"content\":\"x\"}]" &
    jobs+=($!)
    mk_push hostile/hardlink-passwd "$FIX/hostile-hardlink-passwd" \
        --layer '[{"type":"hardlink","path":"passwd","target":"/etc/passwd"}]' &
    jobs+=($!)
    mk_push hostile/hardlink-rel "$FIX/hostile-hardlink-rel" \
        --layer "[{\"type\":\"hardlink\",\"path\":\"secret\",\"target\":\"$up$ESC/secret\"}]" &
    jobs+=($!)

    local pid failed=0
    for pid in "${jobs[@]}"; do
        wait "$pid" || failed=1
    done
    [ "$failed" = 0 ] || { echo "making the fixtures failed" >&2; return 1; }
    export BB_DIGEST RMI_DIGEST
    BB_DIGEST=$(cat "$FIX/bb.digest")
    RMI_DIGEST=$(cat "$FIX/rmi.digest")
}

teardown_file() {
    stop_registries
    [ -n "${ESC:-}" ] && rm -rf "$ESC"
    return 0
}

setup() {
    T=$(mktemp -d /tmp/skiff-it.XXXXXX)
    ROOT=$T/root
    # No credentials or registries.conf of the host's.
    export REGISTRY_AUTH_FILE=$T/auth.json
    export CONTAINERS_REGISTRIES_CONF=$T/registries.conf
    : > "$CONTAINERS_REGISTRIES_CONF"
    BG_PIDS=()
}

teardown() {
    reap_background
    if [ -n "${T:-}" ]; then
        grep -o " $T[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done
        rm -rf "$T"
    fi
}

# --- helpers of this file ------------------------------------------------------------------

mk() { python3 "$MKIMAGE" "$@"; }

# mk_push REPO DIR BUILD-ARGS...: build DIR and push it as REPO:v1 to the plain registry;
# the digest goes to DIR.digest.
mk_push() {
    local repo=$1 dir=$2; shift 2
    { mk build --out "$dir" "$@" >/dev/null &&
      mk push --registry "$REGISTRY_PLAIN" --repo "$repo" --tag v1 "$dir" > "$dir.digest"; } 3>&-
}

sk() { "$SKIFF" --root "$ROOT" "$@"; }

# The manifest of an OCI layout made by mkimage, and the digest of its layer N.
layout_manifest() {
    local m
    m=$(jq -r '.manifests[0].digest' "$1/index.json")
    cat "$1/blobs/sha256/${m#sha256:}"
}
layer_digest() { layout_manifest "$1" | jq -r ".layers[$2].digest"; }

# Where a blob lives in registry NAME's storage.
registry_blob_file() {
    local var=$(_registry_var "$1")_STORAGE hex=${2#sha256:}
    echo "${!var}/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# Expect a refusal: exit 125 and one line on stderr, "Error: ...", left in $stderr.
refused() {
    run --separate-stderr "$SKIFF" --root "$ROOT" "$@"
    printf 'skiff %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' "$*" "$status" "$output" "$stderr" >&2
    [ "$status" -eq 125 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "Error: "* ]]
}

# The refusal names $1 (a fixed string); more arguments are alternatives.
says() {
    local want
    for want in "$@"; do
        [[ "$stderr" == *"$want"* ]] && return 0
    done
    printf 'expected the error to say: %s\n  got: %s\n' "$*" "$stderr" >&2
    return 1
}

# Expect success; the last line of stdout is left in $last.
succeeds() {
    run --separate-stderr "$SKIFF" --root "$ROOT" "$@"
    printf 'skiff %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' "$*" "$status" "$output" "$stderr" >&2
    [ "$status" -eq 0 ]
    last=""
    [ "${#lines[@]}" -eq 0 ] || last=${lines[${#lines[@]}-1]}
}

# Entries of a directory (none when it does not exist).
entries() { [ -d "$1" ] && find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' || true; }

# Nothing of a failed pull is left in the store: no image, no layer (nor a temp one), no
# blob, no temp file.
nothing_recorded() {
    local left
    left=$("$SKIFF" --root "$ROOT" images -q)
    [ -z "$left" ] || { echo "images recorded: $left" >&2; return 1; }
    if [ -f "$ROOT/images.json" ] && [ "$(jq -r '[.. | strings | select(startswith("sha256:"))] | length' "$ROOT/images.json")" != 0 ]; then
        echo "images.json names something:" >&2; cat "$ROOT/images.json" >&2; return 1
    fi
    left=$(entries "$ROOT/layers")
    [ -z "$left" ] || { echo "left in layers/: $left" >&2; return 1; }
    left=$(entries "$ROOT/blobs/tmp")
    [ -z "$left" ] || { echo "left in blobs/tmp: $left" >&2; return 1; }
    left=$(entries "$ROOT/blobs/sha256")
    [ -z "$left" ] || { echo "left in blobs/sha256: $left" >&2; return 1; }
    no_temp_files
}

no_temp_files() {
    local left
    left=$(find "$ROOT" \( -name '*.tmp-*' -o -name '.tmp-*' -o -name 'tmp-*' \) 2>/dev/null || true)
    [ -z "$left" ] || { echo "temp files left: $left" >&2; return 1; }
    left=$(entries "$ROOT/blobs/tmp")
    [ -z "$left" ] || { echo "left in blobs/tmp: $left" >&2; return 1; }
}

# The layer dirs of the store, one a line.
layer_dirs() { find "$ROOT/layers" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort; }

getxattr() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())' "$1" "$2"; }

# Lines of registry NAME's log that GET PATH (a fixed string after "GET ").
log_gets() {
    local var=$(_registry_var "$1")_LOG
    grep -cF "\"GET $2" "${!var}" || true
}

# --- tests ---------------------------------------------------------------------------------

@test "a loaded image pushed to a registry pulls back into another store as the same image" {
    succeeds load -i "$FIX/bb.tar"
    local id
    id=$(sk inspect --format '{{.Id}}' load/bb:v1)
    [[ "$id" == sha256:* ]]
    succeeds tag load/bb:v1 "$REGISTRY_PLAIN/pushed/bb:v1"
    succeeds push "$REGISTRY_PLAIN/pushed/bb:v1"
    [[ "$output" == *"v1: digest: sha256:"* ]]
    registry_catalog plain | grep -qx pushed/bb
    registry_tags plain pushed/bb | grep -qx v1

    ROOT=$T/root2
    succeeds pull "$REGISTRY_PLAIN/pushed/bb:v1"
    [ "$last" = "$REGISTRY_PLAIN/pushed/bb:v1" ]
    [ "$(sk images -q --no-trunc)" = "$id" ]
    [ "$(sk inspect --format '{{.Id}}' "$REGISTRY_PLAIN/pushed/bb:v1")" = "$id" ]
    # The files are unpacked in the layer dirs.
    grep -qx 'hello from skiff' "$ROOT"/layers/*/diff/hello.txt
    [ -x "$(echo "$ROOT"/layers/*/diff/bin/busybox)" ]
    [ "$(layer_dirs | wc -l)" -eq 2 ]
}

check_fs_layers() {
    local d lower="" upper=""
    for d in $(layer_dirs); do
        [ -f "$d/diff/etc/keep" ] && lower=$d
        [ -e "$d/diff/data/a" ] && upper=$d
    done
    [ -n "$lower" ] && [ -n "$upper" ] && [ "$lower" != "$upper" ]
    [ "$(layer_dirs | wc -l)" -eq 2 ]
    # The lower layer is as written.
    [ "$(cat "$lower/diff/etc/gone")" = gone ]
    [ "$(cat "$lower/diff/opq/old")" = old ]
    # Whiteout: a 0/0 character device; no .wh. names anywhere.
    [ "$(stat -c '%F %t,%T' "$upper/diff/etc/gone")" = "character special file 0,0" ]
    [ -z "$(find "$upper/diff" "$lower/diff" -name '.wh.*')" ]
    # Opaque directory: the overlayfs xattr, and only its new content.
    [ "$(getxattr "$upper/diff/opq" trusted.overlay.opaque)" = y ]
    [ "$(ls "$upper/diff/opq")" = new ]
    # Hardlink: one inode, two names.
    [ "$(stat -c %i "$upper/diff/data/a")" = "$(stat -c %i "$upper/diff/data/b")" ]
    [ "$(stat -c %h "$upper/diff/data/a")" = 2 ]
    # Symlink, xattr, owner, mode, mtimes (of a file and of a directory written into).
    [ "$(readlink "$upper/diff/data/link")" = a ]
    [ "$(getxattr "$upper/diff/data/a" user.color)" = blue ]
    [ "$(stat -c '%a %u:%g %Y' "$upper/diff/data/a")" = "640 1000:1001 1600000000" ]
    [ "$(stat -c '%a' "$upper/diff/data/run.sh")" = 755 ]
    [ "$(stat -c '%a %Y' "$upper/diff/data")" = "750 1500000000" ]
}

@test "a Docker v2s2 image with gzip layers unpacks whiteouts, opaque dirs, links and xattrs" {
    succeeds pull "$REGISTRY_PLAIN/fs/docker:v1"
    [ "$last" = "$REGISTRY_PLAIN/fs/docker:v1" ]
    check_fs_layers
}

@test "an OCI image with zstd layers unpacks whiteouts, opaque dirs, links and xattrs" {
    succeeds pull -q "$REGISTRY_PLAIN/fs/oci:v1"
    [ "$output" = "$REGISTRY_PLAIN/fs/oci:v1" ]
    check_fs_layers
}

@test "a two-platform OCI index and Docker manifest list give the asked platform or refuse" {
    local media
    for media in oci docker; do
        ROOT=$T/$media
        succeeds pull "$REGISTRY_PLAIN/multi/$media:v1"
        [ "$(sk inspect --format '{{.Architecture}}' "$REGISTRY_PLAIN/multi/$media:v1")" = amd64 ]
        [ "$(cat "$ROOT"/layers/*/diff/arch)" = "amd64 $media" ]

        ROOT=$T/$media-arm
        succeeds pull --platform linux/arm64 "$REGISTRY_PLAIN/multi/$media:v1"
        [ "$(sk inspect --format '{{.Os}}/{{.Architecture}}' "$REGISTRY_PLAIN/multi/$media:v1")" = linux/arm64 ]
        [ "$(cat "$ROOT"/layers/*/diff/arch)" = "arm64 $media" ]

        ROOT=$T/$media-s390x
        refused pull --platform linux/s390x "$REGISTRY_PLAIN/multi/$media:v1"
        says s390x
        says linux/amd64
        says linux/arm64
        nothing_recorded
    done
}

@test "htpasswd registry: refused without credentials, --creds and login/logout work" {
    local ref=$REGISTRY_PRIV/priv/bb:v1
    refused pull "$ref"
    says 401 authentication unauthorized
    nothing_recorded

    succeeds pull --creds alice:secret "$ref"
    [ "$last" = "$ref" ]

    ROOT=$T/root2
    refused login -u alice --password-stdin "$REGISTRY_PRIV" <<<"wrong"
    [ ! -e "$REGISTRY_AUTH_FILE" ]

    run --separate-stderr "$SKIFF" --root "$ROOT" login -u alice --password-stdin "$REGISTRY_PRIV" <<<"secret"
    echo "login: $status $output $stderr" >&2
    [ "$status" -eq 0 ]
    [ "$(stat -c %a "$REGISTRY_AUTH_FILE")" = 600 ]
    jq -e --arg r "$REGISTRY_PRIV" '.auths[$r].auth' "$REGISTRY_AUTH_FILE"
    succeeds pull "$ref"
    [ "$last" = "$ref" ]

    succeeds logout "$REGISTRY_PRIV"
    if [ -e "$REGISTRY_AUTH_FILE" ]; then
        [ "$(jq --arg r "$REGISTRY_PRIV" '.auths[$r]' "$REGISTRY_AUTH_FILE")" = null ]
    fi
    ROOT=$T/root3
    refused pull "$ref"
    says 401 authentication unauthorized
}

@test "token registry: anonymous pull asks for a pull scope; push needs credentials" {
    succeeds pull "$REGISTRY_TOK/tok/bb:v1"
    [ "$last" = "$REGISTRY_TOK/tok/bb:v1" ]
    registry_token_requests tok | jq -e 'select(.scopes | tostring | contains("repository:tok/bb:pull"))' >/dev/null

    succeeds tag "$REGISTRY_TOK/tok/bb:v1" "$REGISTRY_TOK/tok/pushed:v1"
    refused push "$REGISTRY_TOK/tok/pushed:v1"
    says 401 denied unauthorized authentication
    [ -z "$(registry_tags tok tok/pushed 2>/dev/null)" ]

    succeeds push --creds bob:hunter2 "$REGISTRY_TOK/tok/pushed:v1"
    registry_tags tok tok/pushed | grep -qx v1
    registry_token_requests tok | jq -e 'select(.account == "bob" and (.scopes | tostring | contains("repository:tok/pushed:pull,push")))' >/dev/null
}

@test "push to another repository of the same registry mounts the layers, then finds them" {
    succeeds pull "$REGISTRY_PLAIN/src/bb:v1"
    succeeds tag "$REGISTRY_PLAIN/src/bb:v1" "$REGISTRY_PLAIN/mounted/bb:v1"
    succeeds push "$REGISTRY_PLAIN/mounted/bb:v1"
    [[ "$output" == *"Mounted from src/bb"* ]]
    [[ "$output" != *"Pushed"* ]]
    registry_tags plain mounted/bb | grep -qx v1
    succeeds push "$REGISTRY_PLAIN/mounted/bb:v1"
    [[ "$output" == *"Layer already exists"* ]]
    [[ "$output" != *"Mounted from"* ]]
    [[ "$output" == *"digest: $BB_DIGEST"* ]]
    # Both repositories are remembered with the digest.
    run sk inspect --format '{{json .RepoDigests}}' "$REGISTRY_PLAIN/mounted/bb:v1"
    [ "$status" -eq 0 ]
    jq -e --arg a "$REGISTRY_PLAIN/src/bb@$BB_DIGEST" --arg b "$REGISTRY_PLAIN/mounted/bb@$BB_DIGEST" \
        'index($a) != null and index($b) != null' <<<"$output"
}

@test "registries.conf: pulls go to a mirror, fall back from a dead one, and blocked refuses" {
    local ref=$REGISTRY_ORIGIN/mirrored/bb:v1 before dead
    cat > "$CONTAINERS_REGISTRIES_CONF" <<EOF
[[registry]]
prefix = "$REGISTRY_ORIGIN"
location = "$REGISTRY_ORIGIN"
[[registry.mirror]]
location = "$REGISTRY_PLAIN"
EOF
    before=$(wc -l < "$REGISTRY_ORIGIN_LOG")
    local mirror_before
    mirror_before=$(log_gets plain /v2/mirrored/bb/manifests/v1)
    succeeds pull "$ref"
    [ "$last" = "$ref" ]
    [ "$(log_gets plain /v2/mirrored/bb/manifests/v1)" -gt "$mirror_before" ]
    [ -z "$(tail -n +"$((before + 1))" "$REGISTRY_ORIGIN_LOG" | grep -F 'mirrored/bb')" ]

    # A mirror where nothing listens: the origin answers.
    ROOT=$T/root2
    dead=$(_registry_free_port)
    cat > "$CONTAINERS_REGISTRIES_CONF" <<EOF
[[registry]]
prefix = "$REGISTRY_ORIGIN"
location = "$REGISTRY_ORIGIN"
[[registry.mirror]]
location = "127.0.0.1:$dead"
EOF
    before=$(wc -l < "$REGISTRY_ORIGIN_LOG")
    succeeds pull "$ref"
    [ "$last" = "$ref" ]
    tail -n +"$((before + 1))" "$REGISTRY_ORIGIN_LOG" | grep -qF '"GET /v2/mirrored/bb/manifests/v1'

    ROOT=$T/root3
    cat > "$CONTAINERS_REGISTRIES_CONF" <<EOF
[[registry]]
prefix = "$REGISTRY_ORIGIN"
location = "$REGISTRY_ORIGIN"
blocked = true
EOF
    before=$(wc -l < "$REGISTRY_ORIGIN_LOG")
    refused pull "$ref"
    says "$REGISTRY_ORIGIN"
    says blocked
    [ "$(wc -l < "$REGISTRY_ORIGIN_LOG")" = "$before" ]
    nothing_recorded
}

@test "a layer blob that does not match its digest is refused and nothing is recorded" {
    local layer
    layer=$(layer_digest "$FIX/corrupt" 0)
    registry_corrupt_blob plain "$layer"
    refused pull "$REGISTRY_PLAIN/corrupt/one:v1"
    says "digest mismatch"
    nothing_recorded
}

@test "wrong diff ids, sizes and config sizes are refused and nothing is recorded" {
    local case
    for case in diffid size-long size-short config-size; do
        ROOT=$T/$case
        mk corrupt-blob --registry "$REGISTRY_PLAIN" --repo "bad/$case" --tag v1 --case "$case" >&2
        refused pull "$REGISTRY_PLAIN/bad/$case:v1"
        nothing_recorded
    done
}

# Names that climb out of the layer, and hardlinks to files outside it, are refused. Absolute
# names and symlinks are resolved inside the layer, as Docker and containerd do
# (see tests/unit/overlay_unpack_test.cpp): the pull works and the file stays in the layer.
# Either way nothing is written outside the store.
outside_untouched() {
    local extra
    extra=$(find "$ESC" -mindepth 1 -not -path "$ESC/dir" -not -path "$ESC/secret")
    [ -z "$extra" ] || { echo "written outside: $extra" >&2; return 1; }
    [ "$(stat -c %h /etc/passwd)" = "$PASSWD_LINKS" ]
    [ "$(stat -c %h "$ESC/secret")" = 1 ]
    [ "$(cat /etc/passwd | sha256sum)" = "$PASSWD_SUM" ]
}

@test "hostile layers that leave the layer are refused and write nothing outside" {
    PASSWD_LINKS=$(stat -c %h /etc/passwd)
    PASSWD_SUM=$(sha256sum < /etc/passwd)
    local name
    for name in dotdot hardlink-passwd hardlink-rel; do
        ROOT=$T/$name
        refused pull "$REGISTRY_PLAIN/hostile/$name:v1"
        case $name in
            dotdot) says "escapes the layer" ;;
            hardlink-passwd) says "layer entry passwd" ;;
            hardlink-rel) says "escapes the layer" ;;
        esac
        nothing_recorded
        outside_untouched
    done
}

@test "absolute names and absolute symlinks in a layer are resolved inside it" {
    PASSWD_LINKS=$(stat -c %h /etc/passwd)
    PASSWD_SUM=$(sha256sum < /etc/passwd)
    succeeds pull "$REGISTRY_PLAIN/hostile/absolute:v1"
    outside_untouched
    [ "$(cat "$ROOT"/layers/*/diff"$ESC/absolute")" = x ]

    ROOT=$T/root2
    succeeds pull "$REGISTRY_PLAIN/hostile/symlink-abs:v1"
    outside_untouched
    local layer
    layer=$(layer_dirs)
    [ "$(readlink "$layer/diff/link")" = "$ESC/dir" ]
    [ "$(cat "$layer/diff$ESC/dir/through-abs")" = x ]

    # A relative symlink that climbs above the root stops at the root, as in a chroot.
    ROOT=$T/root3
    succeeds pull "$REGISTRY_PLAIN/hostile/symlink-rel:v1"
    outside_untouched
    layer=$(layer_dirs)
    [ "$(cat "$layer/diff$ESC/dir/through-rel")" = x ]
}

@test "unknown repositories and tags, dead and silent registries, bad references: 125" {
    refused pull "$REGISTRY_PLAIN/no/such:v1"
    says "manifest unknown" 404 "name unknown"
    refused pull "$REGISTRY_PLAIN/src/bb:nosuchtag"
    says "manifest unknown" 404
    nothing_recorded

    # Nothing listens.
    local port start
    port=$(_registry_free_port)
    start=$SECONDS
    refused pull "127.0.0.1:$port/x/y:v1"
    [ $((SECONDS - start)) -le 5 ]
    says "127.0.0.1:$port"

    # Accepts and never answers.
    python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' > "$T/silent.port" 2>&1 </dev/null 3>&- &
    BG_PIDS+=($!)
    wait_for 50 test -s "$T/silent.port"
    port=$(cat "$T/silent.port")
    start=$SECONDS
    export SKIFF_REGISTRY_TIMEOUT=2
    refused pull "127.0.0.1:$port/x/y:v1"
    unset SKIFF_REGISTRY_TIMEOUT
    [ $((SECONDS - start)) -le 20 ]
    nothing_recorded

    refused pull "$REGISTRY_PLAIN/UPPER/case:v1"
    says "invalid reference format"
    refused pull "$REGISTRY_PLAIN/a//b:v1"
    says "invalid reference format"
    refused pull "$REGISTRY_PLAIN/a/b:bad:tag"
    says "invalid reference format"
}

@test "a pull that runs out of space is refused and leaves nothing behind" {
    mkdir -p "$ROOT"
    mount -t tmpfs -o size=1m skiff-test-enospc "$ROOT"
    refused pull "$REGISTRY_PLAIN/big/img:v1"
    says "No space left"
    nothing_recorded
    umount "$ROOT"
}

@test "four pulls of one image into one store at once" {
    local i pids=() ref=$REGISTRY_PLAIN/src/bb:v1
    for i in 1 2 3 4; do
        "$SKIFF" --root "$ROOT" pull -q "$ref" > "$T/pull.$i" 2>&1 3>&- &
        pids+=($!)
    done
    local failed=0
    for i in 0 1 2 3; do
        wait "${pids[$i]}" || { failed=1; echo "pull $((i + 1)) failed:" >&2; cat "$T/pull.$((i + 1))" >&2; }
    done
    [ "$failed" = 0 ]
    for i in 1 2 3 4; do [ "$(cat "$T/pull.$i")" = "$ref" ]; done
    [ "$(sk images -q --no-trunc | wc -l)" = 1 ]
    [ "$(layer_dirs | wc -l)" = 2 ]
    [ "$(entries "$ROOT/layers" | wc -l)" = 2 ]
    no_temp_files
}

@test "a failed pull keeps the verified blobs and the next pull does not fetch them again" {
    local small big data
    small=$(layer_digest "$FIX/resume" 0)
    big=$(layer_digest "$FIX/resume" 1)
    data=$(registry_blob_file plain "$big")
    cp "$data" "$T/big.orig"
    registry_corrupt_blob plain "$big"
    refused pull "$REGISTRY_PLAIN/resume/img:v1"
    says "digest mismatch"
    [ -z "$(sk images -q)" ]
    [ -f "$ROOT/blobs/sha256/${small#sha256:}" ]
    [ ! -e "$ROOT/blobs/sha256/${big#sha256:}" ]
    no_temp_files
    [ "$(log_gets plain "/v2/resume/img/blobs/$small")" = 1 ]

    cp "$T/big.orig" "$data"
    succeeds pull "$REGISTRY_PLAIN/resume/img:v1"
    [ "$(sk images -q | wc -l)" = 1 ]
    [ "$(layer_dirs | wc -l)" = 2 ]
    [ "$(log_gets plain "/v2/resume/img/blobs/$small")" = 1 ]
    [ "$(log_gets plain "/v2/resume/img/blobs/$big")" = 2 ]
    no_temp_files
}

@test "images --digests shows the pulled digest; rmi removes layers and blobs" {
    succeeds pull "$REGISTRY_PLAIN/rmi/img:v1"
    run sk images --digests "$REGISTRY_PLAIN/rmi/img"
    [ "$status" -eq 0 ]
    [[ "${lines[1]}" == *"$RMI_DIGEST"* ]]
    [ "$(sk images --digests --format '{{.Digest}}')" = "$RMI_DIGEST" ]
    [ "$(layer_dirs | wc -l)" = 2 ]
    [ -n "$(entries "$ROOT/blobs/sha256")" ]

    succeeds rmi "$REGISTRY_PLAIN/rmi/img:v1"
    [ -z "$(sk images -q)" ]
    [ -z "$(entries "$ROOT/layers")" ]
    [ -z "$(entries "$ROOT/blobs/sha256")" ]

    # By digest: no tag, the same digest; rmi by that reference empties the store again.
    succeeds pull "$REGISTRY_PLAIN/rmi/img@$RMI_DIGEST"
    [ "$last" = "$REGISTRY_PLAIN/rmi/img@$RMI_DIGEST" ]
    [ "$(sk images --digests --format '{{.Tag}} {{.Digest}}')" = "<none> $RMI_DIGEST" ]
    succeeds rmi "$REGISTRY_PLAIN/rmi/img@$RMI_DIGEST"
    [ -z "$(sk images -q)" ]
    [ -z "$(entries "$ROOT/layers")" ]
    [ -z "$(entries "$ROOT/blobs/sha256")" ]
}
