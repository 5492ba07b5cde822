#!/bin/bash
# data-planes: socket fentry syscall
# Integration test of the locked-down metrics endpoint: TLS (openssl makes the
# certificate; curl verifies it with --cacert), basic auth with a bcrypt and a
# sha256 password file (401 + WWW-Authenticate without or with wrong
# credentials, 200 with the right ones, /healthz open), exact counts against
# Gunicorn's access log through that endpoint, every bad certificate, key and
# password file refused with its one line and exit 2, slowloris (250 slow TLS
# connections from one address, then from 250 addresses) while a scrape still
# answers in under 1 s, the idle timeout, and the capabilities left after
# start (/proc/PID/status) with a Gunicorn started afterwards still found.
# Usage: ./test_endpoint_security.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
for tool in openssl curl capsh; do
    command -v "$tool" > /dev/null || { fail "$tool is missing (apt-get install openssl curl libcap2-bin)"; finish; }
done

W=$WORKDIR CERT=$WORKDIR/cert.pem KEY=$WORKDIR/key.pem USER_=prom PASS='c0rrect horse:staple'
SCHEME=https

# lib.sh's helpers speak plain HTTP to the observer; route their curl calls to
# the HTTPS endpoint with credentials, verified against our certificate.
curl() {
    local a=() x
    for x in "$@"; do a+=("${x/#http:\/\/127.0.0.1:$OPORT\//$SCHEME://127.0.0.1:$OPORT/}"); done
    command curl --cacert "$CERT" -u "$USER_:$PASS" "${a[@]}"
}
scrape() { command curl -sf --max-time 10 --cacert "$CERT" -u "$USER_:$PASS" -o "$1" \
    "https://127.0.0.1:$OPORT/metrics" || fail "scrape of /metrics over HTTPS failed"; }

# status PATH [CURL_ARGS...]: the HTTP status of one HTTPS request, with no credentials unless given
status() {
    local path=$1
    shift
    command curl -s -o "$W/body.txt" -D "$W/headers.txt" --max-time 10 --cacert "$CERT" -w '%{http_code}' \
        "$@" "https://127.0.0.1:$OPORT$path"
}

# expect_error NAME PATTERN ARGS...: the observer exits 2 with one stderr line matching PATTERN
expect_error() {
    local name=$1 pat=$2 rc lines
    shift 2
    run "$OBSERVER" "$@" > "$W/err.out" 2> "$W/err.txt"
    rc=$?
    lines=$(wc -l < "$W/err.txt")
    if [ "$rc" = 2 ] && [ "$lines" = 1 ] && grep -qF -- "$pat" "$W/err.txt"; then
        pass "$name: exit 2, '$(cat "$W/err.txt")'"
    else
        fail "$name: exit $rc (want 2), $lines stderr lines (want 1): $(head -c 400 "$W/err.txt") (want '$pat')"
    fi
}

say "certificates, keys and password files"
run openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout "$KEY" -out "$CERT" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2> "$W/openssl.log" || { fail "openssl req"; finish; }
run openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout "$W/other.key" \
    -out "$W/other.pem" 2>> "$W/openssl.log" || { fail "openssl req"; finish; }
openssl pkey -in "$KEY" -aes256 -passout pass:x -out "$W/encrypted.key" 2>> "$W/openssl.log"
$PY -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)))' \
    "$PASS" > "$W/bcrypt.hash"
grep -q '^[$]2b[$]05[$]' "$W/bcrypt.hash" || { fail "could not make a bcrypt hash: $(cat "$W/bcrypt.hash")"; finish; }
printf 'sha256:%s\n' "$(printf '%s' "$PASS" | sha256sum | cut -d' ' -f1)" > "$W/sha256.hash"
printf '%s\n' "$PASS" > "$W/plain.txt"
pass "self-signed certificate for 127.0.0.1, bcrypt and sha256 password files"

say "bad input: one line, exit 2, nothing started"
expect_error "plain password file refused" \
    "basic auth password file '$W/plain.txt' looks like a plain password, which is refused" \
    --basic-auth-user prom --basic-auth-password-file "$W/plain.txt" --check-config
if grep -qF "$PASS" "$W/err.txt"; then fail "the refusal echoes the plain password"; else pass "the refusal does not echo the password"; fi
expect_error "bad certificate path" \
    "TLS certificate '$W/missing.pem' cannot be read (No such file or directory): fix --tls-cert" \
    --tls-cert "$W/missing.pem" --tls-key "$KEY" --check-config
