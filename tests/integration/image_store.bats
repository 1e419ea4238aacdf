#!/usr/bin/env bats
# The local image store without a registry: import, images, inspect, history, tag, rmi,
# image prune, save, load and system check, used the way a Docker user would. Every image
# comes from a busybox rootfs tarball or from tests/fixtures/mkimage.py; each test has its
# own store (--root) and leaves nothing behind.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}

# Fixtures, built once into $FIX:
#   rootfs/ rootfs.tar{,.gz,.zst}   a busybox root filesystem and tarballs of it
#   fs-docker.tar fs-oci.tar        busybox + two layers with every kind of file system entry
#   y2019.tar y2020.tar y2021.tar   one small layer each, created in June of that year
#   t-whole.tar t-half.tar          created half a second apart (string order is the wrong one)
#   share-a.tar share-b.tar         busybox + one layer of their own: the bottom layer is shared
setup_file() {
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs"
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
    gzip -c "$FIX/rootfs.tar" > "$FIX/rootfs.tar.gz"
    zstd -q -c "$FIX/rootfs.tar" > "$FIX/rootfs.tar.zst"

    local lower upper
    lower='[{"type":"dir","path":"etc/app"},
            {"type":"file","path":"etc/app/a.conf","content":"a\n"},
            {"type":"file","path":"etc/app/b.conf","content":"b\n"},
            {"type":"dir","path":"data"},
            {"type":"file","path":"data/old","content":"old\n"},
            {"type":"file","path":"gone","content":"gone\n"}]'
    upper='[{"type":"whiteout","path":"gone"},
            {"type":"whiteout","path":"etc/app/a.conf"},
            {"type":"opaque","path":"data"},
            {"type":"file","path":"data/new","content":"new\n"},
            {"type":"file","path":"hl/orig","content":"same\n","xattrs":{"user.color":"blue"}},
            {"type":"hardlink","path":"hl/link","target":"hl/orig"},
            {"type":"symlink","path":"sl","target":"/etc/app/b.conf"}]'
    mk build --out "$FIX/fs-docker.tar" --format docker-archive --tag fs:docker \
        --busybox --layer "$lower" --layer "$upper"
    mk build --out "$FIX/fs-oci.tar" --format oci-archive --tag fs:oci \
        --busybox --layer "$lower" --layer "$upper"

    local y
    for y in 2019 2020 2021; do
        mk build --out "$FIX/y$y.tar" --format docker-archive --tag "y:$y" --label "year=$y" \
            --layer "[{\"type\":\"file\",\"path\":\"year\",\"content\":\"$y\\n\"}]" \
            --created "$y-06-01T00:00:00Z"
    done
    mk build --out "$FIX/t-whole.tar" --format docker-archive --tag t:whole \
        --layer '[{"type":"file","path":"t","content":"whole\n"}]' --created 2022-01-01T00:00:00Z
    mk build --out "$FIX/t-half.tar" --format docker-archive --tag t:half \
        --layer '[{"type":"file","path":"t","content":"half\n"}]' --created 2022-01-01T00:00:00.5Z

    mk build --out "$FIX/share-a.tar" --format docker-archive --tag share:a --busybox \
        --layer '[{"type":"file","path":"which","content":"a\n"}]'
    mk build --out "$FIX/share-b.tar" --format docker-archive --tag share:b --busybox \
        --layer '[{"type":"file","path":"which","content":"b\n"}]'
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-is.XXXXXX)
}

teardown() {
    if [ -n "${ROOT:-}" ]; then
        rm -rf "$ROOT" "$ROOT.2" "$ROOT.files"
    fi
}

# --- helpers of this file ------------------------------------------------------------------

mk() { python3 "$MKIMAGE" "$@" >/dev/null; }

sk() { "$SKIFF" --root "$ROOT" "$@"; }

# A second store, for round trips.
sk2() { "$SKIFF" --root "$ROOT.2" "$@"; }

# Scratch files of the test (removed with the store).
files() {
    mkdir -p "$ROOT.files"
    echo "$ROOT.files"
}

# Run skiff expecting a refusal: exit 125 and exactly one line "Error: ..." on stderr, left in
# $stderr for `says`. Whatever went to stdout is in $output.
refused() {
    run --separate-stderr "$SKIFF" --root "$ROOT" "$@"
    printf 'skiff %s\n  exit: %s\n  stdout: %s\n  stderr: %s\n' "$*" "$status" "$output" "$stderr" >&2
    [ "$status" -eq 125 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "Error: "* ]]
}

