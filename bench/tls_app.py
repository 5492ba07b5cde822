# The benchmark's TLS app, served as tls_app:app by a Gunicorn started with
# --certfile/--keyfile, so that the observer puts its SSL uprobes on this
# master and its workers. GET /sslloop?n=N&reps=R runs bench/tls_loop.py's
# in-memory SSL_write_ex/SSL_read_ex loop inside the worker, R repetitions of
# N iterations, and answers its figures as JSON (CPU time of the worker's
# thread per SSL call: the probes' hits included when the observer is on).
# The certificate and key the loop's server side uses are the ones Gunicorn
# serves with, named in GOBENCH_TLS_CERT and GOBENCH_TLS_KEY. Anything else
# answers a hello world.
import json
import os
from urllib.parse import parse_qs

import tls_loop

BODY = b"Hello, world\n"


def app(environ, start_response):
    if environ.get("PATH_INFO") != "/sslloop":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
        return [BODY]
    q = parse_qs(environ.get("QUERY_STRING", ""))
    n, reps = int(q.get("n", ["20000"])[0]), int(q.get("reps", ["1"])[0])
    res = tls_loop.run(os.environ["GOBENCH_TLS_CERT"], os.environ["GOBENCH_TLS_KEY"], n, reps)
    body = json.dumps(res).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
