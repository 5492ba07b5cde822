#!/usr/bin/python3
# Checks one scrape of a full node (test_full_node.sh) against every master's
# access log. Prints PASS:/FAIL: lines; exits 1 if any check failed.
#   node_check.py --metrics SCRAPE --busy PID:LOG [--busy PID:LOG]...
#                 [--idle PID:N]... [--rss-max MIB] [--kernel-max MIB]
# busy: every worker in the log answered, and each worker's requests_total and
# responses_total{code} equal its lines in that master's log; so do the
# master's requests_total{code}. idle: N workers, each with 0 requests. Then
# tracked_workers and tracked_masters are exactly these, and the observer's own
# resident memory and the kernel memory of its BPF maps and programs stay
# within the bounds given.
import argparse
import collections
import sys

from compare import parse_log, parse_metrics

FAILED = 0


def report(ok, msg):
    global FAILED
    FAILED += not ok
    print(("PASS: " if ok else "FAIL: ") + msg)


def by_master(samples, name, key=None):
    """{master_pid: Counter{worker_pid or (worker_pid, code) or code: value}} of one family."""
    out = collections.defaultdict(collections.Counter)
    for n, labels, v in samples:
        if n == name:
            out[labels.get("master_pid")][key(labels) if key else labels.get("worker_pid")] += v
    return out


def check_busy(pid, log, req, resp, mcodes):
    lines = parse_log(log, 0, None)
    want_w = collections.Counter(r[0] for r in lines)
    want_wc = collections.Counter((r[0], r[1]) for r in lines)
    want_c = collections.Counter(r[1] for r in lines)
    bad = []
    for w in sorted(set(want_w) | set(req[pid])):
        if req[pid][w] != want_w[w]:
            bad.append("worker %s requests %g, log %d" % (w, req[pid][w], want_w[w]))
    for wc in sorted(set(want_wc) | set(resp[pid])):
        if resp[pid][wc] != want_wc[wc]:
            bad.append("worker %s code %s: %g, log %d" % (wc[0], wc[1], resp[pid][wc], want_wc[wc]))
    for c in sorted(set(want_c) | set(mcodes[pid])):
        if mcodes[pid][c] != want_c[c]:
            bad.append("master code %s: %g, log %d" % (c, mcodes[pid][c], want_c[c]))
    report(not bad, "master %s: %d requests by %d workers, %d (worker, code) pairs exact against its log%s" % (
        pid, len(lines), len(want_w), len(want_wc), ("; " + "; ".join(bad[:5])) if bad else ""))
    return len(want_w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--busy", action="append", default=[], help="MASTER_PID:ACCESS_LOG")
    ap.add_argument("--idle", action="append", default=[], help="MASTER_PID:WORKERS")
    ap.add_argument("--busy-workers", type=int, default=0, help="workers each busy master has")
    ap.add_argument("--rss-max", type=float, help="MiB")
    ap.add_argument("--kernel-max", type=float, help="MiB")
    a = ap.parse_args()
    s = parse_metrics(a.metrics)
    req = by_master(s, "gunicorn_worker_requests_total")
    resp = by_master(s, "gunicorn_worker_responses_total", lambda l: (l.get("worker_pid"), l.get("code")))
    mcodes = by_master(s, "gunicorn_requests_total", lambda l: l.get("code"))
    total = 0
    for b in a.busy:
        pid, log = b.split(":", 1)
        n = check_busy(pid, log, req, resp, mcodes)
        if a.busy_workers:
            report(n == a.busy_workers, "master %s: %d of its %d workers served requests" % (pid, n, a.busy_workers))
        total += len(req[pid])
    for i in a.idle:
        pid, n = i.split(":")
        got = req[pid]
        report(len(got) == int(n) and sum(got.values()) == 0,
               "idle master %s: %d worker series (expected %s), %g requests" % (pid, len(got), n, sum(got.values())))
        total += len(got)
    one = {n: v for n, l, v in s if not l}
    report(one.get("gunicorn_observer_tracked_workers") == total,
           "tracked_workers %s, expected %d" % (one.get("gunicorn_observer_tracked_workers"), total))
    report(one.get("gunicorn_observer_tracked_masters") == len(a.busy) + len(a.idle),
           "tracked_masters %s, expected %d" % (one.get("gunicorn_observer_tracked_masters"),
                                                len(a.busy) + len(a.idle)))
    drops = {l.get("reason"): v for n, l, v in s if n == "gunicorn_observer_events_dropped_total" and v}
    report(not drops, "no events dropped%s" % (": %s" % drops if drops else ""))
    if a.rss_max:
        rss = one.get("gunicorn_observer_resident_memory_bytes", 0) / 1048576
        report(0 < rss <= a.rss_max, "observer resident memory %.1f MiB at %d workers (at most %g)"
               % (rss, total, a.rss_max))
    if a.kernel_max:
        k = sum(v for n, l, v in s if n == "gunicorn_observer_bpf_memory_bytes") / 1048576
        report(0 < k <= a.kernel_max, "kernel memory of the BPF maps and programs %.1f MiB (at most %g)"
               % (k, a.kernel_max))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
