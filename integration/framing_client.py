#!/usr/bin/python3
# HTTP/1.x framing client for test_framing.sh, on raw sockets. It reads every response
# by its own framing (Content-Length, chunked up to the terminator, no body for HEAD,
# 1xx, 204 and 304, close-delimited to EOF), so it never waits on a connection close to
# know a response is complete, and records for each response the answering worker
# (X-Worker-Pid), status, method, path and the exact bytes sent and received.
#
# Phase "close": one connection per case, each ended by the server: chunked with
#   Connection: close; HTTP/1.0 close-delimited bodies (a generator, a file through
#   wsgi.file_wrapper); HTTP/1.0 sendfile with Content-Length; HEAD and 204 over HTTP/1.0;
#   an Expect: 100-continue POST (the body goes only after the 100); several requests
#   pipelined in one send, the last with Connection: close. Gunicorn's sync and gthread
#   workers answer only the first of a pipelined batch (sync closes after it; gthread
#   leaves the rest in its parser's buffer and closes at --keep-alive): the client reads
#   what comes until the server closes, and the bytes of unanswered requests (which the
#   worker read) are added to the first response's.
# Phase "keepalive": SEQ on each of len(SEQ) keep-alive connections, rotated so that each
#   connection's last request is another kind; then every connection stays open and idle.
#   A server that answers Connection: close (sync workers) gets a new connection for the
#   next request. With --pipeline-idle SEQ also holds a pipelined batch of 3 keep-alive
#   requests (only for workers that answer them all: gevent).
# After each phase the client writes the summary of that phase's responses to
# OUT-PHASE.json (OUT without .json) and of all so far to OUT, creates READY.PHASE and
# waits for RELEASE.PHASE, holding the idle connections meanwhile. After the last phase it
# checks that no held connection was closed by the server or got bytes meanwhile (so a
# scrape taken while held saw them open and idle), closes them and writes OUT again with
# "held_open". Exit 1 on any harness error.
#
#   framing_client.py --port P --out S.json [--ready F --release F] [--pipeline-idle]
#       [--phases close,keepalive] [--server-close-timeout 10]
import argparse
import json
import os
import socket
import sys
import time

from client import per_worker

BODY_SIZE = 5000


class Closed(Exception):
    pass


