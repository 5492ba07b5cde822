# A local statsd sink for the "statsd" configuration: receives Gunicorn's UDP
# packets on 127.0.0.1:PORT and, on SIGTERM, writes to OUT how many it got and
# how many were gunicorn.requests increments (one per request).
import json
import signal
import socket
import sys

port, out = int(sys.argv[1]), sys.argv[2]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
sock.bind(("127.0.0.1", port))
counts = {"packets": 0, "requests": 0}


def stop(*_):
    with open(out, "w") as f:
        json.dump(counts, f)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    data = sock.recv(65536)
    counts["packets"] += 1
    if data.startswith(b"gunicorn.requests:"):
        counts["requests"] += 1
