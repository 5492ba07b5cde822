#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: worker lifecycle against real gunicorn 20.1 and real signals. One observer,
# started first; every scenario runs its own gunicorn master and only looks at its series:
#   kill      kill -9 of a worker: exits/restart{killed}=1, old series gone at once, new worker
#             tracked, master request counters do not drop
#   timeout   --timeout 2 and a 6 s request: state busy then stuck (threshold 1 s), a growing
#             heartbeat age, then exits/restart{timeout}=1 (the worker exits 1 after SIGABRT)
#   maxreq    --max-requests 20: exits/restart{max_requests} = recycles logged by gunicorn
#   signals   HUP: exits{reload} = workers; TTIN/TTOU: workers gauge +1/-1, exits{scale_down}=1
#             and no restart; master_signals_total{HUP,TTIN,TTOU} = 1 each
#   oom       master in a memory cgroup (v2 memory.max, or v1 memory.limit_in_bytes when the
#             memory controller is on v1) and a request allocating past it: exits/restart{oom}=1
#   procfs    memory and CPU of a worker vs /proc and ps; cpu_percent near 100 while it burns
#             CPU; idle/busy state; start time and uptime vs /proc
#   backlog   --backlog 8, one busy sync worker and idle connections: listener backlog and
#             backlog_max vs ss -ltn (Recv-Q, Send-Q)
# Every exit is also checked in the observer log: one line with the pid, reason=<reason> and the
# number of requests the worker served (from the access log).
# Usage: sudo ./test_lifecycle.sh [--quick] [--ci]   (env: ONLY=kill,oom,... to run a subset;
#        VERBOSE=1 OBSERVER=path KEEP=1 as for the other tests)
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer

ONLY=${ONLY:-}
OOM_LIMIT=${OOM_LIMIT:-150M}
CG_DIR='' CG_VER=''
CUR=$WORKDIR/cur.txt
CLK_TCK=$(getconf CLK_TCK)

# ---- cleanup: the OOM cgroup (after its processes) then lib's cleanup -------------------

remove_cgroup() {
    local i pid
    [ -n "$CG_DIR" ] && [ -d "$CG_DIR" ] || return 0
    [ -n "$GPID" ] && grep -qx "$GPID" "$CG_DIR/cgroup.procs" 2>/dev/null && stop_pid "$GPID"
    for i in $(seq 50); do
        # only processes this script put there (the gunicorn master it started and its children)
        for pid in $(cat "$CG_DIR/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        rmdir "$CG_DIR" 2>/dev/null && break
        sleep 0.1
    done
    if [ -d "$CG_DIR" ]; then echo "   could not remove cgroup $CG_DIR" >&4; else vsay "removed cgroup $CG_DIR"; fi
    CG_DIR=''
}
lifecycle_cleanup() {
    local rc=$?
    exec 1>&3 2>&4
    remove_cgroup
    (exit "$rc")
    cleanup
}
trap lifecycle_cleanup EXIT

# ---- helpers ------------------------------------------------------------------------------

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f\n", b - a}'; }
fcmp() { awk "BEGIN {exit !($*)}"; }  # fcmp '1.5 > 1': float comparison as exit status

# instance NAME: separate gunicorn logs for the next gunicorn master
instance() {
    GUNICORN_LOG=$WORKDIR/gunicorn-$1.log
    ACCESS_LOG=$WORKDIR/access-$1.log
    say "scenario $1"
}

end_instance() {
    [ -n "$GPID" ] && stop_pid "$GPID"
    return 0
}

scrape_to() { curl -sf --max-time 5 -o "$1" "http://127.0.0.1:$OPORT/metrics"; }

# mget FILE NAME [KEY=VALUE]...: sum of NAME's samples of master $GPID that carry all those
# labels; prints nothing when there is no such series
mget() {
    local f=$1 name=$2
    shift 2
    awk -v name="$name" -v want="$(printf '%s\n' "master_pid=$GPID" "$@")" '
        BEGIN {
            n = split(want, w, "\n")
            for (i = 1; i <= n; i++) if (w[i] != "") {
                p = index(w[i], "=")
                pats[++np] = "," substr(w[i], 1, p) "\"" substr(w[i], p + 1) "\","
            }
        }
        index($0, name "{") == 1 && match($0, /\}[ \t]+[^ \t]+$/) {
            body = "," substr($0, length(name) + 2, RSTART - length(name) - 2) ","
            for (i = 1; i <= np; i++) if (!index(body, pats[i])) next
            s += $NF; c++
        }
        END { if (c) { if (s == int(s) && s < 1e15) printf "%d\n", s; else printf "%.6f\n", s } }' "$f"
}
show() { echo "${1:-absent}"; }

# has_worker FILE PID: some series of our master carry worker_pid=PID
has_worker() { grep -F "master_pid=\"$GPID\"" "$1" | grep -F "worker_pid=\"$2\"" > /dev/null; }  # no -q: it would cut the pipe

# worker_state FILE PID: the state label whose gauge is 1 (none / a,b when several)
worker_state() {
    local s
    s=$(grep '^gunicorn_worker_state{' "$1" | grep -F "master_pid=\"$GPID\"" | grep -F "worker_pid=\"$2\"" |
        awk '$NF == 1 && match($0, /state="[a-z]*"/) {printf "%s%s", sep, substr($0, RSTART + 7, RLENGTH - 8); sep = ","}')
    echo "${s:-none}"
}

check_eq() { # DESC ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then pass "$1 = $2"; else fail "$1 = $(show "$2"), expected $3"; fi
}

