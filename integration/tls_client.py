#!/usr/bin/python3
# HTTPS clients for test_tls.sh, against a Gunicorn started with --certfile/--keyfile.
# Every response records the answering worker (X-Worker-Pid), the status and the exact
# plaintext bytes the client sent and received (request line, headers and body; status
# line, headers and body), counted below TLS and above it: what the worker's SSL_read
# returns and SSL_write takes. Writes client.py's per-worker summary (compare.py reads
# it); exits 1 on an error (a response missing, garbled or not where the scenario wants it).
#
#   tls_client.py --port P --out S.json mix --mix '/:40,/echo:10' [--post-sizes 0,3000,70000]
#                 [--piece 1000] [--keepalive 10] [--concurrency 4] [--min-worker PID:N]
#       http.client.HTTPSConnection (unverified context), keep-alive connections reused
#       for K requests (0: Connection: close); POST bodies are sent in --piece byte
#       writes (one SSL record each, and a body over 16 KiB also fills several records
#       per write), so the worker reads each request in many SSL_read calls.
#       A response has a Content-Length or is chunked (/chunked: many SSL_write calls
#       and the chunked terminator; /file: wsgi.file_wrapper, which Gunicorn writes
#       through SSL_write, never sendfile, on a TLS socket).
#       --min-worker PID:N: go on (more rounds of the mix) until worker PID answered N.
#   tls_client.py --port P --out S.json reset --count N [--read 3000]
#       GET /stream (8 MB) over TLS, read the response's headers and a little body, then
#       close with SO_LINGER 0 (RST): the worker's next SSL_write fails, Gunicorn logs
#       nothing. Recorded per worker in "resets".
#   tls_client.py --port P --out S.json hold --count N --ready FILE --release FILE
#       N TLS connections each send half a request head and wait (the worker waits in
#       SSL_read for the rest); made FILE says they have; at release FILE each is reset.
#   tls_client.py --port P --out S.json curl --count N
#       N rounds of curl -k --http1.1: 7 GETs in one curl (one connection where the worker
#       keeps it alive), 2 POSTs of 5000 bytes in one curl, GETs and a POST joined with
#       --next; curl's -w gives each response's worker, status and byte counts.
#   tls_client.py --port P --out S.json handshake --count N [--case NAME]...
#       per round, each case (or those named): garbage (plain-text bytes, neither TLS nor
#       a request line); plain (a plain-text HTTP request to the TLS port); truncated
#       (half a ClientHello, then FIN); abort (a whole ClientHello, the server's first
#       flight read, then FIN); rst (the same, then RST); norequest (a complete handshake,
#       then close). No response may come back (a plain-text one would be a response
#       Gunicorn does not log).
import argparse
import http.client
import io
import json
import random
import socket
import ssl
import struct
import sys
import threading
import time

from client import Tally, per_worker

STREAM = "/stream?n=800&size=10000"  # 8 MB: far more than the socket buffers hold


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Recorder(Tally):
    def __init__(self):
        super().__init__()
        self.responses = []
        self.connections = self.faults = self.curls = self.curl_requests = 0
        self.resets = {}

    def response(self, **r):
        with self.lock:
            self.responses.append(r)

    def reset(self, pid):
        with self.lock:
            self.resets[pid] = self.resets.get(pid, 0) + 1

    def summary(self):
        workers, totals = per_worker(self.responses)
        return {"totals": totals, "workers": workers, "connections": self.connections,
                "faults": self.faults, "resets": self.resets, "curls": self.curls,
                "curl_requests": self.curl_requests, "errors": self.errors}


# ---- http.client with byte counts ---------------------------------------------

class _CountingIO(socket.SocketIO):
    """socket.makefile's raw reader, counting what it reads."""

    def __init__(self, cs):
        super().__init__(cs.sock, "rb")
        self.cs = cs

    def readinto(self, b):
        n = super().readinto(b)
        self.cs.received += n or 0
        return n


