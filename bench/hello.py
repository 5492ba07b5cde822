# The benchmark's app: the smallest WSGI hello world, served as hello:app.
BODY = b"Hello, world\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
