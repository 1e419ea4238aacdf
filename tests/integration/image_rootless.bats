#!/usr/bin/env bats
# The image store without root: a user with no privileges pulls, lists and removes images
# in a store of their own (design: no module may assume root or a fixed storage path).

setup_file() {
    load helpers
    load registry
    start_registry rootless
    FIXTURE=$BATS_FILE_TMPDIR/wh
    # busybox plus a layer with a whiteout and an opaque dir: kept as records without root.
    python3 "$BATS_TEST_DIRNAME/../fixtures/mkimage.py" build --out "$FIXTURE" --format oci-dir --busybox \
        --layer '[{"type":"whiteout","path":"bin/ls"},{"type":"opaque","path":"etc"},{"type":"file","path":"etc/motd","content":"hi"}]' >/dev/null
    python3 "$BATS_TEST_DIRNAME/../fixtures/mkimage.py" push --registry "$REGISTRY_ROOTLESS" --repo test/wh --tag 1 "$FIXTURE" >/dev/null
    export REGISTRY_ROOTLESS
}

teardown_file() {
    load registry
    stop_registries
}

setup() {
    load helpers
    USER_HOME=$(mktemp -d /tmp/skiff-rootless.XXXXXX)
    chown 65534:65534 "$USER_HOME"
}

teardown() {
    rm -rf "$USER_HOME"
}

# skiff as nobody, with a home of its own and no XDG variables from root's environment.
as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups \
        env -i PATH=/usr/bin:/bin HOME="$USER_HOME" "$SKIFF" "$@"
}

@test "rootless: pull into the default store under the user's home, list, remove" {
    run as_nobody pull -q "$REGISTRY_ROOTLESS/test/wh:1"
    [ "$status" -eq 0 ]
    [ "$output" = "$REGISTRY_ROOTLESS/test/wh:1" ]
    store=$USER_HOME/.local/share/skiff
    [ -f "$store/images.json" ]
    [ "$(stat -c %u "$store/images.json")" = 65534 ]
    run as_nobody images --format '{{.Repository}}:{{.Tag}}'
    [ "$status" -eq 0 ]
    [ "$output" = "$REGISTRY_ROOTLESS/test/wh:1" ]
    run as_nobody rmi "$REGISTRY_ROOTLESS/test/wh:1"
    [ "$status" -eq 0 ]
    [ -z "$(ls "$store/layers")" ]
    [ -z "$(ls "$store/blobs/sha256")" ]
}

@test "rootless: whiteouts and opaque dirs are recorded in layer.json instead of made" {
    run as_nobody pull -q "$REGISTRY_ROOTLESS/test/wh:1"
    [ "$status" -eq 0 ]
    store=$USER_HOME/.local/share/skiff
    top=$(grep -l '"bin/ls"' "$store"/layers/*/layer.json)
    [ -n "$top" ]
    [ "$(jq -r '.privileged' "$top")" = false ]
    [ "$(jq -r '.opaque_dirs[0]' "$top")" = etc ]
    # No 0/0 device was made for the whiteout (an unprivileged user cannot), and the files
    # belong to the user.
    diff=$(dirname "$top")/diff
    [ ! -e "$diff/bin/ls" ]
    [ "$(cat "$diff/etc/motd")" = hi ]
    [ "$(stat -c %u "$diff/etc/motd")" = 65534 ]
}

@test "rootless: a store the user may not write is one clear error" {
    run as_nobody --root /var/lib/skiff-not-yours pull -q "$REGISTRY_ROOTLESS/test/wh:1"
    [ "$status" -eq 125 ]
    [[ "$output" == Error:*Permission\ denied* ]]
    [ ! -e /var/lib/skiff-not-yours ]
}
