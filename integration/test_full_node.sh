#!/bin/bash
# Integration test: a node full of Gunicorns. BUSY masters x 4 sync workers, each with its
# own access log and port, with traffic on every worker; then IDLE more workers (masters of
# 50) that serve nothing. In one scrape: every busy worker's requests and responses by code
# exactly against its master's log, every idle worker present with 0 requests,
# tracked_workers/masters exact, nothing dropped, the observer's resident memory <= 16 MiB
# and the kernel memory of its BPF maps and programs <= 32 MiB. Prints the scrape time
# (median of 20), /metrics bytes per worker and the memory figures, which make bench reports.
# Forms: default 16 x 4 busy + 200 idle; --quick 8 x 4 + 100 idle; --full 64 x 4 + 1000 idle
# (make bench). --report=FILE writes the figures as JSON.
# Usage: sudo ./test_full_node.sh [--quick] [--ci] [--full] [--report=FILE]
. "$(dirname "$0")/lib.sh"
FULL=0 REPORT=''
# shellcheck disable=SC2034 # read by lib.sh's parse_args
SCRIPT_USAGE='[--full] [--report=FILE]'
script_arg() {
    case $1 in
        --full) FULL=1 ;;
        --report=?*) REPORT=${1#--report=} ;;
        *) return 1 ;;
    esac
}
parse_args "$@"
require_observer
BUSY=16 IDLE=200 PER_IDLE=50 REQS=24
[ "$QUICK" = 1 ] && BUSY=8 IDLE=100 REQS=12
[ "$FULL" = 1 ] && BUSY=64 IDLE=1000
N=$WORKDIR/node  # the many logs apart, so that a failure's log dump stays readable
mkdir -p "$N"
MASTERS=() PORTS=()

# start_master NAME WORKERS: in the background, with --preload (forks are cheap)
start_master() {
    local port
    port=$(free_port)
    "$GUNICORN" --chdir "$HERE" --bind "127.0.0.1:$port" --workers "$2" --preload --name "$1" \
        --access-logfile "$N/$1.access.log" --access-logformat "$ACCESS_FORMAT" \
        --error-logfile "$N/$1.gunicorn.log" app:app &
    STARTED+=("$!")
    MASTERS+=("$!")
    PORTS+=("$port")
}

