#!/usr/bin/env bats
# Networking as a Docker user meets it: the default bridge, published ports (reached from
# this host on 127.0.0.1 and from a "host" in a network namespace of its own), user networks
# with names and aliases, none/host/container:<x>, --ip/--dns/--add-host, the `network`
# commands, bad input, and teardown (rm, stop, a killed monitor, prune) leaving nothing.
#
# Traffic goes only to loopback and to namespaces these tests make. Every test has its own
# --root/--runroot; the file has its own network state dir, nftables table (skiff_test),
# default bridge (skt0) and subnet (10.123.0.0/16); user networks take 10.126.N.0/24.
# teardown removes containers, networks and the test's namespaces; teardown_file the table
# and the bridges.

load helpers

bats_require_minimum_version 1.5.0

MKIMAGE=${MKIMAGE:-$BATS_TEST_DIRNAME/../fixtures/mkimage.py}
OTHER_NS=skiff-it-other-$$   # the "other host" of a test (ip netns), removed in teardown
OTHER_VETH=sktoh$$           # its veth, host side

setup_file() {
    # `ip netns add` makes /run/netns a mount point of itself and leaves it: undone at the
    # end unless it was one before.
    if mountpoint -q /run/netns; then export RUN_NETNS_WAS_MOUNTED=1; else export RUN_NETNS_WAS_MOUNTED=0; fi
    export SKIFF_NETWORK_DIR=$BATS_FILE_TMPDIR/network
    export SKIFF_NFT_TABLE=skiff_test SKIFF_BRIDGE=skt0 SKIFF_BRIDGE_SUBNET=10.123.0.0/16
    # The loopback redirect programs (network/loopback_redirect.hpp) attached before this
    # file: the tests check that theirs come and go.
    export UNIFIED_CGROUP REDIRECTS_BEFORE
    UNIFIED_CGROUP=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
    REDIRECTS_BEFORE=$(redirect_programs)
    export FIX=$BATS_FILE_TMPDIR/fix
    mkdir -p "$FIX"
    python3 "$MKIMAGE" busybox-rootfs "$FIX/rootfs" >/dev/null
    mkdir -p "$FIX/rootfs/www"
    echo "hello from the container" > "$FIX/rootfs/www/index.html"
    tar -C "$FIX/rootfs" -cf "$FIX/rootfs.tar" .
    "$SKIFF" --root "$FIX/store" --runroot "$FIX/run" import -c 'CMD ["sh"]' -c 'EXPOSE 80' \
        "$FIX/rootfs.tar" bb:1 >/dev/null
}

teardown_file() {
    network_cleanup
    if [ "$RUN_NETNS_WAS_MOUNTED" = 0 ] && [ -z "$(ip netns list)" ]; then
        umount /run/netns 2>/dev/null || true
    fi
}

setup() {
    ROOT=$(mktemp -d /tmp/skiff-nw.XXXXXX)
    R=$ROOT/root
    RR=$ROOT/run
    cp -a "$FIX/store" "$R"
    mkdir -p "$RR"
}

teardown() {
    [ -n "${ROOT:-}" ] || return 0
    reap_background
    local id n
    for id in $(sk ps -aq --no-trunc 2>/dev/null); do
        sk rm -f "$id" >/dev/null 2>&1 || true
    done
    for n in $(sk network ls -q --filter type=custom 2>/dev/null); do
        sk network rm "$n" >/dev/null 2>&1 || true
    done
    ip netns del "$OTHER_NS" 2>/dev/null || true
    ip link del "$OTHER_VETH" 2>/dev/null || true
    awk '{print $5}' /proc/self/mountinfo | grep "^$ROOT/" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$ROOT"
}

# --- helpers of this file ------------------------------------------------------------------

sk() { timeout 60 "$SKIFF" --root "$R" --runroot "$RR" "$@"; }

same() {
    if [ "$1" != "$2" ]; then
        printf 'expected: %s\n     got: %s\n' "$2" "$1" >&2
        return 1
    fi
}

