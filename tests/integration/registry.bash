# Local registries for the integration tests: Debian's docker-registry (CNCF distribution
# 2.8) on 127.0.0.1, optionally behind htpasswd or a bearer-token proxy
# (tests/fixtures/token_proxy.py). Source it after helpers.bash:
#
#   setup_file()    { load helpers; load registry; start_registry plain; start_registry priv --htpasswd alice:secret; }
#   teardown_file() { stop_registries; }
#
#   start_registry NAME [--htpasswd USER:PASS] [--token USER:PASS] [--token-anonymous pull|none|all]
#                       [--token-ttl SECONDS] [--storage DIR]
#       exports REGISTRY_<NAME>=127.0.0.1:<port>   (what clients talk to)
#               REGISTRY_<NAME>_DIR                (this registry's temp dir: config.yml, logs)
#               REGISTRY_<NAME>_STORAGE            (the registry's storage root)
#               REGISTRY_<NAME>_LOG                (docker-registry's log)
#       with --token also
#               REGISTRY_<NAME>_BACKEND=127.0.0.1:<port>  (the plain registry behind the proxy)
#               REGISTRY_<NAME>_TOKEN_LOG          (one JSON line per /token request)
#               REGISTRY_<NAME>_PROXY_LOG          (the proxy's access log)
#       NAME becomes upper case with non-alphanumerics as "_" in the variable names.
#       --storage DIR keeps blobs in DIR (not removed by stop_registries; used by bench/pull).
#   stop_registries              kill every registry and proxy started (from their pid files)
#                                and remove the temp dirs; safe when nothing was started.
#   registry_catalog NAME        print the repositories, one a line (through the proxy's
#                                backend when NAME has a token proxy; with basic auth as set)
#   registry_blob_exists NAME REPO DIGEST   status 0 when HEAD of the blob answers 200
#   registry_tags NAME REPO      print the tags of REPO, one a line
#   registry_corrupt_blob NAME DIGEST       flip one byte of the blob's data in storage (same
#                                size), so the registry serves bytes that do not match DIGEST
#   registry_token_requests NAME print the token log (JSON lines), empty when none yet
#
# Processes are started with stdin/stdout/stderr and bats' fd 3 redirected so that bats does
# not wait on them; all state lives under $SKIFF_REGISTRY_STATE (exported, so teardown_file
# finds it even if it runs in another shell than setup_file).

REGISTRY_FIXTURES=${REGISTRY_FIXTURES:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)}
DOCKER_REGISTRY=${DOCKER_REGISTRY:-docker-registry}

_registry_var() { printf 'REGISTRY_%s' "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]' | tr -c 'A-Z0-9\n' '_')"; }

_registry_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until http://ADDR/v2/ answers 200 or 401 while PID lives; up to ~10 s.
_registry_wait() {
    local addr=$1 pid=$2 tries=100 code
    while [ "$tries" -gt 0 ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$addr/v2/" 2>/dev/null || true)
        case "$code" in 200|401) return 0 ;; esac
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

_registry_kill_pidfile() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null)
    rm -f "$pidfile"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        # Gone, or a zombie of a shell that will reap it: done.
        [ -e "/proc/$pid" ] || return 0
        grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null && { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Start one process in the background, detached from bats' fds, pid into PIDFILE.
_registry_spawn() {
    local pidfile=$1 log=$2; shift 2
    "$@" </dev/null >>"$log" 2>&1 3>&- 4>&- 5>&- &
    echo $! > "$pidfile"
}

start_registry() {
    local name=$1; shift || { echo "start_registry NAME [options]" >&2; return 2; }
    local htpasswd="" token="" token_anon=pull token_ttl=0 storage="" use_token=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --htpasswd) htpasswd=$2; shift 2 ;;
            --token) token=$2; use_token=1; shift 2 ;;
            --token-anonymous) token_anon=$2; shift 2 ;;
            --token-ttl) token_ttl=$2; shift 2 ;;
            --storage) storage=$2; shift 2 ;;
            *) echo "start_registry: unknown option $1" >&2; return 2 ;;
        esac
    done
    if [ -z "${SKIFF_REGISTRY_STATE:-}" ] || [ ! -d "$SKIFF_REGISTRY_STATE" ]; then
        SKIFF_REGISTRY_STATE=$(mktemp -d /tmp/skiff-registry.XXXXXX) || return 1
        export SKIFF_REGISTRY_STATE
    fi
    local var dir
    var=$(_registry_var "$name")
    dir=$SKIFF_REGISTRY_STATE/$name
    [ -e "$dir" ] && { echo "start_registry: $name already started" >&2; return 1; }
    mkdir -p "$dir"
    [ -n "$storage" ] || storage=$dir/storage
    mkdir -p "$storage"

    local auth=""
    if [ -n "$htpasswd" ]; then
        htpasswd -Bbn "${htpasswd%%:*}" "${htpasswd#*:}" > "$dir/htpasswd" || return 1
        auth="auth:
  htpasswd:
    realm: skiff-test
    path: $dir/htpasswd"
    fi

    local port ok=0
    for _ in 1 2 3 4 5; do
        port=$(_registry_free_port)
        cat > "$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: skiff-test-secret
  headers:
    X-Content-Type-Options: [nosniff]