has_family() { grep -q "^# TYPE $2 " "$1"; }  # FILE NAME: the observer exposes the family
mget0() { local v; v=$(mget "$@"); echo "${v:-0}"; }  # mget, 0 when absent (family checked apart)

# check_none DESC FILE NAME KEY=VALUE...: the family is exposed, and this series is 0/absent
check_none() {
    local d=$1 f=$2 name=$3 v
    shift 3
    if ! has_family "$f" "$name"; then fail "$d: the observer does not expose $name"; return; fi
    v=$(mget "$f" "$name" "$@")
    if [ -z "$v" ] || [ "$v" = 0 ]; then pass "$d = $(show "$v")"; else fail "$d = $v, expected 0 or absent"; fi
}

# wait_until SECS CMD...: poll CMD every 0.1 s; status 0 when it succeeded in time
wait_until() {
    local end=$((SECONDS + $1))
    shift
    while :; do
        "$@" && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}

# until_scrape SECS CMD...: scrape into $CUR every 0.2 s until CMD succeeds; CMD reads $CUR
until_scrape() {
    local end=$((SECONDS + $1))
    shift
    while :; do
        scrape_to "$CUR" && "$@" && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.2
    done
}
cur_ge() { local v; v=$(mget "$CUR" "$1" "${@:3}"); [ -n "$v" ] && fcmp "$v >= $2"; } # NAME MIN LABELS...
cur_eq() { local v; v=$(mget "$CUR" "$1" "${@:3}"); [ -n "$v" ] && fcmp "$v == $2"; }
cur_gone() { ! has_worker "$CUR" "$1"; }
cur_has() { has_worker "$CUR" "$1"; }
all_of() { local c; for c in "$@"; do eval "$c" || return 1; done; }  # all_of 'cmd a' 'cmd b'

children() { pgrep -P "$GPID" | sort -n; }
nchildren() { [ "$(pgrep -c -P "$GPID")" -eq "$1" ]; }
not_alive() { ! alive "$1"; }
log_has() { grep -qF -- "$1" "$GUNICORN_LOG" 2>/dev/null; }
served_by() { awk -v p="<$1>" '$1 == p' "$ACCESS_LOG" 2>/dev/null | wc -l; }  # access log: "<pid> status ..."
note_workers() { local p; for p in "$@"; do ALL_WORKER_PIDS+=("$p"); done; }

# check_exit_log PID REASON REQUESTS: exactly one observer log line about the exit of PID
# (the pid and "reason="), with that reason and that number of requests served
check_exit_log() {
    local pid=$1 reason=$2 n=$3 lines cnt
    lines=$(grep -E "pid=$pid([^0-9]|$)" "$OBSERVER_LOG" | grep -F 'reason=')
    cnt=$(grep -c . <<< "$lines")
    if [ "$cnt" -eq 0 ]; then
        fail "observer log: no exit line for worker $pid (want reason=$reason, $n requests)"
    elif [ "$cnt" -gt 1 ]; then
        fail "observer log: $cnt exit lines for worker $pid, expected one: $(tr '\n' '|' <<< "$lines")"
    elif ! grep -qF "reason=$reason" <<< "$lines" ||
        ! grep -Eq "requests?[=: ]+$n([^0-9]|$)|(^|[^0-9])$n requests" <<< "$lines"; then
        fail "observer log line for worker $pid lacks reason=$reason or $n requests: $lines"
    else
        pass "observer logged the exit of worker $pid with reason=$reason and $n requests"
    fi
}

# check_exits DESC FILE EXPECTED_TOTAL: the sum of exits over all reasons
check_exits_total() { check_eq "$1: gunicorn_master_worker_exits_total, all reasons" "$(mget "$2" gunicorn_master_worker_exits_total)" "$3"; }

# check_gone_now PID: right after the kernel reaped PID, the next scrape has no series for it
check_gone_now() {
    local f=$WORKDIR/gone-$1.txt
    if ! wait_until 10 not_alive "$1"; then fail "worker $1 still alive 10 s after it should have died"; return; fi
    sleep 0.2
    scrape_to "$f" || { fail "scrape failed"; return; }
    if has_worker "$f" "$1"; then fail "the first scrape after worker $1 was reaped still has its series: $(grep -F "worker_pid=\"$1\"" "$f" | head -n 3 | tr '\n' '|')"
    else pass "the first scrape after worker $1 was reaped has none of its series"; fi
}

# ---- scenarios ----------------------------------------------------------------------------

