#!/bin/bash
# End-to-end test of the container image, run the way a Kubernetes DaemonSet runs it:
# the observer with the pod spec of deploy/kubernetes/daemonset.yaml (host PID
# namespace, read-only mounts of the kernel's BTF, tracefs and the kubelet's log
# directories, a few capabilities instead of --privileged) on the host's network;
# Gunicorn (sync, 2 workers) in a second container with a PID namespace of its own
# and its settings in GUNICORN_CMD_ARGS; traffic from the host. Builds the image
# first (make image). Checks the image (size, labels, entrypoint), discovery across
# the PID namespace, the app name and listener read from the other container's /proc,
# exact counts per worker and status code against Gunicorn's access log and byte sums
# against the client (the container's pids mapped to host pids by hostpids.py:
# Gunicorn logs the pids it sees, the observer labels with host pids), mean duration,
# promtool, and a clean stop on SIGTERM.
# Starts dockerd when no engine answers, and stops it at the end; removes every
# container it started, on failure too.
# Usage: sudo e2e/docker/test_daemonset_in_docker.sh [--quick] [--ci]
# Environment: as integration/lib.sh (VERBOSE=1, KEEP=1), and CAPS: the capabilities
# added after --cap-drop ALL (default: CAPS_BPF or CAPS_OLD_ENGINE below).
# shellcheck source=../../integration/lib.sh
. "$(dirname "$0")/../../integration/lib.sh"
E2E=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$E2E/../.." && pwd)
# shellcheck source=engine.sh
. "$E2E/engine.sh"
parse_args "$@"

# The smallest capability sets with which every check below passes: BPF and PERFMON
# load and attach the programs, SYS_PTRACE reads the fds and cwd of processes in other
# containers. An engine that knows no CAP_BPF (Docker before 23) gets SYS_ADMIN, which
# covers both. (Gunicorn in a network namespace of its own would also need SYS_ADMIN,
# for setns, to report its listener's backlog.)
CAPS_BPF=BPF,PERFMON,SYS_PTRACE
CAPS_OLD_ENGINE=SYS_ADMIN,SYS_PTRACE
APP_IMAGE=gunicorn-observer-e2e-app
APP_NAME=e2e-docker
NAME=gobs-e2e-$$
CONTAINERS=()   # containers this script started
MADE_DIRS=()    # host directories this script created for the mounts

# shellcheck disable=SC2317 # run by the EXIT trap
e2e_cleanup() {
    local rc=$? c
    trap - EXIT INT TERM
    exec 1>&3 2>&4
    for c in "${CONTAINERS[@]}"; do timeout 60 docker rm -f "$c" > /dev/null 2>&1; done
    for c in "${MADE_DIRS[@]}"; do rmdir "$c" 2> /dev/null; done
    engine_down
    (exit "$rc")
    cleanup  # lib.sh: stops our processes, prints the logs on failure, removes WORKDIR
}
trap e2e_cleanup EXIT

# start_container NAME LOG DOCKER_RUN_ARGS...: docker run -d, its output followed into LOG
start_container() {
    local name=$1 log=$2
    shift 2
    CONTAINERS+=("$name")
    if ! run docker run -d --name "$name" "$@" > "$WORKDIR/$name.id" 2> "$log"; then
        fail "docker run $name: $(tail -n 5 "$log")"
        finish
    fi
    docker logs -f "$name" >> "$log" 2>&1 &
    STARTED+=($!)
}

container_pid() { docker inspect -f '{{.State.Pid}}' "$1"; }

# pod_memory requests|limits: the observer container's memory request or limit in
# deploy/kubernetes/daemonset.yaml, in bytes
pod_memory() {
    $PY - "$ROOT/deploy/kubernetes/daemonset.yaml" "$1" <<'PY'
import re, sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "DaemonSet"][0]
lim = ds["spec"]["template"]["spec"]["containers"][0]["resources"][sys.argv[2]]["memory"]
n, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(lim)).groups()
print(int(n) * {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, None: 1}[unit])
PY
}

