#!/usr/bin/python3
"""redis_layout.py - the Redis layout of the Python gunicorn-prometheus-exporter,
written independently of our C code, for the Redis integration test.

  expect  EXPO PREFIX NODE SELF_PID      the records our mirror must write for an exposition
                                         (prometheus_client's parser, json.dumps, hashlib.md5)
  check   EXPO PORT PREFIX NODE SELF_PID [--families F,...]
                                         Redis holds exactly those keys, with the documented
                                         fields, and (for the families given, default all)
                                         those values
  ttl     PORT PREFIX MAX                every key's TTL is in (0, MAX]
  count   PORT PREFIX                    number of keys under the prefix
  read    PORT PREFIX                    a reader of the documented layout (SCAN, HGETALL,
                                         json.loads, buckets accumulated, _count derived, as
                                         the exporter's RedisMultiProcessCollector does),
                                         rendered by prometheus_client's generate_latest
  same    EXPO_A EXPO_B [--families F,...] [--ignore-label L]...
                                         the two expositions hold the same families (with
                                         series), and (for the families given) the same
                                         series and values
  sum     PORT PREFIX SAMPLE             the sum of SAMPLE's values over all keys
  clone   PORT PREFIX NODE TTL           copies every record as if a second observer on
                                         host NODE wrote it (node label NODE, new md5)

Prints PASS:/FAIL: lines; exits 1 when a FAIL was printed.
"""
import hashlib
import json
import math
import sys
from collections import defaultdict

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

FAILED = False


def say(ok, msg):
    global FAILED
    print(("PASS: " if ok else "FAIL: ") + msg)
    if not ok:
        FAILED = True


def expected(expo, prefix, node, self_pid):
    """data key -> dict(meta key, original_key, typ, type, value) for an exposition."""
    out = {}
    for fam in text_string_to_metric_families(expo):
        typ = fam.type if fam.type in ("counter", "histogram") else "gauge"
        seg = typ if typ != "gauge" else "gauge_all"
        prev = {}
        for s in fam.samples:
            if typ == "histogram" and s.name.endswith("_count"):
                continue  # readers derive it from the buckets
            if typ == "histogram" and s.name.endswith(("_created", "_gcount", "_gsum")):
                continue
            labels = dict(s.labels)
            if node and "node" not in labels:
                labels["node"] = node
            value = s.value
            if typ == "histogram" and s.name.endswith("_bucket"):
                base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                value, prev[base] = s.value - prev.get(base, 0.0), s.value
            pid = labels.get("worker_pid") or labels.get("master_pid") or str(self_pid)
            key = json.dumps([fam.name, s.name, labels, fam.documentation], sort_keys=True)
            h = hashlib.md5(key.encode("utf-8")).hexdigest()
            out[f"{prefix}:{seg}:{pid}:metric:{h}"] = {
                "meta": f"{prefix}:{seg}:{pid}:meta:{h}",
                "original_key": key,
                "typ": typ,
                "value": value,
                "family": fam.name,
            }
    return out


def fam_ok(name, fams):
    if not fams:
        return True
    return name in fams or name + "_total" in fams


