#!/bin/bash
# data-planes: socket fentry syscall
# Integration test of the configuration system with the real binary:
# 1. the Python exporter's YAML file (with its in-process keys) plus an
#    observer: section: --print-config shows every value with
#    "# file PATH:LINE" and a notice per in-process key; every environment
#    variable (the Python exporter's names included) beats the file
#    ("# env NAME"); every flag beats both ("# flag --name");
#    GUNICORN_OBSERVER_CONFIG names the file, -c beats it; --check-config.
# 2. every bad input (missing, unreadable file, a directory, invalid YAML,
#    unknown key, wrong types, port out of range, decreasing buckets, Redis
#    prefix with ':', ...): exactly one line "FILE:LINE:COL: what is wrong",
#    exit 2, and nothing started (the --listen port never bound).
# 3. the observer configured only by a YAML file (listen address and port,
#    duration and size buckets, stuck threshold) against sync, gthread,
#    gevent and eventlet workers in turn: counts match the access log
#    exactly (run_standard), the custom bounds are the `le` values and the
#    BPF side buckets by them, a request held open past the file's stuck
#    threshold makes its worker stuck.
# Usage: sudo ./test_yaml_config.sh [--quick] [--ci]   (env: VERBOSE=1 KEEP=1)
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer

FIX=$HERE/fixtures/config
PYFILE=$FIX/python-exporter.yaml
CONFIG_ENV=(PROMETHEUS_METRICS_PORT PROMETHEUS_BIND_ADDRESS REDIS_ENABLED REDIS_HOST REDIS_PORT REDIS_DB
    REDIS_PASSWORD REDIS_KEY_PREFIX REDIS_TTL_SECONDS REDIS_TTL_DISABLED GUNICORN_OBSERVER_PIDS
    GUNICORN_OBSERVER_MATCH GUNICORN_OBSERVER_STUCK_THRESHOLD GUNICORN_OBSERVER_LOG_LEVEL
    GUNICORN_OBSERVER_MIRROR_INTERVAL GUNICORN_OBSERVER_DURATION_BUCKETS GUNICORN_OBSERVER_SIZE_BUCKETS
    GUNICORN_OBSERVER_CONFIG GUNICORN_OBSERVER_PIN GUNICORN_OBSERVER_PIN_DIR GUNICORN_OBSERVER_DATA_PLANE)
PIN_DIR=$GUNICORN_OBSERVER_PIN_DIR  # lib.sh's, for the observers of part 3
# the data plane tests/run.sh asks for (lib.sh's DATA_PLANE) goes into part 3's file
unset "${CONFIG_ENV[@]}"  # only what each check sets itself

# observe OUT ERR CMD...: run CMD (env assignments allowed, via env), stdout to OUT, stderr to ERR;
# sets RC
observe() {
    local out=$1 err=$2
    shift 2
    vsay "+ $*"
    timeout -k 2 20 "$@" > "$out" 2> "$err"
    RC=$?
}

# expect_print NAME OUT EXPECTED: every "value  # source" line of EXPECTED is in OUT (one check
# each), and OUT is EXPECTED exactly (one check)
expect_print() {
    local name=$1 out=$2 want=$3 line
    while IFS= read -r line; do
        case $line in *'  # '*) ;; *) continue ;; esac
        if grep -Fxq -- "$line" "$out"; then pass "$name: '${line#"${line%%[! ]*}"}'"
        else fail "$name: no line '$line' in: $(grep -F -- "${line%%:*}:" "$out" | head -n 3)"; fi
    done < "$want"
    if diff -u "$want" "$out" > "$WORKDIR/print.diff"; then pass "$name: the whole print is as expected"
    else fail "$name: print differs: $(head -n 40 "$WORKDIR/print.diff")"; fi
}

