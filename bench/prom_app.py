# The "prometheus_client" configuration's app: hello:app wrapped in the WSGI
# middleware users add today, in prometheus_client's multiprocess mode (each
# worker writes its own mmap files under PROMETHEUS_MULTIPROC_DIR; the master
# serves their sum, see prom_conf.py). Buckets are the observer's defaults,
# so both record the same histogram.
import time

from prometheus_client import Counter, Histogram

from hello import app as hello

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
REQUESTS = Counter("app_requests", "HTTP requests completed", ["method", "code"])
LATENCY = Histogram("app_request_duration_seconds", "Request duration", buckets=BUCKETS)


def instrument(wsgi):
    def wrapped(environ, start_response):
        t0 = time.perf_counter()
        code = []

        def start(status, headers, exc_info=None):
            code.append(status[:3])
            return start_response(status, headers, exc_info)

        body = wsgi(environ, start)
        LATENCY.observe(time.perf_counter() - t0)
        REQUESTS.labels(environ["REQUEST_METHOD"], code[0] if code else "000").inc()
        return body

    return wrapped


app = instrument(hello)
