#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: the observer in a PID namespace of its own, as on a
# Kubernetes node that is itself a container (kind): it and Gunicorn run
# under `unshare --pid --mount-proc`, so the pids it sees are not the
# kernel's. Its counts per worker and status code must still equal the
# access log, whose pids are that namespace's too.
# Usage: ./test_pidns.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
N=60
[ "$QUICK" = 1 ] && N=20
OPORT=$(free_port)
GPORT=$(free_port)
# bash is the namespace's init: it only gets the SIGTERM it has a handler for,
# and passes it on to what it started.
cat > "$WORKDIR/inner.sh" <<INNER
trap 'kill -TERM \$(jobs -p) 2>/dev/null; wait; exit 0' TERM
"$OBSERVER" --listen 127.0.0.1:$OPORT > "$OBSERVER_LOG" 2>&1 &
for i in \$(seq 100); do curl -sf -o /dev/null http://127.0.0.1:$OPORT/healthz && break; sleep 0.1; done
"$GUNICORN" --chdir "$HERE" --bind 127.0.0.1:$GPORT --workers 2 --access-logfile "$ACCESS_LOG" \
    --access-logformat '%(p)s %(s)s %(D)s %(B)s' --error-logfile "$GUNICORN_LOG" app:app &
wait
INNER
unshare --pid --fork --kill-child --mount-proc bash "$WORKDIR/inner.sh" &
STARTED+=("$!")
for i in $(seq 50); do inner=$(pgrep -P "$!" -x bash) && break; sleep 0.1; done
[ -n "$inner" ] || fail "the namespace's init did not start"
STARTED+=("$inner")  # stopped first: its trap stops the observer and Gunicorn
for i in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GPORT/")" = 200 ] && break
    sleep 0.1
done
sleep 0.3  # the probe's connection closes, so its request is in the first scrape
: > "$ACCESS_LOG"
curl -sf -o "$WORKDIR/m0.txt" "http://127.0.0.1:$OPORT/metrics" || fail "no /metrics from the observer in the namespace"
grep -q "PID namespace of its own" "$OBSERVER_LOG" && pass "the observer knows it is in a PID namespace of its own" ||
    fail "no PID namespace line in the observer's log: $(head -n 3 "$OBSERVER_LOG")"
check_data_plane "$OBSERVER_LOG"
for i in $(seq "$N"); do curl -s -o /dev/null "http://127.0.0.1:$GPORT/"; done
for i in $(seq $((N / 4))); do curl -s -o /dev/null "http://127.0.0.1:$GPORT/notfound"; done
want=$((N + N / 4))
for i in $(seq 50); do [ "$(wc -l < "$ACCESS_LOG")" -ge "$want" ] && break; sleep 0.1; done
sleep 0.5
curl -sf -o "$WORKDIR/m1.txt" "http://127.0.0.1:$OPORT/metrics" || fail "no /metrics from the observer in the namespace"
# "<pid> status" counts from the log and from the observer (the second scrape
# less the first, which came after the readiness probe), both in the
# namespace's pids
awk '{gsub(/[<>]/, "", $1); n[$1 " " $2]++} END {for (k in n) print k, n[k]}' "$ACCESS_LOG" | sort > "$WORKDIR/log.txt"
responses() {
    sed -n 's/^gunicorn_worker_responses_total{.*worker_pid="\([0-9]*\)",code="\([0-9]*\)"} \([0-9]*\)$/\1 \2 \3/p' "$1"
}
{ responses "$WORKDIR/m0.txt" | sed 's/^/- /'; responses "$WORKDIR/m1.txt" | sed 's/^/+ /'; } |
    awk '{n[$2 " " $3] += ($1 == "+" ? $4 : -$4)} END {for (k in n) if (n[k]) print k, n[k]}' |
    sort > "$WORKDIR/obs.txt"
if [ -s "$WORKDIR/log.txt" ] && diff -u "$WORKDIR/log.txt" "$WORKDIR/obs.txt" > "$WORKDIR/diff.txt"; then
    pass "responses per worker and code equal the access log: $(tr '\n' ';' < "$WORKDIR/obs.txt")"
else
    fail "responses differ from the access log (pid code count): $(cat "$WORKDIR/diff.txt")"
fi
finish