def cmd_check(expo_path, port, prefix, node, self_pid, fams):
    r = redis.Redis(port=int(port), decode_responses=True)
    want = expected(open(expo_path).read(), prefix, node, self_pid)
    have = set(r.scan_iter(match=f"{prefix}:*:*:metric:*", count=1000))
    missing, extra = sorted(set(want) - have), sorted(have - set(want))
    say(not missing and not extra,
        f"Redis data keys match the exposition's records: {len(want)} expected, "
        f"{len(have)} present, {len(missing)} missing, {len(extra)} unexpected"
        + (f" (e.g. missing {want[missing[0]]['original_key']})" if missing else "")
        + (f" (e.g. unexpected {extra[0]})" if extra else ""))
    bad_val = bad_meta = bad_fields = 0
    example = ""
    for k in sorted(set(want) & have):
        w = want[k]
        d = r.hgetall(k)
        m = r.hgetall(w["meta"])
        if set(d) != {"value", "timestamp", "updated_at"} or \
                not {"original_key", "typ", "multiprocess_mode", "created_at"} <= set(m):
            bad_fields += 1
            example = example or f"{k}: fields {sorted(d)} / meta {sorted(m)}"
            continue
        if m["original_key"] != w["original_key"] or m["typ"] != w["typ"] or \
                m["multiprocess_mode"] != "all":
            bad_meta += 1
            example = example or f"{w['meta']}: {m} != {w}"
        v = float(d["value"])
        if not fam_ok(w["family"], fams):
            continue
        if not (v == w["value"] or (math.isnan(v) and math.isnan(w["value"]))):
            bad_val += 1
            example = example or f"{w['original_key']}: Redis {d['value']} != /metrics {w['value']}"
        float(d["timestamp"]), float(d["updated_at"]), float(m["created_at"])
    n = len(set(want) & have)
    say(bad_fields == 0, f"{n} data/meta hashes have the documented fields ({bad_fields} do not)")
    say(bad_meta == 0, f"{n} meta hashes hold original_key, typ, multiprocess_mode=all ({bad_meta} wrong)")
    nv = sum(1 for k in set(want) & have if fam_ok(want[k]["family"], fams))
    say(bad_val == 0, f"{nv} values in Redis equal /metrics (buckets as their own counts) "
        f"({bad_val} differ){': ' + example if example else ''}")


def cmd_ttl(port, prefix, maxttl):
    r = redis.Redis(port=int(port), decode_responses=True)
    keys = list(r.scan_iter(match=f"{prefix}:*", count=1000))
    ttls = [r.ttl(k) for k in keys]
    bad = [(k, t) for k, t in zip(keys, ttls) if not (0 < t <= int(maxttl))]
    say(keys and not bad, f"TTL of all {len(keys)} keys in (0, {maxttl}] "
        f"(min {min(ttls, default=0)}, max {max(ttls, default=0)}){'; bad: %s' % bad[:3] if bad else ''}")


def read_layout(r, prefix):
    """The documented layout read back into prometheus_client Metric objects."""
    metrics = {}
    for k in r.scan_iter(match=f"{prefix}:*:*:metric:*", count=1000):
        meta = r.hgetall(k.replace(":metric:", ":meta:", 1))
        data = r.hgetall(k)
        if not meta.get("original_key") or "value" not in data:
            continue
        fam, name, labels, help_text = json.loads(meta["original_key"])
        seg = k.split(":")[1]
        typ = "gauge" if seg.startswith("gauge") else seg
        m = metrics.setdefault(fam, Metric(fam, help_text, typ))
        m.add_sample(name, labels, float(data["value"]))
    for m in metrics.values():
        if m.type != "histogram":
            continue
        buckets, samples = defaultdict(dict), []
        for s in m.samples:
            if "le" in s.labels:
                base = tuple(sorted((a, b) for a, b in s.labels.items() if a != "le"))
                buckets[base][float(s.labels["le"])] = s.value
            else:
                samples.append(s)
        m.samples = samples
        for base, bs in buckets.items():
            acc = 0.0
            for le in sorted(bs):
                acc += bs[le]
                m.add_sample(m.name + "_bucket", dict(base, le=floatToGoString(le)), acc)
            m.add_sample(m.name + "_count", dict(base), acc)
    return list(metrics.values())


def cmd_read(port, prefix):
    r = redis.Redis(port=int(port), decode_responses=True)
    metrics = read_layout(r, prefix)

    class Collector:
        def collect(self):
            return metrics

    reg = CollectorRegistry()
    reg.register(Collector())
    sys.stdout.write(generate_latest(reg).decode())


