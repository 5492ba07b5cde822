#!/bin/bash
# Integration test of the command line and the HTTP surface: --help and
# --version, one-line errors with the right exit status for every bad input
# (option, listen address, environment, port in use, --pid, not root), the
# environment variables and their precedence, the HTTP routes, --pid
# filtering over masters that were running before the observer, and a clean
# exit 0 on SIGTERM and SIGINT.
# Usage: ./test_cli.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer

# expect_error NAME WANT_RC PATTERN CMD...: CMD exits WANT_RC and prints one
# stderr line matching PATTERN
expect_error() {
    local name=$1 want=$2 pat=$3 rc lines
    shift 3
    run "$@" > "$WORKDIR/err.out" 2> "$WORKDIR/err.txt"
    rc=$?
    lines=$(wc -l < "$WORKDIR/err.txt")
    if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -qE -- "$pat" "$WORKDIR/err.txt"; then
        pass "$name: exit $rc, '$(cat "$WORKDIR/err.txt")'"
    else
        fail "$name: exit $rc (want $want), $lines stderr lines (want 1): $(head -c 400 "$WORKDIR/err.txt")"
    fi
}

http_code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; }

say "help and version"
if run "$OBSERVER" --help | grep -q '^Usage: gunicorn-observer'; then pass "--help prints usage, exit 0"; else fail "--help"; fi
if run "$OBSERVER" --version | grep -qE '^gunicorn-observer [^ ]+ \(libbpf v?[0-9]'; then pass "--version, exit 0"; else fail "--version"; fi

say "bad input"
expect_error "unknown option" 2 "unknown option '--bogus'" "$OBSERVER" --bogus
expect_error "missing value" 2 "--listen needs a value" "$OBSERVER" --listen
expect_error "bad listen" 2 "--listen 'nocolon' is not ADDR:PORT" "$OBSERVER" --listen nocolon
expect_error "port out of range" 2 "is not ADDR:PORT" "$OBSERVER" --listen 127.0.0.1:70000
expect_error "listen host not an IP" 2 "is not an IP address" "$OBSERVER" --listen "localhost:$(free_port)"
expect_error "bad log level" 2 "--log-level 'loud' is unknown" "$OBSERVER" --log-level loud
expect_error "bad pid" 2 "--pid 'abc' is not a process id" "$OBSERVER" --pid abc
expect_error "bad data plane" 2 "--data-plane 'kprobe' is unknown: use auto, socket, fentry or syscall" \
    "$OBSERVER" --data-plane kprobe
expect_error "bad GUNICORN_OBSERVER_DATA_PLANE" 2 "GUNICORN_OBSERVER_DATA_PLANE='fast' is unknown" \
    env GUNICORN_OBSERVER_DATA_PLANE=fast "$OBSERVER"
expect_error "bad max workers" 2 "--max-workers '0' is not a whole number of workers from 1 to 262144" \
    "$OBSERVER" --max-workers 0
expect_error "bad GUNICORN_OBSERVER_MAX_WORKERS" 2 \
    "GUNICORN_OBSERVER_MAX_WORKERS='lots' is not a whole number of workers" \
    env GUNICORN_OBSERVER_MAX_WORKERS=lots "$OBSERVER"
expect_error "extra argument" 2 "unexpected argument 'stray'" "$OBSERVER" stray
expect_error "bad PROMETHEUS_METRICS_PORT" 2 "PROMETHEUS_METRICS_PORT='x1' is not a port" \
    env PROMETHEUS_METRICS_PORT=x1 "$OBSERVER"
expect_error "not root" 1 "must run as root" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$OBSERVER" --listen "127.0.0.1:$(free_port)"
expect_error "--pid not gunicorn" 1 "--pid $$ is not a running Gunicorn process" \
    "$OBSERVER" --listen "127.0.0.1:$(free_port)" --pid $$

say "data planes: what this kernel offers, and a plane it does not"
planes=$(run "$OBSERVER" data-planes)
if [ "$(awk '$1 ~ /^(socket|fentry|syscall)$/ && $2 ~ /^(yes|no)$/' <<< "$planes" | wc -l)" = 3 ] &&
    awk '$1 == "auto" {f = $2 ~ /^(socket|fentry|syscall)$/} END {exit !f}' <<< "$planes"; then
    pass "data-planes: a line per plane and auto's choice ($(tr '\n' ';' <<< "$planes" | tr -s ' '))"
else
    fail "data-planes printed: $planes"
fi
auto=$(awk '$1 == "auto" {print $2}' <<< "$planes")
first=$(awk '$2 == "yes" {print $1; exit}' <<< "$planes")
if [ "$auto" = "$first" ]; then pass "auto takes the first plane offered ($auto)"; else fail "auto is '$auto', first offered '$first'"; fi
expect_error "data-planes with an argument" 2 "data-planes takes no argument, got 'x'" "$OBSERVER" data-planes x
expect_error "data-planes not root" 1 "data-planes must run as root" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$OBSERVER" data-planes
no=$(awk '$2 == "no" {print $1; exit}' <<< "$planes")
if [ -n "$no" ]; then
    expect_error "--data-plane $no, not offered here" 1 "--data-plane $no is not possible here: .+: use --data-plane auto" \
        "$OBSERVER" --listen "127.0.0.1:$(free_port)" --data-plane "$no"