$auth
EOF
        _registry_spawn "$dir/registry.pid" "$dir/registry.log" "$DOCKER_REGISTRY" serve "$dir/config.yml"
        if _registry_wait "127.0.0.1:$port" "$(cat "$dir/registry.pid")"; then ok=1; break; fi
        _registry_kill_pidfile "$dir/registry.pid"
        grep -q 'address already in use' "$dir/registry.log" 2>/dev/null || break
    done
    if [ "$ok" != 1 ]; then
        echo "start_registry $name: docker-registry did not start; log:" >&2
        tail -20 "$dir/registry.log" >&2
        return 1
    fi
    export "${var}_DIR=$dir" "${var}_STORAGE=$storage" "${var}_LOG=$dir/registry.log"

    if [ "$use_token" = 1 ]; then
        local backend=127.0.0.1:$port user_args=()
        [ -n "$token" ] && user_args=(--user "$token")
        : > "$dir/token.log"
        ok=0
        for _ in 1 2 3 4 5; do
            port=$(_registry_free_port)
            _registry_spawn "$dir/proxy.pid" "$dir/proxy.log" python3 "$REGISTRY_FIXTURES/token_proxy.py" \
                --listen "127.0.0.1:$port" --backend "$backend" --log "$dir/token.log" \
                --anonymous "$token_anon" --ttl "$token_ttl" "${user_args[@]}"
            if _registry_wait "127.0.0.1:$port" "$(cat "$dir/proxy.pid")"; then ok=1; break; fi
            _registry_kill_pidfile "$dir/proxy.pid"
            grep -q 'Address already in use' "$dir/proxy.log" 2>/dev/null || break
        done
        if [ "$ok" != 1 ]; then
            echo "start_registry $name: token proxy did not start; log:" >&2
            tail -20 "$dir/proxy.log" >&2
            return 1
        fi
        export "${var}_BACKEND=$backend" "${var}_TOKEN_LOG=$dir/token.log" "${var}_PROXY_LOG=$dir/proxy.log"
    fi
    echo "${htpasswd:+$htpasswd}" > "$dir/basic"
    echo "127.0.0.1:$port" > "$dir/addr"
    export "$var=127.0.0.1:$port"
}

stop_registries() {
    local state=${SKIFF_REGISTRY_STATE:-} dir
    [ -n "$state" ] && [ -d "$state" ] || return 0
    for dir in "$state"/*/; do
        [ -d "$dir" ] || continue
        _registry_kill_pidfile "$dir/proxy.pid"
        _registry_kill_pidfile "$dir/registry.pid"
    done
    rm -rf "$state"
    unset SKIFF_REGISTRY_STATE
    return 0
}

# The address to query NAME's contents without a token: the backend when there is a proxy.
_registry_direct() {
    local var
    var=$(_registry_var "$1")
    local backend=${var}_BACKEND addr=$var
    if [ -n "${!backend:-}" ]; then echo "${!backend}"; else echo "${!addr}"; fi
}

_registry_curl() {
    local name=$1; shift
    local basic=""
    [ -f "$SKIFF_REGISTRY_STATE/$name/basic" ] && basic=$(cat "$SKIFF_REGISTRY_STATE/$name/basic")
    if [ -n "$basic" ]; then curl -sS -u "$basic" "$@"; else curl -sS "$@"; fi
}

registry_catalog() {
    local addr
    addr=$(_registry_direct "$1") || return 1
    local json
    json=$(_registry_curl "$1" -f "http://$addr/v2/_catalog?n=1000") || return 1
    jq -r '.repositories[]?' <<<"$json"
}

registry_tags() {
    local addr
    addr=$(_registry_direct "$1") || return 1
    local json
    json=$(_registry_curl "$1" -f "http://$addr/v2/$2/tags/list") || return 1
    jq -r '.tags[]?' <<<"$json"
}

registry_blob_exists() {
    local addr code
    addr=$(_registry_direct "$1") || return 1
    code=$(_registry_curl "$1" -o /dev/null -w '%{http_code}' -I "http://$addr/v2/$2/blobs/$3")
    [ "$code" = 200 ]
}

registry_corrupt_blob() {
    local var storage hex data
    var=$(_registry_var "$1")_STORAGE
    storage=${!var}
    hex=${2#sha256:}
    data=$storage/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
    [ -f "$data" ] || { echo "registry_corrupt_blob: no blob $2 in $storage" >&2; return 1; }
    python3 - "$data" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0, 2); size = f.tell(); pos = size // 2
    f.seek(pos); b = f.read(1); f.seek(pos); f.write(bytes([b[0] ^ 0xFF]))
EOF
}

registry_token_requests() {
    local var
    var=$(_registry_var "$1")_TOKEN_LOG
    [ -n "${!var:-}" ] && cat "${!var}" 2>/dev/null
    return 0
}