# The print of fixtures/config/python-exporter.yaml, the values and lines of that file.
expected_file_print() {
    local F=$PYFILE
    cat << EOF
# effective configuration of gunicorn-observer: value  # source
exporter:
  prometheus:
    bind_address: "127.0.0.1"  # file $F:6
    metrics_port: 9191  # file $F:5
  redis:
    enabled: false  # file $F:19
    host: "redis.internal"  # file $F:20
    port: 6380  # file $F:21
    db: 2  # file $F:22
    password: "***"  # file $F:23
    key_prefix: "gunicorn_prod"  # file $F:24
    ttl_seconds: 600  # file $F:25
    ttl_disabled: false  # file $F:26
observer:
  pids: [4242, 4343]  # file $F:32
  match: "shop.wsgi"  # file $F:33
  stuck_threshold: 7.5  # file $F:34
  log_level: warn  # file $F:35
  mirror_interval: 2  # file $F:36
  endpoint:
    tls_cert: ""  # default
    tls_key: ""  # default
    basic_auth_user: ""  # default
    basic_auth_password_file: ""  # default
    connection_limit: 512  # default
    per_ip_connection_limit: 16  # default
    connection_timeout: 10  # default
  buckets:
    duration: [0.005, 0.02, 0.1, 0.5, 2]  # file $F:38
    size: [256, 4096, 65536]  # file $F:40
  pin: false  # file $F:43
  pin_dir: "/sys/fs/bpf/shop"  # file $F:44
  max_connections: 65536  # default
  max_workers: 4096  # default
  data_plane: auto  # default
EOF
}

expected_notices() {
    local F=$1
    cat << EOF
$F:7:5: notice: exporter.prometheus.multiproc_dir only applies to an exporter inside Gunicorn: ignored
$F:8:5: notice: exporter.prometheus.ssl only applies to an exporter inside Gunicorn: ignored
$F:13:3: notice: exporter.gunicorn only applies to an exporter inside Gunicorn: ignored
$F:28:3: notice: exporter.cleanup only applies to an exporter inside Gunicorn: ignored
EOF
}

# ---------------------------------------------------------------------------
say "the Python exporter's file plus observer: --print-config"
W=$WORKDIR
expected_file_print > "$W/want_file.txt"
expected_notices "$PYFILE" > "$W/want_notices.txt"
observe "$W/p_file.out" "$W/p_file.err" "$OBSERVER" -c "$PYFILE" --print-config
[ "$RC" = 0 ] && pass "--print-config -c FILE: exit 0" || fail "--print-config -c FILE: exit $RC: $(head -n 3 "$W/p_file.err")"
expect_print "file" "$W/p_file.out" "$W/want_file.txt"
if diff -u "$W/want_notices.txt" "$W/p_file.err" > "$W/notices.diff"; then
    pass "one notice line per in-process key (multiproc_dir, ssl, gunicorn, cleanup), nothing else on stderr"
else
    fail "notices differ: $(cat "$W/notices.diff")"
fi

# the Python exporter's example files write "password: null" for no password
printf 'exporter:\n  redis:\n    enabled: false\n    password: null\n' > "$W/nullpw.yaml"
observe "$W/p_null.out" "$W/p_null.err" "$OBSERVER" -c "$W/nullpw.yaml" --print-config
if [ "$RC" = 0 ] && grep -Fxq "    password: \"\"  # file $W/nullpw.yaml:4" "$W/p_null.out"; then
    pass "password: null (the Python exporter's way to say none) is no password"
else
    fail "password: null: exit $RC, got '$(grep password "$W/p_null.out")', want 'password: \"\"  # file $W/nullpw.yaml:4'"
fi

observe "$W/p_envfile.out" "$W/p_envfile.err" env GUNICORN_OBSERVER_CONFIG="$PYFILE" "$OBSERVER" --print-config
if [ "$RC" = 0 ] && cmp -s "$W/p_envfile.out" "$W/want_file.txt" && cmp -s "$W/p_envfile.err" "$W/want_notices.txt"; then
    pass "GUNICORN_OBSERVER_CONFIG=FILE reads the same file as -c FILE"
else
    fail "GUNICORN_OBSERVER_CONFIG=FILE: exit $RC, $(diff "$W/want_file.txt" "$W/p_envfile.out" | head -n 10) $(head -n 2 "$W/p_envfile.err")"
fi
observe "$W/p_cbeats.out" "$W/p_cbeats.err" env GUNICORN_OBSERVER_CONFIG="$FIX/unknown-key.yaml" \
    "$OBSERVER" -c "$PYFILE" --print-config
