#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: gthread workers (2 x 4 threads, --keep-alive 5); gunicorn starts
# before the observer, so the observer must pick up a running master.
# 1. keep-alive client (20 requests per connection, 4 concurrent), then /sleep phase:
#    exact counts and byte sums vs. access log and client, mean duration (run_standard).
# 2. wrk on / : counts vs. the access log, exact (wrk's bytes are unknown). When wrk stops
#    it drops connections; a response whose write then fails (EPIPE/ECONNRESET) is missing
#    from the access log and must count as aborted: at most one per such line gunicorn
#    logs at debug level.
# Usage: sudo ./test_gthread.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
start_gunicorn 2 -k gthread --threads 4 --keep-alive 5 --log-level debug
start_observer
wait_discovered
run_standard 20 4

W=$WORKDIR
wrkargs=(-t2 -c8 -d2s)
[ "$QUICK" = 1 ] && wrkargs=(-t1 -c4 -d1s)
l2=$(log_lines)
e2=$(wc -l < "$GUNICORN_LOG")
say "phase wrk: wrk ${wrkargs[*]} on /"
run wrk "${wrkargs[@]}" "http://127.0.0.1:$GPORT/" > "$W/wrk.log" 2>&1 || fail "wrk failed: $(cat "$W/wrk.log")"
settle
scrape "$W/s3.txt"
nwrk=$(awk '/requests in/ {print $1}' "$W/wrk.log")
nlog=$(( $(log_lines) - l2 ))
nslack=$(tail -n +$((e2 + 1)) "$GUNICORN_LOG" | grep -c 'DEBUG\] Ignoring')
vsay "$(cat "$W/wrk.log")"
if [ -n "$nwrk" ] && [ "$nlog" -ge "$nwrk" ]; then
    pass "harness: wrk got $nwrk responses, access log has $nlog, $nslack failed writes logged"
else
    fail "harness: wrk got '${nwrk}' responses, access log has $nlog"
fi
say "compare: wrk phase (counts only)"
compare full --before "$W/s2.txt" --metrics "$W/s3.txt" --log "$ACCESS_LOG" --log-from "$l2" \
    --master "$GPID" --slack-errlog "$GUNICORN_LOG" --errlog-from "$e2"
say "compare: whole run (counts only)"
compare full --metrics "$W/s3.txt" --log "$ACCESS_LOG" --master "$GPID" --app app:app \
    --slack-errlog "$GUNICORN_LOG"
promtool_check "$W/s3.txt"
finish