scenario_kill() {
    local n=40 r1 r2 victim served newpid f1=$WORKDIR/kill-1.txt f2=$WORKDIR/kill-2.txt
    [ "$QUICK" = 1 ] && n=10
    instance kill
    start_gunicorn 2 -k sync
    wait_discovered
    client "$WORKDIR/kill.json" --mix "/:$n"
    settle "$n"
    scrape "$f1"
    r1=$(mget "$f1" gunicorn_requests_total)
    victim=${WORKER_PIDS[0]}
    served=$(served_by "$victim")
    say "kill -9 worker $victim (served $served of $n requests; gunicorn_requests_total $(show "$r1"))"
    run kill -KILL "$victim"
    check_gone_now "$victim"
    if ! wait_until 15 all_of 'nchildren 2' "log_has 'Worker with pid $victim was terminated due to signal 9'"; then
        fail "gunicorn did not replace worker $victim within 15 s: $(tail -n 3 "$GUNICORN_LOG")"
    fi
    newpid=$(children | grep -vx "${WORKER_PIDS[1]}" | head -n 1)
    note_workers "$newpid"
    vsay "gunicorn: $(grep -F "$victim" "$GUNICORN_LOG" | tail -n 1)"
    until_scrape "$SETTLE_SECS" all_of 'cur_ge gunicorn_master_worker_exits_total 1' "cur_has $newpid"
    sleep 1
    scrape "$f2"
    r2=$(mget "$f2" gunicorn_requests_total)
    check_eq "kill: exits_total{reason=killed}" "$(mget "$f2" gunicorn_master_worker_exits_total reason=killed)" 1
    check_eq "kill: restart_total{reason=killed}" "$(mget "$f2" gunicorn_master_worker_restart_total reason=killed)" 1
    check_exits_total kill "$f2" 1
    if has_worker "$f2" "$victim"; then fail "kill: killed worker $victim still has series"; else pass "kill: killed worker $victim has no series"; fi
    if [ -n "$newpid" ] && has_worker "$f2" "$newpid"; then pass "kill: new worker $newpid has series"
    else fail "kill: new worker '$newpid' has no series"; fi
    check_eq "kill: gunicorn_master_workers" "$(mget "$f2" gunicorn_master_workers)" 2
    if [ -n "$r1" ] && [ -n "$r2" ] && fcmp "$r2 >= $r1"; then pass "kill: gunicorn_requests_total did not drop ($r1 -> $r2)"
    else fail "kill: gunicorn_requests_total dropped or missing ($(show "$r1") -> $(show "$r2"))"; fi
    check_eq "kill: gunicorn_requests_total after the kill (access log: $n)" "$r2" "$n"
    check_exit_log "$victim" killed "$served"
    end_instance
}

scenario_timeout() {
    local n=5 w t0 cpid i t st age f trace=$WORKDIR/timeout-trace.txt fin=$WORKDIR/timeout-final.txt
    local seq a1='' a2='' t1='' t2='' tb='' ts='' early='' newpid
    instance timeout
    start_gunicorn 1 -k sync --timeout 2
    wait_discovered
    client "$WORKDIR/timeout.json" --mix "/:$n"
    settle "$n"
    w=${WORKER_PIDS[0]}
    scrape "$WORKDIR/timeout-0.txt"
    check_eq "timeout: state of idle worker $w before the slow request" "$(worker_state "$WORKDIR/timeout-0.txt" "$w")" idle
    say "GET /slow?s=6 on worker $w (--timeout 2: stuck threshold 1 s); scraping every 0.25 s"
    t0=$(now)
    curl -s -o /dev/null --max-time 15 "http://127.0.0.1:$GPORT/slow?s=6" &
    cpid=$!
    STARTED+=("$cpid")
    : > "$trace"
    for i in $(seq 60); do
        f=$WORKDIR/timeout-poll-$i.txt
        sleep 0.25
        scrape_to "$f" || continue
        t=$(since "$t0")
        if ! has_worker "$f" "$w"; then echo "$t gone -" >> "$trace"; break; fi
        st=$(worker_state "$f" "$w")
        age=$(mget "$f" gunicorn_worker_last_heartbeat_age_seconds "worker_pid=$w")
        # "running" when curl still waits after the scrape: the request was open during the scrape
        # (once gunicorn's SIGABRT ends the request, the dying worker's state is not checked)
        echo "$t $st ${age:--} $(alive "$cpid" && echo running || echo ended)" >> "$trace"
    done
    vsay "trace (elapsed state heartbeat_age request): $(tr '\n' ';' < "$trace")"
    awk '$4 != "running"' "$trace" > "$trace.after"
    awk '$4 == "running"' "$trace" > "$trace.run"
    seq=$(awk '{print $2}' "$trace.run" | uniq | tr '\n' ' ')
    tb=$(awk '$2 == "busy" {print $1; exit}' "$trace.run")
    ts=$(awk '$2 == "stuck" {print $1; exit}' "$trace.run")
    early=$(awk '$2 == "stuck" && $1 < 0.9 {print $1; exit}' "$trace.run")
    if [ -n "$tb" ] && fcmp "$tb < 1.0"; then pass "timeout: worker $w busy at ${tb} s into the request"
    else fail "timeout: worker $w not seen busy within the first second (states: $seq)"; fi
    if [ -n "$ts" ] && [ -z "$early" ]; then pass "timeout: worker $w stuck at ${ts} s (threshold 1 s)"
    else fail "timeout: worker $w stuck at '${ts:-never}' (first stuck before 0.9 s: '${early:-none}'; states: $seq)"; fi
    if [[ "$seq" =~ ^(idle\ )?(busy\ )+(stuck\ )+$ ]]; then pass "timeout: states in order while the request ran: $seq"
    else fail "timeout: states while the request ran not busy then stuck: '$seq'"; fi
    vsay "after the request ended (SIGABRT): $(awk '{print $1 ":" $2}' "$trace.after" | tr '\n' ' ')"
    # two scrapes at least 0.5 s apart (in a guest under TCG scrapes came 0.9 s apart, and the
    # kill followed the second): the first at >= 0.3 s, the second >= 0.5 s later
    read -r t1 a1 < <(awk '$1 >= 0.3 {print $1, $3; exit}' "$trace.run")
    [ -n "$t1" ] && read -r t2 a2 < <(awk -v t="$t1" '$1 >= t + 0.5 {print $1, $3; exit}' "$trace.run")
    if [ -n "$a1" ] && [ -n "$a2" ] && [ "$a1" != - ] && [ "$a2" != - ] && fcmp "$a2 > $a1"; then
        pass "timeout: heartbeat age grows: $a1 s at ${t1} s, $a2 s at ${t2} s"
    else
        fail "timeout: heartbeat age not growing: '${a1:-none}' at '${t1:-}' s, '${a2:-none}' at '${t2:-}' s"
    fi
    if ! wait_until 15 all_of "log_has 'WORKER TIMEOUT (pid:$w)'" 'nchildren 1' "not_alive $w"; then
        fail "timeout: gunicorn did not time out and replace worker $w: $(tail -n 3 "$GUNICORN_LOG")"
    fi
    wait "$cpid" 2>/dev/null
    newpid=$(children | head -n 1)
    note_workers "$newpid"
    until_scrape "$SETTLE_SECS" all_of 'cur_ge gunicorn_master_worker_exits_total 1' "cur_has $newpid"
    sleep 1
    scrape "$fin"
    check_eq "timeout: exits_total{reason=timeout}" "$(mget "$fin" gunicorn_master_worker_exits_total reason=timeout)" 1
    check_eq "timeout: restart_total{reason=timeout}" "$(mget "$fin" gunicorn_master_worker_restart_total reason=timeout)" 1
    check_exits_total timeout "$fin" 1
    if has_worker "$fin" "$w"; then fail "timeout: worker $w still has series"; else pass "timeout: worker $w has no series"; fi
    check_exit_log "$w" timeout "$(served_by "$w")"
    end_instance
}