if [ "$RC" = 0 ] && cmp -s "$W/p_cbeats.out" "$W/want_file.txt"; then
    pass "-c FILE beats GUNICORN_OBSERVER_CONFIG (a bad file there is not read)"
else
    fail "-c FILE with GUNICORN_OBSERVER_CONFIG set: exit $RC, $(head -n 2 "$W/p_cbeats.err")"
fi

say "--check-config"
observe "$W/check.out" "$W/check.err" "$OBSERVER" -c "$PYFILE" --check-config
if [ "$RC" = 0 ] && [ "$(cat "$W/check.out")" = "configuration OK" ] && cmp -s "$W/check.err" "$W/want_notices.txt"; then
    pass "--check-config on the valid file: exit 0, 'configuration OK', only the notices on stderr"
else
    fail "--check-config on the valid file: exit $RC, stdout '$(head -c 200 "$W/check.out")', stderr '$(head -c 400 "$W/check.err")'"
fi
observe "$W/check0.out" "$W/check0.err" "$OBSERVER" --check-config
if [ "$RC" = 0 ] && [ "$(cat "$W/check0.out")" = "configuration OK" ] && [ ! -s "$W/check0.err" ]; then
    pass "--check-config with no file: exit 0, 'configuration OK'"
else
    fail "--check-config with no file: exit $RC, '$(head -c 200 "$W/check0.out")' '$(head -c 200 "$W/check0.err")'"
fi
observe "$W/check1.out" "$W/check1.err" env REDIS_ENABLED=true REDIS_TTL_SECONDS=1 \
    "$OBSERVER" -c "$PYFILE" --check-config
if [ "$RC" = 2 ] && grep -q 'Redis TTL (1 s) is shorter than the mirror interval (2 s)' "$W/check1.err" &&
    [ "$(grep -vc ': notice: ' "$W/check1.err")" = 1 ]; then
    pass "--check-config: a TTL below the file's mirror interval: exit 2, one line"
else
    fail "--check-config TTL < interval: exit $RC, $(cat "$W/check1.err")"
fi

# ---------------------------------------------------------------------------
say "the environment beats the file"
# one variable: only its line changes
sed 's/^    metrics_port: 9191  # file .*/    metrics_port: 9292  # env PROMETHEUS_METRICS_PORT/' \
    "$W/want_file.txt" > "$W/want_env1.txt"
observe "$W/p_env1.out" "$W/p_env1.err" env PROMETHEUS_METRICS_PORT=9292 "$OBSERVER" -c "$PYFILE" --print-config
if [ "$RC" = 0 ] && diff -u "$W/want_env1.txt" "$W/p_env1.out" > "$W/env1.diff"; then
    pass "PROMETHEUS_METRICS_PORT=9292 over the file: 'metrics_port: 9292  # env PROMETHEUS_METRICS_PORT', every other line from the file"
else
    fail "PROMETHEUS_METRICS_PORT over the file: exit $RC, $(cat "$W/env1.diff")"
fi
# every variable
ENVSET=(PROMETHEUS_BIND_ADDRESS=::1 PROMETHEUS_METRICS_PORT=9292 REDIS_ENABLED=true REDIS_HOST=env-redis
    REDIS_PORT=6390 REDIS_DB=5 REDIS_PASSWORD=envpw REDIS_KEY_PREFIX=envprefix REDIS_TTL_SECONDS=900
    REDIS_TTL_DISABLED=true GUNICORN_OBSERVER_PIDS=11,12 GUNICORN_OBSERVER_MATCH=env-match
    GUNICORN_OBSERVER_STUCK_THRESHOLD=3 GUNICORN_OBSERVER_LOG_LEVEL=debug GUNICORN_OBSERVER_MIRROR_INTERVAL=4
    GUNICORN_OBSERVER_DURATION_BUCKETS=0.01,0.1,1 GUNICORN_OBSERVER_SIZE_BUCKETS=512,8192
    GUNICORN_OBSERVER_PIN=true GUNICORN_OBSERVER_PIN_DIR=/sys/fs/bpf/env-dir GUNICORN_OBSERVER_DATA_PLANE=syscall
    GUNICORN_OBSERVER_MAX_WORKERS=2048)