BADPORT=$(free_port)
expect_error "bad certificate path on a real start" "TLS certificate '$W/missing.pem' cannot be read" \
    --listen "127.0.0.1:$BADPORT" --tls-cert "$W/missing.pem" --tls-key "$KEY"
if [ -z "$(ss -Htln "sport = :$BADPORT")" ]; then pass "nothing listens on $BADPORT after the refusal"; else fail "port $BADPORT bound"; fi
GUNICORN_OBSERVER_TLS_CERT=$W/missing.pem GUNICORN_OBSERVER_TLS_KEY=$KEY \
    expect_error "bad certificate path from the environment" "TLS certificate '$W/missing.pem' cannot be read" \
    --check-config
printf 'observer:\n  endpoint:\n    basic_auth_user: prom\n    basic_auth_password_file: %s\n' \
    "$W/plain.txt" > "$W/endpoint.yaml"
expect_error "plain password file named in the YAML file" \
    "basic auth password file '$W/plain.txt' looks like a plain password" -c "$W/endpoint.yaml" --check-config
expect_error "a key as the certificate" "TLS certificate '$KEY' holds no PEM certificate: fix --tls-cert" \
    --tls-cert "$KEY" --tls-key "$KEY" --check-config
expect_error "an encrypted key" "TLS key '$W/encrypted.key' holds no unencrypted PEM private key: fix --tls-key" \
    --tls-cert "$CERT" --tls-key "$W/encrypted.key" --check-config
expect_error "key of another certificate" "TLS key '$W/other.key' is not the key of certificate '$CERT'" \
    --tls-cert "$CERT" --tls-key "$W/other.key" --check-config
expect_error "certificate without key" "a TLS certificate without a key: give both --tls-cert and --tls-key" \
    --tls-cert "$CERT" --check-config
expect_error "user without password file" "a basic auth user without a password file" \
    --basic-auth-user prom --check-config
expect_error "missing password file" "basic auth password file '$W/none' cannot be read (No such file or directory)" \
    --basic-auth-user prom --basic-auth-password-file "$W/none" --check-config
expect_error "bad connection limit" "--connection-limit '0' is not a number of connections from 1 to 65536" \
    --connection-limit 0 --check-config
if out=$(run "$OBSERVER" --tls-cert "$CERT" --tls-key "$KEY" --basic-auth-user prom \
    --basic-auth-password-file "$W/bcrypt.hash" --check-config 2>&1) && [ "$out" = "configuration OK" ]; then
    pass "a good certificate, key and bcrypt file: configuration OK"
else fail "good configuration refused: $out"; fi

say "observer with TLS and basic auth (bcrypt); Gunicorn started after it"
start_observer --tls-cert "$CERT" --tls-key "$KEY" --basic-auth-user "$USER_" \
    --basic-auth-password-file "$W/bcrypt.hash" --connection-timeout 3
OBS1=$OPID

say "capabilities after start"
kernel_needs_bpf() { # map syscalls through open fds want CAP_BPF before Linux 6.5 when unprivileged BPF is off
    local v
    v=$(uname -r | awk -F. '{print $1 * 1000 + $2}')
    [ "$v" -lt 6005 ] && [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)" != 0 ]
}
WANT_CAPS=cap_dac_read_search,cap_sys_ptrace,cap_sys_admin
kernel_needs_bpf && WANT_CAPS=$WANT_CAPS,cap_bpf
for set in CapEff CapPrm CapBnd; do
    got=$(capsh --decode="$(awk -v s="$set:" '$1 == s {print $2}' "/proc/$OPID/status")" | sed 's/^0x[0-9a-f]*=//')
    if [ "$got" = "$WANT_CAPS" ]; then pass "$set of the observer: $got"; else fail "$set is '$got', want '$WANT_CAPS'"; fi
done
for set in CapInh CapAmb; do
    got=$(awk -v s="$set:" '$1 == s {print $2}' "/proc/$OPID/status")
    if [ "$got" = 0000000000000000 ]; then pass "$set empty"; else fail "$set is $got, want 0"; fi
done
if grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$OPID/status"; then pass "no_new_privs set"; else fail "no_new_privs not set"; fi
if grep -qF "info: capabilities kept: $WANT_CAPS; the bounding set is the same" "$OBSERVER_LOG"; then
    pass "the kept set is logged at info"
else fail "no 'capabilities kept' line in the log: $(grep -i capab "$OBSERVER_LOG")"; fi

