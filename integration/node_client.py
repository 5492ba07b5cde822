#!/usr/bin/python3
# Traffic for test_full_node.sh: every worker of every master answers.
#   node_client.py --port P:N [--port P:N]... --requests R --out OUT.json
# For each master (port P, N workers), N threads send requests, one connection
# each, cycling through /sleep (so that a busy worker leaves the next
# connection to another), /, /notfound and /error, until the master has
# answered at least R requests and every one of its N workers (told by the
# X-Worker-Pid header) at least twice; 60 s at most. Writes, per port, the
# responses by worker and status; exits 1 when a request failed or a worker
# never answered.
import argparse
import collections
import http.client
import json
import sys
import threading
import time

PATHS = ["/sleep", "/", "/notfound", "/sleep", "/error", "/"]


class Master:
    def __init__(self, port, workers, want):
        self.port, self.workers, self.want = port, workers, want
        self.lock = threading.Lock()
        self.seen = collections.Counter()  # (pid, status) -> n
        self.per_pid = collections.Counter()
        self.errors = []
        self.sent = 0

    def done(self):
        with self.lock:
            return (self.sent >= self.want and len(self.per_pid) >= self.workers
                    and min(self.per_pid.values()) >= 2)

    def one(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            pid = r.getheader("X-Worker-Pid")
            with self.lock:
                self.seen[(pid, r.status)] += 1
                self.per_pid[pid] += 1
        except (OSError, http.client.HTTPException) as e:
            with self.lock:
                self.errors.append("%s %s: %s" % (self.port, path, e))
        finally:
            c.close()

    def thread(self, k, deadline):
        i = k
        while time.monotonic() < deadline and not self.done():
            with self.lock:
                self.sent += 1
            self.one(PATHS[i % len(PATHS)])
            i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", action="append", required=True, help="PORT:WORKERS")
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    masters = []
    for p in a.port:
        port, n = p.split(":")
        masters.append(Master(int(port), int(n), a.requests))
    deadline = time.monotonic() + 60
    threads = [threading.Thread(target=m.thread, args=(k, deadline)) for m in masters for k in range(m.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, ok = {}, True
    for m in masters:
        out[str(m.port)] = {"responses": sum(m.seen.values()), "workers": len(m.per_pid), "errors": m.errors,
                            "by_worker_status": {"%s %s" % k: v for k, v in sorted(m.seen.items())}}
        if m.errors or len(m.per_pid) < m.workers:
            ok = False
            print("port %d: %d errors (%s), %d of %d workers answered" % (
                m.port, len(m.errors), m.errors[:1], len(m.per_pid), m.workers), file=sys.stderr)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
