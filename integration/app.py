# Test WSGI app for the gunicorn-observer integration tests (run as app:app).
# Every response carries X-Worker-Pid so the client knows which worker answered.
import os
import tempfile
import time

from flask import Flask, Response, redirect, request, send_file

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


# Routes for test_adversarial.sh.
def pieces(n, size, delay):
    for _ in range(n):
        if delay:
            time.sleep(delay)
        yield b"s" * size


@app.route("/stream")
def stream():
    # ?n= pieces of ?size= bytes, one send each, ?delay= seconds before each; Content-Length set
    n, size = int(request.args.get("n", "100")), int(request.args.get("size", "1000"))
    body = pieces(n, size, float(request.args.get("delay", "0")))
    return Response(body, mimetype="application/octet-stream", headers={"Content-Length": str(n * size)})


@app.route("/chunked")
def chunked():
    # the same without Content-Length: HTTP/1.1 gets Transfer-Encoding: chunked
    n, size = int(request.args.get("n", "100")), int(request.args.get("size", "1000"))
    return Response(pieces(n, size, float(request.args.get("delay", "0"))),
                    mimetype="application/octet-stream")


def sized_file(size):
    """The path of a temporary file of size bytes, made once."""
    path = os.path.join(tempfile.gettempdir(), "gobs-app-file-%d" % size)
    if not os.path.exists(path) or os.path.getsize(path) != size:
        tmp = "%s.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(b"f" * size)
        os.rename(tmp, path)
    return path


@app.route("/file")
def file():
    # a file of ?size= bytes through wsgi.file_wrapper: Gunicorn sends it with sendfile
    path = sized_file(int(request.args.get("size", "300000")))
    return send_file(path, mimetype="application/octet-stream", conditional=False, etag=False)


# Routes for test_framing.sh: responses with no body, and a file sent without a length.
@app.route("/nocontent", methods=["GET", "POST"])
def nocontent():
    return Response(status=204)


@app.route("/notmodified")
def notmodified():
    return Response(status=304, headers={"ETag": '"gobs"'})


@app.route("/filechunked")
def filechunked():
    # like /file, through wsgi.file_wrapper but with no Content-Length: Gunicorn sends it
    # with sendfile, framed as one chunk and the terminator for HTTP/1.1 (close-delimited
    # for HTTP/1.0)
    f = open(sized_file(int(request.args.get("size", "200000"))), "rb")
    return Response(request.environ["wsgi.file_wrapper"](f), mimetype="application/octet-stream",
                    direct_passthrough=True)


@app.after_request
def add_pid(resp):
    resp.headers["X-Worker-Pid"] = str(os.getpid())
    return resp
