#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: a real Prometheus (Debian's, own config and storage, a free port,
# scrape interval 1 s) scrapes the observer watching real gunicorn (2 sync workers).
# After a /sleep-only phase and again after a mixed phase, once two scrapes have
# followed the access log's last line, its HTTP API must give:
#   sum(gunicorn_requests_total{master_pid=M}) = the access log's line count, and the
#   same per status code and for the duration histogram's _count;
#   histogram_quantile(0.5, sum by (le) (gunicorn_request_duration_seconds_bucket{M}))
#   after the /sleep-only phase in (0.01, 0.05] (bound explained at the check), and
#   equal to the quantile of the observer's own exposition.
# Usage: sudo ./test_prometheus_scrape.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer

. "$HERE/prometheus.sh"

# promq QUERY: the query's result from Prometheus's HTTP API, one "labels value" line
# per series (labels as {k="v",...}); nothing for an empty result; exit 1 on an API error
promq() {
    run curl -sf --max-time 10 --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
        $PY -c '
import json, sys
r = json.load(sys.stdin)
if r.get("status") != "success":
    sys.exit(1)
d = r["data"]
rows = d["result"] if d["resultType"] in ("vector", "matrix") else [{"metric": {}, "value": d["result"]}]
for s in rows:
    labels = ",".join("%s=\"%s\"" % kv for kv in sorted(s["metric"].items()))
    print("{%s} %s" % (labels, s["value"][1]))
'
}
promq_value() { promq "$1" | head -n 1 | awk '{print $NF}'; } # first series' value

# wait_scrapes T: until Prometheus holds two scrapes of the observer that started after
# unix time T (scrape interval 1 s: a sample at T + 1 or later is the second)
wait_scrapes() {
    local t=$1 i ts
    for i in $(seq 150); do
        ts=$(promq_value "timestamp(up{job=\"$JOB\"})")
        if [ -n "$ts" ] && awk -v a="$ts" -v b="$t" 'BEGIN {exit !(a >= b + 1)}'; then
            vsay "scrape at $ts, $(awk -v a="$ts" -v b="$t" 'BEGIN {printf "%.2f", a - b}') s after the settle"
            return 0
        fi
        sleep 0.1
    done
    fail "prometheus has no second scrape of the observer within 15 s of $t (last scrape at '$ts')"
}

# check_totals PHASE: Prometheus's sums for our master against the whole access log
check_totals() {
    local phase=$1 n got want
    n=$(log_lines)
    got=$(promq_value "sum(gunicorn_requests_total{master_pid=\"$GPID\"})")
    if [ "$got" = "$n" ]; then pass "$phase: Prometheus sum(gunicorn_requests_total{master_pid=\"$GPID\"}) = $got = access log lines"
    else fail "$phase: Prometheus sum(gunicorn_requests_total{master_pid=\"$GPID\"}) = '$got', access log has $n lines"; fi
    got=$(promq_value "sum(gunicorn_request_duration_seconds_count{master_pid=\"$GPID\"})")
    if [ "$got" = "$n" ]; then pass "$phase: Prometheus gunicorn_request_duration_seconds_count = $got = access log lines"
    else fail "$phase: Prometheus gunicorn_request_duration_seconds_count = '$got', access log has $n lines"; fi
    got=$(promq "sum by (code) (gunicorn_requests_total{master_pid=\"$GPID\"})" |
        sed -n 's/^{code="\([0-9]*\)"} \([0-9]*\)$/\1:\2/p' | sort | tr '\n' ' ')
    want=$(awk '{print $2}' "$ACCESS_LOG" | sort | uniq -c | awk '{printf "%s:%d\n", $2, $1}' | sort | tr '\n' ' ')
    if [ "$got" = "$want" ]; then pass "$phase: Prometheus requests by code [${got% }] = access log's"
    else fail "$phase: Prometheus requests by code [${got% }], access log's [${want% }]"; fi
}

# shellcheck disable=SC2119 # start_observer takes optional extra flags; none here
start_observer
start_gunicorn 2 -k sync
wait_discovered
start_prometheus
W=$WORKDIR