scenario_maxreq() {
    local n=100 maxr=20 k boots pids p f=$WORKDIR/maxreq.txt
    [ "$QUICK" = 1 ] && n=60
    instance maxreq
    start_gunicorn 2 -k sync --max-requests "$maxr"
    wait_discovered
    client "$WORKDIR/maxreq.json" --mix "/:$n"
    # (lib's settle sums live workers only: recycled workers' requests are in gunicorn_requests_total)
    wait_until 10 eval '[ "$(log_lines)" -ge "$n" ]' || fail "maxreq: access log has $(log_lines) lines, expected $n"
    # gunicorn side: every recycle logged, its replacement booted, 2 workers again
    recycled_done() {
        k=$(grep -c 'Autorestarting worker after current request.' "$GUNICORN_LOG")
        boots=$(grep -c 'Booting worker with pid' "$GUNICORN_LOG")
        [ "$boots" -eq $((k + 2)) ] && nchildren 2
    }
    wait_until 15 recycled_done || fail "maxreq: gunicorn not settled: $k recycles, $boots boots, $(pgrep -c -P "$GPID") workers"
    sleep 1
    recycled_done
    mapfile -t pids < <(grep 'Autorestarting worker after current request.' "$GUNICORN_LOG" | sed -n 's/^[^]]*\] \[\([0-9]*\)\].*/\1/p')
    note_workers $(children)
    say "gunicorn recycled $k workers after $n requests (--max-requests $maxr): ${pids[*]}"
    until_scrape "$SETTLE_SECS" all_of "cur_ge gunicorn_master_worker_exits_total $k reason=max_requests" "cur_ge gunicorn_requests_total $n"
    sleep 1
    scrape "$f"
    check_eq "maxreq: exits_total{reason=max_requests} (gunicorn logged $k)" "$(mget "$f" gunicorn_master_worker_exits_total reason=max_requests)" "$k"
    check_eq "maxreq: restart_total{reason=max_requests}" "$(mget "$f" gunicorn_master_worker_restart_total reason=max_requests)" "$k"
    check_exits_total maxreq "$f" "$k"
    check_eq "maxreq: gunicorn_requests_total (dead workers included)" "$(mget "$f" gunicorn_requests_total)" "$n"
    check_eq "maxreq: gunicorn_master_workers" "$(mget "$f" gunicorn_master_workers)" 2
    for p in "${pids[@]}"; do
        if has_worker "$f" "$p"; then fail "maxreq: recycled worker $p still has series"; fi
        check_exit_log "$p" max_requests "$(served_by "$p")"
    done
    end_instance
}