# container_memory_peak NAME: the most memory (bytes) the container's cgroup has held,
# kernel memory included; empty when the engine's cgroup is not found
container_memory_peak() {
    local id f
    id=$(docker inspect -f '{{.Id}}' "$1")
    for f in "/sys/fs/cgroup/memory/docker/$id/memory.max_usage_in_bytes" \
        "/sys/fs/cgroup/system.slice/docker-$id.scope/memory.peak" "/sys/fs/cgroup/docker/$id/memory.peak"; do
        [ -r "$f" ] && { cat "$f"; return; }
    done
}

# metric FILE NAME LABEL=VALUE...: value of the first series of NAME with those labels
metric() {
    local f=$1 name=$2 kv lines
    shift 2
    lines=$(grep "^$name{" "$f")
    for kv in "$@"; do lines=$(grep -F -e "{${kv/=/=\"}\"" -e ",${kv/=/=\"}\"" <<< "$lines"); done
    awk '{print $NF}' <<< "$lines" | head -n 1
}

check_build_deps() { # the Dockerfile's build stage installs the Makefile's BUILD_DEPS
    local mk df
    mk=$(make -s --no-print-directory -C "$ROOT" -f Makefile -f /dev/stdin print-build-deps <<< \
        $'print-build-deps:\n\t@echo $(BUILD_DEPS)' | tr ' ' '\n' | sed '/^$/d' | sort)
    # shellcheck disable=SC1003 # tr's backslash
    df=$(awk '/^FROM .* AS build/ {b = 1} b && /--no-install-recommends/ {p = 1; next}
        p && /&&/ {exit} p' "$ROOT/Dockerfile" | tr -s ' \\' '\n' | sed '/^$/d' | sort)
    if [ -n "$mk" ] && [ "$mk" = "$df" ]; then pass "Dockerfile build stage installs the Makefile's BUILD_DEPS ($(wc -l <<< "$mk") packages)"
    else fail "Dockerfile build stage packages differ from BUILD_DEPS: $(diff <(echo "$mk") <(echo "$df") | grep '^[<>]' | tr '\n' ' ')"; fi
}

build_image() {
    local t0=$SECONDS size want ver entry labels l missing=''
    say "make image (log: $WORKDIR/image.txt)"
    if ! TMO=900 run make -s --no-print-directory -C "$ROOT" image > "$WORKDIR/image.txt" 2>&1; then
        fail "make image failed after $((SECONDS - t0)) s: $(tail -n 20 "$WORKDIR/image.txt")"
        finish
    fi
    IMAGE=$(docker image inspect -f '{{.Id}}' gunicorn-observer:latest)
    pass "make image built gunicorn-observer:latest in $((SECONDS - t0)) s ($(grep -c '^Step' "$WORKDIR/image.txt") build steps, $(grep -c 'Using cache' "$WORKDIR/image.txt") cached)"
    size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
    if [ "$size" -lt 100000000 ]; then pass "image size $((size / 1000000)) MB (limit 100 MB)"
    else fail "image size $((size / 1000000)) MB, limit 100 MB"; fi
    entry=$(docker image inspect -f '{{json .Config.Entrypoint}}' "$IMAGE")
    want='["/usr/local/bin/gunicorn-observer"]'
    if [ "$entry" = "$want" ]; then pass "entrypoint $entry"; else fail "entrypoint $entry, expected $want"; fi
    labels=$(docker image inspect -f '{{json .Config.Labels}}' "$IMAGE")
    for l in title description version source licenses; do
        grep -q "\"org.opencontainers.image.$l\":" <<< "$labels" || missing="$missing $l"
    done
    if [ -z "$missing" ]; then pass "OCI labels title, description, version, source, licenses present"
    else fail "OCI labels missing:$missing ($labels)"; fi
    ver=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
    want=$(run docker run --rm --network host "$IMAGE" --version 2>&1)
    if [ -n "$ver" ] && [[ $want == "gunicorn-observer $ver "* ]]; then
        pass "version label '$ver' matches the binary's --version ($want)"
    else fail "version label '$ver' does not match the binary's --version: $want"; fi
    say "gunicorn app image $APP_IMAGE (log: $WORKDIR/app-image.txt)"
    # shellcheck disable=SC2046 # build_net is zero or two words
    if ! TMO=600 run docker build $(build_net) -t "$APP_IMAGE" -f "$E2E/app.Dockerfile" "$E2E" > "$WORKDIR/app-image.txt" 2>&1; then
        fail "docker build of $APP_IMAGE failed: $(tail -n 20 "$WORKDIR/app-image.txt")"
        finish
    fi
}

# The pod spec of deploy/kubernetes/daemonset.yaml: hostPID, read-only root filesystem,
# configuration from the environment, RuntimeDefault seccomp, unconfined AppArmor, the
# same hostPath mounts (read-only but the host's BPF filesystem, where it pins, under a
# directory of this test's own), capabilities from CAPS only. Host network where the pod has its own: this engine has no bridge.
start_observer_container() {
    local c d opts=(--pid host --network host --read-only --cap-drop ALL --security-opt apparmor=unconfined)
    if [ -d /sys/kernel/tracing/events ]; then opts+=(-v /sys/kernel/tracing:/sys/kernel/tracing:ro)
    elif [ -d /sys/kernel/debug/tracing/events ]; then opts+=(-v /sys/kernel/debug:/sys/kernel/debug:ro)
    else fail "tracefs is not mounted on the host: mount -t tracefs nodev /sys/kernel/tracing"; finish; fi
    if [ "$(stat -f -c %T /sys/fs/bpf 2> /dev/null)" != bpf_fs ]; then
        run mount -t bpf bpf /sys/fs/bpf || { fail "cannot mount the BPF filesystem on the host's /sys/fs/bpf"; finish; }
    fi
    opts+=(-v /sys/fs/bpf:/sys/fs/bpf -e GUNICORN_OBSERVER_PIN_DIR="$GUNICORN_OBSERVER_PIN_DIR")
    for d in /var/log/pods /var/log/containers; do
        if [ ! -d "$d" ]; then mkdir -p "$d" && MADE_DIRS+=("$d"); fi
        opts+=(-v "$d:$d:ro")
    done
    if [ -z "${CAPS:-}" ]; then
        CAPS=$CAPS_BPF
        docker run --rm --cap-drop ALL --cap-add BPF --entrypoint true "$IMAGE" > /dev/null 2>&1 || CAPS=$CAPS_OLD_ENGINE
    fi
    for c in ${CAPS//,/ }; do opts+=(--cap-add "$c"); done
    if ! POD_MEM=$(pod_memory limits) || ! POD_REQ=$(pod_memory requests); then
        fail "cannot read the memory request and limit of deploy/kubernetes/daemonset.yaml"
        finish
    fi
    opts+=(--memory "$POD_MEM")
    OPORT=$(free_port)
    say "observer container $NAME-observer: ${opts[*]}"
    start_container "$NAME-observer" "$OBSERVER_LOG" "${opts[@]}" -v /sys/kernel/btf:/sys/kernel/btf:ro \
        -e PROMETHEUS_BIND_ADDRESS=127.0.0.1 -e PROMETHEUS_METRICS_PORT="$OPORT" \
        -e GUNICORN_OBSERVER_LOG_LEVEL=info -e NODE_NAME="$(hostname)" "$IMAGE"
    OPID=$(container_pid "$NAME-observer")  # for wait_observer (lib.sh)
    wait_observer
}

# Gunicorn as PID 1 of a container with its own PID namespace, on the host's network;
# its name and backlog come from GUNICORN_CMD_ARGS, which the observer reads from
# /proc/<pid>/environ of the other container.
start_app_container() {
    local n=2 w view=()
    GPORT=$(free_port)
    say "gunicorn container $NAME-gunicorn: 127.0.0.1:$GPORT, $n sync workers, GUNICORN_CMD_ARGS='--name $APP_NAME --backlog 64'"
    start_container "$NAME-gunicorn" "$WORKDIR/gunicorn-container.log" --network host \
        -e GUNICORN_CMD_ARGS="--name $APP_NAME --backlog 64" -v "$HERE:/app:ro" -v "$WORKDIR:$WORKDIR" \
        "$APP_IMAGE" --chdir /app --bind "127.0.0.1:$GPORT" --workers "$n" -k sync \
        --access-logfile "$ACCESS_LOG" --access-logformat '%(p)s %(s)s %(D)s %(B)s' \
        --error-logfile "$GUNICORN_LOG" app:app
    GPID=$(container_pid "$NAME-gunicorn")
    for _ in $(seq 300); do
        alive "$GPID" || break
        if [ -n "$(ss -Htln "sport = :$GPORT")" ] &&
            [ "$(grep -c 'Booting worker with pid' "$GUNICORN_LOG" 2> /dev/null)" -ge "$n" ] &&
            [ "$(pgrep -c -P "$GPID")" -eq "$n" ]; then
            mapfile -t WORKER_PIDS < <(pgrep -P "$GPID")
            sleep 0.5  # let the workers finish loading the app
            for w in "$GPID" "${WORKER_PIDS[@]}"; do view+=("$w=$(awk '/^NSpid:/ {print $NF}' "/proc/$w/status")"); done
            if [ "$(readlink /proc/"$GPID"/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] && [[ ${view[0]} == *=1 ]]; then
                pass "gunicorn runs in a PID namespace of its own (host pid=container pid: ${view[*]})"
            else fail "gunicorn is not PID 1 of a PID namespace of its own (host pid=container pid: ${view[*]})"; fi
            return 0
        fi
        sleep 0.1
    done
    fail "gunicorn container did not start within 30 s: $(tail -n 5 "$GUNICORN_LOG" "$WORKDIR/gunicorn-container.log" 2> /dev/null)"
    finish
}

# What the observer read from the other container's /proc: app name, listener.
check_proc_reads() {
    local f=$WORKDIR/discover.txt app sendq bm
    scrape "$f"
    app=$(grep "^gunicorn_master_workers{" "$f" | grep "master_pid=\"$GPID\"" | sed -n 's/.*app="\([^"]*\)".*/\1/p')
    if [ "$app" = "$APP_NAME" ]; then pass "app label '$app' from GUNICORN_CMD_ARGS in the container's environment"
    else fail "app label '$app', expected '$APP_NAME' (from GUNICORN_CMD_ARGS: /proc/$GPID/environ unreadable?)"; fi
    sendq=$(ss -Hltn "sport = :$GPORT" | awk '{print $3}')
    bm=$(metric "$f" gunicorn_listener_backlog_max "master_pid=$GPID" "listen=127.0.0.1:$GPORT")
    if [ -n "$bm" ] && [ "$bm" = "$sendq" ]; then pass "gunicorn_listener_backlog_max{listen=127.0.0.1:$GPORT} $bm, ss Send-Q $sendq"
    else fail "gunicorn_listener_backlog_max{listen=127.0.0.1:$GPORT} '${bm:-absent}', ss Send-Q $sendq (/proc/$GPID/fd unreadable?)"; fi
}

# The two phases of run_standard (lib.sh), with the pids mapped before compare.py.
run_traffic() {
    local k=5 nsleep=50 l1 W=$WORKDIR
    [ "$QUICK" = 1 ] && k=1 nsleep=20
    local mix="/:$((40 * k)),/notfound:$((8 * k)),/error:$((8 * k)),/redirect:$((8 * k))"
    mix="$mix,/sleep:$((4 * k)),/big:$((8 * k)),/echo:$((24 * k))"
    say "phase mix: $mix, concurrency 4, from the host"
    client "$W/mix.json" --mix "$mix" --post-sizes 0,1,100,1000,4096,10000,65536,200000 --concurrency 4
    settle "$(client_total "$W/mix.json")"
    scrape "$W/s1.txt"
    l1=$(log_lines)
    say "phase sleep: /sleep x $nsleep, sequential"
    client "$W/sleep.json" --mix "/sleep:$nsleep"
    settle $((l1 + $(client_total "$W/sleep.json")))
    scrape "$W/s2.txt"
    say "map the container's pids to host pids"
    if ! run $PY "$E2E/hostpids.py" "$GPID" --log "$ACCESS_LOG" "$W/access-hostpids.txt" \
        --client "$W/mix.json" "$W/mix-hostpids.json" --client "$W/sleep.json" "$W/sleep-hostpids.json"; then
        fail "hostpids.py could not map the container's pids"
        return
    fi
    say "compare: whole run vs. access log and client bytes"
    compare full --metrics "$W/s2.txt" --log "$W/access-hostpids.txt" --client "$W/mix-hostpids.json" \
        --client "$W/sleep-hostpids.json" --master "$GPID" --app "$APP_NAME"
    say "compare: /sleep phase mean duration"
    compare duration --before "$W/s1.txt" --after "$W/s2.txt" --log "$W/access-hostpids.txt" \
        --log-from "$l1" --master "$GPID"
    promtool_check "$W/s2.txt"
}

# A DaemonSet pod is stopped with SIGTERM: the observer must detach and exit 0.
stop_observer_container() {
    local t0=$SECONDS code
    run docker stop -t 20 "$NAME-observer" > /dev/null
    code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME-observer")
    if [ "$code" = 0 ]; then pass "observer container stopped by SIGTERM in $((SECONDS - t0)) s, exit status 0"
    else fail "observer container exit status $code after docker stop (expected 0)"; fi
}

# The pod's successor: the same container started again reads on from the maps
# pinned on the host, with the programs that kept running meanwhile.
restart_observer_container() {
    local before after
    if ls "$GUNICORN_OBSERVER_PIN_DIR"/links-*/on_fork > /dev/null 2>&1; then
        pass "the stopped observer left its maps and programs pinned on the host ($GUNICORN_OBSERVER_PIN_DIR)"
    else fail "no pins on the host in $GUNICORN_OBSERVER_PIN_DIR: $(ls "$GUNICORN_OBSERVER_PIN_DIR" 2>&1)"; fi
    before=$(observer_total "$WORKDIR/s2.txt")
    run docker start "$NAME-observer" > /dev/null || { fail "docker start $NAME-observer"; return; }
    docker logs -f --since 1s "$NAME-observer" >> "$OBSERVER_LOG" 2>&1 &
    STARTED+=($!)
    OPID=$(container_pid "$NAME-observer")
    wait_observer
    scrape "$WORKDIR/s3.txt"
    after=$(observer_total "$WORKDIR/s3.txt")
    if grep -q "kept the programs left running" "$OBSERVER_LOG" && [ "$after" = "$before" ] &&
        [ "$after" = "$(log_lines)" ]; then
        pass "restarted observer container kept the running programs: $after requests, access log $(log_lines)"
    else
        fail "restarted observer container: $after requests (before $before, access log $(log_lines)); $(tail -n 3 "$OBSERVER_LOG")"
    fi
    stop_observer_container
}

if [ "$(id -u)" != 0 ]; then
    trap - EXIT
    rm -rf "$WORKDIR"
    echo "FAIL: the Docker e2e test must run as root"
    exit 1
fi
sh "$ROOT/tests/deps.sh" curl iproute2 procps prometheus || { fail "installing curl iproute2 procps prometheus"; finish; }
# dockerd's log is .txt, not .log: kept on failure but not printed (it is verbose)
if ! engine_up "$WORKDIR/dockerd.txt"; then fail "no Docker engine answers and dockerd could not be started"; finish; fi
if [ -n "$DOCKERD_PID" ]; then say "started dockerd (pid $DOCKERD_PID, --iptables=false --bridge=none); stopped at exit"; fi
check_build_deps
build_image
start_observer_container
start_app_container
wait_discovered
check_proc_reads
run_traffic
peak=$(container_memory_peak "$NAME-observer")
if [ -z "$peak" ]; then fail "cannot find the observer container's memory cgroup"
elif [ "$peak" -le "$POD_REQ" ]; then
    pass "observer container under the pod's limit ($((POD_MEM >> 20)) MiB), within its request: peak $((peak >> 20)) MiB (kernel memory included) of $((POD_REQ >> 20)) MiB"
else fail "observer container peak memory $((peak >> 20)) MiB over the pod's request $((POD_REQ >> 20)) MiB (limit $((POD_MEM >> 20)) MiB)"; fi
stop_observer_container
restart_observer_container
finish