# The refusal names $1 (a fixed string).
says() {
    if [[ "$stderr" != *"$1"* ]]; then
        printf 'expected the error to say: %s\n  got: %s\n' "$1" "$stderr" >&2
        return 1
    fi
}

# $1 equals $2, or the difference is shown.
same() {
    if [ "$1" != "$2" ]; then
        printf 'expected: %s\n     got: %s\n' "$2" "$1" >&2
        return 1
    fi
}

# The store has no image, no layer and no blob (directories may exist, empty).
store_empty() {
    local left
    same "$(sk images -q)" ""
    left=$(ls -A "$ROOT/layers" "$ROOT/blobs/sha256" 2>/dev/null | grep -v -e '^$' -e ':$' || true)
    if [ -n "$left" ]; then
        echo "left in the store:" >&2
        ls -lA "$ROOT/layers" "$ROOT/blobs/sha256" >&2
        return 1
    fi
}

# No spooled archive left under the store root.
no_load_temps() {
    if compgen -G "$ROOT/tmp-load-*" >/dev/null; then
        echo "left behind: $(echo "$ROOT"/tmp-load-*)" >&2
        return 1
    fi
}

import_busybox() { sk import "$FIX/rootfs.tar" "$@"; }

id_of() { sk inspect --format '{{.Id}}' "$1"; }

# The layer dir of the topmost layer of image $1.
top_layer_dir() { sk inspect --format '{{.GraphDriver.Data.LowerDir}}' "$1" | cut -d: -f1; }

flip_byte() {
    python3 - "$1" "$2" <<'EOF'
import sys
path, offset = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, 'rb').read())
data[offset] ^= 0xff
open(path, 'wb').write(data)
EOF
}

# --- import -----------------------------------------------------------------------------------

@test "import: a rootfs tarball with --change and -m becomes an image in Docker's shape" {
    run --separate-stderr sk import -c 'CMD ["sh"]' -c 'ENV A=1' -c 'WORKDIR /app' -c 'EXPOSE 80' \
        -c 'LABEL team=core' -m 'made by hand' "$FIX/rootfs.tar" app:1
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    id=$output

    run sk images
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID\ +CREATED\ +SIZE$ ]]
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[1]}" =~ ^app\ +1\ +${id:7:12}\ +.*\ ago\ +[0-9.]+MB$ ]]

    sk inspect app:1 > "$(files)/inspect.json"
    jq -e --arg id "$id" --arg diff "sha256:$(sha256sum < "$FIX/rootfs.tar" | cut -d' ' -f1)" '
        length == 1 and (.[0] |
        .Id == $id and .RepoTags == ["app:1"] and .RepoDigests == [] and
        (.Created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and
        .Architecture == "amd64" and .Os == "linux" and .Comment == "made by hand" and
        .Config.Cmd == ["sh"] and .Config.Env == ["A=1"] and .Config.WorkingDir == "/app" and
        .Config.ExposedPorts == {"80/tcp": {}} and .Config.Labels == {"team": "core"} and
        .RootFS.Type == "layers" and .RootFS.Layers == [$diff] and .Size > 1000000)' \
        "$(files)/inspect.json"
    # `image inspect` and an id prefix find the same image.
    same "$(sk image inspect --format '{{.Id}}' "${id:7:12}")" "$id"

    run sk history app:1
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^IMAGE\ +CREATED\ +CREATED\ BY\ +SIZE\ +COMMENT$ ]]
    [[ "${lines[1]}" =~ ^${id:7:12}\ .*skiff\ import\ .*MB\ +made\ by\ hand$ ]]
    same "$(sk history -q --no-trunc app:1)" "$id"
    same "$(sk history --format '{{.Comment}}' app:1)" "made by hand"
}

@test "import: --platform is recorded; a relative --root is the same store, with absolute paths" {
    cd "$(dirname "$ROOT")"
    "$SKIFF" --root "./$(basename "$ROOT")" import --platform linux/arm64/v8 "$FIX/rootfs.tar" arm >/dev/null
    same "$(sk inspect --format '{{.Os}}/{{.Architecture}}/{{.Variant}}' arm)" "linux/arm64/v8"
    same "$(sk images --format '{{.Repository}}')" "arm"
    lower=$("$SKIFF" --root "$(basename "$ROOT")" inspect --format '{{.GraphDriver.Data.LowerDir}}' arm)
    [[ "$lower" == "$ROOT/layers/"*/diff ]]
    [ -d "$lower" ]
}

