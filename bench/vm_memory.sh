#!/bin/bash
# vm_memory.sh OBSERVER [ARGS...]: run inside a guest by bench/memory.py (vm/run.sh):
# starts the observer with no Gunicorn around, and prints "cpus N", then the
# gunicorn_observer_bpf_memory_bytes lines of its /metrics, then "rss_kib N", then
# "fdinfo_memlock N": the memlock of every BPF map and program it holds, from its fdinfo
# (an observer without that metric is measured too).
set -u
obs=$1
shift
port=19193
"$obs" --no-pin --listen "127.0.0.1:$port" "$@" > /tmp/vm-observer.log 2>&1 &
pid=$!
trap 'kill "$pid" 2> /dev/null; wait "$pid" 2> /dev/null' EXIT
for _ in $(seq 600); do
    curl -sf -o /tmp/vm-metrics.txt "http://127.0.0.1:$port/metrics" && break
    kill -0 "$pid" 2> /dev/null || { echo "observer exited: $(tail -n 3 /tmp/vm-observer.log)" >&2; exit 1; }
    sleep 0.5
done
[ -s /tmp/vm-metrics.txt ] || { echo "observer never answered: $(tail -n 3 /tmp/vm-observer.log)" >&2; exit 1; }
echo "cpus $(nproc) possible $(cat /sys/devices/system/cpu/possible) kernel $(uname -r)"
grep '^gunicorn_observer_bpf_memory_bytes' /tmp/vm-metrics.txt
echo "rss_kib $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")"
echo "fdinfo_memlock $(cat /proc/"$pid"/fdinfo/* 2> /dev/null | awk '$1 == "memlock:" {s += $2} END {print s + 0}')"