has() {
    if [[ "$output" != *"$1"* ]]; then
        printf 'expected to see: %s\n  output: %s\n' "$1" "$output" >&2
        return 1
    fi
}

# A detached web server (busybox httpd serving /www) with the given run flags.
web() { sk run -d "$@" bb:1 httpd -f -p 80 -h /www; }

fetch() { curl -sf --max-time 3 "$1"; }
serves() { [ "$(fetch "$1" 2>/dev/null)" = "hello from the container" ]; }

ip_of() { sk inspect --format "{{(index .NetworkSettings.Networks \"${2:-bridge}\").IPAddress}}" "$1"; }
full_id() { sk inspect --format '{{.Id}}' "$1"; }

# Host side veths of skiff (sv<10 hex of the id><n>) and the endpoint files.
our_veths() { ip -br link | awk '{print $1}' | grep '^sv' | sed 's/@.*//' || true; }
endpoint_files() { ls "$SKIFF_NETWORK_DIR/endpoints" 2>/dev/null || true; }
netns_mounts() { awk '{print $5}' /proc/self/mountinfo | grep "^$RR/netns/" || true; }

# The kernel takes a removed namespace down, veths included, in its own time (skiff does not
# wait for that): give it up to 3 s.
veth_gone() {
    local prefix=$1 i
    for i in $(seq 60); do
        our_veths | grep -q "^$prefix" || return 0
        sleep 0.05
    done
    echo "veth left: $(our_veths)" >&2
    return 1
}

# Nothing of a container's network is left: no veth, no endpoint file, no namespace mount,
# no nft rule naming its address or published port.
no_network_left() {
    local id=$1 ip=$2 port=${3:-}
    veth_gone "sv${id:0:10}" || return 1
    if endpoint_files | grep -q "^$id"; then echo "endpoint left: $(endpoint_files)" >&2; return 1; fi
    if netns_mounts | grep -q "$id"; then echo "netns left: $(netns_mounts)" >&2; return 1; fi
    local table
    table=$(nft list table inet "$SKIFF_NFT_TABLE" 2>/dev/null || true)
    if [ -n "$ip" ] && grep -qw "$ip" <<<"$table"; then echo "nft rule left for $ip: $table" >&2; return 1; fi
    if [ -n "$port" ] && grep -qw "$port" <<<"$table"; then echo "nft rule left for $port: $table" >&2; return 1; fi
}

# skiff's connect4 programs on the cgroup tree (one per namespace and nftables table with a
# published TCP port).
redirect_programs() { bpftool cgroup show "$UNIFIED_CGROUP" 2>/dev/null | grep -c skiff_connect4 || true; }

# An "other host": a network namespace with a veth to this host, 198.18.0.1 (host) /
# 198.18.0.2 (it). Removed in teardown.
make_other_host() {
    ip netns add "$OTHER_NS"
    ip link add "$OTHER_VETH" type veth peer name eth0 netns "$OTHER_NS"
    ip addr add 198.18.0.1/30 dev "$OTHER_VETH"
    ip link set "$OTHER_VETH" up
    ip -n "$OTHER_NS" addr add 198.18.0.2/30 dev eth0
    ip -n "$OTHER_NS" link set eth0 up
    ip -n "$OTHER_NS" link set lo up
}

# --- the default bridge --------------------------------------------------------------------

@test "bridge (the default): eth0 on the subnet, a default route, lo; hosts and resolv.conf" {
    run sk run --rm --name plain bb:1 sh -c 'ip -4 -o addr show eth0; ip route; ls /sys/class/net; cat /etc/hosts; cat /etc/resolv.conf; hostname'
    [ "$status" -eq 0 ]
    [[ "$output" =~ eth0\ +inet\ (10\.123\.[0-9]+\.[0-9]+)/16 ]]
    local ip=${BASH_REMATCH[1]}
    has "default via 10.123.0.1 dev eth0"
    has "127.0.0.1	localhost"
    local host
    host=$(tail -n 1 <<<"$output")
    has "$ip	$host"
    has "nameserver"
    [[ "$output" != *"nameserver 127."* ]]
    # The bridge is this file's, with the gateway address.
    ip -4 -o addr show skt0 | grep -q "10.123.0.1/16"
}

