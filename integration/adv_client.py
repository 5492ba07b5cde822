#!/usr/bin/python3
# Hostile and odd HTTP clients for test_adversarial.sh, on raw sockets.
# Each scenario records what the client saw: every response (answering worker from
# X-Worker-Pid, status, bytes sent and received), the faults it injected, and the
# 400 answers to requests whose first bytes look like a request line to the
# observer (Gunicorn answers those without an access log line).
# Writes a JSON summary; exits 1 on a harness error (a response missing or garbled
# where the scenario expects one).
#
#   adv_client.py --port P --out S.json SCENARIO [--count N] [--conns N] ...
#   scenarios: garbage pipeline slowloris body stream disconnect idle halfclose hold holdka fdreuse
import argparse
import json
import re
import socket
import struct
import sys
import threading
import time

from client import Tally, per_worker

# The observer's rule (include/http_parse.h): an upper-case method of 3..12
# letters, one space, the first character of a target, and not the HTTP/2 preface.
REQUEST_START = re.compile(rb"^([A-Z]{3,12}) [/*\[A-Za-z0-9]")


def looks_like_request(data):
    m = REQUEST_START.match(data[:16])
    return bool(m) and m.group(1) != b"PRI"


class Recorder(Tally):
    def __init__(self):
        super().__init__()
        self.responses = []
        self.connections = self.faults = self.looks_http_400 = 0
        self.unanswered_sent = 0  # bytes sent on connections that got no response
        # expected observer count minus access log count, by status code
        self.adjust = {}

    def response(self, pid, status, sent, received, payload=b"", raw=b""):
        """Record a response; payload is the request bytes, raw the response's."""
        seen = looks_like_request(payload) if payload else True
        logged = pid != "unknown"
        counted = status if raw[:7] == b"HTTP/1." or not raw else 0
        with self.lock:
            self.responses.append({"pid": pid, "status": status, "sent": sent, "received": received})
            if seen and not logged:  # a 400 to a request Gunicorn could not parse
                self.looks_http_400 += 1
            delta = {}
            if seen:
                delta[counted] = delta.get(counted, 0) + 1
            if logged:
                delta[status] = delta.get(status, 0) - 1
            for code, n in delta.items():
                if n:
                    self.adjust[str(code)] = self.adjust.get(str(code), 0) + n

    def summary(self):
        workers, totals = per_worker(self.responses)
        return {"totals": totals, "workers": workers, "connections": self.connections,
                "faults": self.faults, "looks_http_400": self.looks_http_400,
                "unanswered_sent": self.unanswered_sent, "errors": self.errors,
                "adjust": {k: v for k, v in self.adjust.items() if v}}


def connect(a, rec):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    rec.add(connections=1)
    return s


def reset(s):
    """Close with an RST instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_all(s):
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        data += d
    return data


def split_responses(data):
    """Raw bytes of consecutive HTTP/1.x responses -> [(status, headers, raw)], rest."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/\d\.\d (\d{3})", head[0])
        if not m:
            break
        hdr = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdr[k.strip().lower()] = v.strip()
        pos = end + 4
        if "content-length" in hdr:
            pos += int(hdr["content-length"])
        elif hdr.get("transfer-encoding", "").lower() == "chunked":
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return out, data
                n = int(data[pos:eol].split(b";")[0], 16)
                pos = eol + 2 + n + 2
                if n == 0:
                    break
        else:
            pos = len(data)  # delimited by the close
        if pos > len(data):
            break
        out.append((int(m.group(1)), hdr, data[:pos]))
        data = data[pos:]
    return out, data


def request(method, path, body=b"", close=True, extra=""):
    head = "%s %s HTTP/1.1\r\nHost: adv\r\n%sConnection: %s\r\n" % (
        method, path, extra, "close" if close else "keep-alive")
    if method == "POST":
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def exchange(a, rec, payload, shut=False, expect=True):
    """One connection: send payload, read to EOF, record every response in it."""
    try:
        s = connect(a, rec)
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
        data = read_all(s)
        s.close()
    except OSError as e:
        rec.error("%r: %r" % (payload[:40], e))
        return
    resps, rest = split_responses(data)
    if rest or (expect and not resps):
        rec.error("%r: %d responses, %d bytes unparsed" % (payload[:40], len(resps), len(rest)))
    if not resps:
        rec.add(unanswered_sent=len(payload))
    for i, (status, hdr, raw) in enumerate(resps):
        # bytes sent are all the first response's: that is the read that carried them
        rec.response(hdr.get("x-worker-pid", "unknown"), status, len(payload) if i == 0 else 0,
                     len(raw), payload if i == 0 else b"", raw)