scenario_signals() {
    local old new three gone_pid w0 r_hup f0=$WORKDIR/sig-0.txt f1=$WORKDIR/sig-hup.txt f2=$WORKDIR/sig-ttin.txt f3=$WORKDIR/sig-ttou.txt p
    instance signals
    start_gunicorn 2 -k sync
    wait_discovered
    client "$WORKDIR/signals.json" --mix "/:20"
    settle 20
    old=("${WORKER_PIDS[@]}")
    scrape "$f0"
    w0=$(mget "$f0" gunicorn_master_workers)
    check_eq "signals: gunicorn_master_workers at start" "$w0" 2
    # HUP: gunicorn forks 2 new workers, then stops the old ones with SIGTERM
    say "kill -HUP $GPID (old workers ${old[*]})"
    run kill -HUP "$GPID"
    old_gone() { local p; for p in "${old[@]}"; do alive "$p" && return 1; done; nchildren 2; }
    wait_until 20 old_gone || fail "signals: gunicorn did not replace ${old[*]} after HUP: $(tail -n 3 "$GUNICORN_LOG")"
    mapfile -t new < <(children)
    note_workers "${new[@]}"
    until_scrape "$SETTLE_SECS" all_of 'cur_ge gunicorn_master_worker_exits_total 2 reason=reload' "cur_has ${new[0]}" "cur_has ${new[1]:-0}"
    sleep 1
    scrape "$f1"
    check_eq "signals: exits_total{reason=reload} after HUP" "$(mget "$f1" gunicorn_master_worker_exits_total reason=reload)" 2
    check_exits_total "signals (HUP)" "$f1" 2
    for p in "${old[@]}"; do
        if has_worker "$f1" "$p"; then fail "signals: old worker $p still has series after HUP"; fi
        check_exit_log "$p" reload "$(served_by "$p")"
    done
    for p in "${new[@]}"; do has_worker "$f1" "$p" || fail "signals: new worker $p has no series after HUP"; done
    check_eq "signals: gunicorn_master_workers after HUP" "$(mget "$f1" gunicorn_master_workers)" 2
    r_hup=$(mget "$f1" gunicorn_master_worker_restart_total)
    say "restart_total after HUP (not checked; the contract leaves reload restarts open): $(show "$r_hup") ($(grep '^gunicorn_master_worker_restart_total{' "$f1" | grep -F "master_pid=\"$GPID\"" | sed -n 's/.*reason="\([a-z_]*\)"} */\1=/p' | tr '\n' ' '))"
    # TTIN: one more worker
    say "kill -TTIN $GPID"
    run kill -TTIN "$GPID"
    wait_until 15 nchildren 3 || fail "signals: no third worker after TTIN"
    mapfile -t three < <(children)
    note_workers "${three[@]}"
    until_scrape "$SETTLE_SECS" cur_eq gunicorn_master_workers 3
    scrape "$f2"
    check_eq "signals: gunicorn_master_workers after TTIN (was $(show "$w0"))" "$(mget "$f2" gunicorn_master_workers)" 3
    # TTOU: gunicorn stops its oldest worker with SIGTERM and forks none
    say "kill -TTOU $GPID"
    run kill -TTOU "$GPID"
    wait_until 15 nchildren 2 || fail "signals: still $(pgrep -c -P "$GPID") workers after TTOU"
    gone_pid=$(printf '%s\n' "${three[@]}" | grep -vxF -f <(children) | head -n 1)
    say "TTOU stopped worker ${gone_pid:-?}"
    until_scrape "$SETTLE_SECS" all_of 'cur_eq gunicorn_master_workers 2' 'cur_ge gunicorn_master_worker_exits_total 1 reason=scale_down'
    sleep 1
    scrape "$f3"
    check_eq "signals: gunicorn_master_workers after TTOU" "$(mget "$f3" gunicorn_master_workers)" 2
    check_eq "signals: exits_total{reason=scale_down}" "$(mget "$f3" gunicorn_master_worker_exits_total reason=scale_down)" 1
    check_none "signals: restart_total{reason=scale_down}" "$f3" gunicorn_master_worker_restart_total reason=scale_down
    if has_family "$f3" gunicorn_master_worker_restart_total; then
        check_eq "signals: restart_total over all reasons unchanged by TTIN/TTOU" "$(mget0 "$f3" gunicorn_master_worker_restart_total)" "${r_hup:-0}"
    else fail "signals: the observer does not expose gunicorn_master_worker_restart_total"; fi
    check_exits_total "signals (HUP, TTIN, TTOU)" "$f3" 3
    if [ -n "$gone_pid" ]; then
        if has_worker "$f3" "$gone_pid"; then fail "signals: worker $gone_pid stopped by TTOU still has series"; fi
        check_exit_log "$gone_pid" scale_down "$(served_by "$gone_pid")"
    fi
    for p in HUP TTIN TTOU; do
        check_eq "signals: gunicorn_master_signals_total{signal=$p}" "$(mget "$f3" gunicorn_master_signals_total "signal=$p")" 1
    done
    p=$(mget "$f3" gunicorn_master_signals_total signal=CHLD)
    if [ -n "$p" ] && fcmp "$p >= 1"; then pass "signals: gunicorn_master_signals_total{signal=CHLD} = $p (>= 1 after 3 exits)"
    else fail "signals: gunicorn_master_signals_total{signal=CHLD} = $(show "$p"), expected >= 1 after 3 exits"; fi
    promtool_check "$f3"
    end_instance
}

# setup_cgroup: a memory cgroup limited to OOM_LIMIT, in CG_DIR; v2 if the memory controller
# is on a cgroup2 hierarchy at /sys/fs/cgroup, else v1 (/sys/fs/cgroup/memory, hybrid hosts)
setup_cgroup() {
    local parent
    if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        CG_VER=2 CG_DIR=/sys/fs/cgroup/gobs-oom-$$
        if ! grep -qw memory /sys/fs/cgroup/cgroup.subtree_control; then
            echo +memory > /sys/fs/cgroup/cgroup.subtree_control || { fail "oom: cannot enable the memory controller in /sys/fs/cgroup/cgroup.subtree_control"; CG_DIR=''; return 1; }
        fi
        mkdir "$CG_DIR" || { fail "oom: cannot create $CG_DIR"; CG_DIR=''; return 1; }
        echo "$OOM_LIMIT" > "$CG_DIR/memory.max" || { fail "oom: cannot set memory.max"; return 1; }
        if [ -f "$CG_DIR/memory.swap.max" ]; then echo 0 > "$CG_DIR/memory.swap.max"; fi
    elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
        # v1: a child of this script's own memory cgroup
        parent=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
        CG_VER=1 CG_DIR=/sys/fs/cgroup/memory${parent%/}/gobs-oom-$$
        mkdir "$CG_DIR" || { fail "oom: cannot create $CG_DIR"; CG_DIR=''; return 1; }
        echo "$OOM_LIMIT" > "$CG_DIR/memory.limit_in_bytes" || { fail "oom: cannot set memory.limit_in_bytes"; return 1; }
        if [ -f "$CG_DIR/memory.memsw.limit_in_bytes" ]; then echo "$OOM_LIMIT" > "$CG_DIR/memory.memsw.limit_in_bytes"; fi
    else
        fail "oom: no memory cgroup controller (neither cgroup v2 memory nor /sys/fs/cgroup/memory)"
        return 1
    fi
    vsay "cgroup v$CG_VER $CG_DIR limited to $OOM_LIMIT"
}
cg_oom_kills() {
    if [ "$CG_VER" = 2 ]; then awk '$1 == "oom_kill" {print $2}' "$CG_DIR/memory.events"
    else awk '$1 == "oom_kill" {print $2}' "$CG_DIR/memory.oom_control"; fi
}

