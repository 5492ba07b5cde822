#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: the observer restarts while traffic flows, and nothing
# is lost. Its maps and program links are pinned, so the kernel side counts
# on while no observer runs: after a SIGTERM and a restart, then a kill -9
# and a restart, no counter has gone down, and the final counts per worker
# and status code equal Gunicorn's access log, bytes the client's. Also: a
# second observer on the same pins refuses, `cleanup` refuses while one
# runs and otherwise detaches the programs, other settings replace the
# running programs, and --no-pin pins nothing.
# Usage: ./test_restart.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
ROUNDS=6
[ "$QUICK" = 1 ] && ROUNDS=3
PIN=$GUNICORN_OBSERVER_PIN_DIR

# counters_kept BEFORE AFTER [MASTER]: every counter sample of the master
# (default ours) in BEFORE is in AFTER and not lower (histogram buckets, sums
# and counts too)
counters_kept() {
    $PY - "$1" "$2" "${3:-$GPID}" <<'EOF'
import re, sys
def samples(path, master):
    out = {}
    for line in open(path):
        if line.startswith("#") or 'master_pid="%s"' % master not in line:
            continue
        key, _, value = line.rstrip().rpartition(" ")
        name = key.split("{")[0]
        if re.search(r"(_total|_bucket|_sum|_count)$", name):
            out[key] = float(value)
    return out
before, after = samples(sys.argv[1], sys.argv[3]), samples(sys.argv[2], sys.argv[3])
lost = [k for k in before if k not in after]
down = [(k, before[k], after[k]) for k in before if k in after and after[k] < before[k]]
if not before or lost or down:
    print("%d samples before; gone: %s; lower: %s" % (len(before), lost[:3], down[:3]))
    sys.exit(1)
print("%d counter samples, none lower" % len(before))
EOF
}

# traffic: client.py rounds, back to back, until $WORKDIR/stop exists
traffic() {
    local i=0
    while [ ! -e "$WORKDIR/stop" ]; do
        i=$((i + 1))
        $PY "$HERE/client.py" --port "$GPORT" --mix '/:150,/sleep:10,/echo:30,/notfound:10,/error:5' \
            --post-sizes 0,10,5000 --keepalive 8 --concurrency 2 --seed "$i" \
            --out "$WORKDIR/client-$i.json" > "$WORKDIR/client-$i.log" 2>&1 || echo "round $i failed" >> "$WORKDIR/client-errors"
    done
}

start_gunicorn 2 --worker-class gthread --threads 2 --keep-alive 5
start_observer
wait_discovered
traffic &
TRAFFIC=$!
STARTED+=("$TRAFFIC")

