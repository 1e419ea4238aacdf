#!/usr/bin/env bats
# cgroups on this hybrid host: the container lands in its own group in the unified tree,
# limits the host cannot apply are one warning each (the container still runs, unlike
# crun), freeze/kill/update work, the group is gone after delete, bad limits are refused
# before anything exists. (Limits themselves are proven in tests/vm on a pure v2 kernel.)

load helpers

bats_require_minimum_version 1.5.0

setup() { setup_bundle; }

# The first huge page size of this kernel in cgroup notation: hugepages-2048kB -> 2MB.
hugepage_size() {
    local kb
    kb=$(ls /sys/kernel/mm/hugepages/ | sed -n 's/^hugepages-\([0-9]*\)kB$/\1/p' | sort -n | head -n 1)
    if [ "$kb" -ge 1048576 ]; then echo "$((kb / 1048576))GB"; elif [ "$kb" -ge 1024 ]; then echo "$((kb / 1024))MB"; else echo "${kb}KB"; fi
}
teardown() { teardown_bundle; }

@test "the container lands in its own group in the unified tree, gone after delete" {
    config_args sleep 100
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    cgroup=$(container_cgroup "$CONTAINER_ID")
    [[ "$cgroup" == /sys/fs/cgroup/unified/* ]]
    pid=$(rt state "$CONTAINER_ID" | jq -r .pid)
    grep -qx "$pid" "$cgroup/cgroup.procs"
    # Only the unified hierarchy: the v1 controllers' view of the process is the host's.
    grep -q "^0::/$(jq -r .cgroupPath "$STATE_ROOT/$CONTAINER_ID/state.json")\$" "/proc/$pid/cgroup"
    rt delete --force "$CONTAINER_ID"
    [ ! -d "$cgroup" ]
}

@test "a cgroupsPath from the spec is used, relative to the runtime's own group" {
    config_set --arg p "skiff-it-$$/c1" '.linux.cgroupsPath = $p'
    config_args sleep 100
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    [ -d "/sys/fs/cgroup/unified/skiff-it-$$/c1" ]
    rt delete --force "$CONTAINER_ID"
    [ ! -d "/sys/fs/cgroup/unified/skiff-it-$$/c1" ]
    rmdir "/sys/fs/cgroup/unified/skiff-it-$$"
}

@test "limits the host lacks controllers for warn once each, and the container runs" {
    config_set '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 50} | .linux.resources.cpu = {"quota": 50000, "period": 100000}'
    config_args sh -c 'echo running'
    run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ "$output" = running ]
    [[ "$stderr" == *"memory limit"*"Limitation discarded"* ]]
    [[ "$stderr" == *"pids"*"Limitation discarded"* ]]
    [[ "$stderr" == *"cpu"*"Limitation discarded"* ]]
}

@test "a hugetlb limit, which the unified tree here has, is written to the group" {
    size=$(hugepage_size)
    [ -n "$size" ]
    config_set --arg s "$size" '.linux.resources.hugepageLimits = [{"pageSize": $s, "limit": 0}]'
    config_args sleep 100
    rt create --bundle "$BUNDLE" "$CONTAINER_ID"
    cgroup=$(container_cgroup "$CONTAINER_ID")
    [ "$(cat "$cgroup/hugetlb.$size.max")" = 0 ]
}

@test "update changes a limit of a running container" {
    size=$(hugepage_size)
    config_args sleep 100
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    cgroup=$(container_cgroup "$CONTAINER_ID")
    [ "$(cat "$cgroup/hugetlb.$size.max")" != 0 ]
    echo "{\"hugepageLimits\": [{\"pageSize\": \"$size\", \"limit\": 0}]}" | rt update --resources - "$CONTAINER_ID"
    [ "$(cat "$cgroup/hugetlb.$size.max")" = 0 ]
}

@test "events --stats prints the group's statistics as JSON" {
    config_args sleep 100
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    run rt events --stats "$CONTAINER_ID"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .type)" = stats ]
    [ "$(echo "$output" | jq -r .id)" = "$CONTAINER_ID" ]
    [ "$(echo "$output" | jq -r '.data.pids.current')" = 1 ]
}

@test "pause freezes the group, resume thaws it, kill --all reaches every process" {
    config_args sh -c 'sleep 100 & sleep 100 & wait'
    rt run -d --bundle "$BUNDLE" "$CONTAINER_ID"
    cgroup=$(container_cgroup "$CONTAINER_ID")
    wait_for 30 sh -c "[ \$(wc -l < $cgroup/cgroup.procs) -eq 3 ]"
    rt pause "$CONTAINER_ID"
    grep -qx "frozen 1" "$cgroup/cgroup.events"
    [ "$(rt state "$CONTAINER_ID" | jq -r .status)" = paused ]
    rt resume "$CONTAINER_ID"
    grep -qx "frozen 0" "$cgroup/cgroup.events"
    rt kill --all "$CONTAINER_ID" KILL
    wait_for 30 sh -c "[ ! -s $cgroup/cgroup.procs ]"
}

@test "a negative memory limit is refused before anything is made" {
    config_set '.linux.resources.memory = {"limit": -5}'
    run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$CONTAINER_ID"
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"linux.resources.memory.limit"* ]]
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
    [ ! -e "/sys/fs/cgroup/unified/skiff/$CONTAINER_ID" ]
}

@test "an unknown controller in linux.resources.unified is refused, nothing made" {
    config_set '.linux.resources.unified = {"bogus.max": "1"}'
    run --separate-stderr "$RUNTIME" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$CONTAINER_ID"
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"bogus.max"* ]]
    [ ! -e "$STATE_ROOT/$CONTAINER_ID" ]
    [ ! -e "/sys/fs/cgroup/unified/skiff/$CONTAINER_ID" ]
}