def series(expo, fams, ignore):
    out, names = {}, set()
    for fam in text_string_to_metric_families(expo):
        if fam.samples:  # a family with no series has nothing to store in Redis
            names.add((fam.name, fam.type))
        if not fam_ok(fam.name, fams):
            continue
        for s in fam.samples:
            labels = dict(s.labels)
            for i in ignore:
                labels.pop(i, None)
            if "le" in labels:
                labels["le"] = floatToGoString(float(labels["le"]))
            out[(s.name, tuple(sorted(labels.items())))] = s.value
    return names, out


def cmd_same(a, b, fams, ignore):
    na, sa = series(open(a).read(), fams, ignore)
    nb, sb = series(open(b).read(), fams, ignore)
    say(na == nb, f"same {len(na)} families with the same types in {a.split('/')[-1]} and "
        f"{b.split('/')[-1]}" + (f": only in first {sorted(na - nb)[:5]}, only in second "
                                 f"{sorted(nb - na)[:5]}" if na != nb else ""))
    diff = [k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k)]
    say(not diff, f"same {len(sa)} series and values in both"
        + (f"; {len(diff)} differ, e.g. {diff[0]}: {sa.get(diff[0])} vs {sb.get(diff[0])}"
           if diff else ""))


def cmd_sum(port, prefix, sample):
    r = redis.Redis(port=int(port), decode_responses=True)
    total = 0.0
    for k in r.scan_iter(match=f"{prefix}:*:*:metric:*", count=1000):
        key = r.hget(k.replace(":metric:", ":meta:", 1), "original_key")
        if key and json.loads(key)[1] == sample:
            total += float(r.hget(k, "value"))
    print(f"{total:g}")


def cmd_clone(port, prefix, node, ttl):
    r = redis.Redis(port=int(port), decode_responses=True)
    n = 0
    for k in list(r.scan_iter(match=f"{prefix}:*:*:metric:*", count=1000)):
        meta, data = r.hgetall(k.replace(":metric:", ":meta:", 1)), r.hgetall(k)
        if not meta.get("original_key") or not data:
            continue
        fam, name, labels, help_text = json.loads(meta["original_key"])
        labels["node"] = node
        key = json.dumps([fam, name, labels, help_text], sort_keys=True)
        base = k.rsplit(":", 2)[0] + ":metric:" + hashlib.md5(key.encode("utf-8")).hexdigest()
        r.hset(base, mapping=data)
        r.hset(base.replace(":metric:", ":meta:", 1), mapping=dict(meta, original_key=key))
        r.expire(base, int(ttl))
        r.expire(base.replace(":metric:", ":meta:", 1), int(ttl))
        n += 1
    print(n)


def main(argv):
    fams, ignore, args = set(), [], []
    it = iter(argv[1:])
    for a in it:
        if a == "--families":
            fams = set(next(it).split(","))
        elif a == "--ignore-label":
            ignore.append(next(it))
        else:
            args.append(a)
    cmd = args[0] if args else ""
    if cmd == "expect":
        for k, v in expected(open(args[1]).read(), args[2], args[3], args[4]).items():
            print(k, v["value"], v["original_key"])
        return 0
    if cmd == "check":
        cmd_check(args[1], args[2], args[3], args[4], args[5], fams)
    elif cmd == "ttl":
        cmd_ttl(args[1], args[2], args[3])
    elif cmd == "count":
        r = redis.Redis(port=int(args[1]))
        print(sum(1 for _ in r.scan_iter(match=f"{args[2]}:*", count=1000)))
        return 0
    elif cmd == "sum":
        cmd_sum(args[1], args[2], args[3])
        return 0
    elif cmd == "clone":
        cmd_clone(args[1], args[2], args[3], args[4])
        return 0
    elif cmd == "read":
        cmd_read(args[1], args[2])
        return 0
    elif cmd == "same":
        cmd_same(args[1], args[2], fams, ignore)
    else:
        print(__doc__)
        return 2
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