@test "import: gzip, zstd and stdin give the same layer as the plain tarball" {
    diff_id="sha256:$(sha256sum < "$FIX/rootfs.tar" | cut -d' ' -f1)"
    sk import "$FIX/rootfs.tar" plain
    sk import "$FIX/rootfs.tar.gz" gz
    sk import "$FIX/rootfs.tar.zst" zst
    sk import - piped < "$FIX/rootfs.tar.zst"
    tar -C "$FIX/rootfs" -c . | sk import -c 'CMD ["sh"]' - streamed:v2
    for name in plain gz zst piped streamed:v2; do
        same "$(sk inspect --format '{{json .RootFS.Layers}}' "$name")" "[\"$diff_id\"]"
    done
    # One layer on disk for all of them, with busybox in it.
    same "$(ls "$ROOT/layers")" "${diff_id#sha256:}"
    [ -x "$ROOT/layers/${diff_id#sha256:}/diff/bin/busybox" ]
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" \
        "gz:latest piped:latest plain:latest streamed:v2 zst:latest "
}

@test "import: a bad --change is refused before anything is recorded" {
    refused import -c 'RUN echo hi' "$FIX/rootfs.tar" bad
    says "--change: unsupported instruction RUN"
    refused import -c 'CMD ["sh"]' -c 'FROBNICATE x' "$FIX/rootfs.tar" bad
    says "--change: unknown instruction FROBNICATE"
    refused import -c 'EXPOSE 99999' - bad < "$FIX/rootfs.tar"
    says 'invalid port "99999"'
    refused import "$FIX/no-such.tar" bad
    says "open $FIX/no-such.tar: No such file or directory"
    store_empty
}

# --- images -----------------------------------------------------------------------------------

@test "each command takes its own options, under its aliases too; --help lists every command" {
    # Only the command a line names gets its options built (cli/globals.hpp add_command).
    import_busybox bb:1 >/dev/null
    same "$(sk image list -q)" "$(sk images -q)"
    same "$(sk image ls --format '{{.Repository}}')" "bb"
    sk volume create v1 >/dev/null
    same "$(sk volume list -q)" "v1"
    sk volume remove v1 >/dev/null
    same "$(sk volume ls -q)" ""
    run sk --help
    [ "$status" -eq 0 ]
    for c in run ps exec logs images pull commit volume network system; do
        [[ "$output" == *"  $c "* ]] || { echo "--help lacks $c" >&2; return 1; }
    done
    run sk image --help
    [[ "$output" == *"  ls "* ]] && [[ "$output" == *"  prune "* ]]
    run sk run --help
    [[ "$output" == *"--publish"* ]] && [[ "$output" == *"--rm"* ]]
    run sk system df --help
    [[ "$output" == *"--verbose"* ]]
    # A flag of another command is still a flag error (125), not silently taken.
    run --separate-stderr sk images --rm
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"--rm"* ]]
}

@test "images: -q, --no-trunc, --format templates, json and table" {
    for y in 2019 2020 2021; do sk load -q -i "$FIX/y$y.tar" >/dev/null; done
    sk tag y:2020 other:x
    id2020=$(id_of y:2020)

    # -q: one short id per image, not per tag.
    run sk images -q
    [ "${#lines[@]}" -eq 3 ]
    same "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" 3
    for l in "${lines[@]}"; do [[ "$l" =~ ^[0-9a-f]{12}$ ]]; done
    same "$(sk images -q --no-trunc | grep -c "^$id2020\$")" 1

    run sk images --no-trunc
    [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID ]]
    [[ "$output" == *"other        x         $id2020"* ]]

    # Newest first; an image's tags in the order they were given.
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')" "y:2021 y:2020 other:x y:2019 "

    run sk images --format json
    [ "${#lines[@]}" -eq 4 ]
    for l in "${lines[@]}"; do jq -e 'type == "object"' <<<"$l" >/dev/null; done
    same "$(sk images --format json | jq -r 'select(.Tag == "2020") | "\(.Repository) \(.ID) \(.Labels.year)"')" \
        "y ${id2020:7:12} 2020"

    run sk images --format 'table {{.Repository}}\t{{.Tag}}'
    [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG$ ]]
    [[ "${lines[1]}" =~ ^y\ +2021$ ]]

    run sk images --digests
    [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +DIGEST\ +IMAGE\ ID ]]
}