@test "-p: 127.0.0.1:PORT and the container's own address reach its server; ps, port, inspect show it" {
    web --name web -p 18080:80
    wait_for 50 serves http://127.0.0.1:18080/
    local ip
    ip=$(ip_of web)
    [[ "$ip" == 10.123.* ]]
    serves "http://$ip/"
    same "$(sk ps --format '{{.Names}} {{.Ports}}')" "web 0.0.0.0:18080->80/tcp"
    same "$(sk port web)" "80/tcp -> 0.0.0.0:18080"
    same "$(sk port web 80)" "0.0.0.0:18080"
    same "$(sk inspect --format '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}' web)" "18080"
    same "$(sk inspect --format '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}}' web)" "$ip 10.123.0.1"
    [[ "$(sk inspect --format '{{.NetworkSettings.MacAddress}}' web)" =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]]
    same "$(sk inspect --format '{{.HostConfig.NetworkMode}}' web)" "bridge"
    # 127.0.0.1 is redirected at connect (no NAT), invisibly: the socket's names are those
    # NAT would have given it. The container's own 127.0.0.1 is not redirected.
    same "$(redirect_programs)" "$((REDIRECTS_BEFORE + 1))"
    same "$(python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 18080))
print(s.getsockname()[0], s.getpeername())')" "127.0.0.1 ('127.0.0.1', 18080)"
    run sk exec web wget -q -O- -T 2 http://127.0.0.1:18080/
    [ "$status" -ne 0 ]
    # Stopped: nothing is published any more, and it comes back at the next start.
    sk stop -t 1 web >/dev/null
    same "$(sk port web)" ""
    same "$(redirect_programs)" "$REDIRECTS_BEFORE"
    ! serves http://127.0.0.1:18080/
    sk start web >/dev/null
    wait_for 50 serves http://127.0.0.1:18080/
}

@test "a host in its own network namespace reaches a published port at this host's address" {
    web --name web -p 18081:80
    make_other_host
    wait_for 50 serves http://127.0.0.1:18081/
    run ip netns exec "$OTHER_NS" curl -sf --max-time 3 http://198.18.0.1:18081/
    [ "$status" -eq 0 ]
    same "$output" "hello from the container"
    # Published on 127.0.0.1 only: the other host is not let in.
    web --name local -p 127.0.0.1:18082:80
    wait_for 50 serves http://127.0.0.1:18082/
    run ip netns exec "$OTHER_NS" curl -sf --max-time 2 http://198.18.0.1:18082/
    [ "$status" -ne 0 ]
}

@test "user network: containers reach each other by name and alias, not one on another network" {
    sk network create --subnet 10.126.1.0/24 front >/dev/null
    sk network create --subnet 10.126.2.0/24 back >/dev/null
    sk run -d --network front --name aa --network-alias alpha bb:1 sleep 1000 >/dev/null
    sk run -d --network front --name bb bb:1 sleep 1000 >/dev/null
    sk run -d --network back --name cc bb:1 sleep 1000 >/dev/null
    local ip_a
    ip_a=$(ip_of aa front)
    [[ "$ip_a" == 10.126.1.* ]]
    sk exec bb ping -c 1 -W 2 aa
    sk exec bb ping -c 1 -W 2 alpha
    sk exec bb ping -c 1 -W 2 "$(full_id aa | cut -c1-12)"
    # aa started first: its /etc/hosts learnt bb afterwards (same file, rewritten in place).
    sk exec aa ping -c 1 -W 2 bb
    # Another network: no name, and no way through by address.
    run sk exec cc ping -c 1 -W 1 aa
    [ "$status" -ne 0 ]
    run sk exec cc ping -c 1 -W 1 "$ip_a"
    [ "$status" -ne 0 ]
    # bb renamed: aa knows it by the new name only (Docker's embedded DNS does the same).
    sk rename bb bee
    sk exec aa ping -c 1 -W 2 bee
    [[ "$(sk exec aa cat /etc/hosts)" != *"	bb "* ]]
    # bee leaves: aa forgets it.
    sk rm -f bee >/dev/null
    run sk exec aa ping -c 1 -W 1 bee
    [ "$status" -ne 0 ]
    [[ "$(sk exec aa cat /etc/hosts)" != *"	bee "* ]]
}

