#!/usr/bin/python3
# Checks one section of test_adversarial.sh: the observer's counters between two
# scrapes against Gunicorn's access log lines of that section, corrected by what
# adv_client.py knows the observer sees differently (its "adjust": 400 answers to
# requests Gunicorn could not parse, which it does not log; requests the observer
# does not recognise), plus aborted requests, drops, in-flight gauges and BPF map
# entries. One PASS:/FAIL: line per check; exits 1 if any failed.
#
#   adv_check.py --before B --after A --log LOG --log-from N [--log-to M] --master PID
#       [--client C.json]... [--per-worker] [--bytes] [--aborted MIN:MAX]
#       [--drops REASON=MIN:MAX]... [--minus-drops REASON] [--entries MAP=N]...
#       [--gone]   (the master is gone: none of its series may remain)
import argparse
import collections
import json
import sys

import compare
from compare import Snap, parse_log, parse_metrics, report


def bound(text):
    lo, _, hi = text.partition(":")
    return int(lo), int(hi or lo)


def self_metric(path, name, **match):
    vals = [v for n, l, v in parse_metrics(path) if n == name and all(l.get(k) == w for k, w in match.items())]
    return vals[0] if vals else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--log-from", type=int, default=0)
    ap.add_argument("--log-to", type=int)
    ap.add_argument("--master", required=True)
    ap.add_argument("--client", action="append", default=[])
    ap.add_argument("--per-worker", action="store_true")
    ap.add_argument("--bytes", action="store_true")
    ap.add_argument("--aborted", type=bound)
    ap.add_argument("--drops", action="append", default=[])
    ap.add_argument("--minus-drops")
    ap.add_argument("--entries", action="append", default=[])
    ap.add_argument("--gone", action="store_true")
    ap.add_argument("--what", default="section")
    a = ap.parse_args()

    log = parse_log(a.log, a.log_from, a.log_to)
    snap = Snap(a.after, a.before, a.master)
    adjust, sent, recv, creq = collections.Counter(), collections.Counter(), collections.Counter(), collections.Counter()
    for path in a.client:
        with open(path) as f:
            c = json.load(f)
        if c["errors"]:
            report(False, "%s: client %s had %d errors, e.g. %s" % (a.what, path, len(c["errors"]), c["errors"][0]))
        adjust.update(c.get("adjust", {}))
        for pid, w in c["workers"].items():
            sent[pid] += w["bytes_sent"]
            recv[pid] += w["bytes_received"]
            creq[pid] += w["requests"]
    dropped = {}
    for reason in ("conn_map_full", "stash_map_full", "stats_missing", "code_map_full", "proc_map_full",
                   "ringbuf_full", "user_read_failed", "map_read_failed"):
        after = self_metric(a.after, "gunicorn_observer_events_dropped_total", reason=reason) or 0
        before = self_metric(a.before, "gunicorn_observer_events_dropped_total", reason=reason) or 0
        dropped[reason] = int(after - before)
    minus = dropped[a.minus_drops] if a.minus_drops else 0

    by_code = collections.Counter(r[1] for r in log)
    print("# %s: master %s, %d log lines %s, client adjust %s, drops %s" % (
        a.what, a.master, len(log), dict(sorted(by_code.items())), dict(adjust),
        {k: v for k, v in dropped.items() if v}))

    if a.gone:
        left = [n for n, l, v in parse_metrics(a.after) if l.get("master_pid") == a.master]
        report(not left, "%s: no series of master %s remain (%d left%s)"
               % (a.what, a.master, len(left), ", e.g. " + left[0] if left else ""))
    else:
        codes = set(by_code) | set(adjust) | snap.label_values("gunicorn_requests_total", "code")
        total_got = snap.get("gunicorn_requests_total") or 0
        total_want = len(log) + sum(adjust.values()) - minus
        report(total_got == total_want,
               "%s: master requests_total %d, expected %d (log %d %+d client-known differences %+d dropped "
               "connections)" % (a.what, total_got, total_want, len(log), sum(adjust.values()), -minus))
        for code in sorted(codes):
            want = by_code[code] + adjust[code]
            got = snap.get("gunicorn_requests_total", code=code) or 0
            if minus:
                lo = max(0, want - minus)
                report(lo <= got <= want, "%s: requests_total{code=%s} %d, bound [%d, %d]"
                       % (a.what, code, got, lo, want))
            else:
                compare.count_check("%s: requests_total{code=%s}" % (a.what, code), got, want)
    if a.per_worker:
        by_pid_code = collections.Counter((r[0], r[1]) for r in log)
        pids = {p for p, _ in by_pid_code} | snap.label_values("gunicorn_worker_requests_total", "worker_pid")
        for pid in sorted(pids):
            m = {"worker_pid": pid}
            want = sum(n for (p, _), n in by_pid_code.items() if p == pid)
            compare.count_check("%s: worker %s requests_total" % (a.what, pid),
                                snap.get("gunicorn_worker_requests_total", **m), want)
            codes = {c for p, c in by_pid_code if p == pid} | snap.label_values(
                "gunicorn_worker_responses_total", "code", **m)
            for code in sorted(codes):
                compare.count_check("%s: worker %s responses_total{code=%s}" % (a.what, pid, code),
                                    snap.get("gunicorn_worker_responses_total", code=code, **m),
                                    by_pid_code[(pid, code)])
            if a.bytes:
                report(creq[pid] == want, "%s: worker %s harness: client saw %d responses, log has %d"
                       % (a.what, pid, creq[pid], want))
                got = snap.get("gunicorn_worker_request_size_bytes_sum", **m)
                report(got == sent[pid], "%s: worker %s request_size_bytes_sum %s, client sent %d"
                       % (a.what, pid, compare.fmt(got), sent[pid]))
                got = snap.get("gunicorn_worker_response_size_bytes_sum", **m)
                report(got == recv[pid], "%s: worker %s response_size_bytes_sum %s, client received %d"
                       % (a.what, pid, compare.fmt(got), recv[pid]))
    if a.aborted and not a.gone:
        got = snap.get("gunicorn_worker_failed_requests_total", reason="aborted") or 0
        report(a.aborted[0] <= got <= a.aborted[1], "%s: aborted requests %d, bound [%d, %d]"
               % (a.what, got, a.aborted[0], a.aborted[1]))
    if not a.gone:
        infl = [(l["worker_pid"], v) for n, l, v in snap.after if n == "gunicorn_worker_in_flight_requests"]
        report(all(v == 0 for _, v in infl), "%s: in_flight_requests at rest: %s"
               % (a.what, ", ".join("%s=%d" % x for x in infl) or "no workers"))
    for d in a.drops:
        reason, _, rng = d.partition("=")
        lo, hi = bound(rng)
        report(lo <= dropped[reason] <= hi, "%s: events_dropped_total{reason=%s} grew by %d, bound [%d, %d]"
               % (a.what, reason, dropped[reason], lo, hi))
    for e in a.entries:
        name, _, want = e.partition("=")
        got = self_metric(a.after, "gunicorn_observer_bpf_map_entries", map=name)
        report(got is not None and got == int(want), "%s: bpf_map_entries{map=%s} %s, baseline %s"
               % (a.what, name, compare.fmt(got), want))
    return 1 if compare.FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