@test "images: filters dangling, reference, label, before and since; a bad filter is refused" {
    for y in 2019 2020 2021; do sk load -q -i "$FIX/y$y.tar" >/dev/null; done
    import_busybox -c 'LABEL team=core' app:1 >/dev/null
    import_busybox app:1 >/dev/null   # app:1 moves; the first import is left dangling
    tags() { sk images --format '{{.Repository}}:{{.Tag}}' "$@" | tr '\n' ' '; }

    same "$(tags -f dangling=true)" "<none>:<none> "
    same "$(tags -f dangling=false)" "app:1 y:2021 y:2020 y:2019 "
    same "$(tags -f reference=y)" "y:2021 y:2020 y:2019 "
    same "$(tags -f 'reference=y:202*')" "y:2021 y:2020 "
    same "$(tags -f 'reference=a*' -f reference=y:2019)" "app:1 y:2019 "
    same "$(tags -f label=team=core)" "<none>:<none> "
    same "$(tags -f label=year)" "y:2021 y:2020 y:2019 "
    same "$(tags -f label=year=2020)" "y:2020 "
    same "$(tags -f label=year=1999)" ""
    same "$(tags -f before=y:2021)" "y:2020 y:2019 "
    same "$(tags -f since=y:2019)" "app:1 <none>:<none> y:2021 y:2020 "
    same "$(tags -f since=y:2019 -f before=y:2021)" "y:2020 "
    same "$(tags -f dangling=false -f label=year -f reference=y)" "y:2021 y:2020 y:2019 "

    refused images -f bogus=1
    says "invalid filter 'bogus'"
    refused images -f dangling=maybe
    says "invalid filter 'dangling=maybe'"
    refused images -f dangling
    says "bad format of filter"
    refused images -f before=no-such-image
    says "No such image: no-such-image"
}

@test "images: before and since compare times, not strings (fractions of a second)" {
    sk load -q -i "$FIX/t-whole.tar"
    sk load -q -i "$FIX/t-half.tar"   # half a second later; "...00.5Z" < "...00Z" as strings
    same "$(sk images --format '{{.Tag}}' | tr '\n' ' ')" "half whole "
    same "$(sk images -f since=t:whole --format '{{.Tag}}')" "half"
    same "$(sk images -f before=t:half --format '{{.Tag}}')" "whole"
}

@test "images NAME and NAME:TAG list one repository, or one tag of it" {
    for y in 2019 2020; do sk load -q -i "$FIX/y$y.tar" >/dev/null; done
    import_busybox app:1 >/dev/null
    sk tag app:1 docker.io/library/app:2
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' app | sort | tr '\n' ' ')" "app:1 app:2 "
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' app:2)" "app:2"
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' y:2019)" "y:2019"
    run sk images nothing-here
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == REPOSITORY* ]]
    same "$(sk images -q app:3)" ""
}

# --- tag --------------------------------------------------------------------------------------

@test "tag: a new name for the same image; re-tagging moves a tag and leaves the old image dangling" {
    old=$(import_busybox app:1)
    sk tag app:1 localhost:5000/team/app:v1
    sk tag "${old:7:12}" app:keep
    same "$(id_of localhost:5000/team/app:v1)" "$old"
    same "$(sk inspect --format '{{json .RepoTags}}' "$old")" '["app:1","localhost:5000/team/app:v1","app:keep"]'
    same "$(sk images --format '{{.Repository}} {{.Tag}} {{.ID}}' localhost:5000/team/app)" \
        "localhost:5000/team/app v1 ${old:7:12}"

    # Another image takes over every name; the first one has none left.
    new=$(sk import -c 'CMD ["sh"]' "$FIX/rootfs.tar")
    [ "$new" != "$old" ]
    for name in app:1 localhost:5000/team/app:v1 app:keep; do sk tag "$new" "$name"; done
    same "$(id_of app:1)" "$new"
    same "$(sk inspect --format '{{json .RepoTags}}' "$old")" '[]'
    run sk images
    [[ "$output" =~ $'\n'"<none>"\ +"<none>"\ +${old:7:12} ]]
    same "$(sk images -q -f dangling=true)" "${old:7:12}"
}

