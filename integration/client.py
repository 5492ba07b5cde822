#!/usr/bin/python3
# Raw-socket HTTP/1.1 load client for the gunicorn-observer integration tests.
# Sends a request mix, one connection per request (Connection: close) or keep-alive
# connections reused for K requests, and records for every request the answering
# worker (X-Worker-Pid), the status and the exact bytes sent and received.
# Writes a per-worker JSON summary; exits 1 if any request failed.
#
#   client.py --port 8000 --mix '/:100,/error:10,/echo:20' --post-sizes 0,10,70000 \
#             [--keepalive 20] [--concurrency 4] [--seed 1] --out summary.json
import argparse
import json
import random
import socket
import sys
import threading


def parse_mix(text):
    """'/:100,/echo:5,POST /x:3' -> [(method, path), ...] with repeats."""
    reqs = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        route, _, count = item.rpartition(":")
        method, _, path = route.rpartition(" ")
        method = method or ("POST" if path == "/echo" else "GET")
        reqs += [(method.upper(), path)] * int(count)
    return reqs


class Conn:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed connection mid-response")
        self.buf += data

    def read_response(self):
        """Return (status, headers dict, raw bytes of the whole response)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, _ = self.buf.partition(b"\r\n\r\n")
        hlen = len(head) + 4
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" not in headers:
            raise ValueError("response without Content-Length: %r" % lines[0])
        total = hlen + int(headers["content-length"])
        while len(self.buf) < total:
            self._fill()
        if len(self.buf) > total:
            raise ValueError("%d unexpected bytes after response" % (len(self.buf) - total))
        raw, self.buf = self.buf, b""
        return status, headers, raw

    def close(self):
        self.sock.close()


def build_request(method, path, body_size, host, keepalive):
    body = b"b" * body_size if method == "POST" else b""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gobs-client\r\n" % (method, path, host)
    head += "Connection: %s\r\n" % ("keep-alive" if keepalive else "close")
    if method == "POST":
        head += "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n", body


def run_slice(args, work, results, errors, conns):
    host = "%s:%d" % (args.host, args.port)
    conn, used = None, 0
    for method, path, size in work:
        try:
            if conn is None or (args.keepalive and used >= args.keepalive) or not args.keepalive:
                if conn:
                    conn.close()
                conn, used = Conn(args.host, args.port, args.timeout), 0
                conns.append(1)
            head, body = build_request(method, path, size, host, args.keepalive > 0)
            if len(body) > 1024:  # split so the worker needs several reads
                conn.sock.sendall(head)
                conn.sock.sendall(body)
            else:
                conn.sock.sendall(head + body)
            status, headers, raw = conn.read_response()
            used += 1
            results.append({"pid": headers.get("x-worker-pid", "unknown"), "status": status,
                            "sent": len(head) + len(body), "received": len(raw),
                            "method": method, "path": path})
            if headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # record, never retry: a retry would blur byte counts
            errors.append("%s %s (%d bytes): %r" % (method, path, size, e))
            if conn:
                conn.close()
            conn = None
    if conn:
        conn.close()


class Tally:
    """Counters and errors that client threads add to under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.errors = []

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)


def per_worker(results):
    """[{pid, status, sent, received}] -> (per-worker counts, totals), the summary's shape
    that compare.py reads; every client of the integration tests writes it."""
    workers, totals = {}, {"requests": 0, "bytes_sent": 0, "bytes_received": 0, "status": {}}
    for r in results:
        w = workers.setdefault(str(r["pid"]), {"requests": 0, "bytes_sent": 0,
                                               "bytes_received": 0, "status": {}})
        for d in (w, totals):
            d["requests"] += 1
            d["bytes_sent"] += int(r["sent"])
            d["bytes_received"] += int(r["received"])
            code = str(r["status"])
            d["status"][code] = d["status"].get(code, 0) + 1
    return workers, totals


def summarize(results, errors, nconns):
    workers, totals = per_worker(results)
    return {"totals": totals, "workers": workers, "connections": nconns, "errors": errors}


def main():
    ap = argparse.ArgumentParser(description="raw-socket HTTP/1.1 load client")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mix", required=True, help="route:count,... (/echo is POSTed)")
    ap.add_argument("--post-sizes", default="0,1,100,1000,10000",
                    help="POST body sizes, used in turn")
    ap.add_argument("--keepalive", type=int, default=0,
                    help="requests per keep-alive connection (0: Connection: close)")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    sizes = [int(s) for s in args.post_sizes.split(",")]
    reqs = parse_mix(args.mix)
    work, i = [], 0
    for method, path in reqs:
        size = 0
        if method == "POST":
            size, i = sizes[i % len(sizes)], i + 1
        work.append((method, path, size))
    random.Random(args.seed).shuffle(work)

    results, errors, conns = [], [], []
    threads = [threading.Thread(target=run_slice,
                                args=(args, work[k::args.concurrency], results, errors, conns))
               for k in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    summary = summarize(results, errors, len(conns))
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    t = summary["totals"]
    print("client: %d requests, %d connections, %d errors, sent %d B, received %d B, workers %s"
          % (t["requests"], len(conns), len(errors), t["bytes_sent"], t["bytes_received"],
             ",".join(sorted(summary["workers"]))))
    for e in errors[:10]:
        print("client error:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