cat > "$W/want_env.txt" << 'EOF'
# effective configuration of gunicorn-observer: value  # source
exporter:
  prometheus:
    bind_address: "::1"  # env PROMETHEUS_BIND_ADDRESS
    metrics_port: 9292  # env PROMETHEUS_METRICS_PORT
  redis:
    enabled: true  # env REDIS_ENABLED
    host: "env-redis"  # env REDIS_HOST
    port: 6390  # env REDIS_PORT
    db: 5  # env REDIS_DB
    password: "***"  # env REDIS_PASSWORD
    key_prefix: "envprefix"  # env REDIS_KEY_PREFIX
    ttl_seconds: 900  # env REDIS_TTL_SECONDS
    ttl_disabled: true  # env REDIS_TTL_DISABLED
observer:
  pids: [11, 12]  # env GUNICORN_OBSERVER_PIDS
  match: "env-match"  # env GUNICORN_OBSERVER_MATCH
  stuck_threshold: 3  # env GUNICORN_OBSERVER_STUCK_THRESHOLD
  log_level: debug  # env GUNICORN_OBSERVER_LOG_LEVEL
  mirror_interval: 4  # env GUNICORN_OBSERVER_MIRROR_INTERVAL
  endpoint:
    tls_cert: ""  # default
    tls_key: ""  # default
    basic_auth_user: ""  # default
    basic_auth_password_file: ""  # default
    connection_limit: 512  # default
    per_ip_connection_limit: 16  # default
    connection_timeout: 10  # default
  buckets:
    duration: [0.01, 0.1, 1]  # env GUNICORN_OBSERVER_DURATION_BUCKETS
    size: [512, 8192]  # env GUNICORN_OBSERVER_SIZE_BUCKETS
  pin: true  # env GUNICORN_OBSERVER_PIN
  pin_dir: "/sys/fs/bpf/env-dir"  # env GUNICORN_OBSERVER_PIN_DIR
  max_connections: 65536  # default
  max_workers: 2048  # env GUNICORN_OBSERVER_MAX_WORKERS
  data_plane: syscall  # env GUNICORN_OBSERVER_DATA_PLANE
EOF
observe "$W/p_env.out" "$W/p_env.err" env "${ENVSET[@]}" "$OBSERVER" -c "$PYFILE" --print-config
[ "$RC" = 0 ] && pass "every variable over the file: exit 0" || fail "every variable over the file: exit $RC: $(head -n 5 "$W/p_env.err")"
expect_print "env" "$W/p_env.out" "$W/want_env.txt"
if grep -q envpw "$W/p_env.out" "$W/p_env.err"; then fail "REDIS_PASSWORD's value appears in the output"
else pass "REDIS_PASSWORD's value is not printed"; fi

# ---------------------------------------------------------------------------
say "flags beat the environment and the file"
printf 'flagpw\n' > "$W/redis-password"
FLAGS=(--listen 127.0.0.1:9393 --redis-enabled false --redis-host flag-redis --redis-port 6400 --redis-db 7
    --redis-password-file "$W/redis-password" --redis-key-prefix flagprefix --redis-ttl-seconds 1200
    --redis-ttl-disabled false --pid 21 --pid 22 --match flag-match --stuck-threshold 4 --log-level error
    --mirror-interval 6 --duration-buckets 0.02,0.2,2 --size-buckets 1024,16384 --no-pin
    --pin-dir /sys/fs/bpf/flag-dir --data-plane socket --max-workers 1024)
cat > "$W/want_flag.txt" << EOF
# effective configuration of gunicorn-observer: value  # source
exporter:
  prometheus:
    bind_address: "127.0.0.1"  # flag --listen
    metrics_port: 9393  # flag --listen
  redis:
    enabled: false  # flag --redis-enabled
    host: "flag-redis"  # flag --redis-host
    port: 6400  # flag --redis-port
    db: 7  # flag --redis-db
    password: "***"  # flag --redis-password-file $W/redis-password
    key_prefix: "flagprefix"  # flag --redis-key-prefix
    ttl_seconds: 1200  # flag --redis-ttl-seconds
    ttl_disabled: false  # flag --redis-ttl-disabled
