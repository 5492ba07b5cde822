"""memory.py - the benchmark's memory figures, for bench.py: what one request's
counter updates cost with per-CPU and with shared maps (bench/counters.c),
the kernel memory of the observer's BPF maps against the CPU count (guests
with many vCPUs, vm/run.sh), and a full node (integration/test_full_node.sh
--full: 64 masters x 4 busy workers, then 1000 idle ones)."""
import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ("one_cpu", "two_cpus_two_workers", "two_cpus_one_worker")
CASE_WHAT = {"one_cpu": "one CPU", "two_cpus_two_workers": "two CPUs, two workers",
             "two_cpus_one_worker": "two CPUs, one worker (every update contended)"}
KERNEL_MAX_MIB = 32


def measure_counters(workdir):
    """{program: {case: ns per run}}, from bench/counters.c (built by bench.py's
    build_tools); raises on failure."""
    r = subprocess.run([os.path.join(workdir, "counters"), os.path.join(workdir, "counters.bpf.o")],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("bench/counters.c failed: " + r.stderr.strip())
    out = {}
    for line in r.stdout.splitlines():
        prog, case, ns = line.split()
        out.setdefault(prog, {})[case] = float(ns)
    return out


def counter_cost(c, prog, case):
    """ns of the counter updates alone: the program's run less the empty one's."""
    if case not in c.get(prog, {}) or case not in c.get("empty", {}):
        return None
    return c[prog][case] - c["empty"][case]


def counter_lines(c):
    if not c:
        return []
    L = ["Counter updates of one request in the kernel (bench/counters.c: a worker's lookup, its counters and "
         "three histogram buckets, its status code; BPF_PROG_TEST_RUN, best of 5 x 2M runs, the empty "
         "program's %.0f ns subtracted). Per-CPU hash: one copy per CPU, plain adds; shared hash: one copy, "
         "atomic adds (what the observer uses):" % c["empty"]["one_cpu"], "",
         "| case | per-CPU hash, plain adds (ns) | shared hash, atomic adds (ns) | shared / per-CPU |",
         "|---|---:|---:|---:|"]
    for case in CASES:
        p, s = counter_cost(c, "percpu_plain", case), counter_cost(c, "shared_atomic", case)
        if p is None or s is None:
            continue
        L.append("| %s | %.1f | %.1f | %.2f |" % (CASE_WHAT[case], p, s, s / p if p > 0 else 0))
    L += ["", "The last row is the shared map's worst case, two CPUs writing one worker's cache line without a "
          "pause; what it costs moves from run to run with where the two vCPUs sit. "
          "A worker's counters are written only by that worker's own threads, once per request end, so two "
          "of its requests would have to end within the same ~100 ns to meet there: the BPF time per request "
          "of the gthread load runs above (threads of one worker on two CPUs) is the figure that counts."]
    return L


def run_full_node(observer, quick):
    """integration/test_full_node.sh (--full unless quick): its figures, pass and fail counts, exit code."""
    report = os.path.join("/tmp", "gobs-full-node.%d.json" % os.getpid())
    env = dict(os.environ, OBSERVER=observer)
    env.pop("GUNICORN_OBSERVER_DATA_PLANE", None)
    cmd = ["bash", os.path.join(ROOT, "integration", "test_full_node.sh"), "--quick" if quick else "--full",
           "--report=" + report]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    m = re.search(r"^(\d+) passed, (\d+) failed", r.stdout, re.M)
    res = {"form": cmd[2], "rc": r.returncode, "passed": int(m.group(1)) if m else 0, "failed": int(m.group(2)) if m else 1,
           "fails": [line for line in r.stdout.splitlines() if line.startswith("FAIL:")][:10]}
    try:
        with open(report) as f:
            res.update(json.load(f))
        os.unlink(report)
    except OSError:
        pass
    return res


def full_node_lines(n):
    if not n or "workers" not in n:
        return ["Full node: integration/test_full_node.sh did not finish (exit %s): %s" % (
            n.get("rc") if n else "-", "; ".join(n.get("fails", [])) if n else "")] if n else []
    return ["Full node (integration/test_full_node.sh %s): %d masters x 4 sync workers with traffic on every "
            "worker, then %d idle workers, %d in all. One scrape: %d checks passed, %d failed (every busy "
            "worker's requests and responses by code against its master's access log, every idle worker "
            "present, nothing dropped). Then 20 scrapes: median %.1f ms (max %.1f), %d bytes, %.0f bytes per "
            "worker; observer resident memory %.1f MiB after them (peak %.1f MiB, the start-up one "
            "included); kernel memory %.1f MiB." % (
                n.get("form", "--full"), n["busy_masters"], n["idle_workers"], n["workers"], n["passed"], n["failed"],
                n["scrape_ms_median"], n["scrape_ms_max"], n["metrics_bytes"], n["bytes_per_worker"],
                n["rss_kib"] / 1024, n["hwm_kib"] / 1024, n["kernel_bytes"] / 1048576)]


def run_cpus(observer, smps, kernel="6.12", quick=False):
    """The observer's kernel memory in a guest of each vCPU count (vm/run.sh): a list of
    {"smp", "cpus", "kernel", "maps": {name: bytes}, "total", "rss_kib"} or {"smp", "error"}."""
    out = []
    for smp in smps:
        cmd = ["bash", os.path.join(ROOT, "vm", "run.sh"), "--kernel", kernel, "--smp", str(smp), "--mem",
               "4096", "--timeout", "1500"] + (["--quick"] if quick else []) + [
            "--", "bash", os.path.join(HERE, "vm_memory.sh"), observer]
        try:
            for _ in range(2):  # a guest that ended without a status (a panic under emulation): once more
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=ROOT)
                if r.returncode != 125:
                    break
        except subprocess.TimeoutExpired:
            out.append({"smp": smp, "error": "timed out"})
            continue
        if r.returncode != 0:
            out.append({"smp": smp, "error": "exit %d: %s" % (r.returncode, (r.stderr.strip() or
                                                                            r.stdout.strip())[-300:])})
            continue
        row = {"smp": smp, "maps": {}}
        for line in r.stdout.splitlines():
            m = re.match(r'gunicorn_observer_bpf_memory_bytes\{map="([^"]+)"\} (\d+)', line)
            if m:
                row["maps"][m.group(1)] = int(m.group(2))
            elif line.startswith("cpus "):
                p = line.split()
                row["cpus"], row["kernel"] = int(p[1]), p[5]
            elif line.startswith("rss_kib "):
                row["rss_kib"] = int(line.split()[1])
            elif line.startswith("fdinfo_memlock "):
                row["fdinfo"] = int(line.split()[1])
        row["total"] = sum(row["maps"].values()) or row.get("fdinfo", 0)
        out.append(row)
    return out