@test "the default bridge has no names between containers (Docker's rule), addresses work" {
    sk run -d --name d1 bb:1 sleep 1000 >/dev/null
    local ip
    ip=$(ip_of d1)
    run sk run --rm bb:1 ping -c 1 -W 1 d1
    [ "$status" -ne 0 ]
    sk run --rm bb:1 ping -c 1 -W 2 "$ip"
}

# --- other modes ---------------------------------------------------------------------------

@test "--network none has only lo; host sees the host's interfaces" {
    same "$(sk run --rm --network none bb:1 ls /sys/class/net)" "lo"
    same "$(sk run --rm --network host bb:1 ls /sys/class/net | sort)" "$(ls /sys/class/net | sort)"
    same "$(sk inspect --format '{{.HostConfig.NetworkMode}}' "$(sk create --network none bb:1)")" "none"
    [ -z "$(endpoint_files)" ]
}

@test "container:<x> shares x's interfaces, hostname and hosts; x must run" {
    sk run -d --name xx --add-host db:192.0.2.7 bb:1 sleep 1000 >/dev/null
    local ip
    ip=$(ip_of xx)
    run sk run --rm --network container:xx bb:1 sh -c 'ip -4 -o addr show eth0; hostname; cat /etc/hosts'
    [ "$status" -eq 0 ]
    has "inet $ip/16"
    has "$(sk inspect --format '{{.Config.Hostname}}' xx)"
    has "192.0.2.7	db"
    run sk run --rm --network container:xx -p 8080:80 bb:1 true
    [ "$status" -eq 125 ]
    same "$output" "Error: conflicting options: port publishing and the container type network mode"
    sk create --name jj --network "container:$(full_id xx)" bb:1 sleep 1000 >/dev/null
    sk stop -t 0 xx >/dev/null
    run sk start jj
    [ "$status" -eq 125 ]
    has "cannot join network of a non running container"
    run sk run --rm --network container:nosuch bb:1 true
    [ "$status" -eq 125 ]
    has "No such container: nosuch"
}

# --- ports ---------------------------------------------------------------------------------

@test "-p of a taken port fails the start cleanly: exit 125, one line, nothing left" {
    web --name first -p 18083:80
    local before_veths before_endpoints
    before_veths=$(our_veths | wc -l)
    before_endpoints=$(endpoint_files | wc -l)
    run sk run --rm --name second -p 18083:80 bb:1 true
    [ "$status" -eq 125 ]
    same "$output" "Error: Bind for 0.0.0.0:18083 failed: port is already allocated"
    run sk run -d --name third -p 18083:80 bb:1 sleep 100
    [ "$status" -eq 125 ]
    same "$output" "Error: Bind for 0.0.0.0:18083 failed: port is already allocated"
    # --rm: no record; -d: the record stays (exited), as with docker run -d.
    same "$(sk ps -a --format '{{.Names}}' | sort | tr '\n' ' ')" "first third "
    # (a veth made before the refusal dies with its namespace, in the kernel's time)
    for _ in $(seq 60); do [ "$(our_veths | wc -l)" = "$before_veths" ] && break; sleep 0.05; done
    same "$(our_veths | wc -l)" "$before_veths"
    same "$(endpoint_files | wc -l)" "$before_endpoints"
    same "$(netns_mounts | wc -l)" "1"
    # A port some host process listens on is taken too.
    python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 18084)); s.listen(); time.sleep(60)' &
    BG_PIDS+=($!)
    wait_for 30 sh -c 'ss -ltn | grep -q ":18084 "'
    run sk run --rm -p 18084:80 bb:1 true
    [ "$status" -eq 125 ]
    has "Bind for 0.0.0.0:18084 failed: port is already allocated"
    same "$(endpoint_files | wc -l)" "$before_endpoints"
}