observer:
  pids: [21, 22]  # flag --pid
  match: "flag-match"  # flag --match
  stuck_threshold: 4  # flag --stuck-threshold
  log_level: error  # flag --log-level
  mirror_interval: 6  # flag --mirror-interval
  endpoint:
    tls_cert: ""  # default
    tls_key: ""  # default
    basic_auth_user: ""  # default
    basic_auth_password_file: ""  # default
    connection_limit: 512  # default
    per_ip_connection_limit: 16  # default
    connection_timeout: 10  # default
  buckets:
    duration: [0.02, 0.2, 2]  # flag --duration-buckets
    size: [1024, 16384]  # flag --size-buckets
  pin: false  # flag --pin
  pin_dir: "/sys/fs/bpf/flag-dir"  # flag --pin-dir
  max_connections: 65536  # default
  max_workers: 1024  # flag --max-workers
  data_plane: socket  # flag --data-plane
EOF
observe "$W/p_flag.out" "$W/p_flag.err" env "${ENVSET[@]}" "$OBSERVER" -c "$PYFILE" "${FLAGS[@]}" --print-config
[ "$RC" = 0 ] && pass "every flag over the environment and the file: exit 0" || fail "every flag: exit $RC: $(head -n 5 "$W/p_flag.err")"
expect_print "flag" "$W/p_flag.out" "$W/want_flag.txt"
# the short forms, and a flag given before -c
observe "$W/p_short.out" "$W/p_short.err" env PROMETHEUS_METRICS_PORT=9292 \
    "$OBSERVER" -l '[::1]:9494' -p 31 -p 32 -c "$PYFILE" --print-config
if [ "$RC" = 0 ] && grep -Fxq '    bind_address: "::1"  # flag --listen' "$W/p_short.out" &&
    grep -Fxq '    metrics_port: 9494  # flag --listen' "$W/p_short.out" &&
    grep -Fxq '  pids: [31, 32]  # flag --pid' "$W/p_short.out"; then
    pass "-l [::1]:9494 -p 31 -p 32: '# flag --listen', pids [31, 32] '# flag --pid'"
else
    fail "-l/-p: exit $RC: $(grep -E 'bind_address|metrics_port|pids' "$W/p_short.out") $(head -n 2 "$W/p_short.err")"
fi

# ---------------------------------------------------------------------------
say "bad input: one line FILE:LINE:COL, exit 2, nothing started"

# expect_bad NAME WANT_LINE CMD...: CMD (an observer start, with --listen on a free port added)
# exits 2 with exactly WANT_LINE on stderr, nothing on stdout, and never binds the port; the
# same with --check-config
expect_bad() {
    local name=$1 want=$2 port bound=0 pid i
    shift 2
    port=$(free_port)
    vsay "+ $* --listen 127.0.0.1:$port"
    timeout -k 2 20 "$@" --listen "127.0.0.1:$port" > "$W/bad.out" 2> "$W/bad.err" &
    pid=$!
    STARTED+=("$pid")
    for i in $(seq 100); do
        [ -n "$(ss -Htln "sport = :$port")" ] && bound=1
        alive "$pid" || break
        sleep 0.05
    done
    wait "$pid"
    RC=$?
    [ -n "$(ss -Htln "sport = :$port")" ] && bound=1
    if [ "$RC" = 2 ] && [ "$(cat "$W/bad.err")" = "$want" ] && [ ! -s "$W/bad.out" ] && [ "$bound" = 0 ]; then
        pass "$name: exit 2, port $port never bound, '$want'"
    else
        fail "$name: exit $RC (want 2), port bound: $bound, stdout '$(head -c 200 "$W/bad.out")', stderr ($(wc -l < "$W/bad.err") lines): '$(head -c 600 "$W/bad.err")', want '$want'"
    fi
    observe "$W/bad.out" "$W/bad.err" "$@" --check-config
    if [ "$RC" = 2 ] && [ "$(cat "$W/bad.err")" = "$want" ] && [ ! -s "$W/bad.out" ]; then
        pass "$name with --check-config: exit 2, the same line"
    else
        fail "$name with --check-config: exit $RC, stdout '$(head -c 200 "$W/bad.out")', stderr '$(head -c 600 "$W/bad.err")'"
    fi
}

bad_file() { # NAME FIXTURE LINE:COL: MESSAGE
    expect_bad "$1" "$FIX/$2:$3" "$OBSERVER" -c "$FIX/$2"
}