say "TLS verification and basic auth"
code=$(status /metrics)
if [ "$code" = 401 ] && grep -qi '^WWW-Authenticate: Basic realm="gunicorn-observer"' "$W/headers.txt"; then
    pass "no credentials: 401 with WWW-Authenticate: Basic (certificate verified with --cacert)"
else fail "no credentials: $code, headers $(tr -d '\r' < "$W/headers.txt" | tr '\n' '|')"; fi
code=$(status /metrics -u "$USER_:wrong")
if [ "$code" = 401 ]; then pass "wrong password: 401"; else fail "wrong password: $code"; fi
code=$(status /metrics -u "someone:$PASS")
if [ "$code" = 401 ]; then pass "wrong user: 401"; else fail "wrong user: $code"; fi
code=$(status / )
if [ "$code" = 401 ]; then pass "/ without credentials: 401"; else fail "/ without credentials: $code"; fi
code=$(status /healthz)
if [ "$code" = 200 ] && [ "$(cat "$W/body.txt")" = ok ]; then pass "/healthz without credentials: 200 ok"; else fail "/healthz: $code"; fi
code=$(status /metrics -u "$USER_:$PASS")
if [ "$code" = 200 ] && grep -q '^# TYPE gunicorn_observer_build_info gauge' "$W/body.txt"; then
    pass "right credentials: 200 with the exposition"