@test "tag: a digest target and bad names are refused; nothing changes" {
    id=$(import_busybox app:1)
    refused tag app:1 "app@sha256:$(printf '%064d' 0)"
    says "refusing to create a tag with a digest reference"
    refused tag app:1 Bad:Ref
    says "invalid reference format"
    refused tag no-such:image app:2
    says "No such image: no-such:image"
    same "$(sk inspect --format '{{json .RepoTags}}' "$id")" '["app:1"]'
}

# --- rmi --------------------------------------------------------------------------------------

@test "rmi: a tag with others left is only untagged; the last tag deletes image, layers and blobs" {
    id=$(import_busybox app:1)
    sk tag app:1 app:2
    run --separate-stderr sk rmi app:2
    [ "$status" -eq 0 ]
    same "$output" "Untagged: app:2"
    same "$(sk inspect --format '{{json .RepoTags}}' "$id")" '["app:1"]'
    [ -n "$(ls "$ROOT/layers")" ]

    layer=$(ls "$ROOT/layers")
    run --separate-stderr sk image rm app:1
    [ "$status" -eq 0 ]
    same "$output" "Untagged: app:1"$'\n'"Deleted: $id"$'\n'"Deleted: sha256:$layer"
    store_empty
}

@test "rmi: an id with several tags must be forced; -f removes every tag and the image" {
    id=$(import_busybox app:1)
    sk tag app:1 app:2
    refused rmi "${id:7:12}"
    says "conflict: unable to delete ${id:7:12} (must be forced) - image is referenced in multiple repositories"
    same "$(sk images -q)" "${id:7:12}"

    run --separate-stderr sk rmi -f "$id"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Untagged: app:1"* ]]
    [[ "$output" == *"Untagged: app:2"* ]]
    [[ "$output" == *"Deleted: $id"* ]]
    store_empty
}

@test "rmi: an unknown image is refused; with a known one next to it, that one still goes" {
    refused rmi no-such-image
    same "$stderr" "Error: No such image: no-such-image"

    id=$(import_busybox app:1)
    run --separate-stderr sk rmi no-such-image app:1
    [ "$status" -eq 125 ]
    same "$stderr" "Error: No such image: no-such-image"
    [[ "$output" == *"Untagged: app:1"* ]]
    [[ "$output" == *"Deleted: $id"* ]]
    store_empty
}

@test "rmi: a layer another image still uses stays" {
    sk load -q -i "$FIX/share-a.tar"
    sk load -q -i "$FIX/share-b.tar"
    bottom=$(sk inspect --format '{{index .RootFS.Layers 0}}' share:a)
    same "$(sk inspect --format '{{index .RootFS.Layers 0}}' share:b)" "$bottom"
    same "$(ls "$ROOT/layers" | wc -l)" 3
    top_a=$(top_layer_dir share:a)

    sk rmi share:a >/dev/null
    [ ! -e "$top_a" ]
    [ -x "$ROOT/layers/${bottom#sha256:}/diff/bin/busybox" ]
    same "$(ls "$ROOT/layers" | wc -l)" 2
    [ -e "$ROOT/blobs/sha256/${bottom#sha256:}" ]
    sk system check >/dev/null

    sk rmi share:b >/dev/null
    store_empty
}

# --- image prune ------------------------------------------------------------------------------

@test "image prune: dangling images only, -a every image; nothing without a yes" {
    sk load -q -i "$FIX/y2019.tar"
    dangling=$(import_busybox app:1)
    kept=$(import_busybox -c 'CMD ["sh"]' app:1)

    # Asked, answered no (and no answer at all): nothing goes.
    run --separate-stderr sk image prune <<<"n"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"WARNING! This will remove all dangling images."* ]]
    [[ "$stderr" == *"Are you sure you want to continue? [y/N]"* ]]
    [ -z "$output" ]
    run sk image prune -a < /dev/null
    [ "$status" -eq 0 ]
    same "$(sk images -q | wc -l)" 3

    run --separate-stderr sk image prune -f
    [ "$status" -eq 0 ]
    same "${lines[0]}" "Deleted Images:"
    same "${lines[1]}" "deleted: $dangling"
    [[ "${lines[-1]}" =~ ^Total\ reclaimed\ space:\ [0-9.]+[kMG]?B$ ]]
    same "$(sk images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')" "app:1 y:2019 "
    same "$(id_of app:1)" "$kept"

    # Nothing dangling left: nothing to say but the total.
    run --separate-stderr sk image prune -f
    same "$output" "Total reclaimed space: 0B"

    run --separate-stderr sk image prune -a <<<"y"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"WARNING! This will remove all images without at least one container associated to them."* ]]
    [[ "$output" == *"untagged: app:1"* ]]
    [[ "$output" == *"untagged: y:2019"* ]]
    [[ "$output" == *"deleted: $kept"* ]]
    [[ "${lines[-1]}" =~ ^Total\ reclaimed\ space:\ [0-9.]+MB$ ]]
    store_empty
}