@test "-P publishes every EXPOSEd port to a random host port; ranges and udp" {
    web --name pub -P
    local hostport
    hostport=$(sk port pub 80)
    [[ "$hostport" =~ ^0\.0\.0\.0:([0-9]+)$ ]]
    wait_for 50 serves "http://127.0.0.1:${BASH_REMATCH[1]}/"
    sk run -d --name ranged -p 18090-18091:80-81 -p 18092:53/udp bb:1 sleep 1000 >/dev/null
    same "$(sk ps --filter name=ranged --format '{{.Ports}}')" "0.0.0.0:18092->53/udp, 0.0.0.0:18090-18091->80-81/tcp"
    same "$(sk port ranged 53/udp)" "0.0.0.0:18092"
}

# --- flags ---------------------------------------------------------------------------------

@test "--ip, --dns, --add-host (host-gateway) on a user network" {
    sk network create --subnet 10.126.3.0/24 n3 >/dev/null
    run sk run --rm --network n3 --ip 10.126.3.50 --dns 192.0.2.53 --add-host db:192.0.2.7 \
        --add-host gw:host-gateway bb:1 sh -c 'ip -4 -o addr show eth0; cat /etc/resolv.conf; cat /etc/hosts'
    [ "$status" -eq 0 ]
    has "inet 10.126.3.50/24"
    has "nameserver 192.0.2.53"
    has "192.0.2.7	db"
    has "10.126.3.1	gw"
    [ "$(grep -c nameserver <<<"$output")" -eq 1 ]
    run sk run --rm --ip 10.123.0.99 bb:1 true
    [ "$status" -eq 125 ]
    same "$output" "Error: user specified IP address is supported on user defined networks only"
    run sk run --rm --network n3 --ip 10.9.9.9 bb:1 true
    [ "$status" -eq 125 ]
    has "10.9.9.9"
    run sk run --rm --dns nonsense bb:1 true
    [ "$status" -eq 125 ]
    has "nonsense is not an ip address"
    run sk run --rm --add-host broken bb:1 true
    [ "$status" -eq 125 ]
    has "bad format for add-host"
    [ -z "$(sk ps -aq)" ]
}

# --- the network commands ------------------------------------------------------------------

@test "network create, ls, inspect, rm" {
    run sk network create --subnet 10.126.4.0/24 --gateway 10.126.4.254 --label team=web net4
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    local id=$output
    run sk network ls
    has "NETWORK ID"
    has "${id:0:12}   net4"
    has "bridge"
    same "$(sk network ls -q --filter name=net4)" "${id:0:12}"
    same "$(sk network ls --filter name=net --format '{{.Name}} {{.Driver}} {{.Scope}}')" "net4 bridge local"
    same "$(sk network inspect --format '{{.Name}} {{.Id}} {{.Driver}} {{.Internal}}' net4)" "net4 $id bridge false"
    same "$(sk network inspect net4 | jq -c '.[0].IPAM.Config')" '[{"Gateway":"10.126.4.254","Subnet":"10.126.4.0/24"}]'
    same "$(sk network inspect net4 | jq -c '.[0].Labels')" '{"team":"web"}'
    sk run -d --network net4 --name member bb:1 sleep 1000 >/dev/null
    local cid
    cid=$(full_id member)
    same "$(sk network inspect net4 | jq -r --arg c "$cid" '.[0].Containers[$c].Name')" "member"
    [[ "$(sk network inspect net4 | jq -r --arg c "$cid" '.[0].Containers[$c].IPv4Address')" == 10.126.4.*/24 ]]
    same "$(sk inspect --format '{{(index .NetworkSettings.Networks "net4").Gateway}}' member)" "10.126.4.254"
    sk rm -f member >/dev/null
    run sk network rm net4
    [ "$status" -eq 0 ]
    same "$output" "net4"
    [ -z "$(sk network ls -q --filter name=net4)" ]
    # The internal flag shows; --internal networks have no way out.
    sk network create --internal --subnet 10.126.5.0/24 inside >/dev/null
    same "$(sk network inspect --format '{{.Internal}}' inside)" "true"
}

