#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: hostile and odd traffic. For every section the observer's counts
# (per status code, per worker where Gunicorn's log names it) must equal Gunicorn's
# access log, corrected only by what the client knows the observer sees on the wire
# and Gunicorn does not log (400 answers to requests it cannot parse) or the reverse
# (adv_client.py's "adjust"); the observer must stay up; in-flight gauges return to 0
# and the BPF map entries (conns, stash, procs) to their baseline.
#  gthread: malformed request lines, binary garbage, oversized header blocks, HTTP/1.0;
#           pipelined requests; 1 MiB bodies in 4 KiB sends; streamed, chunked and
#           sendfile responses (bytes exact vs the client); RST mid-response, connect
#           and send nothing, half-close; slowloris connections beside normal traffic
#  sync:    slowloris beside traffic; closed-unused connections before each request
#           (fd reuse) while workers recycle every 4 requests (pid and fd reuse)
#  gevent:  slowloris beside traffic, pipelining, RST mid-response; then the master is
#           SIGKILLed and its orphaned workers die: its series and map entries go
#  a connection map of 64 entries (--max-connections 64) and more connections open at
#  once: the excess is counted as conn_map_full drops, the rest exactly, nothing leaks
#  room for 3 workers (--max-workers 3) and 5 workers: 3 exact, the others as drops
# Usage: sudo ./test_adversarial.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
W=$WORKDIR
K=3 NSLOW=200 NHOLD=150
[ "$QUICK" = 1 ] && K=1 NSLOW=60 NHOLD=100
export PYTHONDONTWRITEBYTECODE=1
SECTION='' L0=0 CLIENTS=() BASE_PROCS=0

# adv NAME SCENARIO ARGS...: run adv_client.py, its summary in $W/NAME.json
adv() {
    local name=$1 out
    shift
    out=$(TMO=120 run $PY "$HERE/adv_client.py" --port "$GPORT" --out "$W/$name.json" "$@" 2>&1)
    if [ $? -eq 0 ]; then pass "client $name: $out"; else fail "client $name: $out"; fi
    CLIENTS+=(--client "$W/$name.json")
}

begin() {
    SECTION=$1 CLIENTS=()
    say "section $SECTION"
    scrape "$W/$SECTION.before.txt"
    L0=$(log_lines)
}

# quiesce: until the access log is still, every in-flight gauge is 0 and the
# connection and stash maps are back to empty (bounded: 15 s)
quiesce() {
    local n prev=-1 f=$W/quiesce.txt
    for _ in $(seq 150); do
        n=$(log_lines)
        if curl -sf --max-time 5 -o "$f" "http://127.0.0.1:$OPORT/metrics" && [ "$n" = "$prev" ] &&
            [ "$(map_entries "$f" conns)" = 0 ] && [ "$(map_entries "$f" stash)" = 0 ] &&
            ! grep -q '^gunicorn_worker_in_flight_requests{.*} [1-9]' "$f"; then
            break
        fi
        prev=$n
        sleep 0.1
    done
    sleep 0.2
}

# end CHECK_ARGS...: settle, scrape, check the section with adv_check.py
end() {
    local out
    quiesce
    scrape "$W/$SECTION.after.txt"
    if alive "$OPID"; then pass "$SECTION: observer still running"; else fail "$SECTION: observer died: $(tail -n 3 "$OBSERVER_LOG")"; fi
    out=$(run $PY "$HERE/adv_check.py" --what "$SECTION" --before "$W/$SECTION.before.txt" \
        --after "$W/$SECTION.after.txt" --log "$ACCESS_LOG" --log-from "$L0" --log-to "$(log_lines)" \
        --master "$GPID" "${CLIENTS[@]}" --entries conns=0 --entries stash=0 --entries "procs=$BASE_PROCS" "$@" 2>&1)
    tally "adv_check.py $SECTION" "$?" "$out"
}

# new_master NAME GUNICORN_ARGS...: a master of its own, with its own logs
new_master() {
    local name=$1
    shift
    ACCESS_LOG=$W/access-$name.log GUNICORN_LOG=$W/gunicorn-$name.log
    start_gunicorn "$@"
    BASE_PROCS=$((BASE_PROCS + 1 + $1))
    wait_discovered
}