# --- save and load ----------------------------------------------------------------------------

@test "save/load: docker-archive to a file and oci-archive through a pipe give back the same images" {
    id=$(import_busybox -c 'CMD ["sh"]' -c 'LABEL team=core' app:1)
    sk tag app:1 app:2
    f=$(files)

    sk save -o "$f/d.tar" app:1 app:2
    tar -tf "$f/d.tar" | grep -qx manifest.json
    [ ! -e "$f/d.tar.skiff-tmp-"* ]
    run --separate-stderr sk2 load -i "$f/d.tar"
    [ "$status" -eq 0 ]
    same "$output" "Loaded image: app:1"$'\n'"Loaded image: app:2"
    same "$(sk2 inspect --format '{{.Id}} {{json .RepoTags}} {{json .Config.Labels}}' "$id")" \
        "$id [\"app:1\",\"app:2\"] {\"team\":\"core\"}"
    same "$(ls "$ROOT.2/layers")" "$(ls "$ROOT/layers")"
    diff -r "$ROOT/layers/$(ls "$ROOT/layers")/diff" "$ROOT.2/layers/$(ls "$ROOT/layers")/diff"
    sk2 system check >/dev/null
    rm -rf "$ROOT.2"

    # Default format, stdout; then oci-archive through a pipe.
    sk save app:1 > "$f/stdout.tar"
    tar -tf "$f/stdout.tar" | grep -qx manifest.json
    cmp "$f/stdout.tar" <(sk save app:1)
    sk save --format oci-archive app:1 | sk2 load > "$f/loaded"
    same "$(cat "$f/loaded")" "Loaded image: app:1"
    same "$(sk2 images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')" "app:1 $id"
    same "$(ls "$ROOT.2/layers")" "$(ls "$ROOT/layers")"
    sk2 system check >/dev/null

    # A compressed archive loads too (`docker save | gzip`).
    rm -rf "$ROOT.2"
    gzip -c "$f/d.tar" | sk2 load -q >/dev/null
    same "$(sk2 images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | tr '\n' ' ')" "app:1 $id app:2 $id "

    # An image saved by id has no tag in the archive.
    sk save --format oci-archive -o "$f/o.tar" "$id"
    rm -rf "$ROOT.2"
    same "$(sk2 load < "$f/o.tar")" "Loaded image ID: $id"
    same "$(sk2 images --format '{{.Repository}}:{{.Tag}}')" "<none>:<none>"
}

@test "save: to a terminal, of an unknown image or with an unknown format is refused" {
    import_busybox app:1 >/dev/null
    f=$(files)
    command -v script >/dev/null || skip "no script(1) to fake a terminal"
    run script -qec "$SKIFF --root $ROOT save app:1" /dev/null
    [ "$status" -eq 125 ]
    [[ "$output" == *"Error: cowardly refusing to save to a terminal. Use the -o flag or redirect"* ]]
    [ "$(wc -c <<<"$output")" -lt 200 ]

    refused save -o "$f/x.tar" app:1 no-such-image
    says "No such image: no-such-image"
    [ -z "$(ls -A "$f")" ]
    refused save --format tarball -o "$f/x.tar" app:1
    says "--format tarball: expected docker-archive or oci-archive"
    [ -z "$(ls -A "$f")" ]
}

