#!/usr/bin/python3
# Checks gunicorn-observer metrics against gunicorn's access log and client.py summaries.
# Prints one PASS:/FAIL: line per check with the numbers; exits 1 if any check failed.
#
# full:     compare.py full --metrics AFTER [--before BEFORE] --log ACCESS_LOG
#                [--log-from N] [--log-to M] [--client C.json]... --master PID [--app NAME]
#                [--slack-errlog GUNICORN_DEBUG_LOG --errlog-from N]
#   Counters are compared as AFTER-BEFORE against log lines [N, M). --client means the
#   clients were the only traffic in that window, so byte sums are checked exactly.
#   --slack-errlog (wrk phases): a request whose response could not be written
#   (EPIPE/ECONNRESET: the client left) is absent from the access log and must count as
#   aborted, not as a request. Gunicorn logs each such failure at debug level (and also a
#   reset of an idle keep-alive connection, which is no request), so requests stay exact
#   and aborted must lie in [0, such lines of that worker].
# duration: compare.py duration --before B --after A --log ACCESS_LOG --log-from N
#                [--log-to M] --master PID [--tolerance 0.10]
#   Mean request duration from the histogram delta vs. the mean of %(D)s in the log.
# routes:   compare.py routes --log ACCESS_LOG [--log-from N] [--log-to M] --client C.json...
#                [--what NAME]
#   The harness itself, no metrics: the responses the clients saw are the log's lines
#   [N, M), as a multiset of (worker, status, method, path) when the clients list their
#   requests ("requests": [{pid, status, method, path}], and the log has '%(m)s %(U)s'),
#   else of (worker, status) from client.py's per-worker summary.
# Access log format: '%(p)s %(s)s %(D)s %(B)s' -> "<pid> status micros body_bytes|-",
# optionally followed by ' %(m)s %(U)s' (method, path).
import argparse
import collections
import json
import re
import sys

FAILED = 0


def report(ok, msg):
    global FAILED
    FAILED += not ok
    print(("PASS: " if ok else "FAIL: ") + msg)


# ---- parsing ---------------------------------------------------------------

