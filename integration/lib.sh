# Shared helpers for the gunicorn-observer integration tests; the test_*.sh scripts source it.
# Options: --quick (fewer requests), --ci (hard timeouts; logs printed on failure).
# Environment: VERBOSE=1 (show commands), OBSERVER=path (default ../build/gunicorn-observer),
# KEEP=1 (keep the work directory; it is always kept on failure),
# GUNICORN_OBSERVER_DATA_PLANE=socket|syscall (the observer's own variable, set per run by
# tests/run.sh for scripts with a "# data-planes:" line): every observer started must log
# that it runs that data plane (check_data_plane).
# Cleans up, on every exit, only the processes this script started.

set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
OBSERVER=${OBSERVER:-$HERE/../build/gunicorn-observer}
GUNICORN=${GUNICORN:-/usr/bin/gunicorn}
VERBOSE=${VERBOSE:-0}
SETTLE_SECS=${SETTLE_SECS:-5}   # bound on observer lag after the last request
QUICK=0 CI=0 PASSED=0 FAILED=0
STARTED=()       # pids this script started, in start order
WORKER_PIDS=()   # workers of the last gunicorn master this script started
ALL_WORKER_PIDS=()
GPID='' GPORT='' OPID='' OPORT=''
# start_gunicorn binds 127.0.0.1:<free port> (GPORT), or the UNIX socket GUNICORN_UNIX when a
# script sets it (GPORT is then empty); its access log has ACCESS_FORMAT, whose first four
# fields compare.py reads (more may follow: '%(m)s %(U)s' for compare.py routes)
GUNICORN_UNIX='' ACCESS_FORMAT='%(p)s %(s)s %(D)s %(B)s'
DATA_PLANE=${GUNICORN_OBSERVER_DATA_PLANE:-}
WORKDIR=$(mktemp -d /tmp/gobs-it.XXXXXX)
ACCESS_LOG=$WORKDIR/access.log GUNICORN_LOG=$WORKDIR/gunicorn.log OBSERVER_LOG=$WORKDIR/observer.log
# Observers of this script pin their maps and programs here, apart from any
# other observer on the host; removed on exit.
GUNICORN_OBSERVER_PIN_DIR=/sys/fs/bpf/${WORKDIR##*/}
export GUNICORN_OBSERVER_PIN_DIR=${GUNICORN_OBSERVER_PIN_DIR//./-}
exec 3>&1 4>&2  # the script's own stdout/stderr, for vsay and cleanup

parse_args() {
    local a
    for a in "$@"; do
        case $a in
            --quick) QUICK=1 ;;
            --ci) CI=1 ;;
            -v|--verbose) VERBOSE=1 ;;
            *) # a script may take more: its script_arg ARG returns 0 for one it knows
                if ! declare -F script_arg > /dev/null || ! script_arg "$a"; then
                    echo "usage: $0 [--quick] [--ci]${SCRIPT_USAGE:+ $SCRIPT_USAGE}   (env: VERBOSE=1 OBSERVER=path KEEP=1)"
                    exit 2
                fi ;;
        esac
    done
}

say() { echo "== $*"; }
vsay() { if [ "$VERBOSE" = 1 ]; then echo "   $*" >&3; fi; }  # fd 3: not captured by $(...)
# run CMD...: external command, echoed when VERBOSE, under a hard timeout (TMO s) with --ci
run() {
    vsay "+ $*"
    if [ "$CI" = 1 ]; then timeout -k 5 "${TMO:-120}" "$@"; else "$@"; fi
}

pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && exit 0
    exit 1
}

