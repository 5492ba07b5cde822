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


@app.after_request
def add_pid(resp):
    resp.headers["X-Worker-Pid"] = str(os.getpid())
    return resp
