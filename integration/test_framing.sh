#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: how responses end, against sync, gthread (--threads 4 --keep-alive 5)
# and gevent (--keep-alive 5) workers. framing_client.py reads each response by its own
# framing and never needs a close to know one is done:
#  close phase (a connection per case, ended by the server): chunked with Connection:
#    close; HTTP/1.0 close-delimited bodies (a generator; a file through
#    wsgi.file_wrapper, sent with sendfile); HTTP/1.0 sendfile with Content-Length; HEAD
#    and 204 over HTTP/1.0; an Expect: 100-continue POST (the body goes after the 100);
#    five requests pipelined in one send (gevent answers all; sync only the first, then
#    closes; gthread only the first, the rest stay in its parser's buffer until it closes
#    the connection at --keep-alive)
#  keep-alive phase (HTTP/1.1): on each of 10 connections (11 for gevent) every kind
#    below, rotated so each connection ends on another: Content-Length, HEAD (with and
#    without a length), 204, 304, chunked (a generator), many writes with a length,
#    sendfile (send_file), sendfile framed as a chunk plus the terminator
#    (wsgi.file_wrapper, no length), Expect: 100-continue POST, and for gevent three
#    keep-alive requests pipelined in one send. Then every connection stays open and
#    idle (sync workers close after each response: nothing stays open there).
# Checks, while the keep-alive connections are held open and idle, from ONE scrape taken
# as soon as the access log has every response (no wait for the observer): compare.py
# routes (harness: the client's responses are the access log's, by worker, status,
# method and path), compare.py full (per worker and code exact; request bytes = bytes the
# client sent, response bytes = bytes it received, interim 100 Continue included; nothing
# in flight or aborted). The client then checks that no held connection was closed or
# written to meanwhile, closes them, and the same checks run again once settled.
# Gunicorn logs every response these cases get (a 400 to an unparsable request, which it
# does not log, cannot happen here: every response must carry X-Worker-Pid); the 100
# Continue is no response of its own and has no log line.
# Usage: sudo ./test_framing.sh [--quick] [--ci]   (env: VERBOSE=1 KEEP=1 OBSERVER=path)
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
W=$WORKDIR
ACCESS_FORMAT='%(p)s %(s)s %(D)s %(B)s %(m)s %(U)s'
KA=5  # --keep-alive of gthread and gevent: long enough to scrape while idle

# at_pause K PHASE: once the client paused after PHASE, the access log has every response
# so far (no wait for the observer): one scrape to $W/K-PHASE.txt, then release the client.
# Sets N_PHASE (responses so far); returns 1 if the client ended without pausing.
at_pause() {
    local k=$1 phase=$2
    for _ in $(seq 1200); do [ -e "$W/$k.ready.$phase" ] || ! alive "$cpid" && break; sleep 0.05; done
    if [ ! -e "$W/$k.ready.$phase" ]; then
        fail "$k: the framing client did not finish its $phase phase within 60 s: $(tail -n 5 "$W/$k-client.log")"
        return 1
    fi
    N_PHASE=$(client_total "$W/$k.json")
    await_log "$N_PHASE"
    scrape "$W/$k-$phase.txt"
    touch "$W/$k.release.$phase"
}

# shellcheck disable=SC2119 # start_observer takes optional extra flags; none here
start_observer
CLASSES=("sync:-k sync" "gthread:-k gthread --threads 4 --keep-alive $KA"
    "gevent:-k gevent --worker-connections 100 --keep-alive $KA")
for c in "${CLASSES[@]}"; do
    k=${c%%:*} args=${c#*:}
    say "worker class $k"
    ACCESS_LOG=$W/access-$k.log GUNICORN_LOG=$W/gunicorn-$k.log
    # shellcheck disable=SC2086
    start_gunicorn 2 $args
    wait_discovered
    extra=()
    [ "$k" = gevent ] && extra=(--pipeline-idle)
    tmo=()
    [ "$CI" = 1 ] && tmo=(timeout -k 5 300)
    vsay "+ $PY $HERE/framing_client.py --port $GPORT --out $W/$k.json ${extra[*]}"
    "${tmo[@]}" $PY "$HERE/framing_client.py" --port "$GPORT" --out "$W/$k.json" --ready "$W/$k.ready" \
        --release "$W/$k.release" --server-close-timeout $((KA + 5)) "${extra[@]}" > "$W/$k-client.log" 2>&1 &
    cpid=$!
    STARTED+=("$cpid")
    ok=1
    at_pause "$k" close && n1=$N_PHASE && at_pause "$k" keepalive && n2=$N_PHASE || ok=0
    touch "$W/$k.release.close" "$W/$k.release.keepalive"  # a client left waiting goes on
    wait "$cpid"
    rc=$?
    if [ "$rc" = 0 ]; then pass "$k client: $(head -n 1 "$W/$k-client.log")"
    else fail "$k client (exit $rc): $(head -c 2000 "$W/$k-client.log")"; fi
    if [ "$ok" = 0 ]; then stop_pid "$GPID"; continue; fi
    read -r held open < <($PY -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["held"], s.get("held_open", -1))' "$W/$k.json")
    if [ "$k" = sync ]; then
        if [ "$held" = 0 ]; then pass "$k: no connection left open (sync workers close after every response)"
        else fail "$k: $held connections left open by sync workers"; fi
    elif [ "$held" -ge 10 ] && [ "$open" = "$held" ]; then
        pass "$k: all $held keep-alive connections were open and idle at the scrape (checked after it)"
    else
        fail "$k: $open of $held keep-alive connections still open and idle after the scrape (expected >= 10, all): the one-scrape check does not test idle connections"
    fi
    say "$k: close phase (every connection ended by the server), one scrape right after its last access log line"
    compare routes --log "$ACCESS_LOG" --log-to "$n1" --client "$W/$k-close.json" --what "$k close phase"
    compare full --metrics "$W/$k-close.txt" --log "$ACCESS_LOG" --log-to "$n1" --client "$W/$k-close.json" \
        --master "$GPID" --app app:app
    say "$k: keep-alive phase, one scrape right after its last access log line$([ "$held" != 0 ] && echo ", its $held connections open and idle")"
    compare routes --log "$ACCESS_LOG" --log-from "$n1" --log-to "$n2" --client "$W/$k-keepalive.json" --what "$k keep-alive phase"
    compare full --before "$W/$k-close.txt" --metrics "$W/$k-keepalive.txt" --log "$ACCESS_LOG" --log-from "$n1" \
        --log-to "$n2" --client "$W/$k-keepalive.json" --master "$GPID"
    settle "$n2"
    scrape "$W/$k-closed.txt"
    say "$k: whole run, after the client closed its connections"
    compare full --metrics "$W/$k-closed.txt" --log "$ACCESS_LOG" --client "$W/$k.json" --master "$GPID" --app app:app
    stop_pid "$GPID"
done
promtool_check "$W/gevent-closed.txt"
finish