def fit(rows):
    """memory = fixed + per_cpu x CPUs, least squares over the guests; None below two."""
    pts = [(r["cpus"], r["total"]) for r in rows if "total" in r and r.get("cpus")]
    if len({x for x, _ in pts}) < 2:
        return None
    n = len(pts)
    mx, my = sum(x for x, _ in pts) / n, sum(y for _, y in pts) / n
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return my - b * mx, b


def cpu_lines(rows, host):
    """host: this host's own figure, {"cpus", "total", "maps"} (from a scale run), or None."""
    if not rows and not host:
        return []
    L = ["Kernel memory of the BPF maps and programs against the CPU count (default limits: 4096 workers, "
         "65536 connections; the sum of gunicorn_observer_bpf_memory_bytes, each map's memlock as the kernel "
         "reports it). Guests: Debian's own kernel under qemu (vm/run.sh), the observer started with no "
         "Gunicorn around (every map is preallocated, so the figure does not move with traffic):", "",
         "| where | CPUs | kernel | total MiB | conns | stats | codes | procs | per-CPU maps (scratch, "
         "sweep_due) | programs |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]

    def row(where, r):
        m = r["maps"]
        mib = lambda k: "%.2f" % (m.get(k, 0) / 1048576)
        L.append("| %s | %s | %s | %.2f | %s | %s | %s | %s | %d B | %s |" % (
            where, r.get("cpus", "?"), r.get("kernel", "-"), r["total"] / 1048576, mib("conns"), mib("stats"),
            mib("codes"), mib("procs"), m.get("scratch", 0) + m.get("sweep_due", 0), mib("programs")))

    if host:
        row("this host", host)
    for r in rows:
        if "error" in r:
            L.append("| guest, %d vCPUs | - | - | failed: %s |||||||" % (r["smp"], r["error"].replace("|", "/")))
        else:
            row("guest, %d vCPUs" % r["smp"], r)
    f = fit(rows)  # the guests: one kernel, the CPU count alone changing
    if f:
        L += ["", "Fitted over the guests: %.2f MiB + %.0f bytes per CPU: %.2f MiB at 2 CPUs, %.2f at 64, "
              "%.2f at 192." % (
            f[0] / 1048576, f[1], (f[0] + 2 * f[1]) / 1048576, (f[0] + 64 * f[1]) / 1048576,
            (f[0] + 192 * f[1]) / 1048576)]
    return L


def targets(counters, node, cpus, host):
    """Rows for bench.py's targets table: (what, measured, limit, ok or None)."""
    T = []
    for r in ([host] if host else []) + [r for r in cpus or [] if "total" in r]:
        T.append(("kernel memory at the default limits, %s, %s CPUs" % (
            "this host" if r is host else "guest", r.get("cpus")),
                  "%.2f MiB" % (r["total"] / 1048576), "<= %d MiB" % KERNEL_MAX_MIB,
                  r["total"] <= KERNEL_MAX_MIB * 1048576))
    for r in [r for r in cpus or [] if "error" in r]:
        T.append(("kernel memory in a guest of %d vCPUs" % r["smp"], "not measured: " + r["error"][:120],
                  "<= %d MiB" % KERNEL_MAX_MIB, False))
    if counters:
        p = counter_cost(counters, "percpu_plain", "one_cpu")
        s = counter_cost(counters, "shared_atomic", "one_cpu")
        if p is not None and s is not None:
            T.append(("counter updates per request, shared atomic vs per-CPU (one CPU)",
                      "%.1f ns vs %.1f ns" % (s, p), "-", None))
    if node:
        if "workers" in node:
            T.append(("full node (%d workers): counts exact against every access log" % node["workers"],
                      "%d checks passed, %d failed" % (node["passed"], node["failed"]), "0 failed",
                      node["failed"] == 0 and node["rc"] == 0))
            T.append(("observer RSS after 20 scrapes of %d workers" % node["workers"],
                      "%.1f MiB" % (node["rss_kib"] / 1024), "<= 16 MiB", node["rss_kib"] <= 16 * 1024))
        else:
            T.append(("full node", "did not finish: " + "; ".join(node.get("fails", []))[:200], "0 failed",
                      False))
    return T