second_refused() {
    local out rc
    out=$(run "$OBSERVER" --listen "127.0.0.1:$(free_port)" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q "another gunicorn-observer (pid $OPID) owns $PIN" <<< "$out"; then
        pass "a second observer on the same pins refuses (exit $rc): $out"
    else
        fail "a second observer did not refuse (exit $rc): $out"
    fi
}

restart() { # SIGNAL
    local before=$WORKDIR/before-$1.txt after=$WORKDIR/after-$1.txt out
    sleep 1
    scrape "$before"
    kill "-$1" "$OPID"
    wait "$OPID" 2> /dev/null
    say "observer stopped with SIG$1 while traffic flows; 1 s without one"
    sleep 1
    start_observer
    if grep -q "kept the programs left running in $PIN/links-" "$OBSERVER_LOG"; then
        pass "the new observer kept the pinned programs (counting went on)"
    else
        fail "the new observer did not keep the pinned programs: $(head -n 5 "$OBSERVER_LOG")"
    fi
    sleep 0.5
    scrape "$after"
    if out=$(counters_kept "$before" "$after"); then
        pass "after SIG$1 and a restart: $out"
    else
        fail "after SIG$1 and a restart, counters went down or vanished: $out"
    fi
}

second_refused
for i in $(seq "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then restart TERM; else restart KILL; fi
done
out=$(run "$OBSERVER" cleanup 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q "owns $PIN" <<< "$out"; then pass "cleanup refuses while an observer runs: $out"
else fail "cleanup did not refuse while an observer runs (exit $rc): $out"; fi

touch "$WORKDIR/stop"
wait "$TRAFFIC"
[ -e "$WORKDIR/client-errors" ] && fail "client rounds failed: $(cat "$WORKDIR/client-errors")"
settle
scrape "$WORKDIR/final.txt"
clients=()
for f in "$WORKDIR"/client-*.json; do clients+=(--client "$f"); done
say "$(log_lines) requests in ${#clients[@]} client rounds, across $ROUNDS observer restarts"
compare full --metrics "$WORKDIR/final.txt" --log "$ACCESS_LOG" --master "$GPID" "${clients[@]}"

# workers that exit before the restart: their requests, exits and restarts
# are the master's, kept in the pinned map of saved totals
master_sum() { # FILE FAMILY: the sum of a master family's samples of GPID
    grep "^$2{" "$1" | grep "master_pid=\"$GPID\"" | awk '{s += $NF} END {printf "%d\n", s}'
}
ACCESS_LOG=$WORKDIR/access-recycled.log
start_gunicorn 2 --max-requests 10
wait_discovered
N=60
for i in $(seq "$N"); do curl -s -o /dev/null "http://127.0.0.1:$GPORT/"; done
settle "$N"
sleep 1
scrape "$WORKDIR/recycled-before.txt"
stop_pid "$OPID"
start_observer
scrape "$WORKDIR/recycled-after.txt"
exits=$(master_sum "$WORKDIR/recycled-before.txt" gunicorn_master_worker_exits_total)
if out=$(counters_kept "$WORKDIR/recycled-before.txt" "$WORKDIR/recycled-after.txt" "$GPID") && [ "$exits" -ge 4 ]; then
    pass "$exits workers recycled by --max-requests before a restart: $out"
else
    fail "master counters after workers recycled ($exits exits) and a restart: $out"
fi
for i in $(seq "$N"); do curl -s -o /dev/null "http://127.0.0.1:$GPORT/"; done
settle $((2 * N))
sleep 1
scrape "$WORKDIR/recycled-final.txt"
got=$(master_sum "$WORKDIR/recycled-final.txt" gunicorn_requests_total)
if [ "$got" = "$(log_lines)" ]; then pass "gunicorn_requests_total of the recycling master: $got, access log $(log_lines)"
else fail "gunicorn_requests_total of the recycling master: $got, access log $(log_lines)"; fi

# other settings: other read-only data, so other programs replace the running ones
stop_pid "$OPID"
start_observer --duration-buckets 0.01,0.1,1
if grep -q "detached the programs of an earlier build or settings" "$OBSERVER_LOG" &&
    [ "$(ls -d "$PIN"/links-* | wc -l)" = 1 ]; then
    pass "other settings replaced the running programs (one set of links pinned)"
else
    fail "other settings did not replace the running programs: $(ls "$PIN"); $(head -n 5 "$OBSERVER_LOG")"
fi

# cleanup detaches: the programs of the pinned links are gone from the kernel
stop_pid "$OPID"
ids=$(for l in "$PIN"/links-*/*; do bpftool link show pinned "$l" 2> /dev/null; done |
    sed -n 's/.*prog \([0-9]*\).*/\1/p' | sort -u)
out=$(run "$OBSERVER" cleanup 2>&1)
rc=$?
for i in $(seq 50); do  # the kernel frees detached programs after a grace period
    left=0
    for id in $ids; do bpftool prog show id "$id" > /dev/null 2>&1 && left=$((left + 1)); done
    [ "$left" = 0 ] && break
    sleep 0.1
done
if [ "$rc" = 0 ] && [ ! -e "$PIN" ] && [ -n "$ids" ] && [ "$left" = 0 ]; then
    pass "cleanup removed $PIN and detached its $(wc -w <<< "$ids") programs: $out"
else
    fail "cleanup (exit $rc, $out): dir $([ -e "$PIN" ] && echo kept || echo gone), programs '$ids', $left still loaded"
fi

# --no-pin: nothing pinned, and a second --no-pin observer runs beside it
start_observer --no-pin
if [ ! -e "$PIN" ]; then pass "--no-pin pins nothing"; else fail "--no-pin pinned: $(ls "$PIN")"; fi
finish