stop_master() {
    stop_pid "$GPID"
    BASE_PROCS=$((BASE_PROCS - 1 - ${#WORKER_PIDS[@]}))
}

# Only this script's masters: their command lines name its work directory.
start_observer --match "$W" --no-pin
scrape "$W/empty.txt"
for m in conns stash procs; do
    n=$(map_entries "$W/empty.txt" $m)
    if [ "$n" = 0 ]; then pass "baseline: bpf_map_entries{map=$m} is 0 with no Gunicorn"
    else fail "baseline: bpf_map_entries{map=$m} is '$n' with no Gunicorn, expected 0"; fi
done

## gthread ---------------------------------------------------------------------
new_master gthread 2 -k gthread --threads 4 --keep-alive 2 --log-level debug

begin garbage
adv garbage garbage --count "$K"
end --aborted 0:0

begin pipeline
adv pipeline pipeline --conns $((10 * K)) --depth 5
end --per-worker --bytes --aborted 0:0

begin bodies
adv bodies body --count $((2 * K)) --size 1048576 --piece 4096
adv streams stream --count "$K"
end --per-worker --bytes --aborted 0:0

begin disconnects
adv reset disconnect --count $((3 * K))
adv idle idle --count $((10 * K))
adv halfclose halfclose --count $((4 * K))
end --per-worker --aborted $((3 * K)):$((3 * K))

begin slowloris
adv slowloris slowloris --conns "$NSLOW" --hold 2 &
slow=$!
sleep 0.5
client "$W/normal.json" --mix "/:$((20 * K)),/notfound:$((4 * K)),/echo:$((6 * K))" --concurrency 2
wait "$slow"
CLIENTS+=(--client "$W/normal.json")
end --per-worker --aborted "$NSLOW:$NSLOW"

# A worker SIGKILLed while its threads wait in recv on slow clients: its
# connection entries (and syscall entries, on kernels where reads are stashed
# at entry) must go with it. A connection is followed from its first request
# read: with 2 workers x 4 threads, at least one worker's 4 threads each hold
# one slow client's partial request (the rest wait unread in the poller).
begin worker-kill
adv slowloris-kill slowloris --conns 20 --hold 3 &
slow=$!
sleep 0.5
for _ in $(seq 20); do
    scrape "$W/worker-kill.mid.txt"
    c=$(map_entries "$W/worker-kill.mid.txt" conns) st=$(map_entries "$W/worker-kill.mid.txt" stash)
    [ "${c:-0}" -ge 8 ] && break
    sleep 0.1
done
if [ "${c:-0}" -ge 4 ]; then pass "worker-kill: while 20 slow clients wait: $c connection entries ($st syscall entries)"
else fail "worker-kill: while 20 slow clients wait: '$c' connection entries, expected >= 4"; fi
victim=${WORKER_PIDS[0]}
kill -KILL "$victim"
wait "$slow"
for _ in $(seq 100); do [ "$(pgrep -c -P "$GPID")" = 2 ] && ! alive "$victim" && break; sleep 0.1; done
mapfile -t WORKER_PIDS < <(pgrep -P "$GPID")
ALL_WORKER_PIDS+=("${WORKER_PIDS[@]}")
end
stop_master

## sync ------------------------------------------------------------------------
# Each slow client holds a sync worker until it leaves: 10 of them for 1 s.
new_master sync 2 --timeout 30 --log-level debug

begin sync-slowloris
adv slowloris-sync slowloris --conns 10 --hold 1 &
slow=$!
sleep 0.3
client "$W/normal-sync.json" --mix "/:$((10 * K)),/echo:$((4 * K))"
wait "$slow"
CLIENTS+=(--client "$W/normal-sync.json")
end --per-worker --aborted 1:10
stop_master

new_master recycle 2 --max-requests 4 --timeout 30 --log-level debug

begin fdreuse
adv fdreuse fdreuse --count $((10 * K))
end --aborted 0:0
n=$(pgrep -c -P "$GPID")
recycled=$(grep -c 'Autorestarting worker' "$GUNICORN_LOG")
if [ "$recycled" -ge 2 ] && [ "$n" = 2 ]; then pass "sync: $recycled workers recycled by --max-requests 4, 2 live"
else fail "sync: $recycled workers recycled, $n live (expected >= 2 recycled, 2 live)"; fi
mapfile -t WORKER_PIDS < <(pgrep -P "$GPID")
stop_master

## gevent ----------------------------------------------------------------------
new_master gevent 2 -k gevent --worker-connections 1000 --log-level debug

begin gevent-slowloris
adv slowloris-gevent slowloris --conns "$NSLOW" --hold 2 &
slow=$!
sleep 0.5
client "$W/normal-gevent.json" --mix "/:$((20 * K)),/notfound:$((4 * K)),/echo:$((6 * K))" --concurrency 4
wait "$slow"
CLIENTS+=(--client "$W/normal-gevent.json")
end --per-worker --aborted "$NSLOW:$NSLOW"

begin gevent-pipeline
adv pipeline-gevent pipeline --conns $((10 * K)) --depth 5
adv reset-gevent disconnect --count $((2 * K))
end --per-worker --aborted $((2 * K)):$((2 * K))

begin master-sigkill
victims=("${WORKER_PIDS[@]}")
kill -KILL "$GPID"
wait "$GPID" 2>/dev/null
for _ in $(seq 30); do
    n=0
    for p in "${victims[@]}"; do alive "$p" && n=$((n + 1)); done
    [ "$n" = 0 ] && break
    sleep 0.1
done
[ "$n" != 0 ] && for p in "${victims[@]}"; do alive "$p" && kill -KILL "$p"; done
pass "master $GPID SIGKILLed; its workers ${victims[*]} exited ($n still alive after 3 s were killed)"
BASE_PROCS=0
end --gone
f=$W/master-sigkill.after.txt
if [ "$(metric "$f" gunicorn_observer_tracked_masters)" = 0 ] && [ "$(metric "$f" gunicorn_observer_tracked_workers)" = 0 ]; then
    pass "master-sigkill: tracked masters and workers back to 0"
else
    fail "master-sigkill: tracked masters $(metric "$f" gunicorn_observer_tracked_masters), workers $(metric "$f" gunicorn_observer_tracked_workers), expected 0"
fi

## a connection map smaller than the open connections ------------------------
say "observer restarted with --max-connections 64"
stop_pid "$OPID"
start_observer --match "$W" --no-pin --max-connections 64
new_master maxconn 2 -k gthread --threads 4 --keep-alive 2 --log-level debug
cap=$(metric "$W/discover.txt" 'gunicorn_observer_bpf_map_capacity{map="conns"}')
if [ "$cap" = 64 ]; then pass "bpf_map_capacity{map=conns} is 64"; else fail "bpf_map_capacity{map=conns} is '$cap', expected 64"; fi

# Connections are followed from their first request to their close: idle ones
# that never ask take no entry, so all of hold's are counted; keep-alive ones
# left open after a request fill the map, and the first request of each that
# found it full is one drop (its second comes after the first 64 closed).
begin maxconn
adv hold hold --conns "$NHOLD" --hold 1
end --drops conn_map_full=0:0 --aborted 0:0

begin maxconn-keepalive
adv holdka holdka --conns "$NHOLD" --hold 0.2
end --minus-drops conn_map_full --drops "conn_map_full=$((NHOLD - 64)):$NHOLD" --aborted 0:0

begin maxconn-after
client "$W/after-full.json" --mix "/:$((10 * K)),/echo:$((4 * K))" --concurrency 2
CLIENTS+=(--client "$W/after-full.json")
end --per-worker --drops conn_map_full=0:0 --aborted 0:0
promtool_check "$W/maxconn-after.after.txt"

## fewer stats entries than workers ---------------------------------------------
# 5 workers, room for 3: the first 3 forked count exactly; the 2 others count as
# stats_map_full when tracked and as stats_missing for each of their requests.
say "observer restarted with --max-workers 3"
stop_master
stop_pid "$OPID"
start_observer --match "$W" --no-pin --max-workers 3
ACCESS_LOG=$W/access-maxworkers.log GUNICORN_LOG=$W/gunicorn-maxworkers.log
start_gunicorn 5 -k sync
client "$W/maxworkers.json" --mix "/:$((40 * K))" --concurrency 5
await_log "$(client_total "$W/maxworkers.json")"
sleep 1
scrape "$W/maxworkers.txt"
out=$(PYTHONPATH=$HERE $PY - "$W/maxworkers.txt" "$ACCESS_LOG" "$GPID" <<'PY'
import collections, sys
from compare import parse_log, parse_metrics
s = parse_metrics(sys.argv[1])
log = collections.Counter(r[0] for r in parse_log(sys.argv[2], 0, None))
one = {(n, l.get("map") or l.get("reason")): v for n, l, v in s if set(l) <= {"map", "reason"}}
got = {l["worker_pid"]: v for n, l, v in s if n == "gunicorn_worker_requests_total" and l.get("master_pid") == sys.argv[3]}
def check(ok, msg):
    print(("PASS: " if ok else "FAIL: ") + "max-workers: " + msg)
for m, want in (("stats", 3), ("procs", 6), ("codes", 12), ("msigs", 3)):
    cap = one.get(("gunicorn_observer_bpf_map_capacity", m))
    check(cap == want, "bpf_map_capacity{map=%s} %s, expected %d" % (m, cap, want))
check(one.get(("gunicorn_observer_bpf_map_entries", "stats")) == 3, "bpf_map_entries{map=stats} %s, expected 3"
      % one.get(("gunicorn_observer_bpf_map_entries", "stats")))
check(len(got) == 3, "%d workers with series, expected 3" % len(got))
for pid, v in sorted(got.items()):
    check(v == log[pid], "worker %s requests_total %g, log %d" % (pid, v, log[pid]))
full = one.get(("gunicorn_observer_events_dropped_total", "stats_map_full"), 0)
check(full >= 2, "stats_map_full %g, expected at least 2 (one per worker left out)" % full)
left = sum(n for pid, n in log.items() if pid not in got)
miss = one.get(("gunicorn_observer_events_dropped_total", "stats_missing"), 0)
check(miss >= left, "stats_missing %g, at least the %d requests of the workers left out" % (miss, left))
PY
)
tally "max-workers check" "$?" "$out"
say "totals: $($PY -c '
import glob, json, sys
t = {"connections": 0, "responses": 0, "faults": 0}
for p in glob.glob(sys.argv[1] + "/*.json"):
    c = json.load(open(p))
    t["connections"] += c.get("connections", 0)
    t["responses"] += c["totals"]["requests"]
    t["faults"] += c.get("faults", 0)
print("%(connections)d connections, %(responses)d responses, %(faults)d faults injected" % t)' "$W")"
finish
