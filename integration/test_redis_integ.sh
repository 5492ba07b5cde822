#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: the Redis mirror and `gunicorn-observer aggregate`, against a real
# redis-server this script starts on a free port and real gunicorn (sync, 2 workers):
#   layout    every key is {prefix}:{type}:{pid}:metric|meta:{md5 of the JSON key} as the
#             Python exporter writes it (an independent Python computation of every record of
#             /metrics), with the documented fields; every stable value equals /metrics
#   ttl       every key's TTL is in (0, REDIS_TTL_SECONDS]; idle workers' keys outlive the TTL
#             while the observer runs (each pass refreshes them)
#   reader    a Python reader of the documented layout (python3-redis, prometheus_client)
#             renders the same families and values as /metrics; promtool clean
#   aggregate `gunicorn-observer aggregate` serves the same values with a node label, one HELP
#             and TYPE per family also with a second (simulated) node; promtool clean
#   slow      a stopped (SIGSTOP) Redis never delays /metrics; redis_up 0 then 1
#   restart   Redis killed and restarted: no crash, redis_up 0 then 1, one log line per change,
#             values continue (requests during the outage included); aggregate recovers
#   expiry    after the observer stops, every key expires within the TTL
# Usage: sudo ./test_redis_integ.sh [--quick] [--ci]   (env: VERBOSE=1 OBSERVER=path KEEP=1)
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer

TTL=${REDIS_TEST_TTL:-5}   # short, so the idle and expiry phases take seconds
INTERVAL=0.5
PREFIX=gunicorn
NODE=$(hostname)
LAYOUT=$HERE/redis_layout.py
RPORT='' RPID='' APORT='' APID=''
W=$WORKDIR
# families whose values do not move while gunicorn is idle (the others change every pass:
# CPU, memory, uptime, heartbeat age, scrape time)
STABLE=gunicorn_worker_requests_total,gunicorn_worker_request_duration_seconds
STABLE=$STABLE,gunicorn_worker_responses_total,gunicorn_worker_failed_requests_total
STABLE=$STABLE,gunicorn_worker_request_size_bytes,gunicorn_worker_response_size_bytes
STABLE=$STABLE,gunicorn_worker_in_flight_requests,gunicorn_worker_state,gunicorn_requests_total
STABLE=$STABLE,gunicorn_request_duration_seconds,gunicorn_master_workers
STABLE=$STABLE,gunicorn_master_worker_exits_total,gunicorn_master_worker_restart_total
STABLE=$STABLE,gunicorn_master_start_time_seconds,gunicorn_worker_start_time_seconds
STABLE=$STABLE,gunicorn_listener_backlog_max,gunicorn_observer_build_info
STABLE=$STABLE,gunicorn_observer_tracked_masters,gunicorn_observer_tracked_workers
STABLE=$STABLE,gunicorn_observer_redis_up,gunicorn_observer_redis_errors_total

for t in redis-server redis-cli promtool; do
    command -v "$t" > /dev/null || { fail "$t not found: make deps-test installs it"; finish; }
done