expect_bad "missing file" "$W/missing.yaml:1:1: cannot open the configuration file: No such file or directory" \
    "$OBSERVER" -c "$W/missing.yaml"
bad_file "invalid YAML (unclosed flow list)" bad-yaml.yaml \
    "5:9: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence"
bad_file "unknown key, nearest suggested" unknown-key.yaml \
    "4:5: unknown key exporter.redis.ttl_second: did you mean exporter.redis.ttl_seconds?"
bad_file "a list where a value is expected" list-for-value.yaml \
    "3:19: exporter.prometheus.metrics_port must be a single value, not a list"
bad_file "a mapping where a list is expected" mapping-for-list.yaml \
    "3:15: observer.buckets.duration must be a list, not a mapping"
bad_file "a value where a section is expected" value-for-section.yaml \
    "2:15: exporter.prometheus must be a mapping, not a value"
bad_file "a list at the top level" top-level-list.yaml \
    "1:1: the top level must be a mapping (exporter:, observer:)"
bad_file "port out of range" port-range.yaml \
    "4:19: exporter.prometheus.metrics_port '70000' is not a port: use a number from 1 to 65535"
bad_file "not a boolean" not-a-bool.yaml "3:14: exporter.redis.enabled 'maybe' is not true or false"
bad_file "bucket list not increasing" buckets-decreasing.yaml \
    "3:15: observer.buckets.duration '0.1,0.5,0.25,1' is not increasing (0.25 after 0.5): list the bounds in increasing order"
bad_file "Redis prefix with ':'" prefix-colon.yaml \
    "4:17: exporter.redis.key_prefix 'gunicorn:prod' contains ':', which readers split keys on: remove it"
expect_bad "bad file named by GUNICORN_OBSERVER_CONFIG" \
    "$FIX/unknown-key.yaml:4:5: unknown key exporter.redis.ttl_second: did you mean exporter.redis.ttl_seconds?" \
    env GUNICORN_OBSERVER_CONFIG="$FIX/unknown-key.yaml" "$OBSERVER"
expect_bad "a bad file, good flags: the file still stops the start" \
    "$FIX/port-range.yaml:4:19: exporter.prometheus.metrics_port '70000' is not a port: use a number from 1 to 65535" \
    "$OBSERVER" -c "$FIX/port-range.yaml" --log-level debug

# unreadable: mode 0600 in a directory others can enter; read as nobody (root reads anything).
# A file error comes before the root check, so the exit is still 2.
mkdir -p "$W/ro" && chmod 0711 "$W" && chmod 0755 "$W/ro"
cp "$PYFILE" "$W/ro/secret.yaml" && chmod 0600 "$W/ro/secret.yaml"
observe "$W/unr.out" "$W/unr.err" setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$OBSERVER" -c "$W/ro/secret.yaml" --listen "127.0.0.1:$(free_port)"
want="$W/ro/secret.yaml:1:1: cannot open the configuration file: Permission denied"
if [ "$RC" = 2 ] && [ "$(cat "$W/unr.err")" = "$want" ]; then pass "unreadable file: exit 2, '$want'"
else fail "unreadable file: exit $RC, '$(head -c 400 "$W/unr.err")', want '$want'"; fi
chmod 0700 "$W"

# a directory opens but does not read: the line must say so, not "invalid YAML"
observe "$W/dir.out" "$W/dir.err" "$OBSERVER" -c "$FIX" --check-config
if [ "$RC" = 2 ] && [ "$(wc -l < "$W/dir.err")" = 1 ] && grep -q "^$FIX:1:1: .*Is a directory" "$W/dir.err" &&
    ! grep -q 'invalid YAML' "$W/dir.err"; then
    pass "a directory as the file: exit 2, '$(cat "$W/dir.err")'"
else
    fail "a directory as the file: exit $RC, '$(head -c 300 "$W/dir.err")', want '$FIX:1:1: ...: Is a directory'"
fi