alive() { # pid is running (not a zombie)
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

stop_pid() {
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then echo "   pid $pid ignored SIGTERM for 10 s, sending SIGKILL"; kill -KILL "$pid"; fi
    wait "$pid" 2>/dev/null
    return 0
}

dump_logs() {
    local f n
    for f in "$WORKDIR"/*.log; do
        [ -f "$f" ] || continue
        n=$(wc -l < "$f")
        echo "----- $f ($n lines$([ "$n" -gt 300 ] && echo ', last 300 shown'))"
        tail -n 300 "$f"
    done
}

cleanup() {
    local rc=$? i pid
    trap - EXIT INT TERM
    exec 1>&3 2>&4  # a trap may fire inside a redirected command
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[i]}"; done
    for pid in "${ALL_WORKER_PIDS[@]}"; do  # workers orphaned by a killed master
        if alive "$pid" && grep -q gunicorn "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid"; fi
    done
    if [ -d "$GUNICORN_OBSERVER_PIN_DIR" ] && ! { [ -x "$OBSERVER" ] && "$OBSERVER" cleanup > /dev/null; } &&
        ! rm -rf "$GUNICORN_OBSERVER_PIN_DIR"; then
        echo "   could not remove the pins in $GUNICORN_OBSERVER_PIN_DIR"
    fi
    if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
        [ "$CI" = 1 ] && dump_logs
        echo "logs kept in $WORKDIR"
    elif [ "${KEEP:-0}" = 1 ]; then
        echo "work directory kept: $WORKDIR"
    else
        rm -rf "$WORKDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # a free loopback port, never one this script got before
    local p
    while :; do
        p=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        grep -qx "$p" "$WORKDIR/ports" 2>/dev/null && continue  # a file: $(free_port) is a subshell
        echo "$p" >> "$WORKDIR/ports"
        echo "$p"
        return
    done
}

require_observer() {
    local why=''
    [ "$(id -u)" = 0 ] || why="integration tests must run as root"
    [ -x "$OBSERVER" ] || why="observer binary not found at $OBSERVER (build it first, or set OBSERVER=)"
    if [ -n "$why" ]; then
        trap - EXIT
        rm -rf "$WORKDIR"
        echo "FAIL: $why"
        exit 1
    fi
}

# start_gunicorn NWORKERS EXTRA_ARGS...: start app:app, wait until it listens with N booted workers
start_gunicorn() {
    local n=$1 i bind listening
    shift
    if [ -n "$GUNICORN_UNIX" ]; then
        GPORT='' bind=unix:$GUNICORN_UNIX
        rm -f "$GUNICORN_UNIX"
    else
        GPORT=$(free_port) bind=127.0.0.1:$GPORT
    fi
    vsay "+ $GUNICORN --bind $bind --workers $n $* app:app"
    "$GUNICORN" --chdir "$HERE" --bind "$bind" --workers "$n" \
        --access-logfile "$ACCESS_LOG" --access-logformat "$ACCESS_FORMAT" \
        --error-logfile "$GUNICORN_LOG" "$@" app:app &
    GPID=$!
    STARTED+=("$GPID")
    for i in $(seq 300); do
        alive "$GPID" || break
        if [ -n "$GUNICORN_UNIX" ]; then listening=$(ss -Hxl "src $GUNICORN_UNIX")
        else listening=$(ss -Htln "sport = :$GPORT"); fi
        if [ -n "$listening" ] &&
            [ "$(cat "$GUNICORN_LOG" 2>/dev/null | grep -c 'Booting worker with pid')" -ge "$n" ] &&
            [ "$(pgrep -c -P "$GPID")" -eq "$n" ]; then
            mapfile -t WORKER_PIDS < <(pgrep -P "$GPID")
            ALL_WORKER_PIDS+=("${WORKER_PIDS[@]}")
            say "gunicorn master $GPID on ${GPORT:+port }${GPORT:-$bind}, workers ${WORKER_PIDS[*]} ($*)"
            sleep 0.5  # let the workers finish loading the app
            return 0
        fi
        sleep 0.1
    done
    fail "gunicorn did not start within 30 s: $(tail -n 5 "$GUNICORN_LOG" 2>/dev/null)"
    finish
}

start_observer() {
    OPORT=$(free_port)
    vsay "+ $OBSERVER --listen 127.0.0.1:$OPORT $*"
    "$OBSERVER" --listen "127.0.0.1:$OPORT" "$@" > "$OBSERVER_LOG" 2>&1 &
    OPID=$!
    STARTED+=("$OPID")
    wait_observer
}

# wait_observer: until the observer this script started (OPID) answers /healthz on OPORT
wait_observer() {
    local i code=''
    for i in $(seq 300); do
        alive "$OPID" || break
        code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$OPORT/healthz")
        if [ "$code" = 200 ]; then
            pass "observer pid $OPID answers /healthz on port $OPORT"
            check_data_plane "$OBSERVER_LOG"
            return 0
        fi
        sleep 0.1
    done
    fail "observer did not answer /healthz with 200 within 30 s (last code '$code', $(alive "$OPID" && echo running || echo exited)): $(tail -n 5 "$OBSERVER_LOG")"
    finish
}

# check_data_plane [LOG]: with GUNICORN_OBSERVER_DATA_PLANE socket, fentry or syscall, the observer's
# log (default OBSERVER_LOG) must say it runs that plane; nothing to check otherwise
check_data_plane() {
    local log=${1:-$OBSERVER_LOG} want i
    case $DATA_PLANE in
        socket) want='data plane: socket tracepoints' ;;
        fentry) want='data plane: fentry (fexit on' ;;
        syscall) want='data plane: syscall tracepoints' ;;
        '') return 0 ;;
        *) fail "GUNICORN_OBSERVER_DATA_PLANE='$DATA_PLANE' is not socket, fentry or syscall"; return 1 ;;
    esac
    for i in $(seq 20); do  # logged at start, before /healthz answers; a little slack all the same
        grep -qF "$want" "$log" 2>/dev/null && {
            pass "observer log says '$want' (GUNICORN_OBSERVER_DATA_PLANE=$DATA_PLANE)"
            [ "$log" = "$OBSERVER_LOG" ] && check_hooks
            return 0
        }
        sleep 0.1
    done
    fail "observer log does not say '$want' (GUNICORN_OBSERVER_DATA_PLANE=$DATA_PLANE): this run does not test that data plane; its data plane line: '$(grep -m 1 'data plane' "$log")'"
    return 1
}

# check_hooks: the programs the observer (OPID) attached are its data plane's, and the socket
# and fentry planes attach no syscall tracepoint (every syscall of every process would pay for
# it). The fentry plane's links are no perf events: its fexit links (attach_type 25,
# BPF_TRACE_FEXIT) are counted in the observer's /proc/PID/fdinfo.
# An observer that kept pinned programs attached nothing itself: nothing to check. Its uprobes
# (TLS) are not among the hooks checked here.
check_hooks() {
    local hooks
    [ -n "$OPID" ] || return 0  # an observer this script runs through a wrapper (unshare)
    # the TLS uprobes (bound to TLS masters by hand, never pinned) are no data plane's
    hooks=$(bpftool perf list 2>/dev/null | awk -v p="$OPID" '$1 == "pid" && $2 == p && $7 != "uprobe" && $7 != "uretprobe" {print $NF}' | sort -u | tr '\n' ' ')
    if [ -z "$hooks" ]; then
        grep -q 'kept the programs' "$OBSERVER_LOG" && return 0
        fail "observer $OPID holds no tracepoint links (bpftool perf list)"
        return 1
    fi
    case $DATA_PLANE in
        socket)
            if grep -qE '(^| )sys_(enter|exit)_' <<< "$hooks" || ! grep -qw sock_recv_length <<< "$hooks"; then
                fail "socket plane: observer $OPID is attached to: $hooks"
            else
                pass "socket plane: no syscall tracepoint attached ($hooks)"
            fi ;;
        fentry)
            local fx
            fx=$(cat /proc/"$OPID"/fdinfo/* 2>/dev/null | awk '/^link_type:/ {t = $2} /^attach_type:/ && t == "tracing" && $2 == 25 {n++} END {print n + 0}')
            if grep -qE '(^| )sys_(enter|exit)_' <<< "$hooks" || grep -qw sock_recv_length <<< "$hooks" || [ "$fx" -lt 4 ]; then
                fail "fentry plane: observer $OPID holds $fx fexit links and is attached to: $hooks"
            else
                pass "fentry plane: $fx fexit links, no syscall or socket tracepoint attached ($hooks)"
            fi ;;
        syscall)
            if grep -qw sys_exit_read <<< "$hooks" && ! grep -qw sock_recv_length <<< "$hooks"; then
                pass "syscall plane: syscall tracepoints attached, no socket tracepoint"
            else
                fail "syscall plane: observer $OPID is attached to: $hooks"
            fi ;;
    esac
}

scrape() { run curl -sf --max-time 10 -o "$1" "http://127.0.0.1:$OPORT/metrics" || fail "scrape of /metrics failed"; }

# map_entries FILE MAP: gunicorn_observer_bpf_map_entries{map=MAP} in a scrape file
# metric FILE NAME{LABELS}: the value of one series in a scrape file, empty when absent
metric() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
map_entries() { metric "$1" "gunicorn_observer_bpf_map_entries{map=\"$2\"}"; }

log_lines() { if [ -f "$ACCESS_LOG" ]; then wc -l < "$ACCESS_LOG"; else echo 0; fi; }

# sum of gunicorn_worker_requests_total of our master in a scrape file
observer_total() {
    grep '^gunicorn_worker_requests_total{' "$1" | grep "master_pid=\"$GPID\"" |
        awk '{s += $NF} END {printf "%d\n", s}'
}

# wait until the observer reports the master and every worker (some series with their pids)
wait_discovered() {
    local i f=$WORKDIR/discover.txt w missing='' t0=$SECONDS
    for i in $(seq 100); do
        curl -sf --max-time 5 -o "$f" "http://127.0.0.1:$OPORT/metrics" || true
        missing=''
        grep -q "master_pid=\"$GPID\"" "$f" 2>/dev/null || missing="master $GPID"
        for w in "${WORKER_PIDS[@]}"; do
            grep -q "worker_pid=\"$w\"" "$f" 2>/dev/null || missing="$missing worker $w"
        done
        [ -z "$missing" ] && { pass "observer tracks master $GPID and workers ${WORKER_PIDS[*]} (within $((SECONDS - t0 + 1)) s)"; return 0; }
        sleep 0.2
    done
    fail "observer shows no series for:$missing after 20 s (continuing)"
}

# settle [EXPECTED_LOG_LINES]: wait for gunicorn's access log (that many lines, or stable
# for 1 s), then up to SETTLE_SECS for the observer's worker request total to reach it
settle() {
    local want=${1:-} i n prev=-1 f=$WORKDIR/settle.txt
    if [ -n "$want" ]; then
        for i in $(seq 100); do [ "$(log_lines)" -ge "$want" ] && break; sleep 0.1; done
    else
        for i in $(seq 20); do n=$(log_lines); [ "$n" = "$prev" ] && break; prev=$n; sleep 1; done
    fi
    n=$(log_lines)
    [ -n "$want" ] && [ "$n" -lt "$want" ] && fail "access log has $n lines, expected $want after 10 s"
    for i in $(seq $((SETTLE_SECS * 10))); do
        curl -sf --max-time 5 -o "$f" "http://127.0.0.1:$OPORT/metrics" &&
            [ "$(observer_total "$f")" -ge "$n" ] && break
        sleep 0.1
    done
    sleep 0.3
    vsay "settled: access log $n lines, observer total $(observer_total "$f")"
}

# await_log N [SECS]: wait (default up to 10 s) for the access log to have N lines, and no
# longer: unlike settle it never waits for the observer, so a scrape right after must
# already be exact (responses are counted when their last byte is written)
await_log() {
    local want=$1 i
    for i in $(seq $((${2:-10} * 20))); do [ "$(log_lines)" -ge "$want" ] && return 0; sleep 0.05; done
    fail "access log has $(log_lines) lines, expected $want after ${2:-10} s"
    return 1
}

# client OUT.json CLIENT_ARGS...: run client.py against our gunicorn
client() {
    local out=$1
    shift
    if TMO=300 run $PY "$HERE/client.py" --port "$GPORT" --out "$out" "$@"; then
        pass "client $(basename "$out") completed every request"
    else
        fail "client $(basename "$out") had errors (see $out)"
    fi
}

client_total() { $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["totals"]["requests"])' "$1"; }

# compare MODE ARGS...: run compare.py, count its PASS/FAIL lines into ours
compare() {
    local out rc
    out=$(run $PY "$HERE/compare.py" "$@" 2>&1)
    rc=$?
    tally "compare.py $1" "$rc" "$out"
}

# tally NAME RC OUTPUT: print a checker's output and count its PASS/FAIL lines into ours
tally() {
    local p f
    echo "$3"
    p=$(grep -c '^PASS:' <<< "$3")
    f=$(grep -c '^FAIL:' <<< "$3")
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$1 exited $2 without a FAIL line"; fi
}

promtool_check() {
    local out rc
    out=$(run promtool check metrics < "$1" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ] && [ -z "$out" ]; then pass "promtool check metrics on $(basename "$1"): clean"
    else fail "promtool check metrics on $(basename "$1") (rc=$rc): $(head -n 20 <<< "$out")"; fi
}

# run_standard KEEPALIVE CONCURRENCY: the mix phase then the /sleep phase, and all checks
run_standard() {
    local ka=$1 conc=$2 k=5 nsleep=50 l1 W=$WORKDIR
    [ "$QUICK" = 1 ] && k=1 nsleep=20
    local mix="/:$((40 * k)),/notfound:$((8 * k)),/error:$((8 * k)),/redirect:$((8 * k))"
    mix="$mix,/sleep:$((4 * k)),/big:$((8 * k)),/echo:$((24 * k))"
    say "phase mix: $mix, keep-alive $ka, concurrency $conc"
    client "$W/mix.json" --mix "$mix" --post-sizes 0,1,100,1000,4096,10000,65536,200000 \
        --keepalive "$ka" --concurrency "$conc"
    settle "$(client_total "$W/mix.json")"
    scrape "$W/s1.txt"
    l1=$(log_lines)
    say "phase sleep: /sleep x $nsleep, keep-alive $ka, sequential"
    client "$W/sleep.json" --mix "/sleep:$nsleep" --keepalive "$ka"
    settle $((l1 + $(client_total "$W/sleep.json")))
    scrape "$W/s2.txt"
    say "compare: whole run vs. access log and client bytes"
    compare full --metrics "$W/s2.txt" --log "$ACCESS_LOG" --client "$W/mix.json" \
        --client "$W/sleep.json" --master "$GPID" --app app:app
    say "compare: /sleep phase mean duration"
    compare duration --before "$W/s1.txt" --after "$W/s2.txt" --log "$ACCESS_LOG" \
        --log-from "$l1" --master "$GPID"
    promtool_check "$W/s2.txt"
}
