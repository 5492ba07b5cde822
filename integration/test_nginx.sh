#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: Gunicorn on a UNIX socket behind a real nginx (Debian's, started by
# this script with its own config, prefix, pid and logs in the work directory), clients
# (client.py) on nginx's TCP port. Ground truth: Gunicorn's access log ('%(p)s %(s)s
# %(D)s %(B)s %(m)s %(U)s') for counts per worker and status code, nginx's access log
# ($upstream_bytes_sent, $upstream_bytes_received, $upstream_http_x_worker_pid) for the
# bytes between nginx and Gunicorn, which are what the workers read and wrote.
#  sync      sync workers, nginx's default upstream (HTTP/1.0, a connection per request);
#            then close-delimited responses (a generator, no length), which the socket
#            plane ends only by its sweep: exact in one scrape, no connection entry left
#  gthread   --threads 4 --keep-alive 30, nginx `keepalive 8` with HTTP/1.1 upstream
#  gevent    --keep-alive 30, the same pooled upstream
#  preexisting  gthread behind the pooled upstream; the pool fills BEFORE the observer
#            starts, traffic stops, the observer starts, traffic resumes over the same
#            pooled connections (`ss -x`: the same sockets before and after, so the
#            check cannot pass on new connections): every request after the start is
#            counted, exactly the access log lines logged after it
# In every case the check is ONE scrape as soon as the access logs are complete (never a
# wait for the observer to catch up): nginx's pooled connections stay open and idle, so
# each one's last response must already be counted when its last byte was written. The
# pooled cases are then checked again after nginx stopped and closed its pool.
# Per check: compare.py routes (harness: nginx's and the client's responses are the access
# log's), compare.py full (per worker and code exact, bytes exact vs nginx's upstream
# counts, histogram consistency, nothing in flight).
# Usage: sudo ./test_nginx.sh [--quick] [--ci]   (env: VERBOSE=1 KEEP=1 OBSERVER=path NGINX=path)
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
NGINX=${NGINX:-/usr/sbin/nginx}
if [ ! -x "$NGINX" ]; then
    fail "nginx not found at $NGINX (apt-get install nginx)"
    finish
fi
W=$WORKDIR
ACCESS_FORMAT='%(p)s %(s)s %(D)s %(B)s %(m)s %(U)s'
K=2
[ "$QUICK" = 1 ] && K=1
MIX="/:$((20 * K)),/notfound:$((4 * K)),/error:$((4 * K)),/redirect:$((4 * K)),/sleep:$((4 * K))"
MIX="$MIX,/big:$((4 * K)),/echo:$((12 * K))"
POSTS=0,1,100,1000,4096,10000,65536,200000
NPID='' NPORT='' NLOG=''

nlog_lines() { if [ -f "$NLOG" ]; then wc -l < "$NLOG"; else echo 0; fi; }