# ---------------------------------------------------------------------------
say "the observer configured only by a YAML file, against real gunicorn"
export GUNICORN_OBSERVER_PIN_DIR=$PIN_DIR
OPORT=$(free_port)
RUNFILE=$W/run.yaml
DUR_LES="0.003 0.015 0.04 0.2 1.5 +Inf"
SIZE_LES="100 2000 70000 +Inf"
cat > "$RUNFILE" << EOF
# written by test_yaml_config.sh
exporter:
  prometheus:
    bind_address: 127.0.0.1
    metrics_port: $OPORT
    multiproc_dir: /tmp/ignored
observer:
  stuck_threshold: 1
  buckets:
    duration: [0.003, 0.015, 0.04, 0.2, 1.5]
    size: [100, 2000, 70000]
EOF
if [ -n "$DATA_PLANE" ]; then echo "  data_plane: $DATA_PLANE" >> "$RUNFILE"; fi

vsay "+ $OBSERVER -c $RUNFILE"
"$OBSERVER" -c "$RUNFILE" > "$OBSERVER_LOG" 2>&1 &
OPID=$!
STARTED+=("$OPID")
wait_observer
if ss -Htln "sport = :$OPORT" | grep -q "127.0.0.1:$OPORT"; then pass "listening on the file's bind_address 127.0.0.1 only"
else fail "not bound to 127.0.0.1:$OPORT: $(ss -Htln "sport = :$OPORT")"; fi
if grep -Fxq "$RUNFILE:6:5: notice: exporter.prometheus.multiproc_dir only applies to an exporter inside Gunicorn: ignored" "$OBSERVER_LOG"; then
    pass "the in-process key's notice is in the observer's log, and it started"
else
    fail "no notice for multiproc_dir in the observer log: $(head -n 3 "$OBSERVER_LOG")"
fi

cat > "$W/buckets.py" << 'EOF'
# buckets.py les FILE METRIC MASTER            -> the le values of METRIC_bucket of that master, in order
# buckets.py delta BEFORE AFTER METRIC MASTER LE -> the increase of that bucket summed over series
import re, sys

def load(path, name, master):
    sums = {}
    for line in open(path):
        if not line.startswith(name + "_bucket{"):
            continue
        labels, value = line.rsplit(" ", 1)
        if 'master_pid="%s"' % master not in labels:
            continue
        le = re.search(r'le="([^"]*)"', labels).group(1)
        sums[le] = sums.get(le, 0) + float(value)
    return sums

if sys.argv[1] == "les":
    print(" ".join(load(sys.argv[2], sys.argv[3], sys.argv[4])))
else:
    before = load(sys.argv[2], sys.argv[4], sys.argv[5])
    after = load(sys.argv[3], sys.argv[4], sys.argv[5])
    print("%d" % (after.get(sys.argv[6], 0) - before.get(sys.argv[6], 0)))
EOF
buckets() { $PY "$W/buckets.py" "$@"; }

# the custom bounds are the le values, and the kernel buckets by them
check_buckets() {
    local k=$1 m got nsleep d
    for m in gunicorn_worker_request_duration_seconds gunicorn_request_duration_seconds; do
        got=$(buckets les "$W/s2.txt" "$m" "$GPID")
        [ "$got" = "$DUR_LES" ] && pass "$k: $m le values are the file's: $got" || fail "$k: $m le values '$got', want '$DUR_LES'"
    done
    for m in gunicorn_worker_request_size_bytes gunicorn_worker_response_size_bytes; do
        got=$(buckets les "$W/s2.txt" "$m" "$GPID")
        [ "$got" = "$SIZE_LES" ] && pass "$k: $m le values are the file's: $got" || fail "$k: $m le values '$got', want '$SIZE_LES'"
    done
    # /sleep sleeps 20 ms: none can be in le=0.015, all are in le=1.5
    nsleep=$(client_total "$W/sleep.json")
    d=$(buckets delta "$W/s1.txt" "$W/s2.txt" gunicorn_worker_request_duration_seconds "$GPID" 0.015)
    [ "$d" = 0 ] && pass "$k: no 20 ms /sleep request in le=\"0.015\"" || fail "$k: $d of $nsleep /sleep requests in le=\"0.015\""
    d=$(buckets delta "$W/s1.txt" "$W/s2.txt" gunicorn_worker_request_duration_seconds "$GPID" 1.5)
    [ "$d" = "$nsleep" ] && pass "$k: all $nsleep /sleep requests in le=\"1.5\"" || fail "$k: $d of $nsleep /sleep requests in le=\"1.5\""
    # response sizes vs. the access log: /big (64 KiB body plus headers) lies between the
    # 2000 and 70000 bounds, every other response is under 2000 bytes
    local le2k le70k inf nbig nall
    le2k=$(buckets delta /dev/null "$W/s2.txt" gunicorn_worker_response_size_bytes "$GPID" 2000)
    le70k=$(buckets delta /dev/null "$W/s2.txt" gunicorn_worker_response_size_bytes "$GPID" 70000)
    inf=$(buckets delta /dev/null "$W/s2.txt" gunicorn_worker_response_size_bytes "$GPID" +Inf)
    nbig=$(awk '$4 == 65536' "$ACCESS_LOG" | wc -l)
    nall=$(log_lines)
    if [ "$nbig" -gt 0 ] && [ "$le2k" = $((nall - nbig)) ] && [ "$le70k" = "$nall" ] && [ "$inf" = "$nall" ]; then
        pass "$k: response sizes bucketed at the file's bounds: le=2000 $le2k, le=70000 $le70k (access log: $nbig of $nall are /big)"
    else
        fail "$k: response size buckets le=2000 $le2k, le=70000 $le70k, +Inf $inf; access log: $nbig /big of $nall"
    fi
}