@test "network connect and disconnect: a running container now, a stopped one at its next start" {
    sk network create --subnet 10.126.6.0/24 n6 >/dev/null
    sk run -d --name hh bb:1 sleep 1000 >/dev/null
    sk network connect --alias hhh n6 hh
    run sk exec hh ip -4 -o addr show eth1
    [ "$status" -eq 0 ]
    has "inet 10.126.6."
    sk run -d --network n6 --name peer bb:1 sleep 1000 >/dev/null
    sk exec peer ping -c 1 -W 2 hhh
    sk exec hh ping -c 1 -W 2 peer
    same "$(sk inspect hh | jq -r '.[0].NetworkSettings.Networks | keys | join(",")')" "bridge,n6"
    run sk network connect n6 hh
    [ "$status" -eq 125 ]
    has "already exists in network n6"
    sk network disconnect n6 hh
    run sk exec hh ip link show eth1
    [ "$status" -ne 0 ]
    run sk exec peer ping -c 1 -W 1 hhh
    [ "$status" -ne 0 ]
    # Stopped: recorded, plugged in at the next start.
    sk create --name ss bb:1 sleep 1000 >/dev/null
    sk network connect --ip 10.126.6.77 n6 ss
    sk start ss >/dev/null
    run sk exec ss ip -4 -o addr show eth1
    has "inet 10.126.6.77/24"
    sk stop -t 0 ss >/dev/null
    sk network disconnect n6 ss
    sk start ss >/dev/null
    run sk exec ss ip link show eth1
    [ "$status" -ne 0 ]
    run sk network disconnect n6 ss
    [ "$status" -eq 125 ]
    has "is not connected to network n6"
}

@test "network prune and system prune take the user networks no container uses" {
    sk network create --subnet 10.126.7.0/24 used >/dev/null
    sk network create --subnet 10.126.8.0/24 unused >/dev/null
    sk network create --subnet 10.126.9.0/24 stopped >/dev/null
    sk run -d --network used --name uu bb:1 sleep 1000 >/dev/null
    sk create --network stopped --name st bb:1 true >/dev/null
    run sk network prune -f
    [ "$status" -eq 0 ]
    same "$output" $'Deleted Networks:\nunused'
    run sk system prune -f
    [ "$status" -eq 0 ]
    has $'Deleted Networks:\nstopped'
    same "$(sk network ls --format '{{.Name}}' | tr '\n' ' ')" "bridge used "
    # A prompt answered no changes nothing.
    sk rm -f uu >/dev/null
    run sk network prune <<<"n"
    same "$(sk network ls --format '{{.Name}}' | tr '\n' ' ')" "bridge used "
}

# --- bad input -----------------------------------------------------------------------------

