#!/usr/bin/python3
"""bench.py - the gunicorn-observer benchmark, run by `make bench`.

The observer has two data planes (--data-plane): `socket` (tp_btf programs on
the socket tracepoints, no syscall tracepoint) and `syscall` (programs on the
syscall tracepoints, which put every syscall of every process on the host on
the tracing slow path). Each is measured, and every figure names its plane.

Bystander: bench/bystander.c times write(/dev/null), read(/dev/zero),
getppid() and a send+recv over an AF_UNIX socketpair in a process the observer
does not watch, with no observer, with each plane, and with no observer again
(the A/A noise band), in turn for several rounds; then, with bpf_stats on,
the observer's program runs per call.

TLS: the observer's uprobes on OpenSSL (SSL_read/_ex, SSL_write/_ex, SSL_free...),
bound to a TLS Gunicorn (--certfile/--keyfile) and its workers only. With no
observer, with it and with no observer again, rounds rotated:
bench/tls_loop.py's in-memory SSL_write_ex/SSL_read_ex loop in a process of
its own (unwatched: it must run at the same speed and take no probe hit), and
the same loop in the Gunicorn's worker (watched: GET /sslloop,
bench/tls_app.py): CPU ns per SSL call, SSL_write/s; then, with bpf_stats on,
the ssl_ programs' runs during each. `--only tls` runs this part alone.

Load: Gunicorn (2 workers, hello-world WSGI app, access log on) driven by wrk
on loopback, for the sync worker and for gthread with keep-alive, in
configurations run in alternation (the order rotated each round), each on a
fresh Gunicorn: baseline; gunicorn-observer with each data plane, scraped
every second; prometheus_client in multiprocess mode (WSGI middleware,
scraped every second); Gunicorn's own statsd to a local UDP sink; the
observer with each plane again under kernel.bpf_stats_enabled, for its BPF
run time and program runs per request. Per run: throughput and latency, the
CPU time of the Gunicorn workers (schedstat) and of wrk per access-log line,
the observer's own CPU and peak RSS, and its request count against Gunicorn's
access log.

Scale: idle masters x workers (1x8, 4x8, 8x32, 20x50), the observer with
each plane in turn: scrape time measured by the client and by
gunicorn_observer_scrape_duration_seconds, exposition size, RSS, kernel
memory.

Memory (bench/memory.py): the cost of a request's counter updates with
per-CPU and with shared maps (bench/counters.c); the kernel memory of the
BPF maps in guests of 2, 64 and 192 vCPUs (vm/run.sh); a full node (64
masters x 4 busy workers and 1000 idle ones, integration/test_full_node.sh
--full): exact counts, scrape time, RSS.

Prints the tables, writes results.md, results.json, results.dat and
results.png (gnuplot) into --out. Cleans up, on every exit, only the
processes it started, and restores kernel.bpf_stats_enabled.
"""
import argparse
import atexit
import glob
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import against
import memory
import tls_loop

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
GUNICORN = "/usr/bin/gunicorn"
# "observer+bpf_stats" is the observer again with kernel.bpf_stats_enabled=1,
# for its programs' run time: the accounting slows every program run, so the
# "observer" run, compared with the others, has it off. The two observer
# configurations run once per data plane, as "observer/socket" and so on
# (expand_configs); CONFIGS is the expanded list, set in main.
# "baseline-again" is a second baseline in every round: its ratio to the
# first is the noise band (A/A) the ratios of the others are read against.
# It runs halfway round the rotation from the first, as far from it as the
# farthest configuration.
BASE_CONFIGS = ["baseline", "observer", "prometheus_client", "baseline-again", "statsd", "observer+bpf_stats"]
PLANES = ["socket", "fentry", "syscall"]
CONFIGS = list(BASE_CONFIGS)
PLOT_BASES = ["baseline", "observer", "prometheus_client", "statsd"]
BYSTANDER_TYPES = ["write", "read", "getppid", "sendrecv"]
BYSTANDER_WHAT = {"write": "write(/dev/null, 64 B)", "read": "read(/dev/zero, 64 B)", "getppid": "getppid()",
                  "sendrecv": "send+recv 64 B, AF_UNIX socketpair"}
WORKLOADS = {
    "sync": ["--worker-class", "sync"],
    "gthread": ["--worker-class", "gthread", "--threads", "4", "--keep-alive", "5"],
}
SCALES = [(1, 8), (4, 8), (8, 32), (20, 50)]
SECTIONS = ["floors", "bystander", "tls", "load", "scale", "memory"]  # --only
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
# what the report needs of the command line, kept in results.json (--report-from)
REPORT_ARGS = ("workloads", "planes", "rounds", "duration", "warmup", "connections", "scrapes", "gunicorn_cpus",
               "wrk_cpus", "quick")
NO_PIN = False  # the observer has --no-pin (set in main from its --help)
HAS_PLANE = False  # the observer has --data-plane (set in main from its --help)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Names of the observer's syscall programs: any loaded program so named that
# is not held by the observer the benchmark started belongs to another one
# (a running observer, or programs left pinned by a stopped one).
# The socket plane's names are learnt at start (preflight) from the programs
# our own observer holds, less GENERIC_PROG_NAMES: names too common to tell
# an observer's program from another tool's.
OUR_PROG_NAMES = {"exit_accept", "exit_accept4", "exit_read", "exit_recvfrom", "exit_write", "exit_sendto",
                  "enter_close", "enter_shutdown", "exit_close", "exit_shutdown"}
GENERIC_PROG_NAMES = {"on_fork", "on_exec", "on_exit", "on_signal_generate", "on_signal_deliver", "on_mark_victim",
                      "enter_fchmod", "enter_utimensat"}
TOKEN = "gobench-%d" % os.getpid()  # in every Gunicorn command line we start: --match

started = []  # Popen objects, in start order
worker_pids = []  # every worker of every master we started
stats_restore = None


def say(msg):
    print(msg, flush=True)


def die(msg):
    say("bench: " + msg)
    sys.exit(1)


# ---------------------------------------------------------------- processes


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(p, sig=signal.SIGTERM, wait=10):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            say("   pid %d ignored signal %d for %d s, sending SIGKILL" % (p.pid, sig, wait))
            p.kill()
            p.wait()
    if p in started:
        started.remove(p)