# a request held open (request line and one header, then nothing) for HOLD s: its worker is busy
# at once, and stuck after the file's 1 s threshold (the default would be 15 s)
cat > "$W/hold.py" << 'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /?held=1 HTTP/1.1\r\nHost: held\r\n")
time.sleep(float(sys.argv[2]))
s.sendall(b"Connection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.split(b"\r\n", 1)[0].decode())
EOF
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }  # lt A B: A < B as numbers
state_of() { # FILE STATE: 1 when some worker of our master is in STATE
    grep -qE "^gunicorn_worker_state\{[^}]*master_pid=\"$GPID\"[^}]*state=\"$2\"\} 1$" "$1"
}
check_stuck() {
    local k=$1 hold=3 hp t0 el busy=0 stuck=0 f=$W/state.txt i resp
    [ "$QUICK" = 1 ] && hold=2
    $PY "$W/hold.py" "$GPORT" "$hold" > "$W/hold.out" 2>&1 &
    hp=$!
    STARTED+=("$hp")
    t0=$(date +%s.%N)
    for i in $(seq 60); do
        curl -sf --max-time 2 -o "$f" "http://127.0.0.1:$OPORT/metrics" || continue
        el=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
        if state_of "$f" stuck; then
            stuck=$el
            break
        fi
        if [ "$busy" = 0 ] && state_of "$f" busy && lt "$el" 0.8; then busy=$el; fi
        sleep 0.1
    done
    [ "$busy" != 0 ] && pass "$k: held request: worker busy (not stuck) at ${busy}s" || fail "$k: held request: no worker busy within 0.8 s"
    if [ "$stuck" != 0 ] && ! lt "$stuck" 1; then
        pass "$k: held request: worker stuck at ${stuck}s, past the file's stuck_threshold 1"
    else
        fail "$k: held request: stuck at '${stuck}' s (want after 1 s, before ${hold} s)"
    fi
    wait "$hp"
    resp=$(cat "$W/hold.out")
    [ "$resp" = "HTTP/1.1 200 OK" ] && pass "$k: held request answered once completed" || fail "$k: held request got '$resp'"
}

CLASSES=("sync:0:-k sync" "gthread:20:-k gthread --threads 4 --keep-alive 5"
    "gevent:10:-k gevent --worker-connections 100 --keep-alive 5"
    "eventlet:10:-k eventlet --worker-connections 100 --keep-alive 5")
for c in "${CLASSES[@]}"; do
    k=${c%%:*} rest=${c#*:}
    ka=${rest%%:*} args=${rest#*:}
    say "worker class $k"
    ACCESS_LOG=$W/access_$k.log GUNICORN_LOG=$W/gunicorn_$k.log
    # shellcheck disable=SC2086
    start_gunicorn 2 $args
    wait_discovered
    run_standard "$ka" 4
    check_buckets "$k"
    check_stuck "$k"
    stop_pid "$GPID"
done
finish