scenario_oom() {
    local n=5 w k0 k1 code newpid wrap=$WORKDIR/gunicorn-in-cgroup f=$WORKDIR/oom.txt
    instance oom
    setup_cgroup || return
    printf '#!/bin/sh\n# join the test cgroup, then become gunicorn\necho $$ > %s/cgroup.procs || exit 1\nexec %s "$@"\n' \
        "$CG_DIR" "$GUNICORN" > "$wrap"
    chmod +x "$wrap"
    GUNICORN=$wrap start_gunicorn 1 -k sync
    w=${WORKER_PIDS[0]}
    if grep -qx "$GPID" "$CG_DIR/cgroup.procs" && grep -qx "$w" "$CG_DIR/cgroup.procs"; then
        vsay "master $GPID and worker $w are in $CG_DIR"
    else
        fail "oom: master $GPID / worker $w not in $CG_DIR"
    fi
    wait_discovered
    client "$WORKDIR/oom.json" --mix "/:$n"
    settle "$n"
    k0=$(cg_oom_kills)
    say "GET /alloc?mb=400 on worker $w (cgroup v$CG_VER limit $OOM_LIMIT)"
    code=$(TMO=60 run curl -s -o /dev/null --max-time 30 -w '%{http_code}' "http://127.0.0.1:$GPORT/alloc?mb=400")
    vsay "curl /alloc: http code '$code'"
    check_gone_now "$w"
    if ! wait_until 15 all_of "log_has 'Worker with pid $w was terminated due to signal 9'" 'nchildren 1'; then
        fail "oom: gunicorn did not report and replace worker $w: $(tail -n 3 "$GUNICORN_LOG")"
    fi
    k1=$(cg_oom_kills)
    if [ "$k1" -eq $((k0 + 1)) ]; then pass "oom: the kernel OOM-killed one process in the cgroup (oom_kill $k0 -> $k1)"
    else fail "oom: cgroup oom_kill $k0 -> $k1, expected one OOM kill (the check of the observer below is meaningless)"; fi
    newpid=$(children | head -n 1)
    note_workers "$newpid"
    until_scrape "$SETTLE_SECS" all_of 'cur_ge gunicorn_master_worker_exits_total 1' "cur_has $newpid"
    sleep 1
    scrape "$f"
    check_eq "oom: exits_total{reason=oom}" "$(mget "$f" gunicorn_master_worker_exits_total reason=oom)" 1
    check_eq "oom: restart_total{reason=oom}" "$(mget "$f" gunicorn_master_worker_restart_total reason=oom)" 1
    check_exits_total oom "$f" 1
    if [ -n "$newpid" ] && has_worker "$f" "$newpid"; then pass "oom: new worker $newpid has series"; else fail "oom: new worker '$newpid' has no series"; fi
    check_exit_log "$w" oom "$(served_by "$w")"
    end_instance
    remove_cgroup
}

# proc_figures PID: prints "rss_bytes cpu_seconds start_unix ps_rss_bytes ps_cpu_seconds"
proc_figures() {
    local pid=$1 rss stat up ps_rss ps_time
    rss=$(awk '$1 == "VmRSS:" {print $2 * 1024}' "/proc/$pid/status")
    stat=$(sed 's/.*) //' "/proc/$pid/stat")   # fields from 3 (state) on
    up=$(cut -d' ' -f1 /proc/uptime)
    read -r ps_rss ps_time < <(ps -o rss=,time= -p "$pid")
    awk -v s="$stat" -v up="$up" -v now="$(now)" -v hz="$CLK_TCK" -v prss="$ps_rss" -v pt="$ps_time" -v rss="$rss" 'BEGIN {
        split(s, f, " ")     # f[12] utime, f[13] stime, f[20] starttime (fields 14, 15, 22)
        d = 0; if (index(pt, "-")) { split(pt, x, "-"); d = x[1]; pt = x[2] }
        n = split(pt, h, ":"); secs = d * 86400 + h[n - 2] * 3600 + h[n - 1] * 60 + h[n]
        printf "%d %.2f %.3f %d %d\n", rss, (f[12] + f[13]) / hz, now - up + f[20] / hz, prss * 1024, secs }'
}

within() { fcmp "($1 - $2) <= $3 * $2 && ($2 - $1) <= $3 * $2"; }  # A B FRACTION

