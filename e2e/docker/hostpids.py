#!/usr/bin/python3
# Rewrites the pids a containerised Gunicorn reports into host pids, so that
# integration/compare.py can hold them against the observer's worker_pid labels.
# Gunicorn's access log (%(p)s) and the X-Worker-Pid header that client.py
# records carry pids of the container's PID namespace; the observer runs in the
# host's. /proc/<pid>/status NSpid lists a process's pid in every namespace
# from the host's down to its own, so each process in the container's
# namespace maps its last NSpid to its first.
#
#   hostpids.py NS_PID [--log IN OUT]... [--client IN OUT]...
# NS_PID: a host pid in the container (e.g. its init, `docker inspect
# -f '{{.State.Pid}}'`). Prints the map; exits 1 naming a pid it cannot map.
import argparse
import json
import os
import sys


def pid_map(ns_pid):
    """{container pid: host pid} for every live process in ns_pid's PID namespace."""
    ns = os.readlink("/proc/%d/ns/pid" % ns_pid)
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/pid" % d) != ns:
                continue
            with open("/proc/%s/status" % d) as f:
                nspid = next(l.split()[1:] for l in f if l.startswith("NSpid:"))
        except (OSError, StopIteration):
            continue  # exited meanwhile
        out[nspid[-1]] = nspid[0]
    return out


def host(m, pid, where):
    if pid not in m:
        sys.exit("hostpids.py: pid %s in %s is not a live process of the container (it has %s)"
                 % (pid, where, ",".join(sorted(m))))
    return m[pid]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ns_pid", type=int)
    ap.add_argument("--log", nargs=2, action="append", default=[], metavar=("IN", "OUT"))
    ap.add_argument("--client", nargs=2, action="append", default=[], metavar=("IN", "OUT"))
    a = ap.parse_args()
    m = pid_map(a.ns_pid)
    print("container pid -> host pid: " + ", ".join("%s -> %s" % kv for kv in sorted(m.items())))
    for src, dst in a.log:
        with open(src) as f:
            lines = f.read().splitlines()
        with open(dst, "w") as f:
            for line in lines:
                pid, _, rest = line.partition(" ")  # "<pid>", as %(p)s writes it
                f.write("<%s> %s\n" % (host(m, pid.strip("<>"), src), rest))
    for src, dst in a.client:
        with open(src) as f:
            c = json.load(f)
        c["workers"] = {host(m, p, src): w for p, w in c["workers"].items()}
        with open(dst, "w") as f:
            json.dump(c, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
