#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: TLS terminated by Gunicorn itself (--certfile/--keyfile, a self-signed
# certificate made here with openssl). The observer follows the plaintext through uprobes
# on OpenSSL's SSL_read/SSL_write(_ex)/SSL_free in the libssl the workers map, bound to
# the TLS masters and their workers. Only this script's masters are observed (--match on
# its work directory). A clear-text sync master (1 worker) runs throughout as a control.
# Masters, one after the other, each with 2 workers and the access log '%(p)s %(s)s %(D)s %(B)s':
#   sync     certfile on the command line, started before the observer (found by the
#            /proc scan at start)
#   gthread  --threads 4 --keep-alive 5, certfile in GUNICORN_CMD_ARGS, started after it
#   gevent   --keep-alive 5, certfile in a config file (-c), started after it
# For each:
#  TLS found: the observer logs one "has a TLS listener" line for the master (none for the
#    clear-text one); gunicorn_observer_tls_workers = the live workers of TLS masters
#  bytes phase: tls_client.py mix (http.client.HTTPSConnection, unverified context,
#    keep-alive, POST bodies of 1 B to 70 KB written in 1000-byte pieces: many SSL records,
#    many SSL_read calls per request; chunked and wsgi.file_wrapper responses) and
#    tls_client.py curl (curl -k, several URLs per curl on one kept-alive connection, POSTs
#    after --next): compare.py routes (harness) and full (per worker and code exact against
#    the access log; request and response size sums = the plaintext bytes the clients
#    sent and received, headers included; nothing in flight or aborted)
#  duration phase: /sleep over keep-alive TLS: compare.py duration (mean within 10 % of
#    the log's %(D)s), and full for the phase
#  load phase: ab -n N -c 4 -k https://... (apache2-utils, installed with tests/deps.sh
#    when missing; else h2load --h1 when present): counts exact against the log
#  new worker: sync and gevent get kill -TTIN (a third worker), gthread loses a worker to
#    SIGTERM (replaced): the worker forked after the observer attached serves TLS requests
#    counted exactly from its first one; the gauge follows (3, then 2)
#  faults: RST in the middle of an 8 MB response (SO_LINGER 0 after reading 3 KB): counted
#    as aborted, per worker, and as no response (Gunicorn logs none); failed handshakes,
#    each kind alone (plain-text garbage, a plain-text HTTP request, half a ClientHello, a
#    client that quits or resets after its ClientHello, a handshake and no request):
#    requests and aborted unchanged, the access log gets no line. Then, every connection
#    closed and one scrape done, the observer's BPF maps conns, tls_links and tls_calls
#    (by the map ids in the observer's /proc/PID/fdinfo, dumped with bpftool) are empty
#  hold (the positive control of that map check): half request heads over TLS held open
#    are in flight and have their entries in conns and tls_links (and tls_calls for sync
#    and gthread, whose threads wait inside SSL_read); reset, they count as aborted, the
#    log has no line, and the maps are empty again
#  whole run: the master's counts per code against its whole access log (a worker gone
#    included), every live worker exact, aborted = the requests the clients reset
# Then a sync master with --do-handshake-on-connect (the handshake in SSL_do_handshake at
# accept, not in the first SSL_read): the bytes phase, the faults, the whole run.
# And: gunicorn_observer_events_dropped_total{reason="tls_map_full"} is exposed (0 here),
# the clear-text master counts exactly beside the TLS ones, the gauge is 0 once the TLS
# masters are gone, and promtool check metrics passes.
# Usage: sudo ./test_tls.sh [--quick] [--ci]   (env: VERBOSE=1 KEEP=1 OBSERVER=path TLS_LOADER=ab|h2load)
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
for tool in openssl curl bpftool; do
    command -v "$tool" > /dev/null || { fail "$tool is missing (apt-get install openssl curl bpftool)"; finish; }
done
W=$WORKDIR CERT=$WORKDIR/cert.pem KEY=$WORKDIR/key.pem
export PYTHONDONTWRITEBYTECODE=1
K=3 NSLEEP=40 NAB=400 NRESET=4 NHS=2 NNEW=12 NHOLD=2
[ "$QUICK" = 1 ] && K=1 NSLEEP=20 NAB=100 NRESET=2 NHS=1 NNEW=6
NTLS=0  # TLS masters started so far

