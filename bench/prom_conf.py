# Gunicorn config (-c) of the "prometheus_client" configuration, as its docs
# show for multiprocess mode: the master serves the workers' summed metrics on
# 127.0.0.1:$GOBENCH_PROM_PORT, and forgets a worker's live gauges when it exits.
import os

from prometheus_client import CollectorRegistry, multiprocess, start_http_server


def when_ready(server):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(os.environ["GOBENCH_PROM_PORT"]), addr="127.0.0.1", registry=registry)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