@test "load: whiteouts, opaque dirs, hard links, symlinks and xattrs of docker- and oci-archives" {
    for kind in docker oci; do
        rm -rf "$ROOT"; mkdir "$ROOT"
        run --separate-stderr sk load -i "$FIX/fs-$kind.tar"
        [ "$status" -eq 0 ]
        same "$output" "Loaded image: fs:$kind"
        same "$(ls "$ROOT/layers" | wc -l)" 3
        top=$(top_layer_dir "fs:$kind")
        [ -d "$top" ]
        # Whiteouts: overlay's 0/0 character devices.
        for w in gone etc/app/a.conf; do
            [ -c "$top/$w" ]
            same "$(stat -c '%t:%T' "$top/$w")" "0:0"
        done
        [ ! -e "$top/.wh.gone" ]
        [ ! -e "$top/etc/app/.wh.a.conf" ]
        # Opaque: the xattr, not the marker file.
        same "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$top/data")" y
        [ ! -e "$top/data/.wh..wh..opq" ]
        same "$(cat "$top/data/new")" new
        # Hard links share an inode; symlinks and xattrs are kept.
        same "$(stat -c %i "$top/hl/link")" "$(stat -c %i "$top/hl/orig")"
        same "$(stat -c %h "$top/hl/orig")" 2
        same "$(readlink "$top/sl")" /etc/app/b.conf
        same "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.color").decode())' "$top/hl/orig")" blue
        sk system check >/dev/null
    done
}

@test "interop: skopeo converts skiff's archives and skiff loads what skopeo writes" {
    command -v skopeo >/dev/null || skip "skopeo is not installed"
    f=$(files)
    id=$(import_busybox -c 'CMD ["sh"]' app:1)
    diff_id=$(sk inspect --format '{{index .RootFS.Layers 0}}' app:1)

    sk save -o "$f/d.tar" app:1
    sk save --format oci-archive -o "$f/o.tar" app:1
    skopeo inspect "docker-archive:$f/d.tar" > "$f/d.json"
    skopeo inspect "oci-archive:$f/o.tar" > "$f/o.json"
    for j in "$f/d.json" "$f/o.json"; do
        jq -e --arg diff "$diff_id" '.Architecture == "amd64" and .Os == "linux"' "$j" >/dev/null
    done
    jq -e --arg diff "$diff_id" '.Layers == [$diff]' "$f/d.json" >/dev/null
    same "$(skopeo inspect --config "oci-archive:$f/o.tar" | jq -c '[.rootfs.diff_ids, .config.Cmd]')" \
        "[[\"$diff_id\"],[\"sh\"]]"

    # skopeo's docker-archive of an OCI image: layers as <diff id>.tar behind symlinks.
    skopeo --insecure-policy copy -q "oci-archive:$FIX/fs-oci.tar" "docker-archive:$f/sk.tar:fs:skopeo"
    sk2 load -i "$FIX/fs-oci.tar" >/dev/null
    run --separate-stderr sk load -i "$f/sk.tar"
    [ "$status" -eq 0 ]
    same "$output" "Loaded image: fs:skopeo"
    same "$(sk inspect --format '{{json .RootFS.Layers}}' fs:skopeo)" \
        "$(sk2 inspect --format '{{json .RootFS.Layers}}' fs:oci)"
    same "$(comm -13 <(ls "$ROOT/layers") <(ls "$ROOT.2/layers"))" ""
    [ -c "$(top_layer_dir fs:skopeo)/gone" ]

    # And back: skiff's save of that image (uncompressed layers now) is read by skopeo.
    sk save --format oci-archive -o "$f/again.tar" fs:skopeo
    same "$(skopeo inspect "oci-archive:$f/again.tar" | jq -c .Layers)" \
        "$(sk inspect --format '{{json .RootFS.Layers}}' fs:skopeo)"
}