# start_nginx NAME POOL: nginx on a free port in front of GUNICORN_UNIX; POOL=1: HTTP/1.1
# upstream with `keepalive 8` (else nginx's default: HTTP/1.0, Connection: close)
start_nginx() {
    local name=$1 pool=$2 d=$W/nginx-$1 i up='' loc=''
    mkdir -p "$d"
    NPORT=$(free_port) NLOG=$W/nginx-$name-access.log
    if [ "$pool" = 1 ]; then
        up="keepalive 8; keepalive_timeout 300s;"
        loc="proxy_http_version 1.1; proxy_set_header Connection \"\";"
    fi
    cat > "$d/nginx.conf" << EOF
# written by test_nginx.sh
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $W/nginx-$name-error.log warn;
events { worker_connections 512; }
http {
    log_format upstream '\$upstream_http_x_worker_pid|\$upstream_status|\$upstream_bytes_sent|\$upstream_bytes_received|\$request_method|\$request_uri';
    access_log $NLOG upstream;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    client_max_body_size 16m;
    upstream gunicorn { server unix:$GUNICORN_UNIX; $up }
    server {
        listen 127.0.0.1:$NPORT;
        location / { proxy_pass http://gunicorn; $loc }
    }
}
EOF
    vsay "+ $NGINX -p $d/ -c $d/nginx.conf -g 'daemon off;'"
    "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$W/nginx-$name-error.log" -g 'daemon off;' 2> "$W/nginx-$name.log" &
    NPID=$!
    STARTED+=("$NPID")
    for i in $(seq 100); do
        alive "$NPID" || break
        if [ -n "$(ss -Htln "sport = :$NPORT")" ]; then
            say "nginx $NPID on port $NPORT -> unix:$GUNICORN_UNIX ($([ "$pool" = 1 ] && echo "pooled: keepalive 8, HTTP/1.1" || echo "default: HTTP/1.0, no keepalive"))"
            return 0
        fi
        sleep 0.1
    done
    fail "nginx did not start within 10 s: $(cat "$W/nginx-$name.log" "$W/nginx-$name-error.log" 2> /dev/null | tail -n 5)"
    finish
}

# pool_conns: Gunicorn's ends of the connected sockets on GUNICORN_UNIX, "inode/peer inode",
# one a line, sorted
pool_conns() { ss -Hxn state established src "$GUNICORN_UNIX" | awk '{print $5 "/" $7}' | sort; }

# nclient NAME CLIENT_ARGS...: client.py against nginx, its summary in $W/NAME.json
nclient() {
    local name=$1
    shift
    if TMO=300 run $PY "$HERE/client.py" --port "$NPORT" --out "$W/$name.json" "$@"; then
        pass "client $name (via nginx) completed every request"
    else
        fail "client $name (via nginx) had errors (see $W/$name.json)"
    fi
}

# await_nginx N: nginx logs a request after it is done; up to 10 s for N lines
await_nginx() {
    local i
    for i in $(seq 200); do [ "$(nlog_lines)" -ge "$1" ] && return 0; sleep 0.05; done
    fail "nginx access log has $(nlog_lines) lines, expected $1 after 10 s"
}

# check_once NAME LOG_FROM NLOG_FROM CLIENT_JSON...: once both logs have the clients'
# responses, a single scrape, then every check against it
check_once() {
    local name=$1 l0=$2 n0=$3 n=0 c
    shift 3
    for c in "$@"; do n=$((n + $(client_total "$c"))); done
    await_log $((l0 + n))
    await_nginx $((n0 + n))
    scrape "$W/$name-once.txt"
    pool_conns > "$W/$name-conns-once.txt"
    TMO=30 run $PY "$HERE/nginx_log.py" --log "$NLOG" --from "$n0" --out "$W/$name-upstream.json" > "$W/$name-upstream.out" 2>&1 ||
        fail "$name: $(cat "$W/$name-upstream.out")"
    vsay "$(cat "$W/$name-upstream.out")"
    say "$name: one scrape right after the last access log line (no wait for the observer)"
    compare routes --log "$ACCESS_LOG" --log-from "$l0" --client "$W/$name-upstream.json" --what "$name: nginx->gunicorn"
    local cl=()
    for c in "$@"; do cl+=(--client "$c"); done
    compare routes --log "$ACCESS_LOG" --log-from "$l0" "${cl[@]}" --what "$name: client->nginx"
    compare full --metrics "$W/$name-once.txt" --log "$ACCESS_LOG" --log-from "$l0" \
        --client "$W/$name-upstream.json" --master "$GPID" --app app:app
}

# check_after_close NAME LOG_FROM: nginx stopped (its pooled connections closed), then
# the same checks once the observer settled
check_after_close() {
    local name=$1 l0=$2
    stop_pid "$NPID"
    settle "$(log_lines)"
    scrape "$W/$name-closed.txt"
    say "$name: after nginx stopped and closed its pooled connections"
    compare full --metrics "$W/$name-closed.txt" --log "$ACCESS_LOG" --log-from "$l0" \
        --client "$W/$name-upstream.json" --master "$GPID" --app app:app
}

# instance NAME: separate logs and socket for the next gunicorn master and nginx
instance() {
    ACCESS_LOG=$W/access-$1.log GUNICORN_LOG=$W/gunicorn-$1.log GUNICORN_UNIX=$W/g-$1.sock
    say "case $1"
}

## preexisting: the pool is filled before the observer starts ----------------------
instance preexisting
start_gunicorn 2 -k gthread --threads 4 --keep-alive 30
start_nginx preexisting 1
# overlapping /sleep requests: nginx opens 4 upstream connections and keeps them
nclient pre-fill --mix "/sleep:$((16 * K))" --keepalive 10 --concurrency 4
await_log "$(client_total "$W/pre-fill.json")"
await_nginx "$(client_total "$W/pre-fill.json")"
pool_conns > "$W/preexisting-conns-before.txt"
npool=$(wc -l < "$W/preexisting-conns-before.txt")
if [ "$npool" -ge 1 ]; then pass "preexisting: nginx holds $npool pooled connections to gunicorn before the observer starts"
else fail "preexisting: no pooled connection to gunicorn before the observer starts"; fi
sleep 0.5  # traffic stopped; the pool idles
# shellcheck disable=SC2119 # start_observer takes optional extra flags; none here
start_observer
wait_discovered
L0=$(log_lines) N0=$(nlog_lines)
# no more concurrent requests than pooled connections: nginx needs no new one
nclient pre-after --mix "$MIX" --post-sizes "$POSTS" --keepalive 10 --concurrency "$((npool < 4 ? (npool > 0 ? npool : 1) : 4))"
check_once preexisting "$L0" "$N0" "$W/pre-after.json"
if [ "$npool" -ge 1 ] && diff -u "$W/preexisting-conns-before.txt" "$W/preexisting-conns-once.txt" > "$W/preexisting-conns.diff"; then
    pass "preexisting: ss -x shows the same $npool pooled sockets (gunicorn inode/nginx inode: $(tr '\n' ' ' < "$W/preexisting-conns-before.txt")) before the observer started and at the scrape: every request after the start went over a connection accepted before it"
else
    fail "preexisting: the pooled connections changed (so the check is not about connections older than the observer): $(cat "$W/preexisting-conns.diff")"
fi
check_after_close preexisting "$L0"
stop_pid "$GPID"

## sync: nginx's default upstream, a connection per request -------------------------
instance sync
start_gunicorn 2 -k sync
wait_discovered
start_nginx sync 0
nclient sync --mix "$MIX" --post-sizes "$POSTS" --keepalive 10 --concurrency 4
check_once sync 0 0 "$W/sync.json"
# Close-delimited responses over the unix socket: Gunicorn answers nginx's HTTP/1.0
# requests for a generator with no length and closes. A unix socket's close has no hook,
# so on the socket plane these end only by the sweep the observer runs before it reads:
# one scrape must still hold every one, bytes to the byte, and no connection entry left.
L0=$(log_lines) N0=$(nlog_lines) NS=$((5 * K))
for i in $(seq "$NS"); do
    run curl -sf --max-time 10 -o /dev/null "http://127.0.0.1:$NPORT/chunked?n=20&size=$((100 * i))" ||
        fail "sync-stream: curl $i through nginx failed"
done
await_log $((L0 + NS))
await_nginx $((N0 + NS))
scrape "$W/sync-stream-once.txt"
TMO=30 run $PY "$HERE/nginx_log.py" --log "$NLOG" --from "$N0" --out "$W/sync-stream-upstream.json" \
    > "$W/sync-stream-upstream.out" 2>&1 || fail "sync-stream: $(cat "$W/sync-stream-upstream.out")"
say "sync-stream: close-delimited responses on the unix socket, one scrape right after the last access log line"
compare routes --log "$ACCESS_LOG" --log-from "$L0" --client "$W/sync-stream-upstream.json" --what "sync-stream: nginx->gunicorn"
compare full --before "$W/sync-once.txt" --metrics "$W/sync-stream-once.txt" --log "$ACCESS_LOG" --log-from "$L0" \
    --client "$W/sync-stream-upstream.json" --master "$GPID"
c=$(map_entries "$W/sync-stream-once.txt" conns)
if [ "$c" = 0 ]; then pass "sync-stream: every closed unix connection ended: bpf_map_entries{map=conns} 0 at that scrape"
else fail "sync-stream: bpf_map_entries{map=conns} is '$c' at that scrape, expected 0 (every connection is closed)"; fi
stop_pid "$NPID"
stop_pid "$GPID"

## gthread and gevent behind the pooled upstream --------------------------------------
for k in gthread gevent; do
    instance "$k"
    if [ "$k" = gthread ]; then start_gunicorn 2 -k gthread --threads 4 --keep-alive 30
    else start_gunicorn 2 -k gevent --worker-connections 100 --keep-alive 30; fi
    wait_discovered
    start_nginx "$k" 1
    nclient "$k" --mix "$MIX" --post-sizes "$POSTS" --keepalive 10 --concurrency 4
    nclient "$k-sleep" --mix "/sleep:$((10 * K))" --keepalive 5
    check_once "$k" 0 0 "$W/$k.json" "$W/$k-sleep.json"
    n=$(wc -l < "$W/$k-conns-once.txt")
    if [ "$n" -ge 1 ]; then pass "$k: $n pooled connections were open and idle at that scrape (ss -x)"
    else fail "$k: no pooled connection open at the scrape: the one-scrape check proves nothing about idle connections"; fi
    check_after_close "$k" 0
    stop_pid "$GPID"
done
promtool_check "$W/gevent-closed.txt"
finish