# ab (apache2-utils) as the other scripts' tools come: tests/deps.sh installs it when missing;
# else h2load --h1 when present. TLS_LOADER=ab|h2load chooses.
LOADER=${TLS_LOADER:-}
if [ -z "$LOADER" ] && ! command -v ab > /dev/null; then
    TMO=300 run sh "$HERE/../tests/deps.sh" apache2-utils > "$W/deps.log" 2>&1 || true
fi
if [ -z "$LOADER" ]; then
    if command -v ab > /dev/null; then LOADER=ab
    elif command -v h2load > /dev/null; then LOADER=h2load; fi
fi

say "self-signed certificate"
if run openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$KEY" -out "$CERT" > "$W/openssl.log" 2>&1 &&
    openssl x509 -in "$CERT" -noout 2> /dev/null; then
    pass "openssl made a self-signed certificate and key ($(openssl x509 -in "$CERT" -noout -subject))"
else
    fail "openssl req failed: $(tail -n 3 "$W/openssl.log")"
    finish
fi

# tls NAME SCENARIO ARGS...: run tls_client.py against our gunicorn, its summary in $W/NAME.json
tls() {
    local name=$1 out
    shift
    if out=$(TMO=300 run $PY "$HERE/tls_client.py" --port "$GPORT" --out "$W/$name.json" "$@" 2>&1); then pass "client $name: $out"; else fail "client $name: $(head -c 2000 <<< "$out")"; fi
}

jget() { $PY -c 'import json, sys; d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$1" "$2"; }

series_sum() { # FILE NAME: the sum of every sample of family NAME (unlabelled or not), empty when absent
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2; f = 1} END {if (f) print s}' "$1"
}

# check_tls_gauge WANT WHAT: until gunicorn_observer_tls_workers is WANT (up to SETTLE_SECS)
check_tls_gauge() {
    local want=$1 what=$2 f=$W/gauge.txt got=''
    for _ in $(seq $((SETTLE_SECS * 10))); do
        curl -sf --max-time 5 -o "$f" "http://127.0.0.1:$OPORT/metrics" && got=$(series_sum "$f" gunicorn_observer_tls_workers)
        [ "$got" = "$want" ] && break
        sleep 0.1
    done
    if [ "$got" = "$want" ]; then pass "$what: gunicorn_observer_tls_workers = $got"
    else fail "$what: gunicorn_observer_tls_workers = '${got:-absent}' after ${SETTLE_SECS} s, expected $want"; fi
}

# check_tls_line: the observer logged "has a TLS listener" once for master GPID, once per
# TLS master in all, and never for the clear-text master
check_tls_line() {
    local n mine plain
    for _ in $(seq 50); do
        [ "$(grep -c 'has a TLS listener' "$OBSERVER_LOG")" -ge "$NTLS" ] && break
        sleep 0.1
    done
    n=$(grep -c 'has a TLS listener' "$OBSERVER_LOG")
    mine=$(grep 'has a TLS listener' "$OBSERVER_LOG" | grep -cw -- "$GPID")
    plain=$(grep 'has a TLS listener' "$OBSERVER_LOG" | grep -cw -- "$PLAIN_GPID")
    if [ "$mine" = 1 ] && [ "$n" = "$NTLS" ] && [ "$plain" = 0 ]; then
        pass "observer log: one 'has a TLS listener' line for master $GPID ($NTLS for $NTLS TLS masters, none for the clear-text master): '$(grep 'has a TLS listener' "$OBSERVER_LOG" | grep -w -- "$GPID")'"
    else
        fail "observer log: $mine 'has a TLS listener' lines naming master $GPID (want 1), $n in all (want $NTLS), $plain naming the clear-text master $PLAIN_GPID (want 0): $(grep 'has a TLS listener' "$OBSERVER_LOG" | head -n 5)"
    fi
}