# ---- scenarios ---------------------------------------------------------------

def garbage_cases():
    binary = bytes((i * 73 + 11) % 256 for i in range(512))
    many = "".join("X-Filler-%d: %d\r\n" % (i, i) for i in range(150))
    return [
        (b"GARBAGE\r\n\r\n", False, True),
        (b"\x00" + binary + b"\r\n\r\n", False, True),
        (b"\x16\x03\x01" + binary, True, False),  # a TLS-ish hello, then EOF
        (b"GET\r\n\r\n", False, True),
        (b"get / HTTP/1.1\r\nHost: adv\r\n\r\n", False, True),
        (b"GET / HTTP/9.9\r\nHost: adv\r\n\r\n", False, True),
        (b"GET / HTTP/1.1\r\nHost: adv\r\nBad Header Line\r\n\r\n", False, True),
        (("GET / HTTP/1.1\r\nHost: adv\r\n" + many + "\r\n").encode(), False, True),
        (("GET /" + "a" * 5000 + " HTTP/1.1\r\nHost: adv\r\n\r\n").encode(), False, True),
        (b"GET / HTTP/1.0\r\n\r\n", False, True),
        (b"GET /notfound HTTP/1.0\r\nHost: adv\r\n\r\n", False, True),
        (b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", False, True),
    ]


def sc_garbage(a, rec):
    for _ in range(a.count):
        for payload, shut, expect in garbage_cases():
            rec.add(faults=1)
            exchange(a, rec, payload, shut, expect)


def sc_pipeline(a, rec):
    paths = ["/", "/notfound", "/redirect", "/error"]
    for c in range(a.conns):
        reqs = [request("GET", paths[(c + i) % len(paths)], close=False) for i in range(a.depth - 1)]
        reqs.append(request("POST", "/echo", b"p" * (100 + c), close=True))
        exchange(a, rec, b"".join(reqs))


def sc_slowloris(a, rec):
    socks = []
    for _ in range(a.conns):
        try:
            s = connect(a, rec)
            s.sendall(b"GET /sleep HTTP/1.1\r\nHost: adv\r\nX-Slow: ")
            socks.append(s)
            rec.add(faults=1)
        except OSError as e:
            rec.error("slowloris connect: %r" % e)
    time.sleep(a.hold)
    for i, s in enumerate(socks):
        if i % 2:
            reset(s)
        else:
            s.close()


def sc_body(a, rec):
    for i in range(a.count):
        body = bytes([97 + i % 26]) * a.size
        head = request("POST", "/echo", body, close=True)[:-len(body)]
        try:
            s = connect(a, rec)
            s.sendall(head)
            for k in range(0, len(body), a.piece):
                s.sendall(body[k:k + a.piece])
                if (k // a.piece) % 16 == 15:
                    time.sleep(0.001)  # let the worker read what is there: many reads
            data = read_all(s)
            s.close()
        except OSError as e:
            rec.error("body %d: %r" % (a.size, e))
            continue
        resps, rest = split_responses(data)
        if len(resps) != 1 or rest:
            rec.error("body %d: %d responses" % (a.size, len(resps)))
            continue
        rec.response(resps[0][1].get("x-worker-pid", "unknown"), resps[0][0], len(head) + len(body),
                     len(resps[0][2]))


def sc_stream(a, rec):
    for _ in range(a.count):
        for path in ("/stream?n=200&size=1000", "/chunked?n=150&size=700", "/file?size=300000"):
            exchange(a, rec, request("GET", path))


def sc_disconnect(a, rec):
    """Reset the connection after the first bytes of a slow, large response."""
    for _ in range(a.count):
        try:
            s = connect(a, rec)
            s.sendall(request("GET", "/stream?n=40&size=65536&delay=0.005"))
            got = s.recv(1024)
            if not got.startswith(b"HTTP/1.1 200"):
                rec.error("disconnect: got %r" % got[:30])
            reset(s)
            rec.add(faults=1)
        except OSError as e:
            rec.error("disconnect: %r" % e)


def sc_idle(a, rec):
    """Connect and send nothing; close, half of them with an RST."""
    for i in range(a.count):
        s = connect(a, rec)
        time.sleep(0.01)
        reset(s) if i % 2 else s.close()
        rec.add(faults=1)


def sc_halfclose(a, rec):
    for i in range(a.count):
        exchange(a, rec, request("GET", "/" if i % 2 else "/notfound", close=False), shut=True)
        rec.add(faults=1)


def ask_last(rec, what, s, payload):
    """The last request on s (Connection: close): its one response, recorded."""
    try:
        s.sendall(payload)
        data = read_all(s)
        s.close()
    except OSError as e:
        rec.error("%s request: %r" % (what, e))
        return
    resps, rest = split_responses(data)
    if len(resps) != 1 or rest:
        rec.error("%s: %d responses" % (what, len(resps)))
        return
    rec.response(resps[0][1].get("x-worker-pid", "unknown"), resps[0][0], len(payload), len(resps[0][2]))


def sc_hold(a, rec):
    """Open N connections at once, keep them all open, then send one request on each."""
    socks = []
    for _ in range(a.conns):
        try:
            socks.append(connect(a, rec))
        except OSError as e:
            rec.error("hold connect: %r" % e)
    time.sleep(a.hold)
    for i, s in enumerate(socks):
        ask_last(rec, "hold", s, request("GET", "/" if i % 3 else "/notfound", close=True))


def read_one(s):
    """One response off a keep-alive connection: (status, headers, raw)."""
    data = b""
    while True:
        resps, rest = split_responses(data)
        if resps and "content-length" in resps[0][1]:
            return resps[0]
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before a whole response")
        data += d


def sc_holdka(a, rec):
    """N keep-alive connections that each ask once and stay open, idle: the
    observer follows a connection from its first request until it closes, so
    all of them are in its connection map at once. Then one more request on
    each, with Connection: close."""
    socks = []
    for i in range(a.conns):
        payload = request("GET", "/" if i % 3 else "/notfound", close=False)
        try:
            s = connect(a, rec)
            s.sendall(payload)
            status, hdr, raw = read_one(s)
        except OSError as e:
            rec.error("holdka first request: %r" % e)
            continue
        rec.response(hdr.get("x-worker-pid", "unknown"), status, len(payload), len(raw))
        socks.append(s)
    time.sleep(a.hold)
    for s in socks:
        ask_last(rec, "holdka second", s, request("GET", "/", close=True))


def sc_fdreuse(a, rec):
    """A connection closed unused, then one that asks: the new one takes the fd."""
    for i in range(a.count):
        s = connect(a, rec)
        s.close()
        rec.add(faults=1)
        exchange(a, rec, request("GET", "/" if i % 4 else "/error"))


SCENARIOS = {n[3:]: f for n, f in globals().items() if n.startswith("sc_")}


def main():
    ap = argparse.ArgumentParser(description="hostile HTTP clients")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--conns", type=int, default=10)
    ap.add_argument("--depth", type=int, default=4, help="pipeline: requests per connection")
    ap.add_argument("--hold", type=float, default=1.0, help="seconds connections stay idle")
    ap.add_argument("--size", type=int, default=1 << 20, help="body: bytes")
    ap.add_argument("--piece", type=int, default=4096, help="body: bytes per send")
    ap.add_argument("--parallel", type=int, default=1, help="run the scenario in N threads")
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()
    rec = Recorder()
    threads = [threading.Thread(target=SCENARIOS[a.scenario], args=(a, rec)) for _ in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = rec.summary()
    with open(a.out, "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)
    t = s["totals"]
    print("%s: %d responses %s, %d connections, %d faults, observer-minus-log by code %s, %d errors"
          % (a.scenario, t["requests"], json.dumps(t["status"], sort_keys=True), s["connections"],
             s["faults"], json.dumps(s["adjust"], sort_keys=True), len(s["errors"])))
    for e in s["errors"][:10]:
        print("%s error: %s" % (a.scenario, e), file=sys.stderr)
    return 1 if s["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
