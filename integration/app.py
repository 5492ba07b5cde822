# Test WSGI app for the gunicorn-observer integration tests (run as app:app).
# Every response carries X-Worker-Pid so the client knows which worker answered.
import os
import time

from flask import Flask, Response, redirect, request

app = Flask(__name__)

BIG = b"x" * (64 * 1024)


@app.route("/")
def index():
    return Response("hello\n", mimetype="text/plain")


@app.route("/notfound")
def notfound():
    return Response("not found\n", status=404, mimetype="text/plain")


@app.route("/error")
def error():
    return Response("server error\n", status=500, mimetype="text/plain")


@app.route("/redirect")
def redir():
    return redirect("/", code=302)


@app.route("/sleep")
def sleep():
    time.sleep(0.020)
    return Response("slept\n", mimetype="text/plain")


@app.route("/big")
def big():
    return Response(BIG, mimetype="application/octet-stream")


@app.route("/echo", methods=["POST"])
def echo():
    return Response("%d\n" % len(request.get_data()), mimetype="text/plain")


# Routes for test_lifecycle.sh.
@app.route("/slow")
def slow():
    # sleep ?s= seconds (float), e.g. to outlive --timeout or hold a sync worker busy
    time.sleep(float(request.args.get("s", "6")))
    return Response("slept\n", mimetype="text/plain")


@app.route("/burn")
def burn():
    # busy-loop on the CPU for ?s= seconds
    end = time.monotonic() + float(request.args.get("s", "3"))
    n = 0
    while time.monotonic() < end:
        n += 1
    return Response("%d\n" % n, mimetype="text/plain")


@app.route("/alloc")
def alloc():
    # allocate ?mb= MiB and touch every page (past a cgroup memory limit: OOM kill)
    mb = int(request.args.get("mb", "400"))
    buf = bytearray(mb * 1024 * 1024)
    for i in range(0, len(buf), 4096):
        buf[i] = 1
    return Response("%d\n" % len(buf), mimetype="text/plain")


@app.after_request
def add_pid(resp):
    resp.headers["X-Worker-Pid"] = str(os.getpid())
    return resp