@test "bad input: one line, exit 125, nothing changed" {
    sk network create --subnet 10.126.10.0/24 taken >/dev/null
    local before
    before=$(sk network ls -q | sort)

    run sk run --rm -p 80:abc bb:1 true
    [ "$status" -eq 125 ]
    same "${#lines[@]}" "1"
    has 'invalid port specification: "80:abc"'
    run sk run --rm -p 99999:80 bb:1 true
    [ "$status" -eq 125 ]
    run sk run --rm --network nosuchnet bb:1 true
    [ "$status" -eq 125 ]
    same "$output" "Error: network nosuchnet not found"
    run sk network create --subnet 10.126.10.128/25 overlap
    [ "$status" -eq 125 ]
    same "${#lines[@]}" "1"
    has "overlaps"
    run sk network create --subnet 10.123.5.0/24 overlap-default
    [ "$status" -eq 125 ]
    run sk network create --subnet 10.126.11.1/24 hostbits
    [ "$status" -eq 125 ]
    has "invalid subnet"
    run sk network create taken
    [ "$status" -eq 125 ]
    has "already exists"
    run sk network create bridge
    [ "$status" -eq 125 ]
    sk run -d --network taken --name user bb:1 sleep 1000 >/dev/null
    run sk network rm taken
    [ "$status" -eq 125 ]
    same "$output" "Error: error while removing network: network taken has active endpoints"
    run sk network rm bridge
    [ "$status" -eq 125 ]
    has "pre-defined network"
    run sk network rm nosuch
    [ "$status" -eq 125 ]
    run sk network connect nosuch user
    [ "$status" -eq 125 ]
    has "network nosuch not found"
    run sk network inspect nosuch
    [ "$status" -eq 125 ]
    run sk run --rm --network none --network taken bb:1 true
    [ "$status" -eq 125 ]
    has "conflicting options"

    same "$(sk network ls -q | sort)" "$before"
    same "$(sk ps -a --format '{{.Names}}')" "user"
}

# --- teardown ------------------------------------------------------------------------------

@test "after stop and rm: no veth, no nft rule, no endpoint file, no namespace" {
    web --name tt -p 18085:80
    wait_for 50 serves http://127.0.0.1:18085/
    local id ip veth
    id=$(full_id tt)
    ip=$(ip_of tt)
    veth=$(jq -r .host_interface "$SKIFF_NETWORK_DIR/endpoints/$id-bridge.json")
    ip link show "$veth" >/dev/null
    nft list table inet "$SKIFF_NFT_TABLE" | grep -qw 18085
    sk stop -t 1 tt >/dev/null
    no_network_left "$id" "$ip" 18085
    sk start tt >/dev/null
    wait_for 50 serves http://127.0.0.1:18085/
    ip=$(ip_of tt)
    sk rm -f tt >/dev/null
    no_network_left "$id" "$ip" 18085
    veth_gone "$veth"
    # run --rm: gone at its end too.
    sk run --rm -p 18086:80 bb:1 true
    [ -z "$(endpoint_files)" ]
    [ -z "$(netns_mounts)" ]
    ! nft list table inet "$SKIFF_NFT_TABLE" | grep -qw 18086
    same "$(redirect_programs)" "$REDIRECTS_BEFORE"
}

@test "a monitor killed with -9: ps -a and rm -f leave nothing" {
    web --name kk -p 18087:80
    wait_for 50 serves http://127.0.0.1:18087/
    local id ip monitor pid
    id=$(full_id kk)
    ip=$(ip_of kk)
    monitor=$(jq -r .monitor_pid "$R/containers/$id/record.json")
    pid=$(jq -r .pid "$R/containers/$id/record.json")
    kill -9 "$monitor" "$pid"
    wait_for 50 sh -c "! kill -0 $pid 2>/dev/null"
    # ps finds PID 1 gone: exited (255), its network released.
    run sk ps -a --format '{{.Names}} {{.Status}}'
    has "kk Exited (255)"
    no_network_left "$id" "$ip" 18087
    # Only the monitor killed (PID 1 lives on): rm -f cleans it all.
    web --name k2 -p 18088:80
    wait_for 50 serves http://127.0.0.1:18088/
    id=$(full_id k2)
    ip=$(ip_of k2)
    monitor=$(jq -r .monitor_pid "$R/containers/$id/record.json")
    kill -9 "$monitor"
    sk rm -f k2 >/dev/null
    no_network_left "$id" "$ip" 18088
    sk rm -f kk >/dev/null
    [ -z "$(endpoint_files)" ]
    [ -z "$(netns_mounts)" ]
    same "$(redirect_programs)" "$REDIRECTS_BEFORE"
}