class CountingSocket:
    """The SSL socket http.client writes to and reads from, counting plaintext bytes."""

    def __init__(self, sock):
        self.sock, self.sent, self.received = sock, 0, 0

    def sendall(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def makefile(self, mode="rb", *args, **kw):
        # as socket.makefile: the socket stays open while the file does (http.client
        # closes the connection of a Connection: close response before reading its body)
        self.sock._io_refs += 1
        return io.BufferedReader(_CountingIO(self))

    def close(self):
        self.sock.close()

    def __getattr__(self, name):
        return getattr(self.sock, name)


class CountingHTTPS(http.client.HTTPSConnection):
    def connect(self):
        super().connect()
        self.sock = CountingSocket(self.sock)


def pieces(body, size):
    for i in range(0, len(body), size):
        yield body[i:i + size]


def sc_mix(a, rec):
    sizes = [int(s) for s in a.post_sizes.split(",")]
    work, i = [], 0
    for item in filter(None, (s.strip() for s in a.mix.split(","))):
        path, _, count = item.rpartition(":")
        for _ in range(int(count)):
            size = 0
            if path == "/echo":
                size, i = sizes[i % len(sizes)], i + 1
            work.append(("POST" if path == "/echo" else "GET", path, size))
    rnd = random.Random(a.seed)
    want_pid, want_n = (a.min_worker.split(":") + ["0"])[:2] if a.min_worker else ("", "0")
    for rounds in range(50):
        rnd.shuffle(work)
        threads = [threading.Thread(target=mix_slice, args=(a, rec, work[k::a.concurrency]))
                   for k in range(a.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = sum(1 for r in rec.responses if r["pid"] == want_pid)
        if not want_pid or got >= int(want_n) or rec.errors:
            break
    if want_pid and got < int(want_n):
        rec.error("worker %s answered %d requests in %d rounds, wanted %s" % (want_pid, got, rounds + 1, want_n))


def mix_slice(a, rec, work):
    conn, used = None, 0
    ctx = context()
    for method, path, size in work:
        try:
            if conn is None or not a.keepalive or used >= a.keepalive:
                if conn:
                    conn.close()
                conn, used = CountingHTTPS(a.host, a.port, timeout=a.timeout, context=ctx), 0
                conn.connect()
                cs = conn.sock  # http.client drops conn.sock at a Connection: close response
                rec.add(connections=1)
            s0, r0 = cs.sent, cs.received
            headers = {"User-Agent": "gobs-tls-client",
                       "Connection": "keep-alive" if a.keepalive else "close"}
            body = None
            if method == "POST":
                data = b"p" * size
                headers["Content-Type"] = "application/octet-stream"
                headers["Content-Length"] = str(size)
                body = pieces(data, a.piece) if size else b""
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            used += 1
            pid = resp.getheader("X-Worker-Pid", "unknown")
            clen = resp.getheader("Content-Length")
            chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked"
            if (clen is None and not chunked) or (clen is not None and int(clen) != len(data)):
                raise ValueError("body of %d bytes, Content-Length %s" % (len(data), clen))
            if method == "POST" and resp.status == 200 and data != b"%d\n" % size:
                raise ValueError("echo answered %r for %d bytes" % (data[:20], size))
            rec.response(pid=pid, status=resp.status, sent=cs.sent - s0,
                         received=cs.received - r0, method=method, path=path)
            if resp.will_close or conn.sock is None:
                conn.close()
                conn = None
        except Exception as e:  # record, never retry: a retry would blur the byte counts
            rec.error("%s %s (%d bytes): %r" % (method, path, size, e))
            if conn:
                conn.close()
            conn = None
    if conn:
        conn.close()


# ---- faults -------------------------------------------------------------------

def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def tcp(a, rec):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    rec.add(connections=1)
    return s


def sc_reset(a, rec):
    ctx = context()
    for _ in range(a.count):
        try:
            s = ctx.wrap_socket(tcp(a, rec))
            s.sendall(b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: gobs-tls-client\r\n\r\n"
                      % (STREAM.encode(), a.host.encode(), a.port))
            data = b""
            while b"\r\n\r\n" not in data or len(data) < a.read:
                d = s.recv(a.read)
                if not d:
                    raise ConnectionError("closed after %d bytes" % len(data))
                data += d
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            if not head[0].startswith("HTTP/1.1 200"):
                raise ValueError("answered %r" % head[0])
            pid = [h.split(":", 1)[1].strip() for h in head if h.lower().startswith("x-worker-pid:")]
            rst_close(s)
            rec.add(faults=1)
            rec.reset(pid[0] if pid else "unknown")
        except Exception as e:
            rec.error("reset: %r" % e)
        time.sleep(0.05)


def client_hello():
    """The bytes of a real ClientHello (TLS 1.2/1.3), from an SSLObject on memory BIOs."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context().wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def drain(s, limit=1 << 16):
    """What the server sends until it closes (or 3 s of silence), up to limit bytes."""
    data = b""
    s.settimeout(3)
    try:
        while len(data) < limit:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def first_flight(s):
    """Read the start of the server's answer to a ClientHello (a TLS handshake record)."""
    s.settimeout(5)
    data = s.recv(5)
    if not data or data[0] != 0x16:
        raise ValueError("the server did not answer the ClientHello with a handshake record: %r" % data[:16])
    return data


HANDSHAKE_CASES = ("garbage", "plain", "truncated", "abort", "rst", "norequest")


def sc_handshake(a, rec):
    hello = client_hello()
    if len(hello) < 100 or hello[0] != 0x16:
        rec.error("could not build a ClientHello (%d bytes)" % len(hello))
        return
    garbage = bytes(random.Random(7).randrange(1, 256) for _ in range(200))
    garbage = b"\x00\x01" + garbage  # neither a TLS record nor a request line
    plain = b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: gobs-tls-client\r\n\r\n" % (a.host.encode(), a.port)

    def case(name, fn):
        try:
            fn()
            rec.add(faults=1)
        except Exception as e:
            rec.error("%s: %r" % (name, e))

    def send_and_drain(payload, name):
        s = tcp(a, rec)
        s.sendall(payload)
        back = drain(s)
        s.close()
        if b"HTTP/" in back:  # a plain-text answer: a response on the wire
            rec.error("%s: the server answered in plain text: %r" % (name, back[:80]))

    def truncated():
        s = tcp(a, rec)
        s.sendall(hello[:len(hello) // 2])
        s.shutdown(socket.SHUT_WR)
        drain(s)
        s.close()

    def abort(rst):
        s = tcp(a, rec)
        s.sendall(hello)
        first_flight(s)
        if rst:
            rst_close(s)
        else:
            s.close()

    def no_request():
        s = context().wrap_socket(tcp(a, rec))
        s.close()

    cases = {"garbage": lambda: send_and_drain(garbage, "garbage"),
             "plain": lambda: send_and_drain(plain, "plain-text request"),
             "truncated": truncated,
             "abort": lambda: abort(False),
             "rst": lambda: abort(True),
             "norequest": no_request}
    for _ in range(a.count):
        for name in a.case or HANDSHAKE_CASES:
            case(name, cases[name])


# ---- curl ------------------------------------------------------------------------

CURL_W = "%{http_code} %header{x-worker-pid} %{size_request} %{size_header} %{size_download} %{num_connects}\\n"


def sc_curl(a, rec):
    """curl -k over HTTP/1.1: several URLs in one curl (one connection, kept alive where
    the worker keeps it), POST bodies after --next on the same connection. curl's own
    byte counts: size_request (request line, headers and body sent), size_header +
    size_download (received)."""
    import os
    import subprocess
    base = "https://%s:%d" % (a.host, a.port)
    body = os.path.join(os.path.dirname(os.path.abspath(a.out)), "curl-body-%d" % os.getpid())
    with open(body, "wb") as f:
        f.write(b"c" * 5000)
    common = ["-sSk", "--http1.1", "--max-time", str(int(a.timeout)), "-H", "Expect:", "-w", CURL_W]

    def gets(*paths):
        out = []
        for p in paths:
            out += ["-o", "/dev/null", base + p]
        return common + out

    def posts(*paths):
        out = common + ["--data-binary", "@" + body, "-H", "Content-Type: application/octet-stream"]
        for p in paths:
            out += ["-o", "/dev/null", base + p]
        return out

    runs = [
        (["curl"] + gets("/", "/notfound", "/error", "/redirect", "/big", "/sleep", "/"), 7),
        (["curl"] + posts("/echo", "/echo"), 2),
        (["curl"] + gets("/", "/big") + ["--next"] + posts("/echo") + ["--next"] + gets("/notfound"), 4),
    ]
    try:
        for _ in range(a.count):
            for argv, n in runs:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=a.timeout + 10)
                lines = p.stdout.splitlines()
                if p.returncode != 0 or len(lines) != n:
                    rec.error("curl exited %d with %d result lines of %d: %s" % (
                        p.returncode, len(lines), n, (p.stderr or p.stdout)[-300:]))
                    continue
                rec.add(curls=1)
                for line in lines:
                    code, pid, sent, head, got, nconn = line.split()
                    rec.add(connections=int(nconn), curl_requests=1)
                    rec.response(pid=pid, status=int(code), sent=int(sent), received=int(head) + int(got))
    finally:
        os.unlink(body)


def sc_hold(a, rec):
    """--count connections, each with a complete handshake and half a request (its line
    and some headers, not their end): the worker has read the request's start and waits
    in SSL_read for the rest. Once every one is sent, --ready FILE is made; at --release
    FILE (or after 60 s) each is closed with SO_LINGER 0 (RST): the worker's read fails
    before Gunicorn has a request, so it logs nothing (a reset while the app reads a body
    would get a 403 line from Gunicorn 20's handle_error for an SSLError, a response it
    never manages to send)."""
    import os
    ctx, socks = context(), []
    head = (b"POST /echo HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: gobs-tls-client\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Len" % (a.host.encode(), a.port))
    try:
        for _ in range(a.count):
            s = ctx.wrap_socket(tcp(a, rec))
            s.sendall(head)
            socks.append(s)
    except Exception as e:
        rec.error("hold: %r" % e)
    open(a.ready, "w").close()
    end = time.time() + 60
    while not os.path.exists(a.release) and time.time() < end:
        time.sleep(0.05)
    for s in socks:
        rst_close(s)
        rec.add(faults=1)


SCENARIOS = {"mix": sc_mix, "reset": sc_reset, "handshake": sc_handshake, "curl": sc_curl, "hold": sc_hold}


def main():
    ap = argparse.ArgumentParser(description="HTTPS clients for test_tls.sh")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mix", default="/:10")
    ap.add_argument("--post-sizes", default="0,100,3000,5000,20000,70000")
    ap.add_argument("--piece", type=int, default=1000, help="bytes per write of a POST body")
    ap.add_argument("--keepalive", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--min-worker", default="")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--case", action="append", choices=HANDSHAKE_CASES,
                    help="handshake: only this case (repeatable; default all, in this order)")
    ap.add_argument("--read", type=int, default=3000, help="reset: bytes read before the RST")
    ap.add_argument("--ready", help="hold: made once every connection has sent its half request")
    ap.add_argument("--release", help="hold: the connections are reset once this file exists")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    rec = Recorder()
    SCENARIOS[a.scenario](a, rec)
    s = rec.summary()
    with open(a.out, "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)
    t = s["totals"]
    print("%s: %d responses %s, %d connections, %d faults, %d errors, sent %d B, received %d B, workers %s"
          % (a.scenario, t["requests"], json.dumps(t["status"], sort_keys=True), s["connections"], s["faults"],
             len(s["errors"]), t["bytes_sent"], t["bytes_received"], ",".join(sorted(s["workers"])) or "none"))
    for e in s["errors"][:10]:
        print("%s error: %s" % (a.scenario, e), file=sys.stderr)
    return 1 if s["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