else
    say "every data plane is offered on this kernel: no refused plane to check"
fi

say "two masters started before the observer; --pid picks one"
ACCESS_LOG=$WORKDIR/access1.log GUNICORN_LOG=$WORKDIR/gunicorn1.log start_gunicorn 1 -k sync --name first
G1=$GPID
ACCESS_LOG=$WORKDIR/access2.log GUNICORN_LOG=$WORKDIR/gunicorn2.log start_gunicorn 1 -k sync --name second
G2=$GPID G2PORT=$GPORT
GPID=$G1
start_observer --pid "$G1"
F=$WORKDIR/metrics.txt
curl -sf --max-time 5 -o "$F" "http://127.0.0.1:$OPORT/metrics"
if grep -q "gunicorn_master_workers{app=\"first\",master_pid=\"$G1\"} 1" "$F"; then
    pass "--pid $G1: master 'first' (running before the observer) tracked with its worker"
else
    fail "--pid $G1: no gunicorn_master_workers series for 'first': $(grep master_workers "$F")"
fi
if grep -q "master_pid=\"$G2\"" "$F"; then fail "--pid $G1 also shows master $G2"; else pass "--pid $G1 leaves master $G2 out"; fi

expect_error "port in use" 1 "port $OPORT on 127.0.0.1 is already in use" \
    "$OBSERVER" --listen "127.0.0.1:$OPORT"

say "HTTP routes"
[ "$(http_code "http://127.0.0.1:$OPORT/")" = 200 ] && pass "GET / 200" || fail "GET / not 200"
[ "$(curl -s --max-time 5 "http://127.0.0.1:$OPORT/healthz")" = ok ] && pass "GET /healthz says ok" || fail "GET /healthz"
[ "$(http_code "http://127.0.0.1:$OPORT/nope")" = 404 ] && pass "GET /nope 404" || fail "GET /nope not 404"
[ "$(http_code -X POST "http://127.0.0.1:$OPORT/metrics")" = 404 ] && pass "POST /metrics 404" || fail "POST /metrics not 404"
ct=$(curl -s -o /dev/null --max-time 5 -w '%{content_type}' "http://127.0.0.1:$OPORT/metrics")
[ "$ct" = "text/plain; version=0.0.4; charset=utf-8" ] && pass "content type $ct" || fail "content type '$ct'"

say "SIGTERM detaches and exits 0"
kill -TERM "$OPID"
rc=0
for i in $(seq 50); do alive "$OPID" || break; sleep 0.1; done
wait "$OPID" 2>/dev/null || rc=$?
alive "$OPID" && fail "observer still running 5 s after SIGTERM" || { [ "$rc" = 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"; }

say "environment variables, and a flag beats them"
P1=$(free_port)
P2=$(free_port)
PROMETHEUS_BIND_ADDRESS=127.0.0.1 PROMETHEUS_METRICS_PORT=$P1 "$OBSERVER" --pid "$G2" > "$WORKDIR/observer_env.log" 2>&1 &
E1=$!
STARTED+=("$E1")
for i in $(seq 100); do [ "$(http_code "http://127.0.0.1:$P1/healthz")" = 200 ] && break; sleep 0.1; done
[ "$(http_code "http://127.0.0.1:$P1/healthz")" = 200 ] && pass "PROMETHEUS_BIND_ADDRESS/PROMETHEUS_METRICS_PORT honoured (port $P1)" || fail "env port $P1 not served"
code=$(curl -s --max-time 5 -o "$WORKDIR/env-metrics.txt" -w '%{http_code}' "http://127.0.0.1:$P1/metrics")
if grep -q "master_pid=\"$G2\"" "$WORKDIR/env-metrics.txt"; then pass "env-configured observer tracks master $G2 (port $G2PORT)"
else fail "env-configured observer misses master $G2: HTTP '$code', $(grep -c . "$WORKDIR/env-metrics.txt") lines, log: $(tail -n 4 "$WORKDIR/observer_env.log" | tr '\n' ' ')"; fi
kill -INT "$E1"
rc=0
wait "$E1" 2>/dev/null || rc=$?
[ "$rc" = 0 ] && pass "SIGINT: exit 0" || fail "SIGINT: exit $rc"
PROMETHEUS_METRICS_PORT=$P1 "$OBSERVER" --listen "127.0.0.1:$P2" --pid "$G2" > "$WORKDIR/observer_flag.log" 2>&1 &
E2=$!
STARTED+=("$E2")
for i in $(seq 100); do [ "$(http_code "http://127.0.0.1:$P2/healthz")" = 200 ] && break; sleep 0.1; done
if [ "$(http_code "http://127.0.0.1:$P2/healthz")" = 200 ] && [ "$(http_code "http://127.0.0.1:$P1/healthz")" = 000 ]; then
    pass "--listen :$P2 beats PROMETHEUS_METRICS_PORT=$P1"
else
    fail "--listen did not beat PROMETHEUS_METRICS_PORT"
fi
finish