start_redis() { # on $RPORT (a free one the first time)
    local i
    [ -n "$RPORT" ] || RPORT=$(free_port)
    vsay "+ redis-server --port $RPORT --save '' --appendonly no"
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
        --enable-debug-command local >> "$W/redis.log" 2>&1 &
    RPID=$!
    STARTED+=("$RPID")
    for i in $(seq 100); do
        [ "$(redis-cli -p "$RPORT" ping 2> /dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    fail "redis-server did not answer PING on port $RPORT within 10 s: $(tail -n 3 "$W/redis.log")"
    finish
}

metric() { # FILE NAME: the value of an unlabelled sample
    awk -v n="$2" '$1 == n {print $2}' "$1"
}

# wait_metric NAME VALUE SECONDS: until /metrics shows NAME VALUE; prints the time it took
wait_metric() {
    local i t0=$SECONDS
    for i in $(seq $(($3 * 10))); do
        curl -sf --max-time 5 -o "$W/wait.txt" "http://127.0.0.1:$OPORT/metrics" &&
            [ "$(metric "$W/wait.txt" "$1")" = "$2" ] && { echo $((SECONDS - t0)); return 0; }
        sleep 0.1
    done
    return 1
}

layout() { run $PY "$LAYOUT" "$@"; }
keys() { layout count "$RPORT" "$PREFIX"; }

series_of() { grep -v '^#' "$1" | cut -d' ' -f1 | sort; }

# check_layout TAG: /metrics once its set of series is steady (CPU percent and heartbeat age
# appear in the first seconds), one more mirror pass, then Redis against that exposition
check_layout() {
    local i
    scrape "$W/$1.txt"
    for i in $(seq 10); do
        sleep 1
        cp "$W/$1.txt" "$W/$1.prev"
        scrape "$W/$1.txt"
        [ "$(series_of "$W/$1.txt")" = "$(series_of "$W/$1.prev")" ] && break
    done
    sleep 1 # > INTERVAL: a pass after the scrape
    compare_out "$(layout check "$W/$1.txt" "$RPORT" "$PREFIX" "$NODE" "$OPID" --families "$STABLE")"
}

compare_out() { # count the PASS/FAIL lines of a redis_layout.py run into ours
    echo "$1"
    PASSED=$((PASSED + $(grep -c '^PASS:' <<< "$1")))
    FAILED=$((FAILED + $(grep -c '^FAIL:' <<< "$1")))
}

traffic() { # N: a mix of N/8 rounds; waits for the observer to count it
    local k=$1 before
    before=$(log_lines)
    client "$W/traffic$before.json" --mix "/:$((4 * k)),/notfound:$k,/error:$k,/echo:$((2 * k))" \
        --post-sizes 0,100,5000 --concurrency 2
    settle $((before + $(client_total "$W/traffic$before.json")))
}

N=5
[ "$QUICK" = 1 ] && N=2

say "redis, gunicorn, then the observer with the mirror on (TTL ${TTL}s, interval ${INTERVAL}s)"
start_redis
start_gunicorn 2 -k sync
export REDIS_ENABLED=true REDIS_HOST=127.0.0.1 REDIS_PORT=$RPORT REDIS_TTL_SECONDS=$TTL
export GUNICORN_OBSERVER_MIRROR_INTERVAL=$INTERVAL REDIS_KEY_PREFIX=$PREFIX
start_observer --pid "$GPID"
wait_discovered
traffic "$N"

say "layout: keys, fields and values against /metrics"
if t=$(wait_metric gunicorn_observer_redis_up 1 10); then pass "gunicorn_observer_redis_up 1 (after ${t}s)"
else fail "gunicorn_observer_redis_up is not 1 after 10 s: $(grep redis "$W/wait.txt")"; fi
check_layout s1
n=$(grep -c 'redis: mirroring to' "$OBSERVER_LOG")
[ "$n" = 1 ] && pass "one log line when the mirror came up" || fail "$n 'mirroring to' log lines, expected 1"
sum=$(layout sum "$RPORT" "$PREFIX" gunicorn_worker_requests_total)
[ "$sum" = "$(log_lines)" ] && pass "requests in Redis ($sum) = gunicorn's access log" ||
    fail "requests in Redis: $sum, access log: $(log_lines)"

say "ttl: every key in (0, $TTL]; idle keys outlive the TTL while the observer runs"
compare_out "$(layout ttl "$RPORT" "$PREFIX" "$TTL")"
k1=$(keys)
sleep $((TTL + 2))
k2=$(keys)
[ "$k1" = "$k2" ] && [ "$k1" -gt 0 ] && pass "after $((TTL + 2)) s idle (> TTL) all $k2 keys are still there" ||
    fail "keys before/after $((TTL + 2)) s idle: $k1/$k2"
check_layout s2

say "reader: the documented layout read back by Python renders what /metrics shows"
layout read "$RPORT" "$PREFIX" > "$W/reader.txt"
promtool_check "$W/reader.txt"
scrape "$W/s3.txt"
compare_out "$(layout same "$W/s3.txt" "$W/reader.txt" --ignore-label node --families "$STABLE")"

say "aggregate: one /metrics from Redis"
APORT=$(free_port)
vsay "+ $OBSERVER aggregate --redis 127.0.0.1:$RPORT --prefix $PREFIX --listen 127.0.0.1:$APORT"
"$OBSERVER" aggregate --redis "127.0.0.1:$RPORT" --prefix "$PREFIX" --listen "127.0.0.1:$APORT" \
    > "$W/aggregate.log" 2>&1 &
APID=$!
STARTED+=("$APID")
for i in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$APORT/healthz" && break; sleep 0.1; done
agg() { run curl -sf --max-time 10 -o "$1" "http://127.0.0.1:$APORT/metrics"; }
if agg "$W/agg1.txt"; then pass "aggregate (no BPF) answers /metrics on port $APORT"
else fail "aggregate did not answer /metrics: $(tail -n 3 "$W/aggregate.log")"; fi
promtool_check "$W/agg1.txt"
compare_out "$(layout same "$W/s3.txt" "$W/agg1.txt" --ignore-label node --families "$STABLE")"
n=$(grep -v '^#' "$W/agg1.txt" | grep -vc "node=\"$NODE\"")
[ "$n" = 0 ] && pass "every aggregated series has node=\"$NODE\"" || fail "$n series without node=\"$NODE\""
clones=$(layout clone "$RPORT" "$PREFIX" other-node "$TTL")
agg "$W/agg2.txt"
promtool_check "$W/agg2.txt"
a=$(grep -c "node=\"$NODE\"" "$W/agg2.txt") b=$(grep -c 'node="other-node"' "$W/agg2.txt")
dup=$(grep '^# TYPE' "$W/agg2.txt" | sort | uniq -d | wc -l)
[ "$a" = "$b" ] && [ "$a" -gt 0 ] && [ "$dup" = 0 ] &&
    pass "a second node ($clones keys): $b series with node=\"other-node\" beside $a of ours, one TYPE per family" ||
    fail "second node: $a series of ours, $b of other-node, $dup duplicated TYPE lines"
sleep $((TTL + 1))  # the clones expire; ours do not

# scrape_times N: the slowest of N scrapes 0.5 s apart, in ms
scrape_times() {
    local i t0 ms worst=0
    for i in $(seq "$1"); do
        t0=$(date +%s%N)
        curl -sf --max-time 10 -o "$W/timed.txt" "http://127.0.0.1:$OPORT/metrics" || fail "scrape failed"
        ms=$((($(date +%s%N) - t0) / 1000000))
        [ "$ms" -gt "$worst" ] && worst=$ms
        sleep 0.5
    done
    echo "$worst"
}
say "slow: Redis busy in DEBUG SLEEP never delays /metrics"
usual=$(scrape_times 6)
redis-cli -p "$RPORT" DEBUG SLEEP 4 > "$W/debug-sleep.txt" 2>&1 &
sleep 0.2
busy=$(scrape_times 6)
wait $!
if ! grep -q OK "$W/debug-sleep.txt"; then fail "DEBUG SLEEP did not run: $(cat "$W/debug-sleep.txt")"
elif [ "$busy" -lt 1000 ]; then  # a mirror in the way would take the 4 s
    pass "6 scrapes during a 4 s DEBUG SLEEP of Redis, slowest ${busy} ms (usual slowest ${usual} ms)"
else fail "a scrape took ${busy} ms while Redis slept (usual slowest ${usual} ms)"; fi

say "slow: a stopped Redis never delays /metrics"
kill -STOP "$RPID"
worst=$(scrape_times 6)
[ "$worst" -lt 1000 ] && pass "6 scrapes in 3 s with Redis stopped, slowest ${worst} ms" ||
    fail "a scrape took ${worst} ms with Redis stopped"
t=$(wait_metric gunicorn_observer_redis_up 0 10) && pass "redis_up 0 while Redis does not answer (${t}s)" ||
    fail "redis_up not 0 with Redis stopped"
kill -CONT "$RPID"
t=$(wait_metric gunicorn_observer_redis_up 1 20) && pass "redis_up 1 again ${t}s after Redis resumed" ||
    fail "redis_up not 1 within 20 s after SIGCONT"

say "restart: Redis killed, traffic, Redis restarted on the same port"
before_lost=$(grep -c 'redis: lost' "$OBSERVER_LOG")
kill -KILL "$RPID"
wait "$RPID" 2> /dev/null
t=$(wait_metric gunicorn_observer_redis_up 0 10) && pass "redis_up 0 after Redis was killed (${t}s)" ||
    fail "redis_up not 0 after Redis was killed"
e1=$(metric "$W/wait.txt" gunicorn_observer_redis_errors_total)
traffic "$N"
if agg "$W/agg_down.txt"; then fail "aggregate answered 200 with Redis down"
else pass "aggregate answers an error while Redis is down"; fi
sleep 2
scrape "$W/down.txt"
e2=$(metric "$W/down.txt" gunicorn_observer_redis_errors_total)
[ "${e2%.*}" -gt "${e1%.*}" ] && pass "redis_errors_total grows while Redis is down ($e1 -> $e2)" ||
    fail "redis_errors_total did not grow while Redis is down ($e1 -> $e2)"
alive "$OPID" && pass "observer still running with Redis down" || fail "observer died with Redis down"
start_redis
t=$(wait_metric gunicorn_observer_redis_up 1 30) && pass "redis_up 1 ${t}s after Redis restarted" ||
    fail "redis_up not 1 within 30 s after Redis restarted"
lost=$(($(grep -c 'redis: lost' "$OBSERVER_LOG") - before_lost))
n=$(grep -c 'redis: ' "$OBSERVER_LOG")
# up, lost (stop), up, lost (kill), up: one line per change, none per failed pass
[ "$lost" = 1 ] && [ "$n" = 5 ] && pass "one log line per state change (5 redis lines in all)" ||
    fail "log lines: $lost 'lost' for the kill, $n redis lines in all (expected 1 and 5): $(grep 'redis: ' "$OBSERVER_LOG")"
check_layout s4
sum=$(layout sum "$RPORT" "$PREFIX" gunicorn_worker_requests_total)
[ "$sum" = "$(log_lines)" ] && pass "values continue: requests in Redis ($sum) = access log, outage included" ||
    fail "requests in Redis after the restart: $sum, access log: $(log_lines)"
agg "$W/agg3.txt" && pass "aggregate serves again after the restart" || fail "aggregate did not recover"
compare_out "$(layout same "$W/s4.txt" "$W/agg3.txt" --ignore-label node --families "$STABLE")"

say "expiry: the observer stops; every key expires within the TTL"
k1=$(keys)
stop_pid "$OPID"
sleep $((TTL + 1))
k2=$(keys)
[ "$k1" -gt 0 ] && [ "$k2" = 0 ] && pass "$k1 keys, 0 left $((TTL + 1)) s after the observer stopped" ||
    fail "$k2 of $k1 keys left $((TTL + 1)) s after the observer stopped"
finish