# wait_masters FROM WORKERS...: the masters from index FROM on have their workers
wait_masters() {
    local from=$1 i t0=$SECONDS missing
    shift
    local want=("$@")
    while :; do
        missing=0
        for ((i = from; i < ${#MASTERS[@]}; i++)); do
            alive "${MASTERS[i]}" || { fail "master ${MASTERS[i]} exited: $(tail -n 3 "$N"/*"$i".gunicorn.log)"; finish; }
            [ "$(pgrep -c -P "${MASTERS[i]}")" -eq "${want[i - from]}" ] || missing=$((missing + 1))
        done
        [ "$missing" = 0 ] && break
        [ $((SECONDS - t0)) -gt 300 ] && { fail "$missing masters lack workers after 300 s"; finish; }
        sleep 0.5
    done
    for ((i = from; i < ${#MASTERS[@]}; i++)); do
        mapfile -t -O "${#ALL_WORKER_PIDS[@]}" ALL_WORKER_PIDS < <(pgrep -P "${MASTERS[i]}")
    done
    say "$((${#MASTERS[@]} - from)) masters up in $((SECONDS - t0)) s"
}

# scrape_until FILE WORKERS: scrapes until tracked_workers is WORKERS (60 s at most)
scrape_until() {
    local i
    for i in $(seq 300); do
        scrape "$1"
        [ "$(metric "$1" gunicorn_observer_tracked_workers)" = "$2" ] && return 0
        sleep 0.2
    done
    fail "tracked_workers $(metric "$1" gunicorn_observer_tracked_workers), expected $2 after 60 s"
}

# a_log_total: lines in every busy master's access log
a_log_total() { cat "$N"/busy*.access.log 2>/dev/null | wc -l; }

start_observer --match "$WORKDIR" --no-pin
say "$BUSY busy masters x 4 workers"
for i in $(seq 0 $((BUSY - 1))); do start_master "busy$i" 4; done
mapfile -t four < <(yes 4 | head -n "$BUSY")
wait_masters 0 "${four[@]}"
args=()
for i in $(seq 0 $((BUSY - 1))); do args+=(--port "${PORTS[i]}:4"); done
if TMO=120 run $PY "$HERE/node_client.py" "${args[@]}" --requests "$REQS" --out "$WORKDIR/traffic.json"; then
    pass "traffic: every one of the $((BUSY * 4)) busy workers answered"
else
    fail "traffic: a request failed or a worker never answered (see $WORKDIR/traffic.json)"
fi
sent=$($PY -c 'import json, sys; print(sum(m["responses"] for m in json.load(open(sys.argv[1])).values()))' "$WORKDIR/traffic.json")
for i in $(seq 100); do [ "$(a_log_total)" -ge "$sent" ] && break; sleep 0.1; done

nidle=$(((IDLE + PER_IDLE - 1) / PER_IDLE))
say "$IDLE idle workers: $nidle masters of $PER_IDLE"
sizes=()
for i in $(seq 0 $((nidle - 1))); do
    w=$PER_IDLE
    [ $(((i + 1) * PER_IDLE)) -gt "$IDLE" ] && w=$((IDLE - i * PER_IDLE))
    start_master "idle$i" "$w"
    sizes+=("$w")
done
wait_masters "$BUSY" "${sizes[@]}"
total=$((BUSY * 4 + IDLE))
scrape_until "$WORKDIR/full.txt" "$total"

say "check: one scrape against $BUSY access logs ($(a_log_total) lines)"
args=(--metrics "$WORKDIR/full.txt" --busy-workers 4 --rss-max 16 --kernel-max 32)
for i in $(seq 0 $((BUSY - 1))); do args+=(--busy "${MASTERS[i]}:$N/busy$i.access.log"); done
for i in $(seq 0 $((nidle - 1))); do args+=(--idle "${MASTERS[BUSY + i]}:${sizes[i]}"); done
out=$(run $PY "$HERE/node_check.py" "${args[@]}" 2>&1)
tally "node_check.py" "$?" "$out"

say "figures: 20 scrapes"
for i in $(seq 20); do
    curl -sf --max-time 10 -o "$WORKDIR/last.txt" -w '%{time_total}\n' "http://127.0.0.1:$OPORT/metrics"
done > "$WORKDIR/times.txt"
bytes=$(wc -c < "$WORKDIR/last.txt")
# shellcheck disable=SC2016
figures=$($PY - "$WORKDIR/times.txt" "$WORKDIR/last.txt" "$total" "$BUSY" "$IDLE" "$bytes" "$OPID" <<'PY'
import json, statistics, sys
times = sorted(float(x) * 1e3 for x in open(sys.argv[1]).read().split())
m = {}
for line in open(sys.argv[2]):
    if line.startswith("gunicorn_observer_"):
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
total, busy, idle, size = (int(x) for x in sys.argv[3:7])
status = dict(l.split(":", 1) for l in open("/proc/%s/status" % sys.argv[7]) if ":" in l)
kib = lambda k: int(status[k].split()[0])
selfs = m.get("gunicorn_observer_scrape_duration_seconds", 0) * 1e3
kernel = sum(v for k, v in m.items() if k.startswith("gunicorn_observer_bpf_memory_bytes"))
print(json.dumps({"workers": total, "busy_masters": busy, "busy_workers": busy * 4, "idle_workers": idle,
                  "scrape_ms_median": statistics.median(times), "scrape_ms_max": times[-1],
                  "self_scrape_ms": selfs, "metrics_bytes": size, "bytes_per_worker": size / total,
                  "rss_kib": kib("VmRSS"), "hwm_kib": kib("VmHWM"), "kernel_bytes": kernel}))
PY
)
echo "$figures"
[ -n "$REPORT" ] && echo "$figures" > "$REPORT"
say "stopping $((${#MASTERS[@]})) masters"
kill -TERM "${MASTERS[@]}" 2>/dev/null
for pid in "${MASTERS[@]}"; do wait "$pid" 2>/dev/null; done
finish
