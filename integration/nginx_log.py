#!/usr/bin/python3
# Turns lines [N, M) of the nginx access log that test_nginx.sh configures into a client
# summary like client.py's, of the traffic between nginx and Gunicorn (the observer's
# view): per answering worker ($upstream_http_x_worker_pid) the requests, the bytes
# nginx sent upstream ($upstream_bytes_sent) and the bytes it received from upstream
# ($upstream_bytes_received), plus every request's worker, status, method and path for
# compare.py routes. A line with more than one upstream attempt (nginx retried on another
# connection) or no worker is a harness error: its bytes would not be one request's.
#
#   nginx_log.py --log NGINX_ACCESS_LOG [--from N] [--to M] --out S.json
# Log format: $upstream_http_x_worker_pid|$upstream_status|$upstream_bytes_sent|
#             $upstream_bytes_received|$request_method|$request_uri
import argparse
import json
import sys

from client import per_worker


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--from", dest="start", type=int, default=0)
    ap.add_argument("--to", dest="end", type=int)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.log) as f:
        lines = f.read().splitlines()[a.start:a.end]
    rows, requests, errors = [], [], []
    for line in lines:
        p = line.split("|")
        if len(p) != 6 or p[0] in ("", "-") or not all(x.isdigit() for x in p[1:4]):
            errors.append("nginx log line %r: not one upstream request with a worker" % line)
            continue
        pid, status, sent, received, method, uri = p
        rows.append({"pid": pid, "status": status, "sent": sent, "received": received})
        requests.append({"pid": pid, "status": int(status), "method": method, "path": uri.split("?")[0]})
    workers, totals = per_worker(rows)
    s = {"totals": totals, "workers": workers, "requests": requests, "errors": errors}
    with open(a.out, "w") as f:
        json.dump(s, f, indent=1, sort_keys=True)
    print("nginx upstream: %d requests %s, sent %d B, received %d B, workers %s, %d errors"
          % (totals["requests"], json.dumps(totals["status"], sort_keys=True), totals["bytes_sent"],
             totals["bytes_received"], ",".join(sorted(workers)), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