# map_counts NAME...: "NAME=N" per BPF map of that name the observer (OPID) holds open (its
# fds' map_id in /proc/OPID/fdinfo, so another observer's maps of the same names never
# count), N the entries bpftool dumps; "NAME=missing" when it holds none of that name
map_counts() {
    local ids
    mapfile -t ids < <(cat /proc/"$OPID"/fdinfo/* 2>/dev/null | awk '/^map_id:/ {print $2}' | sort -un)
    $PY - "$@" "${ids[@]}" <<'PY'
import json, subprocess, sys
names = [a for a in sys.argv[1:] if not a.isdigit()]
ids = {int(a) for a in sys.argv[1:] if a.isdigit()}
show = json.loads(subprocess.run(["bpftool", "map", "show", "-j"], capture_output=True, text=True).stdout or "[]")
for name in names:
    mine = [m["id"] for m in show if m["id"] in ids and m.get("name") == name[:15]]
    if not mine:
        print("%s=missing" % name)
        continue
    n = 0
    for i in mine:
        out = subprocess.run(["bpftool", "map", "dump", "id", str(i), "-j"], capture_output=True, text=True)
        n += len(json.loads(out.stdout or "[]"))
    print("%s=%d" % (name, n))
PY
}

# check_maps_empty WHAT: every connection closed, one scrape, then conns, tls_links and
# tls_calls of the observer must be empty. When not, says how long they take to drain.
check_maps_empty() {
    local what=$1 got t0
    sleep 1  # the workers close their ends; the socket plane's sweep runs every second
    scrape "$W/maps-$what.txt"
    got=$(map_counts conns tls_links tls_calls | tr '\n' ' ')
    vsay "BPF maps after $what: $got"
    if [ "$got" = "conns=0 tls_links=0 tls_calls=0 " ]; then
        pass "$what: after the clients closed and one scrape, BPF maps empty: $got"
        return 0
    fi
    t0=$SECONDS
    for _ in $(seq 20); do
        sleep 0.5
        scrape "$W/maps-$what-late.txt"
        [ "$(map_counts conns tls_links tls_calls | tr '\n' ' ')" = "conns=0 tls_links=0 tls_calls=0 " ] && break
    done
    fail "$what: after the clients closed and one scrape, BPF maps hold: $got(expected conns=0 tls_links=0 tls_calls=0; $(map_counts conns tls_links tls_calls | tr '\n' ' ')$((SECONDS - t0 + 1)) s later)"
}

# maps_then_adv_check K WHAT N: the maps empty after phase WHAT, then adv_check.py over the
# phase's scrapes (f0 before, f1 after) and access-log lines from l0: N requests aborted
maps_then_adv_check() {
    local k=$1 what=$2 n=$3 out
    check_maps_empty "$k-$what"
    cp "$W/maps-$k-$what.txt" "$f1"
    out=$(run $PY "$HERE/adv_check.py" --what "$k $what" --before "$f0" --after "$f1" --log "$ACCESS_LOG" \
        --log-from "$l0" --log-to "$(log_lines)" --master "$GPID" --per-worker --aborted "$n:$n" \
        --entries conns=0 --entries stash=0 2>&1)
    tally "adv_check.py $k $what" "$?" "$out"
}

# phase_bytes K: the mix and curl clients, then every per-worker and byte check
phase_bytes() {
    local k=$1 ka=$2 mix
    mix="/:$((20 * K)),/notfound:$((4 * K)),/error:$((4 * K)),/redirect:$((4 * K)),/sleep:$((2 * K)),/big:$((4 * K))"
    mix="$mix,/chunked?n=20&size=3000:$((2 * K)),/file?size=100000:$((2 * K)),/echo:$((12 * K))"
    say "$k: bytes phase: tls_client.py mix ($mix, keep-alive $ka, 4 threads) and curl"
    tls "$k-mix" mix --mix "$mix" --post-sizes 0,1,100,3000,5000,16384,20000,70000 --keepalive "$ka" --concurrency 4
    tls "$k-curl" curl --count "$K"
    local nreq ncon
    nreq=$(jget "$W/$k-curl.json" curl_requests) ncon=$(jget "$W/$k-curl.json" connections)
    if [[ $k == sync* ]]; then
        if [ "$ncon" = "$nreq" ]; then pass "$k: curl opened a connection per request ($ncon for $nreq: sync workers close)"
        else fail "$k: curl opened $ncon connections for $nreq requests, expected one each (sync)"; fi
    elif [ "$ncon" -lt "$nreq" ] && [ "$ncon" -le "$(jget "$W/$k-curl.json" curls)" ]; then
        pass "$k: curl reused its connections: $ncon connections for $nreq requests in $(jget "$W/$k-curl.json" curls) curls"
    else
        fail "$k: curl opened $ncon connections for $nreq requests in $(jget "$W/$k-curl.json" curls) curls: no keep-alive reuse"
    fi
    settle $(($(client_total "$W/$k-mix.json") + $(client_total "$W/$k-curl.json")))
    scrape "$W/$k-bytes.txt"
    L_BYTES=$(log_lines)
    compare routes --log "$ACCESS_LOG" --client "$W/$k-mix.json" --client "$W/$k-curl.json" --what "$k bytes phase"
    compare full --metrics "$W/$k-bytes.txt" --log "$ACCESS_LOG" --client "$W/$k-mix.json" \
        --client "$W/$k-curl.json" --master "$GPID" --app app:app
}

phase_duration() {
    local k=$1
    say "$k: duration phase: /sleep x $NSLEEP over keep-alive TLS, sequential"
    tls "$k-sleep" mix --mix "/sleep:$NSLEEP" --keepalive 10
    settle $((L_BYTES + $(client_total "$W/$k-sleep.json")))
    scrape "$W/$k-sleep.txt"
    L_SLEEP=$(log_lines)
    compare duration --before "$W/$k-bytes.txt" --after "$W/$k-sleep.txt" --log "$ACCESS_LOG" \
        --log-from "$L_BYTES" --master "$GPID"
    compare full --before "$W/$k-bytes.txt" --metrics "$W/$k-sleep.txt" --log "$ACCESS_LOG" \
        --log-from "$L_BYTES" --client "$W/$k-sleep.json" --master "$GPID"
}

phase_load() {
    local k=$1 n=''
    L_LOAD=$L_SLEEP
    cp "$W/$k-sleep.txt" "$W/$k-load.txt"
    if [ -z "$LOADER" ] || ! command -v "$LOADER" > /dev/null; then
        say "$k: no ab (apache2-utils could not be installed: $(tail -n 1 "$W/deps.log" 2>/dev/null)) and no h2load: load phase skipped"
        return 0
    fi
    say "$k: load phase: $LOADER, $NAB requests, 4 connections, keep-alive"
    if [ "$LOADER" = ab ]; then
        TMO=120 run ab -n "$NAB" -c 4 -k "https://127.0.0.1:$GPORT/" > "$W/$k-ab.out" 2>&1
        n=$(awk '/^Complete requests:/ {print $3}' "$W/$k-ab.out")
    else
        TMO=120 run h2load --h1 -n "$NAB" -c 4 "https://127.0.0.1:$GPORT/" > "$W/$k-ab.out" 2>&1
        n=$(awk '/^requests:/ {print $8}' "$W/$k-ab.out")  # "requests: N total, N started, N done, N succeeded"
    fi
    vsay "$(grep -E 'requests|Keep-Alive|Failed' "$W/$k-ab.out" | grep -v '^SSL' | head -n 8)"
    settle $((L_SLEEP + ${n:-0}))
    scrape "$W/$k-load.txt"
    L_LOAD=$(log_lines)
    if [ -n "$n" ] && [ "$((L_LOAD - L_SLEEP))" = "$n" ] && [ "$n" = "$NAB" ]; then
        pass "harness: $LOADER completed $n requests, the access log has $((L_LOAD - L_SLEEP))"
    else
        fail "harness: $LOADER completed '$n' of $NAB requests, the access log has $((L_LOAD - L_SLEEP)): $(tail -n 5 "$W/$k-ab.out")"
    fi
    compare full --before "$W/$k-sleep.txt" --metrics "$W/$k-load.txt" --log "$ACCESS_LOG" \
        --log-from "$L_SLEEP" --master "$GPID"
}

# phase_new_worker K ttin|kill: a worker forked after the observer attached, served exactly
phase_new_worker() {
    local k=$1 how=$2 old=("${WORKER_PIDS[@]}") want=3 victim='' new='' i
    if [ "$how" = ttin ]; then
        say "$k: kill -TTIN $GPID (a third worker, forked with the uprobes attached)"
        run kill -TTIN "$GPID"
    else
        victim=${WORKER_PIDS[0]} want=2
        say "$k: kill -TERM worker $victim (the master forks its successor)"
        run kill -TERM "$victim"
    fi
    for i in $(seq 150); do
        mapfile -t WORKER_PIDS < <(pgrep -P "$GPID")
        new=$(printf '%s\n' "${WORKER_PIDS[@]}" | grep -vxF -f <(printf '%s\n' "${old[@]}") | head -n 1)
        [ "${#WORKER_PIDS[@]}" = "$want" ] && [ -n "$new" ] && { [ -z "$victim" ] || ! alive "$victim"; } &&
            grep -q "Booting worker with pid: $new" "$GUNICORN_LOG" && break
        sleep 0.1
    done
    if [ -z "$new" ] || [ "${#WORKER_PIDS[@]}" != "$want" ]; then
        fail "$k: no new worker after $how (workers now ${WORKER_PIDS[*]})"
        return 1
    fi
    ALL_WORKER_PIDS+=("$new")
    sleep 0.5  # the app loads in the new worker
    wait_discovered
    check_tls_gauge "$want" "$k: after $how (workers ${WORKER_PIDS[*]}, new $new)"
    say "$k: new-worker phase: TLS requests until worker $new answered $NNEW"
    tls "$k-new" mix --mix "/:$((6 * K)),/notfound:$K,/echo:$((2 * K))" --post-sizes 0,3000,20000 \
        --keepalive 3 --concurrency 4 --min-worker "$new:$NNEW" --seed 2
    settle $((L_LOAD + $(client_total "$W/$k-new.json")))
    scrape "$W/$k-new.txt"
    local nlog got
    nlog=$(awk -v p="<$new>" '$1 == p' "$ACCESS_LOG" | wc -l)
    got=$(grep '^gunicorn_worker_requests_total{' "$W/$k-new.txt" | grep -F "worker_pid=\"$new\"" | awk '{print $NF}')
    if [ "$nlog" -ge "$NNEW" ] && [ "${got:-x}" = "$nlog" ]; then
        pass "$k: worker $new forked after the observer attached: requests_total $got, its access log lines $nlog (every one since its first)"
    else
        fail "$k: worker $new forked after the observer attached: requests_total '${got:-absent}', its access log lines $nlog (want equal, >= $NNEW)"
    fi
    compare full --before "$W/$k-load.txt" --metrics "$W/$k-new.txt" --log "$ACCESS_LOG" --log-from "$L_LOAD" \
        --client "$W/$k-new.json" --master "$GPID"
}

phase_faults() {
    local k=$1 f0 f1 l0 out n prev=''
    say "$k: faults: $NRESET resets mid-response, $NHS rounds of failed handshakes"
    f0=$W/$k-faults0.txt f1=$W/$k-faults1.txt
    scrape "$f0"
    l0=$(log_lines)
    tls "$k-reset" reset --count "$NRESET"
    # each kind of failed handshake alone: no request and no aborted one may count for it
    local c fa fb=$f0 nb na ab aa
    for c in garbage plain truncated abort rst norequest; do
        tls "$k-handshake-$c" handshake --count "$NHS" --case "$c"
        sleep 0.5  # the workers close their ends
        fa=$W/$k-handshake-$c.txt
        scrape "$fa"
        nb=$(master_sum "$fb" gunicorn_worker_requests_total) na=$(master_sum "$fa" gunicorn_worker_requests_total)
        ab=$(master_sum "$fb" 'gunicorn_worker_failed_requests_total' 'reason="aborted"')
        aa=$(master_sum "$fa" 'gunicorn_worker_failed_requests_total' 'reason="aborted"')
        if [ "$fb" = "$f0" ]; then ab=$((ab + NRESET)); fi  # the resets just before count as aborted
        if [ "$na" = "$nb" ] && [ "$aa" = "$ab" ]; then
            pass "$k: failed handshake '$c' x $NHS: requests_total +0, aborted +0"
        else
            fail "$k: failed handshake '$c' x $NHS: requests_total +$((na - nb)), aborted +$((aa - ab)) (expected +0, +0: no request of the TLS listener)"
        fi
        fb=$fa
    done
    for _ in $(seq 30); do  # the access log stays still; the workers are done with them
        n=$(log_lines)
        [ "$n" = "$prev" ] && break
        prev=$n
        sleep 0.2
    done
    if [ "$(log_lines)" = "$l0" ]; then pass "harness: the access log has no line for the resets and failed handshakes"
    else fail "harness: the access log got $(($(log_lines) - l0)) lines during the resets and failed handshakes: $(tail -n +$((l0 + 1)) "$ACCESS_LOG" | head -n 5)"; fi
    maps_then_adv_check "$k" faults "$NRESET"
    out=$(PYTHONPATH=$HERE run $PY - "$f0" "$f1" "$GPID" "$W/$k-reset.json" <<'PY'
import json, sys
from compare import Snap, report
snap = Snap(sys.argv[2], sys.argv[1], sys.argv[3])
resets = json.load(open(sys.argv[4]))["resets"]
pids = set(resets) | snap.label_values("gunicorn_worker_requests_total", "worker_pid")
for pid in sorted(pids):
    got = snap.get("gunicorn_worker_failed_requests_total", reason="aborted", worker_pid=pid) or 0
    report(got == resets.get(pid, 0), "faults: worker %s failed_requests_total{reason=aborted} grew by %d, "
           "the client reset %d of its responses" % (pid, got, resets.get(pid, 0)))
PY
)
    tally "per-worker aborted" "$?" "$out"
}

# master_sum FILE NAME [LABEL="V"]: the sum of NAME's worker series of master GPID (with that label)
master_sum() {
    grep "^$2{" "$1" | grep -F "master_pid=\"$GPID\"" | grep -F "${3:-}" | awk '{s += $NF} END {print s + 0}'
}
kv() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }  # "A=1 B=2" B -> 2
in_flight() { grep '^gunicorn_worker_in_flight_requests{' "$1" | grep -F "master_pid=\"$GPID\"" | awk '{s += $NF} END {print s + 0}'; }

# phase_hold K: the positive control of the map checks. NHOLD TLS connections each send half
# a request head and wait: while the workers wait in SSL_read for the rest, the maps hold their
# entries (conns and tls_links one per connection; tls_calls one per worker thread blocked
# inside SSL_read: sync and gthread; a gevent worker's SSL_read returns WANT_READ and its
# greenlet waits outside). Then each connection is reset: the requests count as aborted,
# Gunicorn logs nothing, and the maps are empty again.
phase_hold() {
    local k=$1
    local f0=$W/$k-hold0.txt f1=$W/$k-hold1.txt fm=$W/$k-hold-mid.txt l0 cpid infl=0 got want_calls=$NHOLD out c l t
    [ "$k" = gevent ] && want_calls=0
    say "$k: $NHOLD TLS connections with half a request each, held, then reset"
    scrape "$f0"
    l0=$(log_lines)
    rm -f "$W/$k-hold.ready" "$W/$k-hold.release"
    vsay "+ $PY $HERE/tls_client.py --port $GPORT --out $W/$k-hold.json hold --count $NHOLD"
    $PY "$HERE/tls_client.py" --port "$GPORT" --out "$W/$k-hold.json" hold --count "$NHOLD" \
        --ready "$W/$k-hold.ready" --release "$W/$k-hold.release" > "$W/$k-hold-client.log" 2>&1 &
    cpid=$!
    STARTED+=("$cpid")
    for _ in $(seq 100); do [ -e "$W/$k-hold.ready" ] || ! alive "$cpid" && break; sleep 0.1; done
    for _ in $(seq 50); do  # until the workers have read the halves
        curl -sf --max-time 5 -o "$fm" "http://127.0.0.1:$OPORT/metrics" && infl=$(in_flight "$fm")
        [ "$infl" = "$NHOLD" ] && break
        sleep 0.1
    done
    got=$(map_counts conns tls_links tls_calls | tr '\n' ' ')
    touch "$W/$k-hold.release"
    if wait "$cpid"; then pass "client $k-hold: $(head -n 1 "$W/$k-hold-client.log")"
    else fail "client $k-hold: $(head -c 2000 "$W/$k-hold-client.log")"; fi
    if [ "$infl" = "$NHOLD" ]; then pass "$k: $NHOLD half requests over TLS in flight while held"
    else fail "$k: in_flight_requests of master $GPID $infl while $NHOLD half requests were held, expected $NHOLD"; fi
    c=$(kv "$got" conns) l=$(kv "$got" tls_links) t=$(kv "$got" tls_calls)
    if [ "${c:-0}" -ge "$NHOLD" ] 2> /dev/null && [ "${l:-0}" -ge "$NHOLD" ] 2> /dev/null && [ "$t" = "$want_calls" ]; then
        pass "$k: while held, the maps hold the connections: $got(conns, tls_links >= $NHOLD; tls_calls $want_calls)"
    else
        fail "$k: while $NHOLD half requests were held, the maps hold $got(expected conns >= $NHOLD, tls_links >= $NHOLD, tls_calls = $want_calls)"
    fi
    maps_then_adv_check "$k" hold "$NHOLD"
    if [ "$(log_lines)" = "$l0" ]; then pass "harness: the access log has no line for the held and reset requests"
    else fail "harness: the access log got $(($(log_lines) - l0)) lines for the held and reset requests"; fi
}

# whole_run K HOLDS: master GPID's whole run against its whole access log: per code for the
# master (workers gone included), every live worker exact, aborted = what the clients reset
# (the responses reset, and HOLDS half requests)
whole_run() {
    local k=$1 holds=$2 out
    say "$k: whole run of master $GPID"
    scrape "$W/$k-end.txt"
    out=$(PYTHONPATH=$HERE run $PY - "$W/$k-end.txt" "$ACCESS_LOG" "$GPID" "$holds" "$W/$k-reset.json" <<'PY'
import collections, json, sys
from compare import Snap, count_check, hist_checks, parse_log, report
snap = Snap(sys.argv[1], None, sys.argv[3])
log = parse_log(sys.argv[2], 0, None)
holds, resets = int(sys.argv[4]), collections.Counter(json.load(open(sys.argv[5]))["resets"])
by_pid = collections.Counter(r[0] for r in log)
by_pid_code = collections.Counter((r[0], r[1]) for r in log)
by_code = collections.Counter(r[1] for r in log)
live = snap.label_values("gunicorn_worker_requests_total", "worker_pid")
print("# whole run of master %s: %d log lines; live workers %s; gone %s" % (
    sys.argv[3], len(log), ",".join(sorted(live)), ",".join(sorted(set(by_pid) - live)) or "none"))
for code in sorted(set(by_code) | snap.label_values("gunicorn_requests_total", "code")):
    count_check("whole run: master requests_total{code=%s}" % code, snap.get("gunicorn_requests_total", code=code), by_code[code])
count_check("whole run: master request_duration_seconds_count", snap.get("gunicorn_request_duration_seconds_count"), len(log))
total_aborted = 0
for pid in sorted(live):
    m = {"worker_pid": pid}
    req = snap.get("gunicorn_worker_requests_total", **m)
    count_check("whole run: worker %s requests_total" % pid, req, by_pid[pid])
    for code in sorted({c for p, c in by_pid_code if p == pid} | snap.label_values("gunicorn_worker_responses_total", "code", **m)):
        count_check("whole run: worker %s responses_total{code=%s}" % (pid, code),
                    snap.get("gunicorn_worker_responses_total", code=code, **m), by_pid_code[(pid, code)])
    ab = snap.get("gunicorn_worker_failed_requests_total", reason="aborted", **m) or 0
    total_aborted += ab
    report(resets[pid] <= ab <= resets[pid] + holds, "whole run: worker %s aborted %d, bound [%d, %d] (%d of its "
           "responses reset, and of the %d half requests held and reset)" % (pid, ab, resets[pid], resets[pid] + holds, resets[pid], holds))
    for h in ("gunicorn_worker_request_duration_seconds", "gunicorn_worker_request_size_bytes", "gunicorn_worker_response_size_bytes"):
        hist_checks(snap, h, "whole run: worker %s" % pid, m, req)
report(total_aborted == sum(resets.values()) + holds, "whole run: aborted over the live workers %d, expected %d "
       "(%d responses reset, %d half requests reset)" % (total_aborted, sum(resets.values()) + holds, sum(resets.values()), holds))
PY
)
    tally "whole run $k" "$?" "$out"
}

# tls_class K HOW_NEW ARGS...: a TLS master with 2 workers and every phase
tls_class() {
    local k=$1 how=$2 ka=10
    shift 2
    [ "$k" = sync ] && ka=5  # sync workers close anyway: the client then reconnects
    NTLS=$((NTLS + 1))
    say "worker class $k: master $GPID, workers ${WORKER_PIDS[*]}"
    wait_discovered
    check_tls_line
    check_tls_gauge 2 "$k: 2 workers of one TLS master (the clear-text master's worker not counted)"
    phase_bytes "$k" "$ka"
    phase_duration "$k"
    phase_load "$k"
    phase_new_worker "$k" "$how"
    phase_faults "$k"
    phase_hold "$k"
    whole_run "$k" "$NHOLD"
    check_drops "$k"
    stop_pid "$GPID"
}

check_drops() {
    local d
    d=$(metric "$W/$1-end.txt" 'gunicorn_observer_events_dropped_total{reason="tls_map_full"}')
    if [ "$d" = 0 ]; then pass "$1: gunicorn_observer_events_dropped_total{reason=\"tls_map_full\"} is exposed: 0"
    else fail "$1: gunicorn_observer_events_dropped_total{reason=\"tls_map_full\"} is '${d:-absent}', expected 0"; fi
}

## the clear-text control and the first TLS master, both before the observer -----------
ACCESS_LOG=$W/access-plain.log GUNICORN_LOG=$W/gunicorn-plain.log
start_gunicorn 1 -k sync
PLAIN_GPID=$GPID PLAIN_PORT=$GPORT PLAIN_WORKERS=("${WORKER_PIDS[@]}")
ACCESS_LOG=$W/access-sync.log GUNICORN_LOG=$W/gunicorn-sync.log
start_gunicorn 2 -k sync --certfile "$CERT" --keyfile "$KEY" --log-level debug
start_observer --match "$W"
tls_class sync ttin

## gthread: the certificate in GUNICORN_CMD_ARGS -----------------------------------------
ACCESS_LOG=$W/access-gthread.log GUNICORN_LOG=$W/gunicorn-gthread.log
GUNICORN_CMD_ARGS="--certfile=$CERT --keyfile=$KEY" start_gunicorn 2 -k gthread --threads 4 --keep-alive 5 --log-level debug
if tr '\0' '\n' < "/proc/$GPID/environ" | grep -qx "GUNICORN_CMD_ARGS=--certfile=$CERT --keyfile=$KEY" &&
    ! grep -q -- --certfile "/proc/$GPID/cmdline"; then
    pass "harness: gthread master $GPID has its certificate in GUNICORN_CMD_ARGS only"
else
    fail "harness: gthread master $GPID: GUNICORN_CMD_ARGS not in its environment, or --certfile on its command line"
fi
tls_class gthread kill

## gevent: the certificate in a config file -----------------------------------------------
printf 'certfile = "%s"\nkeyfile = "%s"\n' "$CERT" "$KEY" > "$W/gevent.conf.py"
ACCESS_LOG=$W/access-gevent.log GUNICORN_LOG=$W/gunicorn-gevent.log
start_gunicorn 2 -c "$W/gevent.conf.py" -k gevent --worker-connections 100 --keep-alive 5 --log-level debug
tls_class gevent ttin

## sync with --do-handshake-on-connect: the handshake in SSL_do_handshake at accept --------
# The other masters do it lazily, inside their first SSL_read. Here the worker's first
# socket reads run under SSL_do_handshake, not under an SSL read: a plain-text request sent
# to the TLS port is still no request of the TLS listener, and Gunicorn logs nothing.
ACCESS_LOG=$W/access-sync-hs.log GUNICORN_LOG=$W/gunicorn-sync-hs.log
start_gunicorn 2 -k sync --certfile "$CERT" --keyfile "$KEY" --do-handshake-on-connect --log-level debug
NTLS=$((NTLS + 1))
say "worker class sync, --do-handshake-on-connect: master $GPID, workers ${WORKER_PIDS[*]}"
wait_discovered
check_tls_line
check_tls_gauge 2 "sync --do-handshake-on-connect"
phase_bytes sync-hs 5
phase_faults sync-hs
whole_run sync-hs 0
check_drops sync-hs
stop_pid "$GPID"

## after the TLS masters -------------------------------------------------------------
check_tls_gauge 0 "no TLS master left (the clear-text master runs)"
GPID=$PLAIN_GPID GPORT=$PLAIN_PORT WORKER_PIDS=("${PLAIN_WORKERS[@]}")
ACCESS_LOG=$W/access-plain.log GUNICORN_LOG=$W/gunicorn-plain.log
say "clear-text master $GPID beside the TLS ones"
client "$W/plain.json" --mix "/:$((10 * K)),/notfound:$K,/echo:$((3 * K))" --keepalive 0
settle "$(client_total "$W/plain.json")"
scrape "$W/plain.txt"
compare full --metrics "$W/plain.txt" --log "$ACCESS_LOG" --client "$W/plain.json" --master "$GPID" --app app:app
n=$(grep -c 'has a TLS listener' "$OBSERVER_LOG")
if [ "$n" = "$NTLS" ]; then pass "observer log: $n 'has a TLS listener' lines in all, one per TLS master"
else fail "observer log: $n 'has a TLS listener' lines in all, expected $NTLS"; fi
check_maps_empty "end"
promtool_check "$W/plain.txt"
if alive "$OPID"; then pass "observer still running"; else fail "observer died: $(tail -n 3 "$OBSERVER_LOG")"; fi
finish