@test "load: bad archives are refused and leave nothing behind" {
    f=$(files)
    echo "this is not a tar" > "$f/text"
    refused load -i "$f/text"
    says "load: read archive"

    python3 - "$f/dotdot.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w') as t:
    info = tarfile.TarInfo('../escaped')
    info.size = 2
    t.addfile(info, io.BytesIO(b'x\n'))
EOF
    refused load -i "$f/dotdot.tar"
    says "archive entry ../escaped: path contains .."
    [ ! -e "$ROOT/../escaped" ]
    [ ! -e "$ROOT/escaped" ]

    # One byte of the busybox layer changed, in each format.
    python3 - "$FIX/fs-docker.tar" "$f/flip-docker.tar" "$FIX/fs-oci.tar" "$f/flip-oci.tar" <<'EOF'
import io, sys, tarfile
for src, dst in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    with tarfile.open(src) as s, tarfile.open(dst, 'w') as d:
        for m in s.getmembers():
            data = s.extractfile(m).read() if m.isfile() else None
            if data is not None and m.size > 500000:
                data = bytearray(data)
                data[m.size // 2] ^= 0xff
                data = bytes(data)
            d.addfile(m, io.BytesIO(data) if data is not None else None)
EOF
    refused load -i "$f/flip-docker.tar"
    says "does not match diff id"
    refused load < "$f/flip-oci.tar"
    says "does not match its digest"

    printf '[]' > "$f/manifest.json"
    tar -C "$f" -cf "$f/empty-manifest.tar" manifest.json
    refused load -i "$f/empty-manifest.tar"
    says "manifest.json: no images"

    refused load -i "$f/no-such-file"
    says "open $f/no-such-file: No such file or directory"

    store_empty
    no_load_temps
}

# --- system check -----------------------------------------------------------------------------

@test "system check: a clean store passes; a damaged blob is named, --repair removes it and its image" {
    run --separate-stderr sk system check
    [ "$status" -eq 0 ]
    same "$output" "checked 0 images, 0 layers, 0 blobs: 0 problems"

    sk load -q -i "$FIX/fs-docker.tar"
    sk load -q -i "$FIX/y2019.tar"
    run --separate-stderr sk system check
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^checked\ 2\ images,\ 4\ layers,\ [0-9]+\ blobs:\ 0\ problems$ ]]

    bottom=$(sk inspect --format '{{index .RootFS.Layers 0}}' fs:docker)
    blob=$ROOT/blobs/sha256/${bottom#sha256:}
    [ -f "$blob" ]
    flip_byte "$blob" 1000

    run --separate-stderr sk system check
    [ "$status" -eq 125 ]
    same "$stderr" 'Error: the store has problems; `skiff system check --repair` removes what is broken'
    [[ "$output" == *"blob $bottom is corrupted"* ]]
    [[ "$output" == *"image fs:docker: layer blob $bottom is corrupt"* ]]
    [[ "$output" != *"y:2019"* ]]
    [[ "${lines[-1]}" == *": 2 problems" ]]

    run --separate-stderr sk system check --repair
    [ "$status" -eq 0 ]
    [[ "$output" == *"repaired: removed image "* ]]
    [[ "$output" == *"repaired: removed blob $bottom"* ]]
    [ ! -e "$blob" ]
    same "$(sk images --format '{{.Repository}}:{{.Tag}}')" "y:2019"
    run --separate-stderr sk system check
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^checked\ 1\ images,\ 1\ layers,\ [0-9]+\ blobs:\ 0\ problems$ ]]
}

@test "system check: a missing layer, or its files, is reported with the image that needs it" {
    sk load -q -i "$FIX/fs-docker.tar"
    top=$(top_layer_dir fs:docker)
    chain=sha256:$(basename "$(dirname "$top")")

    rm -rf "$top"
    run --separate-stderr sk system check
    [ "$status" -eq 125 ]
    [[ "$output" == *"layer $chain: its files are missing"* ]]
    [[ "$output" == *"image fs:docker: layer $chain is damaged"* ]]

    rm -rf "$(dirname "$top")"
    run --separate-stderr sk system check
    [ "$status" -eq 125 ]
    [[ "$output" == *"image fs:docker: layer $chain is missing"* ]]

    sk system check --repair >/dev/null
    same "$(sk images -q)" ""
    run sk system check
    [ "$status" -eq 0 ]
    [[ "$output" == *": 0 problems" ]]
}

# --- bad input --------------------------------------------------------------------------------

@test "bad input: references, unknown images, templates and flags are refused in one line" {
    import_busybox app:1 >/dev/null

    refused tag app:1 Bad:Ref
    says "invalid reference format"
    refused import "$FIX/rootfs.tar" Bad:Ref
    says "invalid reference format"

    # Docker's words: `inspect` looks for any object, `image inspect` for an image.
    refused inspect no-such-image
    same "$stderr" "Error: No such object: no-such-image"
    same "$output" "[]"
    refused image inspect no-such-image
    same "$stderr" "Error: No such image: no-such-image"
    # The images that exist are still shown.
    refused inspect --format '{{.Id}}' app:1 no-such-image
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    refused history no-such-image
    same "$stderr" "Error: No such image: no-such-image"

    refused inspect --format '{{.Foo' app:1
    says "template"
    refused images --format '{{.Repository'
    says "template"

    refused images --bogus
    says "--bogus"
    refused rmi
    refused image frobnicate
    same "$(sk images --format '{{.Repository}}:{{.Tag}}')" "app:1"
}