check_proc_match() { # LABEL FILE PID RSS CPU PS_RSS PS_CPU
    local d=$1 f=$2 w=$3 m c
    m=$(mget "$f" gunicorn_worker_memory_bytes "worker_pid=$w")
    c=$(mget "$f" gunicorn_worker_cpu_seconds_total "worker_pid=$w")
    if [ -n "$m" ] && within "$m" "$4" 0.05; then pass "$d: memory_bytes $m vs /proc VmRSS $4 (within 5%)"
    else fail "$d: memory_bytes $(show "$m") vs /proc VmRSS $4 (not within 5%)"; fi
    if [ -n "$m" ] && within "$m" "$6" 0.05; then pass "$d: memory_bytes $m vs ps rss $6 (within 5%)"
    else fail "$d: memory_bytes $(show "$m") vs ps rss $6 (not within 5%)"; fi
    if [ -n "$c" ] && within "$c" "$5" 0.05; then pass "$d: cpu_seconds_total $c vs /proc utime+stime $5 (within 5%)"
    else fail "$d: cpu_seconds_total $(show "$c") vs /proc utime+stime $5 (not within 5%)"; fi
    # ps time= has whole seconds (truncated): the counter must lie in [ps, ps + 1) up to 5%
    if [ -n "$c" ] && fcmp "$c >= $7 * 0.95 && $c < ($7 + 1) * 1.05"; then pass "$d: cpu_seconds_total $c vs ps time $7 s (whole seconds)"
    else fail "$d: cpu_seconds_total $(show "$c") vs ps time $7 s (whole seconds)"; fi
}

# worker_ticks PID: its utime + stime in clock ticks, from /proc
worker_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# cpu_range "T:TICKS ...": the least and the most CPU percent of the windows of 1 to 2 s
# between two of those reads
cpu_range() {
    awk -v pts="$1" -v hz="$CLK_TCK" 'BEGIN {
        n = split(pts, p, " ")
        for (i = 1; i <= n; i++) { split(p[i], x, ":"); t[i] = x[1]; k[i] = x[2] }
        for (i = 1; i <= n; i++) for (j = 1; j < i; j++) {
            d = t[i] - t[j]
            if (d < 1 || d > 2) continue
            r = 100 * (k[i] - k[j]) / hz / d
            if (!m || r < lo) lo = r
            if (!m || r > hi) hi = r
            m = 1
        }
        if (m) printf "%.1f %.1f\n", lo, hi
    }'
}

