"""against.py - the scrape of this build beside another (--against BINARY,
e.g. the previous release): both observers follow the same idle Gunicorns,
their scrapes interleaved (A B, then B A), so the machine's drift falls on
both alike. The figure is each observer's own CPU time per scrape (utime +
stime from /proc), which the VM's speed changes blur less than wall time;
client wall times are given beside it."""
import statistics
import time


def run(args, workdir, boot, observer, cpu_seconds, timed_get, say, masters=8, workers=32):
    """boot(masters, workers) -> (gunicorns, stop); observer(binary, name) ->
    an object with .port, .pid, .metrics(), .stop()."""
    gs, stop = boot(masters, workers)
    total = masters * workers
    obs = []
    try:
        for name, binary in (("this build", args.observer), ("against", args.against)):
            o = observer(binary, "against-" + name.replace(" ", "-"))
            obs.append((name, o))
        for name, o in obs:
            deadline = time.monotonic() + 60
            while "gunicorn_observer_tracked_workers %d\n" % total not in o.metrics():
                if time.monotonic() > deadline:
                    raise RuntimeError("%s did not track %d workers within 60 s" % (name, total))
                time.sleep(0.2)
            for _ in range(3):  # the first scrapes start the CPU sampling
                o.metrics()
        cpu0 = {name: cpu_seconds(o.pid) for name, o in obs}
        wall = {name: [] for name, _ in obs}
        for i in range(args.scrapes * 3):
            for name, o in (obs if i % 2 == 0 else obs[::-1]):
                _, dt = timed_get(o.port)
                wall[name].append(dt * 1e3)
            time.sleep(0.01)
        cpu1 = {name: cpu_seconds(o.pid) for name, o in obs}
    finally:
        for _, o in obs:
            o.stop()
        stop()
    n = args.scrapes * 3
    res = {"masters": masters, "workers": workers, "scrapes": n, "binary": args.against,
           "cpu_ms": {name: (cpu1[name] - cpu0[name]) * 1e3 / n for name in cpu0},
           "wall_ms": {name: statistics.median(v) for name, v in wall.items()}}
    res["cpu_ratio"] = res["cpu_ms"]["this build"] / res["cpu_ms"]["against"]
    res["wall_ratio"] = res["wall_ms"]["this build"] / res["wall_ms"]["against"]
    say("   %dx%d, %d scrapes each, interleaved: CPU per scrape %.3f ms vs %.3f ms (%.3f x), client median "
        "%.2f ms vs %.2f ms (%.3f x)" % (masters, workers, n, res["cpu_ms"]["this build"], res["cpu_ms"]["against"],
                                         res["cpu_ratio"], res["wall_ms"]["this build"], res["wall_ms"]["against"],
                                         res["wall_ratio"]))
    return res


def table(res):
    if not res:
        return []
    return ["Scrape beside another build (%s), %dx%d idle sync workers, %d scrapes each, interleaved; CPU is "
            "each observer's own utime+stime per scrape:" % (res["binary"], res["masters"], res["workers"],
                                                          res["scrapes"]), "",
            "| | this build | against | this / against |", "|---|---:|---:|---:|",
            "| CPU per scrape, ms | %.3f | %.3f | %.3f |" % (res["cpu_ms"]["this build"], res["cpu_ms"]["against"],
                                                           res["cpu_ratio"]),
            "| client median, ms | %.2f | %.2f | %.3f |" % (res["wall_ms"]["this build"], res["wall_ms"]["against"],
                                                           res["wall_ratio"]), ""]