else fail "right credentials: $code"; fi
code=$(status / -u "$USER_:$PASS")
if [ "$code" = 200 ]; then pass "/ with credentials: 200"; else fail "/ with credentials: $code"; fi
command curl -s -o /dev/null --max-time 5 -u "$USER_:$PASS" "https://127.0.0.1:$OPORT/metrics"
rc=$?
if [ "$rc" = 60 ]; then pass "without --cacert curl refuses the unknown certificate (exit 60)"; else fail "curl without --cacert: exit $rc (want 60)"; fi
code=$(command curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$OPORT/healthz")
if [ "$code" != 200 ]; then pass "plain HTTP on the TLS port gets no answer ($code)"; else fail "plain HTTP answered 200"; fi

say "exact counts through the secured endpoint"
start_gunicorn 2 -k sync
wait_discovered
k=3
[ "$QUICK" = 1 ] && k=1
client "$W/mix.json" --mix "/:$((40 * k)),/notfound:$((8 * k)),/error:$((8 * k)),/redirect:$((8 * k)),/echo:$((16 * k))" \
    --post-sizes 0,100,4096 --concurrency 4
settle "$(client_total "$W/mix.json")"
scrape "$W/s1.txt"
compare full --metrics "$W/s1.txt" --log "$ACCESS_LOG" --client "$W/mix.json" --master "$GPID" --app app:app
if grep -q "^gunicorn_listener_backlog_max{.*master_pid=\"$GPID\".*} [1-9]" "$W/s1.txt"; then
    pass "listener backlog read after the drop"
else fail "no gunicorn_listener_backlog_max for master $GPID"; fi

# slowloris.py: N slow TLS connections that send a request line and one more
# header line every second and never finish; reports how many it got and how
# many the server still holds, in a JSON status file, until killed.
cat > "$W/slowloris.py" << 'EOF'
import json, os, select, socket, ssl, sys, time
port, cafile, status = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sources = [s for arg in sys.argv[4:] for s in [arg.split("x")[0]] * int(arg.split("x")[1])]
ctx = ssl.create_default_context(cafile=cafile)
live, refused, opened, last = [], 0, 0, time.monotonic()

def dribble():  # one more header line on every held connection; drop the closed ones
    global last
    last = time.monotonic()
    for s in list(live):
        try:
            r, _, _ = select.select([s], [], [], 0)
            if r and s.recv(1) == b"":
                raise OSError("closed")
            s.sendall(b"X-Slow: 1\r\n")
        except (OSError, ssl.SSLError):
            live.remove(s)

def write():
    with open(status + ".tmp", "w") as f:
        json.dump({"opened": opened, "refused": refused, "live": len(live)}, f)
    os.replace(status + ".tmp", status)

for src in sources:
    if time.monotonic() - last >= 1:
        dribble()
    try:
        raw = socket.socket()
        raw.settimeout(0.5)
        raw.bind((src, 0))
        raw.connect(("127.0.0.1", port))
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        live.append(s)
        opened += 1
    except (OSError, ssl.SSLError):
        refused += 1
write()
while True:
    time.sleep(max(0, 1 - (time.monotonic() - last)))
    dribble()
    write()
EOF

# slowloris NAME SOURCES...: start it (SOURCES as ADDRxCOUNT), wait for its first status
SLOW=''
slowloris() {
    local name=$1 i
    shift
    rm -f "$W/$name.json"
    $PY "$W/slowloris.py" "$OPORT" "$CERT" "$W/$name.json" "$@" 2> "$W/$name.log" &
    SLOW=$!
    STARTED+=("$SLOW")
    for i in $(seq 600); do [ -f "$W/$name.json" ] && break; sleep 0.1; done
    sleep 2.5 # past two dribbles: held connections stay, refused ones are gone
}
slow_field() { $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/$1.json" "$2"; }

# fast_scrapes N: N scrapes, each 200 and under 1 s
fast_scrapes() {
    local i out code t worst=0 bad=0
    for i in $(seq "$1"); do
        out=$(command curl -s -o "$W/fast.txt" --max-time 5 --cacert "$CERT" -u "$USER_:$PASS" \
            -w '%{http_code} %{time_total}' "https://127.0.0.1:$OPORT/metrics")
        code=${out% *} t=${out#* }
        worst=$(awk -v a="$worst" -v b="$t" 'BEGIN {print (b > a) ? b : a}')
        { [ "$code" = 200 ] && grep -q '^gunicorn_worker_requests_total{' "$W/fast.txt"; } || bad=$((bad + 1))
        sleep 0.2
    done
    if [ "$bad" = 0 ] && awk -v t="$worst" 'BEGIN {exit !(t < 1.0)}'; then
        pass "$1 scrapes under attack: all 200 with metrics, slowest ${worst} s (< 1 s)"
    else fail "$1 scrapes under attack: $bad failed, slowest ${worst} s"; fi
}

say "slowloris: 250 slow TLS connections from 127.0.0.2 (per-address limit 16)"
slowloris one 127.0.0.2x250
opened=$(slow_field one opened) live=$(slow_field one live)
if [ "$opened" = 16 ] && [ "$live" = 16 ]; then pass "one address got exactly 16 connections and holds them ($(slow_field one refused) refused)"
else fail "one address: opened $opened, live $live, want 16 and 16"; fi
fast_scrapes 5
stop_pid "$SLOW"

say "slowloris: 250 slow TLS connections from 250 addresses 127.0.1.x"
args=()
for i in $(seq 250); do args+=("127.0.$((1 + i / 250)).$((i % 250 + 1))x1"); done
slowloris many "${args[@]}"
opened=$(slow_field many opened) live=$(slow_field many live)
if [ "$opened" = 250 ] && [ "$live" = 250 ]; then pass "250 addresses hold 250 slow connections"
else fail "250 addresses: opened $opened, live $live, want 250"; fi
fast_scrapes 5
stop_pid "$SLOW"

say "idle connections are closed after --connection-timeout 3"
t=$($PY - "$OPORT" << 'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
t0 = time.monotonic()
try:
    data = s.recv(1)  # nothing sent: the server must close
except OSError:
    pass
print("%.1f" % (time.monotonic() - t0))
EOF
)
if awk -v t="$t" 'BEGIN {exit !(t >= 2.5 && t <= 6)}'; then pass "an idle connection was closed after $t s"; else fail "idle connection closed after $t s (want about 3)"; fi

say "counts still right after the attacks; the observer stops cleanly"
client "$W/more.json" --mix "/:$((20 * k)),/error:$((4 * k))" --concurrency 2
settle $(($(client_total "$W/mix.json") + $(client_total "$W/more.json")))
scrape "$W/s2.txt"
compare full --metrics "$W/s2.txt" --log "$ACCESS_LOG" --client "$W/mix.json" --client "$W/more.json" \
    --master "$GPID" --app app:app
kill -TERM "$OBS1"
wait "$OBS1"
rc=$?
if [ "$rc" = 0 ]; then pass "observer with dropped capabilities exits 0 on SIGTERM"; else fail "observer exit $rc on SIGTERM: $(tail -n 3 "$OBSERVER_LOG")"; fi

say "a sha256 password file"
OBSERVER_LOG=$W/observer2.log start_observer --tls-cert "$CERT" --tls-key "$KEY" --basic-auth-user "$USER_" \
    --basic-auth-password-file "$W/sha256.hash"
code=$(status /metrics -u "$USER_:${PASS}x")
if [ "$code" = 401 ]; then pass "sha256: wrong password 401"; else fail "sha256: wrong password $code"; fi
code=$(status /metrics -u "$USER_:$PASS")
if [ "$code" = 200 ] && grep -q "master_pid=\"$GPID\"" "$W/body.txt"; then pass "sha256: right password 200"; else fail "sha256: right password $code"; fi
finish