def cleanup():
    global stats_restore
    for p in reversed(list(started)):
        stop(p, signal.SIGINT if "gunicorn" in str(p.args) else signal.SIGTERM)
    for pid in worker_pids:  # workers orphaned by a killed master
        try:
            if alive(pid) and b"gunicorn" in open("/proc/%d/cmdline" % pid, "rb").read():
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if stats_restore is not None:
        with open(STATS_SYSCTL, "w") as f:
            f.write(stats_restore)
        stats_restore = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def cpu_seconds(pid):
    """utime + stime of every thread, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sched_ns(pid):
    """CPU time of every thread in ns (sum_exec_runtime), from /proc/PID/task/*/schedstat."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def sched_seconds(pid):
    return sched_ns(pid) / 1e9


def cfg_base(cfg):
    """'observer/socket' -> 'observer'."""
    return cfg.split("/", 1)[0]


def cfg_plane(cfg):
    """'observer/socket' -> 'socket'; None for a configuration without the observer."""
    return cfg.split("/", 1)[1] if "/" in cfg else None


def plane_label(cfg_or_plane):
    p = cfg_plane(cfg_or_plane) if cfg_or_plane and "/" in cfg_or_plane else cfg_or_plane
    return p if p in PLANES else "none (no observer)"


def expand_configs(bases, planes):
    """Base configurations to run, the observer's once per data plane."""
    out = []
    for b in bases:
        out += ["%s/%s" % (b, p) for p in planes] if b.startswith("observer") else [b]
    return out


def reset_hwm(pid):
    """Sets VmHWM back to the current RSS (proc(5), clear_refs "5")."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def timed_get(port, path="/metrics", timeout=10):
    """A minimal HTTP/1.0 GET on a raw socket, so that the time measured
    (connect to last byte) is the server's, not a client library's.
    Returns (body, seconds)."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
        chunks = []
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
    dt = time.perf_counter() - t0
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head.split(b" ", 2)[1] != b"200":
        raise OSError("GET %s: %r" % (path, head[:80]))
    return body.decode(), dt


# ---------------------------------------------------------------- Gunicorn


class Gunicorn:
    """One master with its workers, logging every request to its access log."""

    def __init__(self, workdir, name, nworkers, args, env=None, app="hello:app", cpus=None):
        self.port = free_port()
        self.access_log = os.path.join(workdir, name + ".access.log")
        self.error_log = os.path.join(workdir, name + ".error.log")
        self.nworkers = nworkers
        cmd = [GUNICORN, "--chdir", HERE, "--bind", "127.0.0.1:%d" % self.port,
               "--workers", str(nworkers), "--name", "%s-%s" % (TOKEN, name),
               "--access-logfile", self.access_log,
               "--access-logformat", "%(p)s %(s)s %(D)s %(B)s",
               "--error-logfile", self.error_log] + args + [app]
        if cpus:
            cmd = ["taskset", "-c", cpus] + cmd
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        started.append(self.proc)
        self.pid = self.proc.pid
        self.workers = []

    def wait_booted(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            kids = children(self.pid)
            if len(kids) == self.nworkers and self.booted() >= self.nworkers and listening(self.port):
                self.workers = kids
                worker_pids.extend(kids)
                return
            time.sleep(0.1)
        die("gunicorn %d did not boot %d workers within %d s: %s"
            % (self.pid, self.nworkers, timeout, tail(self.error_log)))

    def booted(self):
        try:
            with open(self.error_log) as f:
                return f.read().count("Booting worker with pid")
        except OSError:
            return 0

    def log_lines(self):
        try:
            with open(self.access_log, "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def split(self, start):
        """Percent of the access log's lines from line start on, per worker pid, largest first."""
        n = {}
        with open(self.access_log, "rb") as f:
            for i, line in enumerate(f):
                if i >= start:
                    pid = line.split(b" ", 1)[0]
                    n[pid] = n.get(pid, 0) + 1
        total = max(1, sum(n.values()))
        return sorted((round(100.0 * v / total) for v in n.values()), reverse=True)

    def settle(self, counter=None, timeout=5):
        """Waits for the access log to stop growing (0.5 s), then up to
        timeout s for counter() (another count of the same requests) to
        reach it. Returns the access log's line count."""
        prev, t_stable = -1, time.monotonic()
        while True:
            n = self.log_lines()
            if n != prev:
                prev, t_stable = n, time.monotonic()
            elif time.monotonic() - t_stable >= 0.5:
                break
            time.sleep(0.05)
        deadline = time.monotonic() + timeout
        while counter and time.monotonic() < deadline:
            try:
                if counter() >= n:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        return n

    def stop(self):
        stop(self.proc, signal.SIGINT, 30)


def tail(path, n=5):
    try:
        with open(path) as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- observer


class ObserverError(Exception):
    pass


class Observer:
    """gunicorn-observer --match on our Gunicorns, with data plane `plane`
    (None: the binary's default, for a binary without --data-plane)."""

    def __init__(self, binary, workdir, name, plane=None, fatal=True):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = os.path.join(workdir, name + ".observer.log")
        self.plane = plane
        cmd = [binary, "--listen", "127.0.0.1:%d" % self.port, "--match", TOKEN]
        if NO_PIN:
            cmd.append("--no-pin")  # its own programs, loaded afresh, and none left behind
        if plane and HAS_PLANE:
            cmd += ["--data-plane", plane]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started.append(self.proc)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if http_get(self.url + "/healthz", 2).strip() == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        why = ("exited with status %s" % self.proc.returncode if self.proc.poll() is not None
               else "did not answer /healthz within 30 s")
        self.stop()
        msg = "observer%s %s: %s" % (" --data-plane " + plane if plane and HAS_PLANE else "", why, tail(self.log))
        if fatal:
            die(msg)
        raise ObserverError(msg)

    def logged_plane(self, timeout=2.0):
        """The data plane the observer says it runs ("data plane: socket
        tracepoints" in its log), or None when it logs none."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.log) as f:
                    m = re.search(r"data plane: (\w+)", f.read())
                if m:
                    return m.group(1)
            except OSError:
                pass
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def metrics(self):
        return http_get(self.url + "/metrics")

    def wait_tracked(self, masters, timeout=60):
        """Until every worker of every master appears in /metrics."""
        deadline = time.monotonic() + timeout
        missing = []
        while time.monotonic() < deadline:
            text = self.metrics()
            missing = [w for g in masters for w in g.workers if 'worker_pid="%d"' % w not in text]
            if not missing:
                return
            time.sleep(0.2)
        die("observer does not show workers %s after %d s" % (missing[:10], timeout))

    def requests(self, master_pid):
        return sample_sum(self.metrics(), "gunicorn_worker_requests_total", 'master_pid="%d"' % master_pid)

    def prog_ids(self):
        return prog_ids(self.pid)

    def stop(self):
        stop(self.proc, signal.SIGTERM, 10)


def prog_ids(pid):
    """Ids of the BPF programs a process holds open (its fds' fdinfo)."""
    ids = []
    fddir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return []
    for fd in fds:
        try:
            if os.readlink(os.path.join(fddir, fd)) != "anon_inode:bpf-prog":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.append(int(line.split()[1]))
        except OSError:
            pass
    return sorted(set(ids))


def sample_sum(text, family, label_filter=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(family + "{") or line.startswith(family + " "):
            if label_filter in line:
                total += float(line.rsplit(" ", 1)[1])
    return int(total)


def sample_value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def set_bpf_stats(value):
    with open(STATS_SYSCTL, "w") as f:
        f.write(value)


def prog_show(ids):
    """bpftool prog show -j, the programs with these ids."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True, check=True).stdout
    want = set(ids)
    return [p for p in json.loads(out) if p["id"] in want]


def bpf_stats(ids):
    """{prog id: (name, run_time_ns, run_cnt)} from bpftool prog show -j."""
    return {p["id"]: (p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in prog_show(ids)}


def stats_delta(st0, st1):
    """{program name: [run_time_ns, run_cnt]} grown from st0 to st1 (bpf_stats)."""
    progs = {}
    for pid_, (pname, ns, cnt) in st1.items():
        ns0, cnt0 = st0.get(pid_, (pname, 0, 0))[1:]
        p = progs.setdefault(pname, [0, 0])
        p[0] += ns - ns0
        p[1] += cnt - cnt0
    return progs


class Scraper(threading.Thread):
    """GETs url every interval s until stopped; keeps each scrape's time."""

    def __init__(self, port, interval=1.0):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.times, self.errors = [], 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t0 = time.perf_counter()
            try:
                self.times.append(timed_get(self.port)[1])
            except OSError:
                self.errors += 1
            self.halt.wait(max(0.0, self.interval - (time.perf_counter() - t0)))

    def stop(self):
        self.halt.set()
        self.join()


# ---------------------------------------------------------------- load


def wrk(port, seconds, conns, cpus=None):
    cmd = (["taskset", "-c", cpus] if cpus else []) + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "5s",
           "-s", os.path.join(HERE, "report.lua"), "http://127.0.0.1:%d/" % port]
    # Popen and wait4, for wrk's own CPU time (taskset execs it: same pid)
    with tempfile.TemporaryFile("w+") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        started.append(p)
        deadline = time.monotonic() + seconds + 60
        while True:
            pid_, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid_:
                p.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                p.kill()
                pid_, status, ru = os.wait4(p.pid, 0)
                p.returncode = -9
                break
            time.sleep(0.05)
        started.remove(p)
        f.seek(0)
        out = f.read()
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            r = json.loads(line[8:])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
            r["cpu_s"] = ru.ru_utime + ru.ru_stime
            return r
    die("wrk printed no result:\n" + out)


def run_one(args, workdir, workload, config, rnd):
    """One fresh Gunicorn in one configuration: warm-up, measured wrk run, counts."""
    name = "%s-%s-%d" % (workload, config.replace("/", "-"), rnd)
    env = dict(os.environ)
    gargs = list(WORKLOADS[workload])
    base, plane = cfg_base(config), cfg_plane(config)
    res = {"workload": workload, "config": config, "base": base, "plane": plane, "round": rnd}
    sink = obs = scraper = None
    prom_port = None
    if config == "statsd":
        sink_port = free_port()
        res["sink_file"] = os.path.join(workdir, name + ".statsd.json")
        sink = subprocess.Popen([PY, os.path.join(HERE, "statsd_sink.py"), str(sink_port), res["sink_file"]],
                                stdout=subprocess.PIPE, text=True)
        started.append(sink)
        sink.stdout.readline()  # "ready"
        gargs += ["--statsd-host", "127.0.0.1:%d" % sink_port]
    app = "hello:app"
    if config == "prometheus_client":
        mdir = os.path.join(workdir, name + ".prom")
        os.mkdir(mdir)
        prom_port = free_port()
        env.update(PROMETHEUS_MULTIPROC_DIR=mdir, GOBENCH_PROM_PORT=str(prom_port))
        gargs += ["-c", os.path.join(HERE, "prom_conf.py")]
        app = "prom_app:app"
    g = Gunicorn(workdir, name, 2, gargs, env, app, args.gunicorn_cpus)
    g.wait_booted()
    counter = None
    if base.startswith("observer"):
        obs = Observer(args.observer, workdir, name, plane)
        obs.wait_tracked([g])
        counter = lambda: obs.requests(g.pid)  # noqa: E731
    elif config == "prometheus_client":
        deadline = time.monotonic() + 10
        while not listening(prom_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        counter = lambda: sample_sum(http_get("http://127.0.0.1:%d/metrics" % prom_port),  # noqa: E731
                                     "app_requests_total")
    wrk(g.port, args.warmup, args.connections, args.wrk_cpus)
    l0 = g.settle(counter)
    stats = base == "observer+bpf_stats"
    # other observers' programs, looked for at every run: one may have started since
    fids = foreign_progs()
    res["foreign_progs"] = len(fids)
    if fids:
        res["foreign_holders"] = foreign_holders(fids)
    if stats:
        set_bpf_stats("1")
        foreign0 = bpf_stats(fids)
    if obs:
        ids = obs.prog_ids()
        st0 = bpf_stats(ids)
        res["obs_start_hwm_kib"] = status_kib(obs.pid, "VmHWM")
        reset_hwm(obs.pid)
        cpu0, sched0 = cpu_seconds(obs.pid), sched_seconds(obs.pid)
        scraper = Scraper(obs.port)
    elif prom_port:
        scraper = Scraper(prom_port)
    if scraper:
        scraper.start()
    wcpu0 = sum(sched_ns(pid_) for pid_ in g.workers)
    t0 = time.monotonic()
    w = wrk(g.port, args.duration, args.connections, args.wrk_cpus)
    t1 = time.monotonic()
    if obs:
        cpu1, sched1 = cpu_seconds(obs.pid), sched_seconds(obs.pid)
    if scraper:
        scraper.stop()
        res["scrape_ms"] = [t * 1e3 for t in scraper.times]
        res["scrape_errors"] = scraper.errors
    l1 = g.settle(counter)
    # after settle: the last requests' work (and log lines) are in
    wcpu1 = sum(sched_ns(pid_) for pid_ in g.workers)
    res.update(wrk=w, log_total=l1, log_run=l1 - l0, wrk_vs_log=(l1 - l0) - w["requests"], split=g.split(l0))
    res["worker_cpu_us_per_req"] = (wcpu1 - wcpu0) / 1e3 / max(1, l1 - l0)
    res["worker_cpu_pct"] = 100.0 * (wcpu1 - wcpu0) / 1e9 / (t1 - t0)
    res["wrk_cpu_us_per_req"] = w["cpu_s"] * 1e6 / max(1, w["requests"])
    if stats:
        st1, foreign1 = bpf_stats(ids), bpf_stats(fids)
        set_bpf_stats("0")
        if fids:
            res["foreign_ns_per_req"] = sum(v[1] - foreign0.get(k, v)[1] for k, v in foreign1.items()) / max(
                1, l1 - l0)
        progs = stats_delta(st0, st1)
        res["progs"] = progs
        res["bpf_ns_per_req"] = sum(p[0] for p in progs.values()) / max(1, l1 - l0)
    if obs:
        res["obs_cpu_s"] = cpu1 - cpu0
        res["obs_cpu_pct"] = 100.0 * (sched1 - sched0) / (t1 - t0)
        res["obs_cpu_stat_pct"] = 100.0 * (cpu1 - cpu0) / (t1 - t0)
        res["obs_hwm_kib"] = status_kib(obs.pid, "VmHWM")
        res["obs_rss_kib"] = status_kib(obs.pid, "VmRSS")
        res["counted"] = obs.requests(g.pid)
        res["lost"] = l1 - res["counted"]
        text = obs.metrics()
        res["dropped"] = sample_sum(text, "gunicorn_observer_events_dropped_total")
        res["aborted"] = sample_sum(text, "gunicorn_worker_failed_requests_total", 'reason="aborted"')
        obs.stop()
    elif config == "prometheus_client":
        res["counted"] = counter()
    g.stop()
    if sink:
        stop(sink)
        with open(res["sink_file"]) as f:
            res["counted"] = json.load(f)["requests"]
    extra = ""
    if "counted" in res:
        extra = ", counted %d vs access log %d" % (res["counted"], l1)
    if "aborted" in res:
        extra += " (+%d aborted)" % res["aborted"]
    if obs:
        extra += ", observer CPU %.3f s = %.2f%%, peak RSS %.1f MiB (start-up %.1f)" % (
            res["obs_cpu_s"], res["obs_cpu_pct"], res["obs_hwm_kib"] / 1024, res["obs_start_hwm_kib"] / 1024)
    if stats:
        extra += ", BPF %.0f ns/req, %.1f runs/req" % (
            res["bpf_ns_per_req"], sum(p[1] for p in res["progs"].values()) / max(1, l1 - l0))
    if fids:
        extra += "; WARNING: %d programs of another observer loaded (held by %s)" % (
            len(fids), res["foreign_holders"] or "no process: pinned")
    say("   %-7s %-26s round %d: %7.0f req/s  p50 %5.2f ms  p99 %6.2f ms  worker CPU %6.1f us/req (%3.0f%%), "
        "wrk %4.1f us/req; wrk %d, log %d (workers %s %%)%s%s" % (
            workload, config, rnd, w["rps"], w["p50_us"] / 1e3, w["p99_us"] / 1e3, res["worker_cpu_us_per_req"],
            res["worker_cpu_pct"], res["wrk_cpu_us_per_req"], w["requests"], l1 - l0,
            "/".join(map(str, res["split"])),
            ", %d wrk errors" % w["errors"] if w["errors"] else "", extra))
    return res


# ---------------------------------------------------------------- scale


def run_scale(args, workdir, masters, workers):
    """Idle masters x workers, booted once; the observer with each data plane
    in turn against them. Returns one result per plane."""
    name = "scale-%dx%d" % (masters, workers)
    gs = [Gunicorn(workdir, "%s-m%d" % (name, i), workers, ["--worker-class", "sync"]) for i in range(masters)]
    for g in gs:
        g.wait_booted(120)
    out = []
    for plane in args.planes:
        out.append(scale_one(args, workdir, name, gs, masters, workers, plane))
    for g in gs:
        g.stop()
    return out


def scale_one(args, workdir, name, gs, masters, workers, plane):
    obs = Observer(args.observer, workdir, "%s-%s" % (name, plane), plane)
    total = masters * workers
    deadline = time.monotonic() + 60
    tracked = None
    while time.monotonic() < deadline:
        tracked = sample_value(obs.metrics(), "gunicorn_observer_tracked_workers")
        if tracked == total:
            break
        time.sleep(0.2)
    obs.wait_tracked(gs)
    for _ in range(3):  # first scrapes start the CPU sampling; not counted
        obs.metrics()
    start_hwm = status_kib(obs.pid, "VmHWM")
    reset_hwm(obs.pid)
    client, self_reported, size = [], [], 0
    for _ in range(args.scrapes):
        text, dt = timed_get(obs.port)
        client.append(dt * 1e3)
        # the gauge is the time to build the previous exposition
        self_reported.append(sample_value(text, "gunicorn_observer_scrape_duration_seconds") * 1e3)
        size = len(text.encode())
        time.sleep(0.02)
    res = {"masters": masters, "workers": workers, "total": total, "tracked": tracked, "plane": plane,
           "client_ms": client, "self_ms": self_reported, "bytes": size,
           "rss_kib": status_kib(obs.pid, "VmRSS"), "hwm_kib": status_kib(obs.pid, "VmHWM"),
           "start_hwm_kib": start_hwm,
           "series": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
           "kernel_maps": {m.group(1): int(m.group(2)) for m in re.finditer(
               r'^gunicorn_observer_bpf_memory_bytes\{map="([^"]+)"\} (\d+)$', text, re.M)}}
    res["kernel_bytes"] = sum(res["kernel_maps"].values())
    obs.stop()
    say("   %dx%d %-7s: tracked %s workers, scrape median %.2f ms max %.2f ms (self-reported median %.2f max "
        "%.2f), %d bytes, %d series, RSS %.1f MiB (peak while scraped %.1f, at start-up %.1f), kernel %.1f MiB" % (
            masters, workers, plane, int(tracked or 0), statistics.median(client), max(client),
            statistics.median(self_reported), max(self_reported), size, res["series"],
            res["rss_kib"] / 1024, res["hwm_kib"] / 1024, start_hwm / 1024, res["kernel_bytes"] / 1048576))
    return res


# ---------------------------------------------------------------- profile


def perf_report(data, out, sort, extra=()):
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", sort,
                        "-g", "none", "--percent-limit", "0.2"] + list(extra),
                       capture_output=True, text=True)
    with open(out, "w") as f:
        f.write(r.stdout)
    return [line for line in r.stdout.splitlines() if line.strip() and not line.startswith("#")]


# Kernel symbols that run only because the observer's programs are attached:
# the programs, the syscall tracepoint path into them, and their helpers and maps.
OBSERVER_SYMS = re.compile(
    r"^(bpf_prog_|trace_call_bpf|perf_syscall_|perf_trace_|perf_swevent_|syscall_trace_enter|"
    r"syscall_exit_work|__bpf_prog_|bpf_|htab_|__htab_|lookup_nulls_elem_raw|lookup_elem_raw|"
    r"free_htab_elem|alloc_htab_elem|pcpu_freelist|__pcpu_freelist|___pcpu_freelist|copy_from_user_nofault|"
    r"__bpf_trace|ktime_get_mono_fast_ns)")


def observer_cost(data, out, requests, freq):
    """CPU time per request in the load's processes (gunicorn, wrk) spent in
    OBSERVER_SYMS, from sample counts: bpf_stats-free, and it includes the
    tracepoint path that run_time_ns does not see."""
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-n", "--comm", "gunicorn,wrk",
                        "--sort", "sym", "-g", "none"], capture_output=True, text=True)
    total = hit = 0
    per = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+\[(.)\]\s+(\S+)", line)
        if not m:
            continue
        n, sym = int(m.group(1)), m.group(3)
        total += n
        if m.group(2) == "k" and OBSERVER_SYMS.match(sym):
            hit += n
            key = "bpf_prog_*" if sym.startswith("bpf_prog_") else sym
            per[key] = per.get(key, 0) + n
    lines = ["%8.0f ns/request  %5.2f %%  %s" % (n / freq / requests * 1e9, 100.0 * n / total, sym)
             for sym, n in sorted(per.items(), key=lambda kv: -kv[1])]
    with open(os.path.join(out, "profile-load-observer.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    say("   observer-attributable in gunicorn+wrk: %d of %d samples (%.2f %%) = %.0f ns of CPU per request; top:"
        % (hit, total, 100.0 * hit / max(1, total), hit / freq / requests * 1e9))
    say("\n".join("   " + line for line in lines[:15]))


def run_profile(args, workdir, out):
    """Where the time goes: perf (cpu-clock, no PMU needed) over the whole host
    during a saturated sync run with the observer, with bpf_stats off; then
    over the observer process alone during scrapes of 8x32 workers."""
    g = Gunicorn(workdir, "profile", 2, ["--worker-class", "sync"])
    g.wait_booted()
    plane = args.planes[0]
    obs = Observer(args.observer, workdir, "profile", plane)
    obs.wait_tracked([g])
    wrk(g.port, args.warmup, args.connections)
    data = os.path.join(workdir, "load.perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4999", "-a", "-g",
                             "-o", data, "--", "sleep", str(args.duration)], stdout=subprocess.DEVNULL)
    started.append(perf)
    w = wrk(g.port, args.duration, args.connections)
    perf.wait()
    started.remove(perf)
    obs.stop()
    g.stop()
    say("== profile, %d s of sync load with the observer, data plane %s (%.0f req/s), whole host, by symbol:" % (
        args.duration, plane, w["rps"]))
    lines = perf_report(data, os.path.join(out, "profile-load.txt"), "sym")
    say("\n".join(lines[:40]))
    lines = perf_report(data, os.path.join(out, "profile-load-comm.txt"), "comm")
    say("\n".join(lines[:10]))
    observer_cost(data, out, w["requests"], 4999)

    gs = [Gunicorn(workdir, "profile-scale-m%d" % i, 32, ["--worker-class", "sync"]) for i in range(8)]
    for gg in gs:
        gg.wait_booted(120)
    obs = Observer(args.observer, workdir, "profile-scale", plane)
    obs.wait_tracked(gs)
    data = os.path.join(workdir, "scrape.perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "9999", "--call-graph", "dwarf",
                             "-p", str(obs.pid), "-o", data], stdout=subprocess.DEVNULL)
    started.append(perf)
    time.sleep(0.5)
    times = [timed_get(obs.port)[1] * 1e3 for _ in range(args.scrapes)]
    stop(perf, signal.SIGINT)
    obs.stop()
    for gg in gs:
        gg.stop()
    say("== profile, %d scrapes of 8x32 workers (median %.2f ms), observer process, data plane %s, by symbol:" % (
        len(times), med(times), plane))
    lines = perf_report(data, os.path.join(out, "profile-scrape.txt"), "sym")
    say("\n".join(lines[:40]))
    lines = perf_report(data, os.path.join(out, "profile-scrape-children.txt"), "sym",
                        ["--children", "--percent-limit", "3"])
    say("   with callees (--children):")
    say("\n".join(lines[:40]))
    say("profiles: %s/profile-*.txt" % out)


# ---------------------------------------------------------------- floors


def build_tools(workdir):
    """Compiles bench/floor.bpf.c, bench/floor.c, bench/btf_peak.c,
    bench/bystander.c, bench/counters.bpf.c and bench/counters.c into workdir
    (clang and gcc are build dependencies of the observer)."""
    arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    inc = "-I" + os.path.join(ROOT, "include")
    cmds = [["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/" + arch, "-c",
             os.path.join(HERE, "floor.bpf.c"), "-o", os.path.join(workdir, "floor.bpf.o")],
            ["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/" + arch, inc, "-c",
             os.path.join(HERE, "counters.bpf.c"), "-o", os.path.join(workdir, "counters.bpf.o")],
            ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", inc, os.path.join(HERE, "counters.c"), "-lbpf",
             "-lpthread", "-o", os.path.join(workdir, "counters")],
            ["gcc", "-O2", os.path.join(HERE, "floor.c"), "-lbpf", "-o", os.path.join(workdir, "floor")],
            ["gcc", "-O2", os.path.join(HERE, "btf_peak.c"), "-lbpf", "-o", os.path.join(workdir, "btf_peak")],
            ["gcc", "-O2", "-Wall", "-Werror", os.path.join(HERE, "bystander.c"), "-o",
             os.path.join(workdir, "bystander")]]
    for cmd in cmds:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            die("building %s failed: %s" % (os.path.basename(next(a for a in cmd if a.endswith(".c"))),
                                            r.stderr.strip()[:300]))


def measure_floors(workdir):
    """The fixed costs under the figures: see bench/floor.c."""
    res = {}
    for stats in ("0", "1"):
        set_bpf_stats(stats)
        try:
            out = subprocess.run([os.path.join(workdir, "floor"), os.path.join(workdir, "floor.bpf.o")],
                                 capture_output=True, text=True, timeout=120)
        finally:
            set_bpf_stats("0")
        if out.returncode != 0:
            die("bench/floor.c failed: " + out.stderr.strip())
        for line in out.stdout.splitlines():
            name, sys_ns, run_ns = line.split()
            res[(name, stats)] = (float(sys_ns), float(run_ns))
    out = subprocess.run([os.path.join(workdir, "btf_peak")], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        die("bench/btf_peak.c failed: " + out.stderr.strip())
    before, hwm, after, types = (int(x) for x in out.stdout.split())
    f = {"syscall_ns": res[("none", "0")][0],
         "empty_ns": res[("floor_empty", "0")][0] - res[("none", "0")][0],
         "lookup_ns": res[("floor_lookup", "0")][0] - res[("none", "0")][0],
         "empty_stats_ns": res[("floor_empty", "1")][0] - res[("none", "1")][0],
         "empty_run_ns": res[("floor_empty", "1")][1], "lookup_run_ns": res[("floor_lookup", "1")][1],
         "btf_before_kib": before, "btf_hwm_kib": hwm, "btf_after_kib": after, "btf_types": types}
    say("   floors: getppid() %.0f ns; + empty program %.0f ns, + one-lookup program %.0f ns (bpf_stats off); "
        "bpf_stats reports %.1f ns/run (empty), %.1f (lookup); vmlinux BTF parse peak +%.1f MiB" % (
            f["syscall_ns"], f["empty_ns"], f["lookup_ns"], f["empty_run_ns"], f["lookup_run_ns"],
            (hwm - before) / 1024))
    return f


def floor_lines(fl, obs):
    if not fl:
        return []
    L = ["Fixed costs on this host (bench/floor.c: getppid() in a loop, best of 3 x 2M calls, a program on "
         "its exit tracepoint): the syscall alone %.0f ns; an empty program adds %.0f ns to it, a program "
         "that makes one hash-map lookup (a miss: what the observer's programs do for a syscall that is not "
         "a tracked worker's) %.0f ns. With kernel.bpf_stats_enabled=1 the empty program adds %.0f ns, and "
         "the kernel reports it as %.1f ns per run (the accounting's own clock reads), the one-lookup "
         "program as %.1f ns per run." % (
             fl["syscall_ns"], fl["empty_ns"], fl["lookup_ns"], fl["empty_stats_ns"], fl["empty_run_ns"],
             fl["lookup_run_ns"])]
    for (wl, plane), o in obs.items():
        if o["bpf"] is None:
            continue
        L.append("%s, data plane %s: %.1f program runs per request x %.1f ns = %.0f ns of the %.0f ns per "
                 "request is that floor (runs of every process on the host count, not only Gunicorn's)." % (
                     wl, plane, o["runs"], fl["empty_run_ns"], o["runs"] * fl["empty_run_ns"], o["bpf"]))
    L.append("Start-up memory: parsing the kernel's BTF (/sys/kernel/btf/vmlinux, %d types), which libbpf does "
             "once to relocate the programs (CO-RE) and then frees, takes a process from %.1f MiB to a peak of "
             "%.1f MiB (bench/btf_peak.c); back to %.1f MiB once freed." % (
                 fl["btf_types"], fl["btf_before_kib"] / 1024, fl["btf_hwm_kib"] / 1024,
                 fl["btf_after_kib"] / 1024))
    return L


# ---------------------------------------------------------------- data planes


def preflight(args, workdir):
    """Starts the observer once with each requested data plane: does it start,
    does it say it runs that plane ("data plane: socket tracepoints"), and
    which programs does it hold. A plane that fails is left out of the run,
    and the report says why. Returns ({plane: info}, [planes that run])."""
    info, ok = {}, []
    for plane in args.planes:
        try:
            obs = Observer(args.observer, workdir, "preflight-" + plane, plane, fatal=False)
        except ObserverError as e:
            info[plane] = {"ok": False, "why": str(e)}
            say("   %s: LEFT OUT: %s" % (plane, e))
            continue
        logged = obs.logged_plane()
        progs = prog_show(obs.prog_ids())
        obs.stop()
        types = {}
        for pr in progs:
            types[pr.get("type", "?")] = types.get(pr.get("type", "?"), 0) + 1
        i = {"ok": True, "logged": logged, "progs": sorted(pr.get("name", "?") for pr in progs), "types": types}
        if not HAS_PLANE:
            i["note"] = "this observer has no --data-plane: its only plane, taken as syscall"
        elif logged is None and plane != "syscall":
            # the observer before the socket plane logs none and runs syscall tracepoints whatever it is told
            i.update(ok=False, why="the observer started but did not log `data plane: %s` (it logs no data "
                     "plane: an observer without that plane)" % plane)
        elif logged is not None and logged != plane:
            i.update(ok=False, why="asked for --data-plane %s, the observer logged `data plane: %s`"
                     % (plane, logged))
        if not i["ok"] and args.force_planes:
            i.update(ok=True, forced=i.pop("why"))
        info[plane] = i
        say("   %s: %s; %d programs (%s)%s" % (
            plane, "logs `data plane: %s`" % logged if logged else "logs no data plane", len(progs),
            ", ".join("%s %d" % kv for kv in sorted(types.items())),
            "; LEFT OUT: " + i["why"] if not i["ok"] else
            "; MEASURED ANYWAY (--force-planes): " + i["forced"] if i.get("forced") else ""))
        if i["ok"]:
            ok.append(plane)
            OUR_PROG_NAMES.update(n for n in i["progs"] if n not in GENERIC_PROG_NAMES)
    return info, ok


def bystander(args, workdir, reps, loops, types=()):
    """One run of bench/bystander.c: {type: (best ns per call, calls made)}."""
    cmd = (["taskset", "-c", args.bystander_cpus] if args.bystander_cpus else []) + [
        os.path.join(workdir, "bystander"), str(reps), str(loops)] + list(types)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        die("bench/bystander.c failed: " + out.stderr.strip())
    res = {}
    for line in out.stdout.splitlines():
        t, ns, calls = line.split()
        res[t] = (float(ns), int(calls))
    return res


def run_bystander(args, workdir, planes):
    """What an unwatched process pays per call: bench/bystander.c with no
    observer, with each data plane and with no observer again (the A/A
    noise band), the order rotated each round; then, with bpf_stats on, the
    observer's program runs and run time per call, per plane. An idle
    Gunicorn is tracked meanwhile, so that the observer's filter is not
    empty."""
    g = Gunicorn(workdir, "bystander", 2, ["--worker-class", "sync"])
    g.wait_booted()
    conds = ["none"] + planes + ["none-again"]  # as reported
    # as run (rotated each round): the A/A pair as far apart as any other pair
    order = ["none"] + planes[:1] + ["none-again"] + planes[1:]
    rounds = []
    foreign = 0  # runs during which another observer's programs were loaded
    for rnd in range(1, args.bystander_rounds + 1):
        k = (rnd - 1) % len(order)
        row = {}
        for c in order[k:] + order[:k]:
            obs = None
            if c in planes:
                obs = Observer(args.observer, workdir, "bystander-%s-%d" % (c, rnd), c)
                obs.wait_tracked([g])
            f0 = foreign_progs()
            row[c] = {t: v[0] for t, v in bystander(args, workdir, args.bystander_reps, args.bystander_loops).items()}
            if f0 or foreign_progs():
                foreign += 1
            if obs:
                obs.stop()
            time.sleep(0.2)
        rounds.append(row)
        say("   round %d: %s" % (rnd, "; ".join(
            "%s %s" % (c, " ".join("%s %.0f" % (t, row[c][t]) for t in BYSTANDER_TYPES)) for c in conds)))
    stats = {}
    for plane in planes:
        obs = Observer(args.observer, workdir, "bystander-stats-" + plane, plane)
        obs.wait_tracked([g])
        ids = obs.prog_ids()
        stats[plane] = {}
        set_bpf_stats("1")
        try:
            for t in BYSTANDER_TYPES:
                st0 = bpf_stats(ids)
                calls = bystander(args, workdir, 1, args.bystander_loops, [t])[t][1]
                progs = stats_delta(st0, bpf_stats(ids))
                stats[plane][t] = {
                    "calls": calls, "runs_per_call": sum(p[1] for p in progs.values()) / calls,
                    "ns_per_call": sum(p[0] for p in progs.values()) / calls,
                    "progs": {n: p[1] / calls for n, p in progs.items() if p[1] >= calls / 100}}
        finally:
            set_bpf_stats("0")
        obs.stop()
        say("   %s, bpf_stats: %s" % (plane, "; ".join(
            "%s %.2f runs %.0f ns per call" % (t, v["runs_per_call"], v["ns_per_call"])
            for t, v in stats[plane].items())))
    g.stop()
    return {"rounds": rounds, "stats": stats, "reps": args.bystander_reps, "loops": args.bystander_loops,
            "cpus": args.bystander_cpus, "conditions": conds, "order": order, "foreign_runs": foreign,
            "nruns": len(rounds) * len(conds)}


def bystander_summary(by):
    """{(condition, type): {ns, ratio, ratio_min, ratio_max}}: ratios are each
    round's to that round's no-observer run."""
    out = {}
    for c in by["conditions"]:
        for t in BYSTANDER_TYPES:
            ns = [r[c][t] for r in by["rounds"] if c in r and t in r[c]]
            ratios = [r[c][t] / r["none"][t] for r in by["rounds"] if c in r and t in r[c]]
            if ns:
                out[(c, t)] = {"ns": med(ns), "ratio": med(ratios), "ratio_min": min(ratios),
                               "ratio_max": max(ratios)}
    return out


def bystander_noise(bs, t):
    """Half-width of the no-observer A/A band for call type t: the largest
    distance from 1 of the none-again/none ratios, at least 2 %."""
    aa = bs.get(("none-again", t))
    return max(0.02, abs(aa["ratio_min"] - 1), abs(aa["ratio_max"] - 1)) if aa else 0.02


def bystander_lines(by, planes):
    if not by:
        return []
    bs = bystander_summary(by)
    L = ["Bystander: a process the observer does not watch (bench/bystander.c%s), ns per call, best of %d "
         "repetitions of %d calls (send+recv: %d), %d rounds of %s in turn (the order rotated by one each "
         "round), an idle Gunicorn tracked meanwhile; ratios are the median (min-max) of the per-round ratios "
         "to that round's run with no observer; \"none again\" is a second run with no observer, the noise "
         "band. Program runs and BPF ns per call from one more run per plane with kernel.bpf_stats_enabled=1 "
         "(all the observer's programs, whoever triggered them):" % (
             " on CPU %s" % by["cpus"] if by["cpus"] else "", by["reps"], by["loops"], by["loops"] // 4,
             len(by["rounds"]), " / ".join(by.get("order", by["conditions"])).replace("none-again", "none again")),
         "",
         "| call | data plane | ns/call | x no observer | min-max | program runs/call | BPF ns/call | programs |",
         "|---|---|---:|---:|---|---:|---:|---|"]
    if by.get("foreign_runs"):
        L.insert(0, "WARNING: programs of another gunicorn-observer were loaded during %d of %d bystander runs: "
                 "those runs are not of a quiet host." % (by["foreign_runs"], by["nruns"]))
    for t in BYSTANDER_TYPES:
        for c in by["conditions"]:
            s = bs.get((c, t))
            if not s:
                continue
            st = by["stats"].get(c, {}).get(t)
            label = {"none": "none (no observer)", "none-again": "none again (A/A)"}.get(c, c)
            L.append("| %s | %s | %.1f | %s | %s | %s | %s | %s |" % (
                BYSTANDER_WHAT[t], label, s["ns"], "%.3f" % s["ratio"] if c != "none" else "1",
                "%.3f-%.3f" % (s["ratio_min"], s["ratio_max"]) if c != "none" else "",
                "%.2f" % st["runs_per_call"] if st else "", "%.0f" % st["ns_per_call"] if st else "",
                " ".join("%s %.2f" % kv for kv in sorted(st["progs"].items(), key=lambda kv: -kv[1]))
                if st else ""))
    return L


# ---------------------------------------------------------------- TLS


TLS_PROG_PREFIX = "ssl_"  # the observer's uprobe programs on OpenSSL (bpf/tls.bpf.c)
TLS_CONDS = ["none", "observer", "none-again"]
TLS_SIDES = ("unwatched", "watched")
UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"


def tls_prog_ids(obs):
    """{id: name} of the observer's programs on OpenSSL's functions."""
    return {p["id"]: p.get("name", "?") for p in prog_show(obs.prog_ids())
            if p.get("name", "").startswith(TLS_PROG_PREFIX)}


def tls_perf_events(pid):
    """How many perf events process pid holds (the observer: its uprobe
    bindings, one per probe point and bound process, and the carriers of its
    ssl_ programs)."""
    n = 0
    fddir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return 0
    for fd in fds:
        try:
            n += os.readlink(os.path.join(fddir, fd)) == "anon_inode:[perf_event]"
        except OSError:
            pass
    return n


def uprobe_points():
    """[(kind p|r, group, event, file:offset)]: the uprobe points in tracefs."""
    try:
        with open(UPROBE_EVENTS) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [m.groups() for m in (re.match(r"([pr]):(\S+)/(\S+) (\S+)", x) for x in lines) if m]


def tls_points(pid):
    """The functions our observer (pid) put uprobe points on: {"entry": [...],
    "return": [...]} (its tracefs group gunicorn_observer_PID; events named
    FUNCTION_DEV_INODE[_ret])."""
    out = {"entry": set(), "return": set()}
    for kind, group, event, _ in uprobe_points():
        m = re.match(r"(\w+?)_[0-9a-f]+_[0-9a-f]+(?:_ret)?$", event)
        if group == "gunicorn_observer_%d" % pid and m:
            out["return" if kind == "r" else "entry"].add(m.group(1))
    return {k: sorted(v) for k, v in out.items()}


def tls_foreign(obs=None):
    """What else may be probing libssl now: gunicorn-observers we did not
    start, and uprobe points on a libssl that are not our observer's (a point
    only puts a breakpoint in processes where it is enabled)."""
    ours = "gunicorn_observer_%d" % obs.pid if obs else None
    pts = ["%s/%s" % (g_, e) for _, g_, e, t in uprobe_points() if "libssl" in t and g_ != ours]
    return ["gunicorn-observer pid %d" % p for p in others()[0]] + ["uprobe point " + x for x in pts]


def tls_observer(args, workdir, g, plane, name):
    """The observer, tracking the TLS Gunicorn g, once it says its uprobes on
    OpenSSL are bound to g ("TLS of master PID: probes on LIBSSL in N running
    workers ..." in its log). Returns (observer, {id: name} of its ssl_
    programs, {"libssl", "workers", "perf_events"})."""
    obs = Observer(args.observer, workdir, name, plane)
    obs.wait_tracked([g])
    ids = tls_prog_ids(obs)
    if not ids:
        obs.stop()
        raise ObserverError("the observer holds no %s* programs (no TLS probes in this build)" % TLS_PROG_PREFIX)
    pat = re.compile(r"TLS of master %d: probes on (\S+) in (\d+) running workers" % g.pid)
    bad = re.compile(r".*(?:TLS of worker \d+ is not observable|cannot bind the TLS probes|cannot probe SSL).*")
    deadline = time.monotonic() + 20
    while True:
        with open(obs.log) as f:
            text = f.read()
        m = pat.search(text)
        if m:
            return obs, ids, {"libssl": m.group(1), "workers": int(m.group(2)),
                              "perf_events": tls_perf_events(obs.pid), "points": tls_points(obs.pid)}
        b = bad.search(text)
        if b or time.monotonic() > deadline:
            obs.stop()
            raise ObserverError("the observer did not bind its TLS probes to Gunicorn %d: %s" % (
                g.pid, b.group(0).strip() if b else "no `TLS of master %d: probes on` line within 20 s" % g.pid))
        time.sleep(0.1)


def tls_unwatched(args, cert, key, n=None, reps=None):
    """bench/tls_loop.py in a process of its own, which the observer does not
    watch: its figures (tls_loop.run)."""
    cmd = (["taskset", "-c", args.bystander_cpus] if args.bystander_cpus else []) + [
        PY, os.path.join(HERE, "tls_loop.py"), "--n", str(args.tls_loops if n is None else n),
        "--reps", str(args.tls_reps if reps is None else reps), "--cert", cert, "--key", key]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        die("bench/tls_loop.py failed: " + out.stderr.strip()[-300:])
    return json.loads(out.stdout)


def tls_watched(args, g, n=None, reps=None):
    """The same loop inside g's worker: GET /sslloop over HTTPS (curl -k)."""
    url = "https://127.0.0.1:%d/sslloop?n=%d&reps=%d" % (
        g.port, args.tls_n if n is None else n, args.tls_reps if reps is None else reps)
    cmd = (["taskset", "-c", args.wrk_cpus] if args.wrk_cpus else []) + [
        "curl", "-sSfk", "--max-time", "300", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=310)
    if out.returncode != 0:
        die("curl %s failed: %s; gunicorn: %s" % (url, out.stderr.strip(), tail(g.error_log)))
    return json.loads(out.stdout)


def run_tls(args, workdir, plane):
    """What the observer's uprobes on OpenSSL cost. A TLS Gunicorn (1 sync
    worker, --certfile/--keyfile, bench/tls_app.py) is booted once. Each
    round, with no observer, with the observer (data plane `plane`, watching
    that Gunicorn: its probes are on the same libssl file) and with no
    observer again (the A/A band), the order rotated each round:
    bench/tls_loop.py's in-memory SSL_write_ex/SSL_read_ex loop in a process
    of its own (unwatched), then the same loop in the worker (watched,
    /sslloop over HTTPS). Then, with bpf_stats on, the ssl_ programs' runs
    during each: none at all in the unwatched process."""
    cert, key = tls_loop.make_cert(workdir)
    env = dict(os.environ, GOBENCH_TLS_CERT=cert, GOBENCH_TLS_KEY=key)
    g = Gunicorn(workdir, "tls", 1, ["--worker-class", "sync", "--certfile", cert, "--keyfile", key], env,
                 "tls_app:app", args.gunicorn_cpus)
    g.wait_booted()
    res = {"plane": plane, "rounds": [], "conditions": TLS_CONDS, "loops": args.tls_loops, "n": args.tls_n,
           "reps": args.tls_reps, "cpus": args.bystander_cpus, "gunicorn_cpus": args.gunicorn_cpus,
           "bindings": [], "foreign_runs": 0}
    try:
        obs, ids, binding = tls_observer(args, workdir, g, plane, "tls-probe")
    except ObserverError as e:
        g.stop()
        say("   TLS: LEFT OUT: %s" % e)
        res["error"] = str(e)
        return res
    obs.stop()
    res["progs"] = sorted(set(ids.values()))
    for rnd in range(1, args.tls_rounds + 1):
        k = (rnd - 1) % len(TLS_CONDS)
        row = {}
        for c in TLS_CONDS[k:] + TLS_CONDS[:k]:
            obs = None
            if c == "observer":
                obs, ids, binding = tls_observer(args, workdir, g, plane, "tls-%d" % rnd)
                res["bindings"].append(binding)
            f0 = foreign_progs()
            fu = set(tls_foreign(obs))
            row[c] = {"unwatched": tls_unwatched(args, cert, key), "watched": tls_watched(args, g)}
            fu |= set(tls_foreign(obs))
            if fu:
                row[c]["foreign"] = sorted(fu)
            if f0 or foreign_progs():
                res["foreign_runs"] += 1
            if obs:
                obs.stop()
            time.sleep(0.2)
        res["rounds"].append(row)
        say("   round %d: %s" % (rnd, "; ".join("%s unwatched %.1f watched %.1f ns/call" % (
            c, row[c]["unwatched"]["cpu_ns_per_call"], row[c]["watched"]["cpu_ns_per_call"]) for c in TLS_CONDS)))
    # program runs, with bpf_stats on: the unwatched process, then a request
    # that runs no loop (what the HTTPS request itself costs in probe runs),
    # then the watched loop
    obs, ids, binding = tls_observer(args, workdir, g, plane, "tls-stats")
    all_ids = obs.prog_ids()
    set_bpf_stats("1")
    try:
        s0 = bpf_stats(all_ids)
        u = tls_unwatched(args, cert, key, reps=1)
        s1 = bpf_stats(all_ids)
        tls_watched(args, g, n=0, reps=0)
        s2 = bpf_stats(all_ids)
        w = tls_watched(args, g, reps=1)
        s3 = bpf_stats(all_ids)
    finally:
        set_bpf_stats("0")
    obs.stop()
    g.stop()

    def ssl_only(st):
        return {i: v for i, v in st.items() if i in ids}

    du, dr, dw = (stats_delta(ssl_only(a), ssl_only(b)) for a, b in ((s0, s1), (s1, s2), (s2, s3)))
    allu = stats_delta(s0, s1)
    runs = lambda d: sum(p[1] for p in d.values())  # noqa: E731
    ns = lambda d: sum(p[0] for p in d.values())  # noqa: E731
    res["stats"] = {
        "unwatched": {"calls": u["calls"], "ssl_runs": runs(du), "ssl_ns": ns(du), "all_runs": runs(allu),
                      "libssl": u.get("libssl")},
        "request": {"ssl_runs": runs(dr)},
        "watched": {"calls": w["calls"], "ssl_runs": runs(dw), "ssl_ns": ns(dw), "libssl": w.get("libssl"),
                    "runs_per_call": max(0, runs(dw) - runs(dr)) / w["calls"],
                    "bpf_ns_per_call": ns(dw) / w["calls"],
                    "progs": {n_: p[1] / w["calls"] for n_, p in dw.items() if p[1]}},
        "binding": binding, "tls": w.get("tls"), "cipher": w.get("cipher"), "openssl": w.get("openssl")}
    st = res["stats"]
    say("   bpf_stats: unwatched process %d ssl_ program runs in %d SSL calls (all the observer's programs: %d "
        "runs); the HTTPS request alone %d; watched worker %d runs in %d SSL calls = %.2f per call (%s), "
        "%.0f BPF ns per call; libssl %s (unwatched) / %s (worker); observer: probes on %s in %d running workers, "
        "%d perf events" % (
            st["unwatched"]["ssl_runs"], st["unwatched"]["calls"], st["unwatched"]["all_runs"],
            st["request"]["ssl_runs"], st["watched"]["ssl_runs"], st["watched"]["calls"],
            st["watched"]["runs_per_call"], " ".join("%s %.2f" % kv for kv in sorted(st["watched"]["progs"].items())),
            st["watched"]["bpf_ns_per_call"], st["unwatched"]["libssl"], st["watched"]["libssl"], binding["libssl"],
            binding["workers"], binding["perf_events"]))
    return res


def tls_summary(tls):
    """{(side, condition): {ns, ratio, ratio_min, ratio_max, added, added_min,
    added_max, wps, wps_ratio}}: each round's figure against that round's
    run with no observer."""
    out = {}
    rounds = tls.get("rounds") or []
    for side in TLS_SIDES:
        for c in TLS_CONDS:
            rs = [r for r in rounds if c in r and "none" in r]
            if not rs:
                continue
            ns = [r[c][side]["cpu_ns_per_call"] for r in rs]
            base = [r["none"][side]["cpu_ns_per_call"] for r in rs]
            wps = [r[c][side]["writes_per_s"] for r in rs]
            wbase = [r["none"][side]["writes_per_s"] for r in rs]
            ratios = [a / b for a, b in zip(ns, base)]
            added = [a - b for a, b in zip(ns, base)]
            out[(side, c)] = {"ns": med(ns), "ratio": med(ratios), "ratio_min": min(ratios),
                              "ratio_max": max(ratios), "added": med(added), "added_min": min(added),
                              "added_max": max(added), "wps": med(wps),
                              "wps_ratio": med([a / b for a, b in zip(wps, wbase)])}
    return out


def tls_noise(ts, side):
    """Half-width of the A/A band of side's CPU per call, at least 2 %."""
    aa = ts.get((side, "none-again"))
    return max(0.02, abs(aa["ratio_min"] - 1), abs(aa["ratio_max"] - 1)) if aa else 0.02


def tls_int3(tls, side, cond):
    """[(round, [functions])]: the SSL functions that started with a
    breakpoint (int3) in side's own memory at the end of its loop, per round
    of condition cond (tls_loop.breakpoints)."""
    return [(i + 1, r[cond][side].get("int3", [])) for i, r in enumerate(tls.get("rounds") or []) if cond in r]


def tls_lines(tls):
    if not tls:
        return []
    if tls.get("error"):
        return ["TLS: not measured: %s." % tls["error"]]
    ts = tls_summary(tls)
    st = tls.get("stats", {})
    pts = st.get("binding", {}).get("points") or {}
    L = ["TLS (the observer's uprobes on OpenSSL, %s, bound to a TLS Gunicorn's master and workers; data plane "
         "%s): bench/tls_loop.py's "
         "in-memory loop, two ssl.SSLObject over ssl.MemoryBIO pairs after a handshake, each iteration one "
         "SSLObject.write (SSL_write_ex) and one SSLObject.read (SSL_read_ex) of 64 bytes (%s, %s, %s). "
         "*Unwatched*: a Python process of its own%s, best of %d repetitions of %d iterations; *watched*: the "
         "same loop inside the worker of a Gunicorn started with --certfile/--keyfile (1 sync worker%s, "
         "bench/tls_app.py), GET /sslloop over HTTPS with curl -k, best of %d repetitions of %d iterations. CPU "
         "ns per SSL call is the loop thread's CPU time (user + system: a probe's trap is in it) over its SSL "
         "calls; SSL_write/s is iterations per second of wall time. %d rounds of %s in turn (the order rotated "
         "by one each round), the same Gunicorn throughout; ratios and added ns are the median (min-max) of "
         "each round's against that round's run with no observer; \"none again\" is the A/A band. Probe runs "
         "from one more run of each with kernel.bpf_stats_enabled=1 (run_cnt of the observer's ssl_ programs, "
         "bpftool prog show):" % (
             "entries of %s and returns of %s" % (", ".join(pts.get("entry", [])) or "?",
                                                   ", ".join(pts.get("return", [])) or "?"),
             tls["plane"], st.get("tls", "?"), st.get("cipher", "?"), st.get("openssl", "?"),
             " on CPU %s" % tls["cpus"] if tls["cpus"] else "", tls["reps"], tls["loops"],
             " on CPU %s" % tls["gunicorn_cpus"] if tls.get("gunicorn_cpus") else "", tls["reps"], tls["n"],
             len(tls["rounds"]), " / ".join(TLS_CONDS).replace("none-again", "none again")),
         "",
         "| process | observer | SSL_write/s | x no observer | CPU ns/SSL call | x no observer | min-max | "
         "added ns/SSL call (min-max) | probe runs/SSL call |",
         "|---|---|---:|---:|---:|---:|---|---:|---:|"]
    if tls.get("foreign_runs"):
        L.insert(0, "WARNING: programs of another gunicorn-observer were loaded during %d TLS runs: those runs "
                 "are not of a quiet host." % tls["foreign_runs"])
    fu = [(c, x) for r in tls["rounds"] for c, v in r.items() for x in v.get("foreign", [])]
    if fu:
        L.insert(0, "WARNING: during %d TLS runs something else could probe libssl (%s): an enabled one would "
                 "be in the figures, the no-observer runs' included." % (
                     len({(i, c) for i, r in enumerate(tls["rounds"]) for c, v in r.items() if v.get("foreign")}),
                     "; ".join(sorted({x for _, x in fu}))))
    for side in TLS_SIDES:
        sst = st.get(side, {})
        for c in TLS_CONDS:
            s = ts.get((side, c))
            if not s:
                continue
            runs = ""
            if c == "observer" and sst:
                runs = ("%d in %d calls" % (sst["ssl_runs"], sst["calls"]) if side == "unwatched"
                        else "%.2f" % sst["runs_per_call"])
            L.append("| %s | %s | %.0f | %s | %.1f | %s | %s | %s | %s |" % (
                "unwatched (tls_loop.py, own process)" if side == "unwatched" else "watched (Gunicorn worker)",
                {"none": "none (no observer)", "none-again": "none again (A/A)"}.get(c, "observer, " + tls["plane"]),
                s["wps"], "%.3f" % s["wps_ratio"] if c != "none" else "1", s["ns"],
                "%.3f" % s["ratio"] if c != "none" else "1",
                "%.3f-%.3f" % (s["ratio_min"], s["ratio_max"]) if c != "none" else "",
                "%+.1f (%+.1f to %+.1f)" % (s["added"], s["added_min"], s["added_max"]) if c != "none" else "",
                runs))
    if st:
        w = st["watched"]
        L += ["", "Probe runs with bpf_stats: the unwatched process made %d SSL calls and the observer's ssl_ "
              "programs ran %d times meanwhile (its programs of every kind: %d runs, other processes' included); "
              "in the watched worker %d runs in %d calls, less %d for the HTTPS request itself (a request with no "
              "loop) = %.2f runs per SSL call (%s), %.0f ns of BPF run time per call (with the accounting's clock "
              "reads; the probes' traps are not in it). The unwatched process maps %s, the worker %s (path, "
              "device, inode); the observer logged its probes on %s in %d running workers (%d perf events: one "
              "per probe point and bound process, and a carrier of each point's program)." % (
                  st["unwatched"]["calls"], st["unwatched"]["ssl_runs"], st["unwatched"]["all_runs"],
                  w["ssl_runs"], w["calls"], st["request"]["ssl_runs"], w["runs_per_call"],
                  " ".join("%s %.2f" % kv for kv in sorted(w["progs"].items())) or "none",
                  w["bpf_ns_per_call"], st["unwatched"]["libssl"], w["libssl"], st["binding"]["libssl"],
                  st["binding"]["workers"], st["binding"]["perf_events"])]
        s = ts.get(("watched", "observer"))
        if s:
            L.append("Of the %.0f ns a watched SSL call gains, the programs' run time is at most %.0f ns (bpf_stats, "
                     "which adds its own clock reads); the rest, about %.0f ns, is the kernel's uprobe machinery: "
                     "the entry breakpoint's trap and the step over the probed instruction, and the return "
                     "probe's trampoline." % (s["added"], w["bpf_ns_per_call"],
                                                     s["added"] - w["bpf_ns_per_call"]))

    def bp(side, conds):
        rs = [f for c in conds for _, f in tls_int3(tls, side, c)]
        hit = [f for f in rs if f]
        if not hit:
            return "no int3 in any of its %d runs" % len(rs)
        return "int3 at %s in %d of %d runs" % (", ".join(sorted({x for f in hit for x in f})), len(hit), len(rs))

    L.append("Breakpoints: at the end of each loop the process reads the first byte of %s in its own memory "
             "(bench/tls_loop.py); where a uprobe is bound to the process that byte is an int3. With the observer: "
             "the unwatched process: %s; the watched worker: %s. With no observer (both runs): the unwatched "
             "process: %s; the worker: %s." % (
                 ", ".join(tls_loop.PROBED), bp("unwatched", ["observer"]), bp("watched", ["observer"]),
                 bp("unwatched", ["none", "none-again"]), bp("watched", ["none", "none-again"])))
    return L


def tls_targets(tls, target, beside):
    if not tls or tls.get("error"):
        return
    ts = tls_summary(tls)
    s = ts.get(("unwatched", "observer"))
    if s:
        noise = tls_noise(ts, "unwatched")
        aa = ts.get(("unwatched", "none-again"))
        target("unwatched process's SSL calls (tls_loop.py) with the observer probing the same libssl for a TLS "
               "Gunicorn, data plane %s: CPU per SSL call" % tls["plane"],
               "%.3f x (rounds %.3f-%.3f; %.1f ns, %+.1f ns)%s" % (
                   s["ratio"], s["ratio_min"], s["ratio_max"], s["ns"], s["added"],
                   "; A/A %.3f (%.3f-%.3f)" % (aa["ratio"], aa["ratio_min"], aa["ratio_max"]) if aa else ""),
               "1.00 +- %.3f (A/A noise, at least 0.02)" % noise, s["ratio"] <= 1 + noise)
        beside("unwatched process's SSL_write calls per second, data plane %s" % tls["plane"],
               "%.3f x no observer (%.0f/s)" % (s["wps_ratio"], s["wps"]))
    st = tls.get("stats")
    if st:
        u = st["unwatched"]
        target("observer's ssl_ program runs during the unwatched process's SSL calls, data plane %s"
               % tls["plane"], "%d in %d calls" % (u["ssl_runs"], u["calls"]), "0", u["ssl_runs"] == 0)
    bp = tls_int3(tls, "unwatched", "observer")
    if bp:
        hit = [(i, f) for i, f in bp if f]
        target("breakpoints (int3) in the unwatched process's memory with the observer on, data plane %s"
               % tls["plane"], "%d of %d rounds%s" % (len(hit), len(bp), ": " + "; ".join(
                   "round %d %s" % (i, "+".join(f)) for i, f in hit) if hit else ""), "0", not hit)
    s = ts.get(("watched", "observer"))
    if s:
        beside("watched Gunicorn worker's SSL calls with the observer, data plane %s (for reference)" % tls["plane"],
               "%+.1f ns per SSL call (%.3f x; rounds %+.1f to %+.1f ns)%s" % (
                   s["added"], s["ratio"], s["added_min"], s["added_max"],
                   "; %.2f probe runs per call" % st["watched"]["runs_per_call"] if st else ""))
        if st:
            target("probes hit in the watched worker (runs per SSL call, entry + return), data plane %s"
                   % tls["plane"], "%.2f" % st["watched"]["runs_per_call"], "> 0",
                   st["watched"]["runs_per_call"] > 0)


def write_benchmarks_md(path, text):
    """BENCHMARKS.md: the hand-written bench/preamble.md, then the results."""
    with open(os.path.join(HERE, "preamble.md")) as f:
        pre = f.read().rstrip("\n")
    rel = os.path.relpath(os.path.join(HERE, "results.png"), os.path.dirname(os.path.abspath(path)))
    with open(path, "w") as f:
        f.write(pre + "\n\n## Results\n\n" + text.rstrip("\n") + "\n\n![throughput and p99 latency](%s)\n" % rel)


# ---------------------------------------------------------------- report


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    osname = "?"
    try:
        with open("/etc/os-release") as f:
            osname = re.search(r'PRETTY_NAME="([^"]*)"', f.read()).group(1)
    except (OSError, AttributeError):
        pass
    gver = subprocess.run([GUNICORN, "--version"], capture_output=True, text=True).stdout.strip()
    wver = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    pver = subprocess.run([PY, "-c", "import prometheus_client, sys; print(sys.version.split()[0], "
                           "prometheus_client.__version__ if hasattr(prometheus_client, '__version__') else '')"],
                          capture_output=True, text=True).stdout.strip()
    return ("%s, %d CPUs, %d MiB RAM; %s, kernel %s; %s; %s; Python %s"
            % (cpu, os.cpu_count(), mem, osname, platform.release(), gver, wver, pver))


def foreign_progs():
    """Ids of loaded BPF programs named like the observer's that no observer
    of ours holds: another observer's, running or pinned."""
    ours = {i for p in started for i in prog_ids(p.pid)}
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True).stdout
    try:
        progs = json.loads(out or "[]")
    except ValueError:
        return []
    return sorted(p["id"] for p in progs if p.get("name") in OUR_PROG_NAMES and p["id"] not in ours)


def foreign_holders(ids):
    """'pid command' of the processes that hold programs with these ids."""
    want, out = set(ids), []
    for d in os.listdir("/proc"):
        if d.isdigit() and want & set(prog_ids(int(d))):
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            out.append("%s %s" % (d, cmd[:80]))
    return "; ".join(out)


def others():
    """Processes not started by us that would skew the numbers."""
    ours = {p.pid for p in started}
    obs = [int(x) for x in subprocess.run(["pgrep", "-x", "gunicorn-observ"], capture_output=True,
                                          text=True).stdout.split() if int(x) not in ours]
    gun = len(subprocess.run(["pgrep", "-f", "/gunicorn( |$)"], capture_output=True, text=True).stdout.split())
    return obs, gun


def load_summary(args, runs):
    """Per (workload, configuration): medians, min, max and the median (min,
    max) of the per-round ratios to that round's baseline."""
    summary = {}
    metrics = (("rps", lambda r: r["wrk"]["rps"]), ("p50", lambda r: r["wrk"]["p50_us"] / 1e3),
               ("p99", lambda r: r["wrk"]["p99_us"] / 1e3), ("cpu", lambda r: r["worker_cpu_us_per_req"]),
               ("wrkcpu", lambda r: r["wrk_cpu_us_per_req"]))
    for wl in args.workloads:
        base = {r["round"]: r for r in runs if r["workload"] == wl and r["config"] == "baseline"}
        for cfg in CONFIGS:
            rs = [r for r in runs if r["workload"] == wl and r["config"] == cfg]
            if not rs:
                continue
            s = {}
            for key, f in metrics:
                s[key] = med([f(r) for r in rs])
                s[key + "_min"] = min(f(r) for r in rs)
                s[key + "_max"] = max(f(r) for r in rs)
                ratios = [f(r) / f(base[r["round"]]) for r in rs if r["round"] in base and f(base[r["round"]])]
                s[key + "_ratio"] = med(ratios)
                s[key + "_ratio_min"] = min(ratios) if ratios else float("nan")
                s[key + "_ratio_max"] = max(ratios) if ratios else float("nan")
            if all("counted" in r for r in rs):
                s["counted"] = "%d / %d" % (sum(r["counted"] for r in rs), sum(r["log_total"] for r in rs))
            summary[(wl, cfg)] = s
    return summary


def observer_summary(args, runs):
    """Per (workload, data plane): the observer's figures. BPF time and runs
    from the observer+bpf_stats runs (None without them), the rest from the
    observer runs (or the bpf_stats ones without them)."""
    out = {}
    for wl in args.workloads:
        for plane in args.planes:
            rs = [r for r in runs if r["workload"] == wl and r["config"] == "observer/" + plane]
            st = [r for r in runs if r["workload"] == wl and r["config"] == "observer+bpf_stats/" + plane]
            both = rs + st
            if not both:
                continue
            rs = rs or st
            scr = [t for r in rs for t in r["scrape_ms"]] or [0]
            progs = {}
            for r in st:
                for name, (ns, cnt) in r["progs"].items():
                    p = progs.setdefault(name, [0, 0])
                    p[0] += ns
                    p[1] += cnt
            out[(wl, plane)] = {
                "bpf": med([r["bpf_ns_per_req"] for r in st]) if st else None,
                "bpf_max": max(r["bpf_ns_per_req"] for r in st) if st else None,
                "runs": med([sum(p[1] for p in r["progs"].values()) / max(1, r["log_run"]) for r in st])
                if st else None,
                "cpu": med([r["obs_cpu_pct"] for r in rs]), "cpu_max": max(r["obs_cpu_pct"] for r in rs),
                "cpu_s": med([r["obs_cpu_s"] for r in rs]), "cpu_s_max": max(r["obs_cpu_s"] for r in rs),
                "hwm": max(r["obs_hwm_kib"] for r in rs) / 1024,
                "start_hwm": max(r["obs_start_hwm_kib"] for r in rs) / 1024,
                "scrape": med(scr), "scrape_max": max(scr),
                "lost": sum(r["lost"] for r in both), "lost_runs": sum(1 for r in both if r["lost"] != 0),
                "nruns": len(both), "wrkdiff": [-r["wrk_vs_log"] for r in both],
                "dropped": sum(r["dropped"] for r in both), "aborted": sum(r["aborted"] for r in both),
                "progs": progs, "requests": sum(r["log_run"] for r in st)}
    return out


def fmt(v, f="%.0f", none="-"):
    return none if v is None else f % v


def load_tables(args, runs, summary, obs):
    L = ["| workload | configuration | data plane | req/s | x baseline | p50 ms | x baseline | p99 ms | "
         "x baseline | worker CPU us/request | x baseline | min-max | wrk CPU us/request | x baseline | "
         "counted / access log |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for (wl, cfg), s in summary.items():
        L.append("| %s | %s | %s | %.0f | %.3f | %.2f | %.2f | %.2f | %.2f | %.1f | %.3f | %s | %.1f | %.2f | "
                 "%s |" % (
                     wl, "baseline again (A/A)" if cfg == "baseline-again" else cfg_base(cfg), plane_label(cfg),
                     s["rps"], s["rps_ratio"], s["p50"], s["p50_ratio"],
                     s["p99"], s["p99_ratio"], s["cpu"], s["cpu_ratio"],
                     "%.3f-%.3f" % (s["cpu_ratio_min"], s["cpu_ratio_max"]) if cfg != "baseline" else "",
                     s["wrkcpu"], s["wrkcpu_ratio"], s.get("counted", "")))
    L += ["", "Worker CPU: the CPU time of the Gunicorn worker processes (sum_exec_runtime of every thread, "
          "/proc/PID/task/*/schedstat; the master left out) over the measured run, per access-log line; it "
          "includes what the observer's programs take in the workers' syscalls. wrk CPU: the client's "
          "utime+stime (wait4) per request: a process the observer does not watch."]
    if obs:
        L += ["", "Observer, per workload and data plane (median over rounds; max in brackets). BPF time from "
              "the observer+bpf_stats runs (it includes the accounting's own clock reads), the rest from the "
              "observer runs; lost and wrk - access log over both:", "",
              "| workload | data plane | BPF ns/request | BPF runs/request | observer CPU s (/proc/PID/stat) | "
              "CPU % of a core (schedstat) | peak RSS MiB in the run | start-up peak RSS MiB | "
              "scrape ms (1/s, under load) | lost (access log - observer) | aborted (client gone) | "
              "wrk - access log, per run |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for (wl, plane), o in obs.items():
            L.append("| %s | %s | %s (%s) | %s | %.2f (%.2f) | %.2f (%.2f) | %.1f | %.1f | %.2f (%.2f) | "
                     "%d in %d runs | %d | %s |" % (
                         wl, plane, fmt(o["bpf"]), fmt(o["bpf_max"]), fmt(o["runs"], "%.1f"), o["cpu_s"],
                         o["cpu_s_max"], o["cpu"], o["cpu_max"], o["hwm"], o["start_hwm"], o["scrape"],
                         o["scrape_max"], o["lost"], o["nruns"], o["aborted"],
                         " ".join("%+d" % d for d in o["wrkdiff"])))
        if any(o["progs"] for o in obs.values()):
            L += ["", "BPF programs, ns and runs per request (all rounds), top 8 per workload and data plane:", "",
                  "| workload | data plane | program | ns/request | runs/request | ns/run |",
                  "|---|---|---|---:|---:|---:|"]
            for (wl, plane), o in obs.items():
                top = sorted(o["progs"].items(), key=lambda kv: -kv[1][0])[:8]
                for name, (ns, cnt) in top:
                    L.append("| %s | %s | %s | %.0f | %.2f | %.0f |" % (
                        wl, plane, name, ns / max(1, o["requests"]), cnt / max(1, o["requests"]),
                        ns / max(1, cnt)))
    prom = [t for r in runs if r["config"] == "prometheus_client" for t in r.get("scrape_ms", [])]
    if prom:
        L += ["", "prometheus_client's multiprocess /metrics (served by the master; no observer) under the same "
              "load: scrape median %.2f ms, max %.2f ms." % (med(prom), max(prom))]
    statsd = [r for r in runs if r["config"] == "statsd"]
    if statsd:
        L.append("statsd sink (no observer): %d gunicorn.requests increments received for %d access log lines "
                 "(UDP: a loss would not be retried)." % (
                     sum(r["counted"] for r in statsd), sum(r["log_total"] for r in statsd)))
    return L


def scale_table(args, scales):
    L = ["Scale (idle sync masters x workers, booted once, the observer with each data plane in turn; %d "
         "scrapes 20 ms apart, after 3 not counted; client time is connect to last byte):" % args.scrapes, "",
         "| masters x workers | data plane | tracked workers | scrape median ms (client) | max | median ms (self) | "
         "max | us per worker | exposition bytes | series | RSS MiB | peak RSS MiB while scraped | "
         "start-up peak RSS MiB | kernel MiB |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scales:
        L.append("| %dx%d | %s | %d | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %d | %.1f | %.1f | %.1f | %s |" % (
            s["masters"], s["workers"], s.get("plane", "-"), int(s["tracked"] or 0), med(s["client_ms"]),
            max(s["client_ms"]), med(s["self_ms"]), max(s["self_ms"]), med(s["client_ms"]) * 1e3 / s["total"],
            s["bytes"], s["series"], s["rss_kib"] / 1024, s["hwm_kib"] / 1024, s["start_hwm_kib"] / 1024,
            "%.2f" % (s["kernel_bytes"] / 1048576) if "kernel_bytes" in s else "-"))
    return L


def targets(args, summary, obs, scales, by, mem=None, tls=None):
    T = ["| target | measured | limit | result |", "|---|---|---|---|"]

    def target(what, measured, limit, ok):
        T.append("| %s | %s | %s | %s |" % (what, measured, limit, "PASS" if ok else "FAIL"))

    def beside(what, measured):
        T.append("| %s | %s | - | - |" % (what, measured))

    planes = args.planes
    for plane in planes:
        for wl in args.workloads:
            s = summary.get((wl, "observer/" + plane))
            aa = summary.get((wl, "baseline-again"))
            if s:
                target("throughput with the observer, %s, data plane %s" % (wl, plane),
                       "%.3f x baseline%s" % (s["rps_ratio"], "; A/A %.3f (%.3f-%.3f)" % (
                           aa["rps_ratio"], aa["rps_ratio_min"], aa["rps_ratio_max"]) if aa else ""),
                       ">= 0.99", s["rps_ratio"] >= 0.99)
    for plane in planes:
        for wl in args.workloads:
            s = summary.get((wl, "observer/" + plane))
            if not s:
                continue
            m = "%.3f x baseline (rounds %.3f-%.3f)" % (s["cpu_ratio"], s["cpu_ratio_min"], s["cpu_ratio_max"])
            aa = summary.get((wl, "baseline-again"))
            if aa:
                m += "; A/A %.3f (%.3f-%.3f)" % (aa["cpu_ratio"], aa["cpu_ratio_min"], aa["cpu_ratio_max"])
            what = "Gunicorn worker CPU per request with the observer, %s, data plane %s" % (wl, plane)
            if plane == "socket":
                target(what, m, "<= 1.01", s["cpu_ratio"] <= 1.01)
            else:
                beside(what + " (for reference)", m)
    if by:
        bs = bystander_summary(by)
        for plane in planes:
            for t in BYSTANDER_TYPES:
                s = bs.get((plane, t))
                if not s:
                    continue
                noise = bystander_noise(bs, t)
                m = "%.3f x (rounds %.3f-%.3f)" % (s["ratio"], s["ratio_min"], s["ratio_max"])
                what = "bystander (unwatched process) %s, data plane %s" % (BYSTANDER_WHAT[t], plane)
                if plane in ("socket", "fentry"):
                    # one-sided: a ratio below the band is noise, not a cost
                    target(what, m, "1.00 +- %.3f (A/A noise, at least 0.02)" % noise, s["ratio"] <= 1 + noise)
                else:
                    beside(what + " (for reference)", m)
    tls_targets(tls, target, beside)
    for wl in args.workloads:
        for cfg in ("prometheus_client", "statsd"):
            s = summary.get((wl, cfg))
            if s:
                beside("throughput with %s, %s (no observer; beside it)" % (cfg, wl),
                       "%.3f x baseline; worker CPU %.3f x" % (s["rps_ratio"], s["cpu_ratio"]))
    for (wl, plane), o in obs.items():
        if o["bpf"] is not None:
            target("BPF time per request, %s, data plane %s" % (wl, plane), "%.0f ns" % o["bpf"], "<= 500 ns",
                   o["bpf"] <= 500)
    for plane in planes:
        hwm = [o["hwm"] for (wl, p), o in obs.items() if p == plane] + [
            s["hwm_kib"] / 1024 for s in scales if s.get("plane") == plane]
        if hwm:
            target("observer peak RSS while serving (load runs, scale scrapes), data plane %s" % plane,
                   "%.1f MiB" % max(hwm), "<= 16 MiB", max(hwm) <= 16)
        hwm = [o["start_hwm"] for (wl, p), o in obs.items() if p == plane] + [
            s["start_hwm_kib"] / 1024 for s in scales if s.get("plane") == plane]
        if hwm:
            # the target is the running observer's; the start-up peak is reported beside it
            T.append("| observer peak RSS at start-up (BPF load, /proc scan), data plane %s; beside it | %.1f MiB "
                     "| - | %s |" % (plane, max(hwm), "within 16 MiB" if max(hwm) <= 16 else
                                     "above 16 MiB: the kernel BTF parse while loading (see the floors below)"))
    for (wl, plane), o in obs.items():
        target("observer CPU at saturation, %s, data plane %s" % (wl, plane),
               "%.2f %% (max %.2f %%)" % (o["cpu"], o["cpu_max"]), "<= 1 % of a core", o["cpu"] <= 1.0)
    for plane in planes:
        sc = [s for s in scales if s.get("plane") == plane]
        big = [s for s in sc if s["total"] >= 256]
        if big:
            s = big[0]  # the smallest at or above 256 workers: the target's
            target("scrape at %d workers (client, median), data plane %s" % (s["total"], plane),
                   "%.2f ms (max %.2f ms)" % (med(s["client_ms"]), max(s["client_ms"])), "<= 10 ms",
                   med(s["client_ms"]) <= 10)
        if len(sc) > 1:
            per = [med(s["client_ms"]) / s["total"] for s in sc]
            ok = all(per[i + 1] <= per[i] * 1.1 for i in range(len(per) - 1))
            target("scrape cost growth (time per worker must not rise, 10 %% slack), data plane %s" % plane,
                   " -> ".join("%.1f us" % (p * 1e3) for p in per), "<= linear", ok)
    for plane in planes:
        os_ = [o for (wl, p), o in obs.items() if p == plane]
        if os_:
            lost = sum(o["lost"] for o in os_)
            dropped = sum(o["dropped"] for o in os_)
            target("requests lost (access log - observer, every run), data plane %s" % plane,
                   "%d (events dropped: %d)" % (lost, dropped), "0",
                   lost == 0 and all(o["lost_runs"] == 0 for o in os_))
    mem = mem or {}
    for what, measured, limit, ok in memory.targets(mem.get("counters"), mem.get("node"), mem.get("cpus"),
                                                    host_memory(scales)):
        if ok is None:
            beside(what, measured)
        else:
            target(what, measured, limit, ok)
    if len(T) > 2:
        T += ["", "A/A: in the same rounds, the second baseline run's ratio to the first (load), or the second "
              "no-observer bystander run's to the first: what noise alone gives. The bystander target is 1.00 "
              "within that band (at least 2 %%); a ratio below it is noise, not a cost, and passes%s." % (
                  "; so is the TLS unwatched process's" if tls and tls.get("rounds") else "")]
    return T


def plane_lines(meta):
    L = []
    for plane, i in meta.get("planes", {}).items():
        if not i["ok"]:
            L.append("WARNING: data plane %s left out of this run: %s." % (plane, i["why"]))
        elif i.get("forced"):
            L.append("WARNING: data plane %s measured with --force-planes although %s: its figures may be "
                     "another plane's." % (plane, i["forced"]))
    desc = ["%s (%s; %d programs: %s)" % (
        plane, "the observer logs `data plane: %s`" % i["logged"] if i.get("logged") else
        i.get("note", "the observer logs no data plane"),
        len(i["progs"]), ", ".join("%s %d" % kv for kv in sorted(i["types"].items())))
        for plane, i in meta.get("planes", {}).items() if i["ok"]]
    if desc:
        L.append("Data planes measured: %s. Every figure below names its plane; \"none (no observer)\" is a "
                 "configuration without the observer." % "; ".join(desc))
    return L


def host_memory(scales):
    """This host's kernel memory figure, from the last scale run that has one."""
    sc = [s for s in scales or [] if s.get("kernel_maps")]
    if not sc:
        return None
    return {"cpus": os.cpu_count(), "kernel": platform.release(), "maps": sc[-1]["kernel_maps"],
            "total": sc[-1]["kernel_bytes"]}


def memory_lines(mem, scales):
    L = []
    for part in (memory.counter_lines(mem.get("counters")), memory.cpu_lines(mem.get("cpus") or [],
                                                                          host_memory(scales)),
                 memory.full_node_lines(mem.get("node"))):
        if part:
            L += [""] + part
    return L


def report(args, runs, scales, meta, floors=None, by=None, mem=None, tls=None):
    summary = load_summary(args, runs)
    obs = observer_summary(args, runs)
    L = ["Machine: " + meta["machine"],
         "Command: %s (%s, observer %s)" % (meta["command"], meta["date"], meta["version"]),
         "Load average before the run: %s, after: %s; other gunicorn-observer processes at the start: %s, "
         "at the end: %s; other gunicorn processes at the start: %d" % (
             meta["load"], meta["load_after"], meta["others"] or "none", meta["others_after"] or "none",
             meta["other_gunicorns"])]
    L += plane_lines(meta)
    foreign = [r["foreign_ns_per_req"] for r in runs if "foreign_ns_per_req" in r]
    nforeign = sum(1 for r in runs if r.get("foreign_progs"))
    if nforeign:
        holders = sorted({h for r in runs for h in r.get("foreign_holders", "").split("; ") if h})
        L.append("WARNING: programs of another gunicorn-observer were attached during %d of %d load runs "
                 "(%s); the figures below are not those of a quiet host." % (
                     nforeign, len(runs), "held by: " + "; ".join(holders[:6]) if holders else "pinned"))
    if foreign:
        L.append("WARNING: the BPF programs of gunicorn-observers not started by the benchmark ran in every "
                 "configuration: %.0f ns per request (median over all runs) of run time, plus the syscall "
                 "tracepoint path they enable for every process." % med(foreign))
    if runs:
        L += ["Load: wrk -t1 -c%d, %d s per run after a %d s warm-up, %d rounds of %s in turn (the order "
              "rotated by one each round), each run on a fresh Gunicorn with 2 workers and its access log "
              "on; %s; medians quoted, ratios are the median of the per-round ratios to that round's "
              "baseline." % (args.connections, args.duration, args.warmup, args.rounds, " / ".join(CONFIGS),
                             "Gunicorn on CPU %s and wrk on CPU %s (taskset)" % (args.gunicorn_cpus, args.wrk_cpus)
                             if args.gunicorn_cpus else "no CPU pinning"), ""]
        L += load_tables(args, runs, summary, obs)
    bl = bystander_lines(by, args.planes)
    if bl:
        L += [""] + bl
    tl = tls_lines(tls)
    if tl:
        L += [""] + tl
    if scales:
        L += [""] + scale_table(args, scales)
    L += memory_lines(mem or {}, scales)
    L += [""] + targets(args, summary, obs, scales, by, mem, tls)
    fl = floor_lines(floors, obs)
    if fl:
        L += [""] + fl
    return "\n".join(L) + "\n", summary


def plot(args, summary, out):
    cfgs = [c for c in CONFIGS if cfg_base(c) in PLOT_BASES]
    dat = os.path.join(out, "results.dat")
    with open(dat, "w") as f:
        f.write("# workload, then per configuration (%s): req/s median min max, then p99 ms median min max, "
                "then worker CPU us/request median min max\n" % " ".join(cfgs))
        for wl in args.workloads:
            row = [wl]
            for keys, form in ((("rps", "rps_min", "rps_max"), "%.1f"), (("p99", "p99_min", "p99_max"), "%.3f"),
                               (("cpu", "cpu_min", "cpu_max"), "%.2f")):
                for cfg in cfgs:
                    s = summary.get((wl, cfg), {})
                    row += [form % s.get(k, 0) for k in keys]
            f.write(" ".join(row) + "\n")
    png = os.path.join(out, "results.png")
    titles = " ".join(c.replace("observer/", "observer-") for c in cfgs)
    r = subprocess.run(["gnuplot", "-e", "dat='%s'; png='%s'; n=%d; titles='%s'" % (dat, png, len(cfgs), titles),
                        os.path.join(HERE, "results.gp")], capture_output=True, text=True)
    if r.returncode != 0:
        die("gnuplot failed: " + r.stderr)
    return png


def wall_line(meta):
    return "\nWall time of the benchmark: %.0f s (%s).\n" % (
        meta["wall_s"], ", ".join("%s %.0f s" % kv for kv in meta.get("phase_s", {}).items()))


def report_again(args):
    """--report-from: the report of a run, from its results.json."""
    with open(args.report_from) as f:
        d = json.load(f)
    for k, v in d["meta"]["args"].items():
        setattr(args, k, v)
    CONFIGS[:] = d["meta"]["configs"]
    out = args.out or os.path.dirname(os.path.abspath(args.report_from))
    os.makedirs(out, exist_ok=True)
    text, summary = report(args, d["runs"], d["scale"], d["meta"], d.get("floors"), d.get("bystander"),
                           d.get("memory"), d.get("tls"))
    text += "\n".join(against.table(d.get("against"))) + ("\n" if d.get("against") else "")
    text += wall_line(d["meta"])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    if d["runs"]:
        plot(args, summary, out)
    if out == HERE and d["runs"] and d["scale"] and not args.quick:
        write_benchmarks_md(args.benchmarks_md, text)
        say("written: " + args.benchmarks_md)
    say(text)
    say("results (from %s): %s/results.md%s" % (args.report_from, out, ", results.dat, results.png"
                                                 if d["runs"] else ""))


# ---------------------------------------------------------------- main


def main():
    global stats_restore
    ap = argparse.ArgumentParser(description="gunicorn-observer benchmark")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 3 s, small scale: for development")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=8, help="seconds of measured load per run")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--scrapes", type=int, default=100)
    ap.add_argument("--workloads", default="sync,gthread")
    ap.add_argument("--configs", default=",".join(BASE_CONFIGS),
                    help="a subset of the configurations, for development (baseline is always run); "
                    "observer and observer+bpf_stats run once per data plane (or name one: observer/socket)")
    ap.add_argument("--planes", default=",".join(PLANES),
                    help="the observer's data planes to measure (--data-plane); one that does not start, or "
                    "does not say it runs that plane, is left out with a warning in the report")
    ap.add_argument("--force-planes", action="store_true",
                    help="measure a plane that starts even when the observer does not confirm it (for testing "
                    "the benchmark; flagged in the report)")
    ap.add_argument("--no-bystander", action="store_true", help="skip the bystander (unwatched process) figures")
    ap.add_argument("--bystander-rounds", type=int, default=5)
    ap.add_argument("--bystander-reps", type=int, default=5, help="repetitions of each loop, the best kept")
    ap.add_argument("--bystander-loops", type=int, default=300000, help="calls per loop (send+recv: a quarter)")
    ap.add_argument("--no-tls", action="store_true",
                    help="skip the TLS figures (the observer's uprobes on OpenSSL: an unwatched process's SSL "
                    "calls, and a watched TLS Gunicorn worker's)")
    ap.add_argument("--tls-rounds", type=int, default=5)
    ap.add_argument("--tls-reps", type=int, default=5, help="repetitions of each TLS loop, the best kept")
    ap.add_argument("--tls-loops", type=int, default=100000,
                    help="iterations (SSL_write_ex + SSL_read_ex) per repetition in the unwatched process")
    ap.add_argument("--tls-n", type=int, default=20000,
                    help="iterations per repetition in the watched worker (GET /sslloop?n=N)")
    ap.add_argument("--only", metavar="SECTIONS",
                    help="run only these sections, comma-separated among %s (e.g. --only tls); the results go "
                    "to a temporary directory unless --out is given" % ",".join(SECTIONS))
    ap.add_argument("--cpus", default="auto",
                    help="GUNICORN_CPUS:WRK_CPUS for taskset in the load runs (auto: 0:1 on a host with 2 or "
                    "more CPUs, so that wrk and Gunicorn never share one; none: no pinning)")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-memory", action="store_true", help="skip the counter, guest and full-node figures")
    ap.add_argument("--vm-cpus", default="2,64,192",
                    help="vCPU counts of the guests whose kernel memory is measured (none: no guest)")
    ap.add_argument("--scales", help="MASTERSxWORKERS,... instead of %s" % ",".join("%dx%d" % s for s in SCALES))
    ap.add_argument("--no-load", action="store_true")
    ap.add_argument("--against", metavar="BINARY",
                    help="also scrape beside this other gunicorn-observer build (e.g. the previous release), "
                         "interleaved, at 8x32 workers: CPU per scrape, this build over that one")
    ap.add_argument("--observer", default=os.path.join(ROOT, "build", "gunicorn-observer"))
    ap.add_argument("--out", help="where results.md/.dat/.png go (default: bench/, a temporary one with --quick)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--allow-others", action="store_true",
                    help="run even when another gunicorn-observer's programs are attached (their cost is "
                    "then in every configuration, baseline included; it is measured and flagged)")
    ap.add_argument("--benchmarks-md", default=os.path.join(ROOT, "BENCHMARKS.md"),
                    help="written from bench/preamble.md and the results by a full run (not --quick)")
    ap.add_argument("--profile", action="store_true",
                    help="only profile with perf: a sync run with the observer, and scrapes of 8x32 workers")
    ap.add_argument("--report-from", metavar="RESULTS.JSON",
                    help="measure nothing: write results.md, .dat and .png again from a run's results.json "
                    "(into --out, else beside it)")
    args = ap.parse_args()
    if args.report_from:
        report_again(args)
        return
    if args.only:
        only = [x for x in args.only.split(",") if x]
        if not only or set(only) - set(SECTIONS):
            die("--only %s: choose among %s" % (args.only, ",".join(SECTIONS)))
        args.no_bystander, args.no_load = "bystander" not in only, "load" not in only
        args.no_scale, args.no_tls, args.no_memory = "scale" not in only, "tls" not in only, "memory" not in only
        args.no_floors = "floors" not in only
    else:
        args.no_floors = False
    args.workloads = args.workloads.split(",")
    args.planes = [p for p in args.planes.split(",") if p]
    if set(args.planes) - set(PLANES) or not args.planes:
        die("--planes: choose among %s" % ",".join(PLANES))
    wanted = args.configs.split(",")
    unknown = set(wanted) - set(BASE_CONFIGS) - set(expand_configs(BASE_CONFIGS, PLANES))
    if unknown:
        die("--configs: unknown %s; choose among %s (or observer/PLANE...)" % (
            ", ".join(sorted(unknown)), ",".join(BASE_CONFIGS)))
    if args.cpus == "auto":
        args.cpus = "0:1" if (os.cpu_count() or 1) >= 2 else "none"
    if args.cpus == "none":
        args.gunicorn_cpus = args.wrk_cpus = None
    elif re.fullmatch(r"[0-9,-]+:[0-9,-]+", args.cpus):
        args.gunicorn_cpus, args.wrk_cpus = args.cpus.split(":")
    else:
        die("--cpus %s: give GUNICORN_CPUS:WRK_CPUS (taskset lists, e.g. 0:1), auto or none" % args.cpus)
    scales = SCALES
    if args.quick:
        args.rounds, args.duration, args.scrapes = 2, 3, 20
        args.bystander_rounds, args.bystander_reps, args.bystander_loops = 2, 3, 100000
        args.tls_rounds, args.tls_reps, args.tls_loops, args.tls_n = 2, 3, 30000, 10000
        scales = [(1, 8), (2, 8)]
    if args.quick and args.vm_cpus == "2,64,192":
        args.vm_cpus = "2,8"
    args.vm_cpus = [] if args.vm_cpus == "none" else [int(x) for x in args.vm_cpus.split(",")]
    if args.scales:
        try:
            scales = [tuple(int(x) for x in s.split("x")) for s in args.scales.split(",")]
        except ValueError:
            die("--scales %s: give MASTERSxWORKERS pairs, e.g. 8x32,20x50" % args.scales)
    args.bystander_cpus = args.wrk_cpus
    if os.geteuid() != 0:
        die("must run as root (BPF, bpf_stats_enabled)")
    for tool in ("wrk", "gnuplot", "bpftool", "pgrep", "clang", "gcc", "taskset"):
        if not shutil.which(tool):
            die("%s not found: run `make bench`, which installs it" % tool)
    if not os.access(args.observer, os.X_OK):
        die("observer binary not found at %s: run `make`" % args.observer)
    workdir = tempfile.mkdtemp(prefix="gobs-bench.")
    if args.profile:
        args.keep = True
    # --quick: the results in a temporary directory of their own, kept (the work directory is not)
    # --only: a part of the figures, which must not replace a full run's
    out = args.out or (workdir if args.profile else tempfile.mkdtemp(prefix="gobs-bench-results.")
                       if args.quick or args.only else HERE)
    os.makedirs(out, exist_ok=True)
    # a copy: a rebuild during the run must not change what is measured
    binary = os.path.join(workdir, "gunicorn-observer")
    shutil.copy2(args.observer, binary)
    args.observer = binary
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with open(STATS_SYSCTL) as f:
        stats_restore = f.read()
    set_bpf_stats("0")  # on only for the measured part of the observer+bpf_stats runs

    global NO_PIN, HAS_PLANE
    helptext = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    NO_PIN = "--no-pin" in helptext
    HAS_PLANE = "--data-plane" in helptext
    if not HAS_PLANE:
        say("bench: this observer has no --data-plane: measuring its only plane, syscall tracepoints")
        args.planes = ["syscall"]
    other_obs, other_gun = others()
    foreign = foreign_progs()
    if (other_obs or foreign) and not args.allow_others:
        pins = sorted({os.path.dirname(d) for d in glob.glob("/sys/fs/bpf/*/links-*")})
        die("another gunicorn-observer is running (pids: %s; %d BPF programs named like ours, pinned ones "
            "included%s): its programs would run in every configuration, baseline included. Stop it (pinned "
            "programs: gunicorn-observer cleanup --pin-dir DIR), or pass --allow-others to measure anyway "
            "with its cost reported" % (" ".join(map(str, other_obs)) or "none", len(foreign),
                                        "; pin directories: " + " ".join(pins) if pins else ""))
    if os.environ.get("GOBENCH_MAKE"):
        command = "make bench" + (" BENCH_ARGS='%s'" % os.environ["BENCH_ARGS"] if os.environ.get("BENCH_ARGS")
                                  else "")
    else:
        command = "bench/bench.py " + " ".join(sys.argv[1:])
    meta = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": command.strip(),
            "version": subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip(),
            "load": open("/proc/loadavg").read().split(" ")[:3], "others": other_obs,
            "other_gunicorns": other_gun}
    meta["load"] = " ".join(meta["load"])
    say("bench: %s" % meta["machine"])
    say("bench: load average %s; other gunicorn-observer pids: %s; other gunicorn processes: %d"
        % (meta["load"], other_obs or "none", other_gun))
    if other_obs or foreign:
        say("bench: WARNING: another gunicorn-observer is running (%d BPF programs): they also run on the "
            "syscalls of every configuration, baseline included; their time per request is reported"
            % len(foreign))
    t_start = time.monotonic()
    if args.profile:
        if not shutil.which("perf"):
            die("perf not found: install linux-perf (Debian) or linux-tools-$(uname -r) (Ubuntu)")
        run_profile(args, workdir, out)
        return
    phases = meta["phase_s"] = {}

    def phase(name, t0):
        phases[name] = round(time.monotonic() - t0, 1)
        say("   (%s: %.0f s)" % (name, phases[name]))

    tp = time.monotonic()
    floors = None
    if not args.no_floors:
        say("== floors: bench/floor.c, bench/btf_peak.c")
    if not (args.no_floors and args.no_bystander and args.no_memory):
        build_tools(workdir)
    if not args.no_floors:
        floors = measure_floors(workdir)
    say("== data planes: %s" % ", ".join(args.planes))
    meta["planes"], args.planes = preflight(args, workdir)
    foreign = foreign_progs()  # again, with the names of our socket plane's programs learnt
    if foreign and not args.allow_others:
        die("%d loaded BPF programs are named like the observer's and are not ours (%s): another observer's, "
            "running or pinned. Stop it (gunicorn-observer cleanup --pin-dir DIR for pinned ones), or pass "
            "--allow-others" % (len(foreign), ", ".join(sorted({p.get("name", "?") for p in prog_show(foreign)}))))
    CONFIGS[:] = [c for c in expand_configs(BASE_CONFIGS, args.planes)
                  if c == "baseline" or c in wanted or cfg_base(c) in wanted]
    phase("floors and data planes", tp)
    by = None
    if not args.no_bystander and args.planes:
        tp = time.monotonic()
        say("== bystander: bench/bystander.c, %d rounds of no observer, %s and no observer again, rotated" % (
            args.bystander_rounds, " and ".join(args.planes)))
        by = run_bystander(args, workdir, args.planes)
        phase("bystander", tp)
    tls = None
    if not args.no_tls and args.planes:
        tp = time.monotonic()
        say("== TLS: bench/tls_loop.py unwatched and in a watched TLS Gunicorn worker, %d rounds of %s, data "
            "plane %s" % (args.tls_rounds, " / ".join(TLS_CONDS), args.planes[0]))
        missing = [t for t in ("curl", "openssl") if not shutil.which(t)]
        if missing:
            tls = {"error": "%s not found (apt-get install %s)" % (" and ".join(missing), " ".join(missing))}
            say("   TLS: LEFT OUT: " + tls["error"])
        else:
            tls = run_tls(args, workdir, args.planes[0])
        phase("TLS", tp)
    runs = []
    if not args.no_load:
        for wl in args.workloads:
            tp = time.monotonic()
            say("== %s: %d rounds of %s, %d s each" % (wl, args.rounds, " / ".join(CONFIGS), args.duration))
            for rnd in range(1, args.rounds + 1):
                # rotated each round, so that no configuration always runs first
                k = (rnd - 1) % len(CONFIGS)
                for cfg in CONFIGS[k:] + CONFIGS[:k]:
                    runs.append(run_one(args, workdir, wl, cfg, rnd))
                    time.sleep(0.5)
            phase("load, " + wl, tp)
    scale_res = []
    if not args.no_scale and args.planes:
        tp = time.monotonic()
        say("== scale: %s, data planes %s" % (", ".join("%dx%d" % s for s in scales), ", ".join(args.planes)))
        for m, w in scales:
            scale_res += run_scale(args, workdir, m, w)
        phase("scale", tp)
    against_res = None
    if args.against:
        tp = time.monotonic()
        say("== scrape beside %s" % args.against)

        def boot(masters, workers):
            gs = [Gunicorn(workdir, "against-m%d" % i, workers, ["--worker-class", "sync"]) for i in range(masters)]
            for g in gs:
                g.wait_booted(120)
            return gs, lambda: [g.stop() for g in gs]

        against_res = against.run(args, workdir, boot, lambda b, name: Observer(b, workdir, name),
                                  cpu_seconds, timed_get, say)
        phase("scrape beside another build", tp)
    mem = {}
    if not args.no_memory:
        tp = time.monotonic()
        say("== memory: counter updates (bench/counters.c)")
        mem["counters"] = memory.measure_counters(workdir)
        for line in memory.counter_lines(mem["counters"])[4:]:
            say("   " + line)
        if args.vm_cpus:
            say("== memory: kernel memory in guests of %s vCPUs (vm/run.sh)" % ",".join(map(str, args.vm_cpus)))
            mem["cpus"] = memory.run_cpus(args.observer, args.vm_cpus)
            for r in mem["cpus"]:
                say("   %d vCPUs: %s" % (r["smp"], r.get("error") or "%.2f MiB" % (r["total"] / 1048576)))
        say("== memory: full node (integration/test_full_node.sh %s)" % ("--quick" if args.quick else "--full"))
        mem["node"] = memory.run_full_node(args.observer, args.quick)
        say("   " + " ".join(memory.full_node_lines(mem["node"])))
        phase("memory", tp)
    meta["others_after"] = others()[0]
    meta["load_after"] = " ".join(open("/proc/loadavg").read().split(" ")[:3])
    meta["wall_s"] = time.monotonic() - t_start
    meta["args"] = {k: getattr(args, k) for k in REPORT_ARGS}
    meta["configs"] = list(CONFIGS)
    # the raw results first: a report that fails can be made again with --report-from
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs, "scale": scale_res, "bystander": by, "floors": floors,
                   "memory": mem, "against": against_res, "tls": tls}, f, indent=1)
    text, summary = report(args, runs, scale_res, meta, floors, by, mem, tls)
    text += "\n".join(against.table(against_res)) + ("\n" if against_res else "")
    text += wall_line(meta)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    if runs:
        plot(args, summary, out)
    if out == HERE and runs and scale_res and not args.quick:
        write_benchmarks_md(args.benchmarks_md, text)
        say("written: " + args.benchmarks_md)
    say("")
    say(text)
    say("results: %s/results.md, results.json%s" % (out, ", results.dat, results.png" if runs else ""))
    if args.keep:
        say("work directory kept: " + workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