# --- phase 1: /sleep only -----------------------------------------------------------
nsleep=60
[ "$QUICK" = 1 ] && nsleep=30
say "phase sleep: /sleep x $nsleep, sequential, one connection each"
client "$W/sleep.json" --mix "/sleep:$nsleep"
settle "$nsleep"
t1=$(date +%s.%N)
wait_scrapes "$t1"
scrape "$W/s1.txt"
up=$(promq_value "up{job=\"$JOB\"}")
if [ "$up" = 1 ]; then pass "Prometheus: up{job=\"$JOB\"} = 1"; else fail "Prometheus: up{job=\"$JOB\"} = '$up'"; fi
check_totals "after /sleep"

# The app sleeps 20 ms in /sleep, so every observed duration is at least 0.020 s, and a
# sequential phase on an idle host stays well under 0.05 s. With the default buckets the
# median observation therefore lies in (0.01, 0.025] or (0.025, 0.05], and
# histogram_quantile interpolates linearly inside that bucket: the p50 must be in
# (0.01, 0.05]. (It may read below 0.020, e.g. 0.0175 when every request is in
# (0.01, 0.025]: interpolation assumes observations spread over the whole bucket.)
q="histogram_quantile(0.5, sum by (le) (gunicorn_request_duration_seconds_bucket{master_pid=\"$GPID\"}))"
p50=$(promq_value "$q")
logmed=$(awk '{print $3}' "$ACCESS_LOG" | sort -n | awk '{v[NR] = $1} END {printf "%.4f", v[int((NR + 1) / 2)] / 1e6}')
if [ -n "$p50" ] && awk -v p="$p50" 'BEGIN {exit !(p > 0.01 && p <= 0.05)}'; then
    pass "after /sleep: Prometheus p50 = $p50 s, in (0.01, 0.05] (access log's median %(D)s: $logmed s)"
else
    fail "after /sleep: Prometheus p50 = '$p50' s, expected in (0.01, 0.05] (access log's median %(D)s: $logmed s)"
fi
# the same quantile from the observer's own exposition of the same (settled) state
ours=$($PY - "$W/s1.txt" "$GPID" << 'EOF'
import re, sys
buckets = {}
for line in open(sys.argv[1]):
    if line.startswith("gunicorn_request_duration_seconds_bucket{") and 'master_pid="%s"' % sys.argv[2] in line:
        le = re.search(r'le="([^"]+)"', line).group(1)
        buckets[float("inf") if le == "+Inf" else float(le)] = float(line.split()[-1])
bs = sorted(buckets.items())
rank, prev_le, prev_c = 0.5 * bs[-1][1], 0.0, 0.0
for le, c in bs:  # Prometheus's histogram_quantile: linear inside the bucket of the rank
    if c >= rank:
        print("%.9g" % (prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)))
        break
    prev_le, prev_c = le, c
EOF
)
if [ -n "$p50" ] && [ -n "$ours" ] && awk -v a="$p50" -v b="$ours" 'BEGIN {d = a - b; exit !(d < 1e-9 && d > -1e-9)}'; then
    pass "after /sleep: Prometheus p50 $p50 = the quantile of the observer's own buckets ($ours)"
else
    fail "after /sleep: Prometheus p50 '$p50', quantile of the observer's own buckets '$ours'"
fi

# --- phase 2: a mix of routes, statuses and sizes, concurrent -------------------------
k=5
[ "$QUICK" = 1 ] && k=1
mix="/:$((40 * k)),/notfound:$((8 * k)),/error:$((8 * k)),/redirect:$((8 * k)),/sleep:$((4 * k)),/big:$((8 * k)),/echo:$((24 * k))"
say "phase mix: $mix, concurrency 4"
l1=$(log_lines)
client "$W/mix.json" --mix "$mix" --post-sizes 0,1,100,1000,4096,10000,65536 --concurrency 4
settle $((l1 + $(client_total "$W/mix.json")))
t2=$(date +%s.%N)
wait_scrapes "$t2"
check_totals "after mix"

finish