scenario_procfs() {
    local n=30 w f=$WORKDIR/procfs-1.txt f2=$WORKDIR/procfs-2.txt rss cpu start ps_rss ps_cpu v s t0 cpid i t pcts='' best='' st states=''
    local burn=3 mstart mproc uptime missing pts range
    [ "$QUICK" = 1 ] && n=10
    instance procfs
    start_gunicorn 1 -k sync
    wait_discovered
    client "$WORKDIR/procfs.json" --mix "/:$n,/big:$n"
    settle $((2 * n))
    w=${WORKER_PIDS[0]}
    scrape "$f"
    read -r rss cpu start ps_rss ps_cpu < <(proc_figures "$w")
    check_proc_match "procfs (idle)" "$f" "$w" "$rss" "$cpu" "$ps_rss" "$ps_cpu"
    check_eq "procfs: state of idle worker $w" "$(worker_state "$f" "$w")" idle
    v=$(mget "$f" gunicorn_worker_start_time_seconds "worker_pid=$w")
    if [ -n "$v" ] && fcmp "$v - $start <= 1 && $start - $v <= 1"; then pass "procfs: worker start_time_seconds $v vs /proc $start (within 1 s)"
    else fail "procfs: worker start_time_seconds $(show "$v") vs /proc $start (not within 1 s)"; fi
    uptime=$(mget "$f" gunicorn_worker_uptime_seconds "worker_pid=$w")
    t=$(awk -v a="$start" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
    if [ -n "$uptime" ] && fcmp "$uptime - $t <= 1 && $t - $uptime <= 1.5"; then pass "procfs: worker uptime_seconds $uptime vs now - /proc start $t (within 1 s)"
    else fail "procfs: worker uptime_seconds $(show "$uptime") vs now - /proc start $t"; fi
    read -r _ _ mproc _ _ < <(proc_figures "$GPID")
    mstart=$(mget "$f" gunicorn_master_start_time_seconds)
    if [ -n "$mstart" ] && fcmp "$mstart - $mproc <= 1 && $mproc - $mstart <= 1"; then pass "procfs: master start_time_seconds $mstart vs /proc $mproc (within 1 s)"
    else fail "procfs: master start_time_seconds $(show "$mstart") vs /proc $mproc (not within 1 s)"; fi
    check_eq "procfs: gunicorn_master_workers" "$(mget "$f" gunicorn_master_workers)" 1
    # burn: cpu_percent from scrapes taken from 1 s into the burn until it ends, against what
    # the worker really got: its /proc utime+stime read after each scrape (pts, t:ticks), over
    # every window of 1 to 2 s between those reads (the observer's windows are >= 1 s, between
    # two of its reads); a loaded machine gives the burn less than a core
    say "GET /burn?s=$burn on worker $w; scraping every 0.5 s"
    t0=$(now)
    pts="0:$(worker_ticks "$w")"
    curl -s -o /dev/null --max-time 30 "http://127.0.0.1:$GPORT/burn?s=$burn" &
    cpid=$!
    STARTED+=("$cpid")
    for i in $(seq 40); do
        sleep 0.5
        alive "$cpid" || break
        scrape_to "$WORKDIR/procfs-burn-$i.txt" || continue
        t=$(since "$t0")
        fcmp "$t < $burn" || break
        pts="$pts $t:$(worker_ticks "$w")"
        st=$(worker_state "$WORKDIR/procfs-burn-$i.txt" "$w")
        states="$states $t:$st"
        fcmp "$t >= 1.0" || continue
        v=$(mget "$WORKDIR/procfs-burn-$i.txt" gunicorn_worker_cpu_percent "worker_pid=$w")
        pcts="$pcts $t:${v:-absent}"
        [ -n "$v" ] && { [ -z "$best" ] || fcmp "$v > $best"; } && best=$v
    done
    wait "$cpid" 2>/dev/null
    range=$(cpu_range "$pts")
    if [ -n "$best" ] && [ -n "$range" ] && fcmp "$best >= ${range% *} - 5 && $best <= ${range#* } + 5"; then
        pass "procfs: cpu_percent during the burn reached $best, within 5 of /proc's ${range/ /..} (samples$pcts; /proc$pts)"
    else fail "procfs: cpu_percent during the burn: max $(show "$best"), /proc says ${range/ /..} (samples$pcts; /proc$pts)"; fi
    if [[ "$states" == *:busy* ]] && [[ "$states" != *:idle* ]] && [[ "$states" != *:stuck* ]]; then pass "procfs: worker busy during the burn (${states# })"
    else fail "procfs: worker state during the burn not busy throughout (${states# })"; fi
    settle $((2 * n + 1))
    sleep 1
    scrape "$f2"
    read -r rss cpu start ps_rss ps_cpu < <(proc_figures "$w")
    check_proc_match "procfs (after burn)" "$f2" "$w" "$rss" "$cpu" "$ps_rss" "$ps_cpu"
    # every per-worker family, for a worker several seconds old (cpu_percent needs two samples)
    missing=''
    for s in gunicorn_worker_requests_total gunicorn_worker_in_flight_requests gunicorn_worker_state \
        gunicorn_worker_last_heartbeat_age_seconds gunicorn_worker_memory_bytes gunicorn_worker_cpu_seconds_total \
        gunicorn_worker_cpu_percent gunicorn_worker_uptime_seconds gunicorn_worker_start_time_seconds; do
        [ -n "$(mget "$f2" "$s" "worker_pid=$w")" ] || missing="$missing $s"
    done
    if [ -z "$missing" ]; then pass "procfs: worker $w has every per-worker gauge (state, heartbeat, memory, cpu, uptime, start time)"
    else fail "procfs: worker $w lacks:$missing"; fi
    vsay "cpu_percent of worker $w at $(awk -v u="$uptime" 'BEGIN {printf "%.1f", u}') s old (first checks): $(show "$(mget "$f" gunicorn_worker_cpu_percent "worker_pid=$w")")"
    v=$(mget "$f2" gunicorn_worker_cpu_percent "worker_pid=$w")
    vsay "cpu_percent after the burn: $(show "$v")"
    promtool_check "$f2"
    end_instance
}

scenario_backlog() {
    local nconn=5 cpid hpid f=$WORKDIR/backlog.txt f2=$WORKDIR/backlog-2.txt q1 q2 mx b bm listen
    instance backlog
    start_gunicorn 1 -k sync --backlog 8 --timeout 60
    listen=127.0.0.1:$GPORT
    wait_discovered
    curl -s -o /dev/null --max-time 30 "http://127.0.0.1:$GPORT/slow?s=8" &
    cpid=$!
    STARTED+=("$cpid")
    sleep 0.5
    $PY -c 'import socket, sys, time
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
print("ready", flush=True)
time.sleep(30)' "$GPORT" "$nconn" > "$WORKDIR/holder.out" 2>&1 &
    hpid=$!
    STARTED+=("$hpid")
    ss_q() { ss -Hltn "sport = :$GPORT" | awk '{print $2, $3}'; }
    queued() { read -r q1 mx < <(ss_q); [ "$q1" = "$nconn" ]; }
    wait_until 10 queued || fail "backlog: ss shows Recv-Q '$q1', expected $nconn waiting connections"
    say "ss -ltn: Recv-Q $q1 Send-Q $mx on $listen (worker busy on /slow?s=8, $nconn idle connections)"
    scrape "$f"
    read -r q2 _ < <(ss_q)
    b=$(mget "$f" gunicorn_listener_backlog "listen=$listen")
    bm=$(mget "$f" gunicorn_listener_backlog_max "listen=$listen")
    if [ -n "$b" ] && fcmp "$b > 0"; then pass "backlog: gunicorn_listener_backlog{listen=$listen} = $b (> 0)"
    else fail "backlog: gunicorn_listener_backlog{listen=$listen} = $(show "$b"), expected > 0 (ss Recv-Q $q1)"; fi
    if [ "$q1" = "$q2" ]; then check_eq "backlog: gunicorn_listener_backlog vs ss Recv-Q" "$b" "$q1"
    else vsay "Recv-Q changed during the scrape ($q1 -> $q2): exact comparison skipped"; fi
    check_eq "backlog: gunicorn_listener_backlog_max{listen=$listen} vs ss Send-Q" "$bm" "$mx"
    stop_pid "$hpid"
    wait "$cpid" 2>/dev/null
    drained() { read -r q1 _ < <(ss_q); [ "$q1" = 0 ]; }
    wait_until 10 drained || fail "backlog: accept queue not drained (Recv-Q $q1)"
    sleep 0.3
    scrape "$f2"
    check_eq "backlog: gunicorn_listener_backlog{listen=$listen} once the queue drained (ss Recv-Q 0)" "$(mget "$f2" gunicorn_listener_backlog "listen=$listen")" 0
    end_instance
}

start_observer
for s in kill timeout maxreq signals oom procfs backlog; do
    want "$s" && "scenario_$s"
done
finish