UNESCAPE_RE = re.compile(r"\\(.)")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(path):
    """-> list of (name, {labels}, float value)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            labels = {}
            if "{" in line:
                name, rest = line.split("{", 1)
                body, rest = rest.rsplit("}", 1)
                pos = 0
                while pos < len(body):
                    m = LABEL_RE.match(body, pos)
                    if not m:
                        raise ValueError("bad labels in %r" % line)
                    labels[m.group(1)] = UNESCAPE_RE.sub(
                        lambda x: "\n" if x.group(1) == "n" else x.group(1), m.group(2))
                    pos = m.end()
            else:
                name, rest = line.split(None, 1)
            out.append((name.strip(), labels, float(rest.split()[0])))
    return out


class Snap:
    """Metric lookups restricted to one master, optionally as a delta to a before-snapshot."""

    def __init__(self, after, before, master):
        self.after = [s for s in parse_metrics(after) if s[1].get("master_pid") == master]
        self.before = [s for s in parse_metrics(before) if s[1].get("master_pid") == master] if before else []

    @staticmethod
    def _sum(samples, name, match):
        vals = [v for n, l, v in samples
                if n == name and all(l.get(k) == str(w) for k, w in match.items())]
        return sum(vals) if vals else None

    def get(self, name, **match):
        """Delta of the sum of matching series, None if no matching series after."""
        a = self._sum(self.after, name, match)
        if a is None:
            return None
        return a - (self._sum(self.before, name, match) or 0)

    def absolute(self, name, **match):
        return self._sum(self.after, name, match)

    def label_values(self, name, label, **match):
        return {l[label] for n, l, v in self.after
                if n == name and label in l and all(l.get(k) == str(w) for k, w in match.items())}


def parse_log(path, start, end, routes=False):
    """-> list of (pid, status, micros) for log lines [start, end); with routes
    (pid, status, micros, method, path), which needs the '%(m)s %(U)s' fields."""
    rows = []
    with open(path) as f:
        lines = f.read().splitlines()[start:end]
    for line in lines:
        p = line.split()
        if len(p) not in (4, 6) or (routes and len(p) != 6):
            raise ValueError("unexpected access log line %r" % line)
        rows.append((p[0].strip("<>"), p[1], int(p[2])) + ((p[4], p[5]) if routes else ()))
    return rows


def parse_slack(path, start):
    """Count gunicorn debug lines about failed response writes, per worker pid."""
    slack = collections.Counter()
    with open(path) as f:
        for line in f.read().splitlines()[start:]:
            m = re.search(r"\[(\d+)\] \[DEBUG\] Ignoring (connection epipe|connection reset|socket not connected)", line)
            if m:
                slack[m.group(1)] += 1
    return slack


def fmt(v):
    if v is None:
        return "missing"
    return "%d" % v if v == v and abs(v) < 1e18 and v == int(v) else "%.6g" % v


def count_check(what, got, want, slack=0, lower=None):
    """Exact when slack == 0, else lower <= got <= want + slack (lower defaults to want).
    Missing series == 0."""
    g = got or 0
    if slack:
        lo = want if lower is None else lower
        report(lo <= g <= want + slack,
               "%s: observer %s, bound [%d, %d] (%d EPIPE/reset lines in gunicorn's log)"
               % (what, fmt(got), lo, want + slack, slack))
    else:
        report(g == want, "%s: observer %s, expected %d" % (what, fmt(got), want))


def hist_checks(snap, base, who, match, requests):
    count = snap.get(base + "_count", **match)
    report(count is not None and count == requests,
           "%s %s_count %s, requests_total %s (must be equal)" % (who, base, fmt(count), fmt(requests)))
    les = {l["le"] for n, l, v in snap.after
           if n == base + "_bucket" and all(l.get(k) == str(w) for k, w in match.items())}
    if not les:
        report(False, "%s %s: no _bucket series" % (who, base))
        return
    les = sorted(les, key=float)
    cum = [snap.get(base + "_bucket", le=le, **match) for le in les]
    mono = all(x <= y for x, y in zip(cum, cum[1:]))
    report(mono and float(les[-1]) == float("inf") and cum[-1] == count,
           "%s %s buckets cumulative, +Inf bucket %s, _count %s (must be equal)"
           % (who, base, fmt(cum[-1]), fmt(count)))


# ---- modes -----------------------------------------------------------------

def mode_full(a):
    snap = Snap(a.metrics, a.before, a.master)
    log = parse_log(a.log, a.log_from, a.log_to)
    slack = parse_slack(a.slack_errlog, a.errlog_from) if a.slack_errlog else collections.Counter()
    clients = {}
    for path in a.client or []:
        with open(path) as f:
            c = json.load(f)
        if c["errors"]:
            report(False, "client %s had %d errors, e.g. %s" % (path, len(c["errors"]), c["errors"][0]))
        for pid, w in c["workers"].items():
            d = clients.setdefault(pid, collections.Counter())
            d.update({"requests": w["requests"], "sent": w["bytes_sent"], "recv": w["bytes_received"]})

    by_pid = collections.Counter(r[0] for r in log)
    by_pid_code = collections.Counter((r[0], r[1]) for r in log)
    by_code = collections.Counter(r[1] for r in log)
    pids = set(by_pid) | snap.label_values("gunicorn_worker_requests_total", "worker_pid")
    print("# master %s: %d log lines, workers %s" % (a.master, len(log), ",".join(sorted(pids))))
    if a.app:
        apps = {l.get("app") for n, l, v in snap.after}
        report(apps == {a.app}, "app label of master %s series: %s, expected %s"
               % (a.master, ",".join(sorted(map(str, apps))) or "none", a.app))

    for pid in sorted(pids):
        who = "worker %s" % pid
        m = {"worker_pid": pid}
        s = slack[pid]
        req = snap.get("gunicorn_worker_requests_total", **m)
        count_check(who + " requests_total", req, by_pid[pid])
        codes = {c for p, c in by_pid_code if p == pid} | snap.label_values(
            "gunicorn_worker_responses_total", "code", **m)
        for code in sorted(codes):
            count_check("%s responses_total{code=%s}" % (who, code),
                        snap.get("gunicorn_worker_responses_total", code=code, **m),
                        by_pid_code[(pid, code)])
        n5xx = sum(n for (p, c), n in by_pid_code.items() if p == pid and c.startswith("5"))
        count_check(who + ' failed_requests_total{reason="5xx"}',
                    snap.get("gunicorn_worker_failed_requests_total", reason="5xx", **m), n5xx)
        count_check(who + ' failed_requests_total{reason="aborted"}' + ("" if s else " (every response was read)"),
                    snap.get("gunicorn_worker_failed_requests_total", reason="aborted", **m), 0, s, lower=0)
        for h in ("gunicorn_worker_request_duration_seconds", "gunicorn_worker_request_size_bytes",
                  "gunicorn_worker_response_size_bytes"):
            hist_checks(snap, h, who, m, req)
        infl = snap.absolute("gunicorn_worker_in_flight_requests", **m)
        report(infl == 0, "%s in_flight_requests at rest: %s, expected 0" % (who, fmt(infl)))
        if a.client:
            c = clients.get(pid, collections.Counter())
            report(c["requests"] == by_pid[pid], "%s harness: client saw %d requests, log has %d"
                   % (who, c["requests"], by_pid[pid]))
            got = snap.get("gunicorn_worker_request_size_bytes_sum", **m)
            report(got == c["sent"], "%s request_size_bytes_sum %s, client bytes sent %d"
                   % (who, fmt(got), c["sent"]))
            got = snap.get("gunicorn_worker_response_size_bytes_sum", **m)
            report(got == c["recv"], "%s response_size_bytes_sum %s, client bytes received %d"
                   % (who, fmt(got), c["recv"]))

    who = "master %s" % a.master
    codes = set(by_code) | snap.label_values("gunicorn_requests_total", "code")
    for code in sorted(codes):
        count_check("%s requests_total{code=%s}" % (who, code),
                    snap.get("gunicorn_requests_total", code=code), by_code[code])
    count_check(who + " request_duration_seconds_count",
                snap.get("gunicorn_request_duration_seconds_count"), len(log))
    hist_checks(snap, "gunicorn_request_duration_seconds", who, {},
                snap.get("gunicorn_requests_total"))


def mode_duration(a):
    snap = Snap(a.after, a.before, a.master)
    log = parse_log(a.log, a.log_from, a.log_to)
    if not log:
        report(False, "duration: no access log lines in the phase")
        return
    log_mean = sum(r[2] for r in log) / len(log) / 1e6
    for who, base in (("workers", "gunicorn_worker_request_duration_seconds"),
                      ("master", "gunicorn_request_duration_seconds")):
        s, n = snap.get(base + "_sum"), snap.get(base + "_count")
        report(n == len(log), "%s %s_count delta %s, log lines %d" % (who, base, fmt(n), len(log)))
        if not n or s is None:
            report(False, "%s mean duration: no histogram data" % who)
            continue
        mean = s / n
        err = abs(mean - log_mean) / log_mean
        report(err <= a.tolerance, "%s mean duration %.3f ms vs access log %.3f ms (%+.1f%%, bound %.0f%%)"
               % (who, mean * 1e3, log_mean * 1e3, (mean / log_mean - 1) * 100, a.tolerance * 100))


def mode_routes(a):
    detailed, summed = collections.Counter(), collections.Counter()
    for path in a.client:
        with open(path) as f:
            c = json.load(f)
        if c.get("errors"):
            report(False, "%s: client %s had %d errors, e.g. %s" % (a.what, path, len(c["errors"]), c["errors"][0]))
        if "requests" in c:
            detailed.update((r["pid"], str(r["status"]), r["method"], r["path"]) for r in c["requests"])
        else:
            for pid, w in c["workers"].items():
                summed.update({(pid, code): n for code, n in w["status"].items()})
    if detailed and summed:
        raise SystemExit("routes: give either clients with request lists or client.py summaries")
    if detailed:
        log = collections.Counter((r[0], r[1], r[3], r[4]) for r in parse_log(a.log, a.log_from, a.log_to, True))
        got, key = detailed, "worker, status, method, path"
    else:
        log = collections.Counter((r[0], r[1]) for r in parse_log(a.log, a.log_from, a.log_to))
        got, key = summed, "worker, status"
    missing, extra = log - got, got - log
    report(not missing and not extra and sum(log.values()) > 0,
           "%s harness: the clients' %d responses are the access log's %d lines by (%s)%s%s"
           % (a.what, sum(got.values()), sum(log.values()), key,
              "; only in the log: %s" % dict(list(missing.items())[:5]) if missing else "",
              "; only at the clients: %s" % dict(list(extra.items())[:5]) if extra else ""))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("full")
    f.add_argument("--metrics", required=True)
    f.add_argument("--before")
    f.add_argument("--client", action="append")
    f.add_argument("--app")
    f.add_argument("--slack-errlog")
    f.add_argument("--errlog-from", type=int, default=0)
    d = sub.add_parser("duration")
    d.add_argument("--after", required=True)
    d.add_argument("--before", required=True)
    d.add_argument("--tolerance", type=float, default=0.10)
    r = sub.add_parser("routes")
    r.add_argument("--client", action="append", required=True)
    r.add_argument("--what", default="routes")
    for p in (f, d, r):
        p.add_argument("--log", required=True)
        p.add_argument("--log-from", type=int, default=0)
        p.add_argument("--log-to", type=int)
    for p in (f, d):
        p.add_argument("--master", required=True)
    a = ap.parse_args()
    {"full": mode_full, "duration": mode_duration, "routes": mode_routes}[a.mode](a)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