class Conn:
    def __init__(self, a):
        self.a = a
        self.sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
        self.buf = b""
        self.eof = False

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            self.eof = True
            raise Closed("server closed the connection")
        self.buf += d

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_head(self):
        """-> (status, headers, raw head bytes)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n\r\n") + 4
        raw, self.buf = self.buf[:i], self.buf[i:]
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError("not a status line: %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        return int(parts[1]), headers, raw

    def read_response(self, method):
        """One final response (interim 1xx heads before it included in raw).
        -> (status, headers, raw, framing)."""
        raw = b""
        while True:
            status, headers, head = self.read_head()
            raw += head
            if not 100 <= status < 200:
                break
        if method == "HEAD" or status in (204, 304):
            return status, headers, raw, "none"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                line = self._line()
                raw += line
                n = int(line.split(b";")[0].strip(), 16)
                if n == 0:
                    while True:  # trailers, then the empty line
                        t = self._line()
                        raw += t
                        if t == b"\r\n":
                            return status, headers, raw, "chunked"
                raw += self._take(n + 2)
        if "content-length" in headers:
            return status, headers, raw + self._take(int(headers["content-length"])), "length"
        while True:  # delimited by the close
            try:
                self._fill()
            except Closed:
                raw, self.buf = raw + self.buf, b""
                return status, headers, raw, "close"

    def wait_close(self, timeout):
        """Until the server closes; -> bytes that came before the EOF."""
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                try:
                    self._fill()
                except Closed:
                    break
        finally:
            self.sock.settimeout(self.a.timeout)
        extra, self.buf = self.buf, b""
        return extra

    def close(self):
        self.sock.close()


def request(method, path, version="1.1", close=False, body=b"", extra=""):
    head = "%s %s HTTP/%s\r\nHost: gobs\r\nUser-Agent: gobs-framing\r\n" % (method, path, version)
    if version == "1.1":
        head += "Connection: %s\r\n" % ("close" if close else "keep-alive")
    if method == "POST":
        head += "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % len(body)
    return (head + extra + "\r\n").encode(), body


class Run:
    def __init__(self, a):
        self.a = a
        self.requests, self.errors = [], []
        self.connections = 0
        self.framings = {}
        self.held = []
        self.held_last = []  # the kind of request each held connection ended on
        self.unanswered = 0  # pipelined requests the server never answered

    def connect(self):
        self.connections += 1
        return Conn(self.a)

    def record(self, what, method, path, status, headers, sent, received, framing):
        pid = headers.get("x-worker-pid")
        if pid is None:  # every response of app.py carries it: a 400 from Gunicorn would not
            self.errors.append("%s: response %d without X-Worker-Pid" % (what, status))
            pid = "unknown"
        self.framings[framing] = self.framings.get(framing, 0) + 1
        self.requests.append({"pid": pid, "status": status, "method": method, "path": path.split("?")[0],
                              "sent": sent, "received": received, "framing": framing, "case": what})

    def one(self, conn, what, method, path, version="1.1", close=False, expect100=False):
        """Send one request on conn, read its response; -> True if the server keeps conn open."""
        body = b"b" * BODY_SIZE if method == "POST" else b""
        head, body = request(method, path, version, close, body,
                             "Expect: 100-continue\r\n" if expect100 else "")
        received = b""
        if expect100:
            conn.sock.sendall(head)
            status, headers, raw = conn.read_head()  # the body goes only after the 100
            if status != 100:
                raise ValueError("expected 100 Continue, got %d" % status)
            received = raw
            conn.sock.sendall(body)
        else:
            conn.sock.sendall(head + body)
        status, headers, raw, framing = conn.read_response(method)
        received += raw
        self.record(what, method, path, status, headers, len(head) + len(body), len(received), framing)
        if version == "1.0" or headers.get("connection", "").lower() == "close" or framing == "close":
            extra = conn.wait_close(self.a.server_close_timeout)
            if extra:
                self.errors.append("%s: %d bytes after a response that closes" % (what, len(extra)))
            if not conn.eof:
                self.errors.append("%s: the server did not close within %s s" % (what, self.a.server_close_timeout))
            return False
        return True

    def pipeline(self, conn, what, items, close_last):
        """items [(method, path)] in one send; reads responses until all or the server closes."""
        payload, sizes = b"", []
        for i, (method, path) in enumerate(items):
            head, body = request(method, path, close=close_last and i == len(items) - 1,
                                 body=b"p" * 100 if method == "POST" else b"")
            payload += head + body
            sizes.append(len(head) + len(body))
        conn.sock.sendall(payload)
        got, keep = [], True
        for method, path in items:
            try:
                status, headers, raw, framing = conn.read_response(method)
            except Closed:
                keep = False
                break
            except socket.timeout:
                self.errors.append("%s: no response %d within %s s" % (what, len(got) + 1, self.a.timeout))
                return False
            got.append((method, path, status, headers, raw, framing))
            if headers.get("connection", "").lower() == "close":
                keep = False
                break
        if keep and len(got) < len(items):
            keep = False
        if not keep or close_last:
            extra = conn.wait_close(self.a.server_close_timeout)
            if extra:
                self.errors.append("%s: %d bytes after the last response" % (what, len(extra)))
            if not conn.eof:
                self.errors.append("%s: the server did not close within %s s" % (what, self.a.server_close_timeout))
            keep = False
        if not got:
            self.errors.append("%s: no response" % what)
            return False
        # the worker read the whole batch: its bytes count for the responses that came, the
        # unanswered requests' for the first
        unanswered = sum(sizes[len(got):])
        for i, (method, path, status, headers, raw, framing) in enumerate(got):
            self.record(what, method, path, status, headers, sizes[i] + (unanswered if i == 0 else 0),
                        len(raw), framing)
        self.unanswered += len(items) - len(got)
        return keep

    def guarded(self, what, fn, *args):
        try:
            return fn(*args)
        except (OSError, ValueError, Closed) as e:
            self.errors.append("%s: %r" % (what, e))
            return False

    def phase_close(self):
        cases = [
            ("chunked-close", "GET", "/chunked?n=40&size=700", "1.1", True, False),
            ("http10-generator", "GET", "/chunked?n=40&size=700", "1.0", False, False),
            ("http10-filewrapper", "GET", "/filechunked?size=200000", "1.0", False, False),
            ("http10-sendfile", "GET", "/file?size=300000", "1.0", False, False),
            ("http10-head", "HEAD", "/chunked", "1.0", False, False),
            ("http10-204", "GET", "/nocontent", "1.0", False, False),
            ("continue-close", "POST", "/echo", "1.1", True, True),
        ]
        for what, method, path, version, close, e100 in cases:
            c = self.guarded(what, self.connect)
            if c:
                if self.guarded(what, self.one, c, what, method, path, version, close, e100):
                    self.errors.append("%s: connection not closed by the server" % what)
                c.close()
        c = self.guarded("pipeline-close", self.connect)
        if c:
            items = [("GET", "/"), ("GET", "/notfound"), ("GET", "/nocontent"), ("GET", "/chunked?n=3&size=10"),
                     ("HEAD", "/"), ("POST", "/echo"), ("HEAD", "/chunked")]
            self.guarded("pipeline-close", self.pipeline, c, "pipeline-close", items, True)
            c.close()

    SEQ = [
        ("get", "GET", "/"), ("head", "HEAD", "/"), ("head-nolength", "HEAD", "/chunked"),
        ("204", "GET", "/nocontent"), ("304", "GET", "/notmodified"),
        ("chunked", "GET", "/chunked?n=20&size=500"), ("stream", "GET", "/stream?n=20&size=1000"),
        ("sendfile", "GET", "/file?size=300000"), ("sendfile-chunked", "GET", "/filechunked?size=200000"),
        ("continue", "POST", "/echo"),
    ]

    def phase_keepalive(self):
        seq = list(self.SEQ)
        if self.a.pipeline_idle:
            seq.append(("pipeline", "PIPE", "/"))
        for k in range(len(seq)):
            order = seq[k + 1:] + seq[:k + 1]  # connection k ends with seq[k]
            conn = None
            for what, method, path in order:
                what = "keepalive-" + what
                if conn is None:
                    conn = self.guarded(what, self.connect)
                    if not conn:
                        break
                if method == "PIPE":
                    # a pipelined HEAD is followed by another response: alone at the
                    # end its length-framed headers are only ended by the close
                    # (README, Limitations)
                    keep = self.guarded(what, self.pipeline, conn, what,
                                        [("GET", "/"), ("HEAD", "/chunked"), ("HEAD", "/"), ("GET", "/notfound")],
                                        False)
                else:
                    keep = self.guarded(what, self.one, conn, what, method, path, "1.1", False, method == "POST")
                if not keep:
                    conn.close()
                    conn = None
            if conn is not None:
                self.held.append(conn)
                self.held_last.append(order[-1][0])

    def summary(self, first=0):
        workers, totals = per_worker(self.requests[first:])
        return {"totals": totals, "workers": workers, "connections": self.connections, "errors": self.errors,
                "requests": self.requests[first:], "framings": self.framings, "held": len(self.held),
                "held_last": self.held_last, "unanswered_pipelined": self.unanswered}

    def write(self, path, first=0, extra=None):
        s = self.summary(first)
        s.update(extra or {})
        with open(path + ".tmp", "w") as f:
            json.dump(s, f, indent=1, sort_keys=True)
        os.rename(path + ".tmp", path)
        return s

    def pause(self, phase):
        """READY.PHASE, then until RELEASE.PHASE."""
        if not self.a.ready:
            return
        open("%s.%s" % (self.a.ready, phase), "w").close()
        deadline = time.monotonic() + self.a.hold_max
        while self.a.release and not os.path.exists("%s.%s" % (self.a.release, phase)):
            if time.monotonic() > deadline:
                self.errors.append("no --release within %s s" % self.a.hold_max)
                break
            time.sleep(0.02)

    def check_held(self):
        """Every held connection must still be open and idle; close them."""
        still = 0
        for c in self.held:
            try:
                c.sock.setblocking(False)
                d = c.sock.recv(1, socket.MSG_PEEK)
                self.errors.append("a held connection got %s" % ("closed by the server" if not d else "bytes"))
            except BlockingIOError:
                still += 1
            except OSError as e:
                self.errors.append("a held connection: %r" % e)
            c.close()
        return still


def main():
    ap = argparse.ArgumentParser(description="HTTP/1.x framing client")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--phases", default="close,keepalive")
    ap.add_argument("--pipeline-idle", action="store_true")
    ap.add_argument("--ready")
    ap.add_argument("--release")
    ap.add_argument("--hold-max", type=float, default=120)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--server-close-timeout", type=float, default=10)
    a = ap.parse_args()
    run = Run(a)
    base = a.out[:-5] if a.out.endswith(".json") else a.out
    for phase in a.phases.split(","):
        first = len(run.requests)
        getattr(run, "phase_" + phase)()
        run.write("%s-%s.json" % (base, phase), first)
        s = run.write(a.out)
        if phase == a.phases.split(",")[-1]:
            t = s["totals"]
            print("framing: %d responses %s, framings %s, %d connections, %d held idle (ending on %s), "
                  "%d pipelined unanswered, %d errors"
                  % (t["requests"], json.dumps(t["status"], sort_keys=True), json.dumps(s["framings"], sort_keys=True),
                     s["connections"], s["held"], ",".join(s["held_last"]) or "-", s["unanswered_pipelined"],
                     len(s["errors"])), flush=True)
        run.pause(phase)
    still = run.check_held()
    s = run.write(a.out, 0, {"held_open": still})
    for e in s["errors"][:10]:
        print("framing error:", e, file=sys.stderr)
    return 1 if s["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
