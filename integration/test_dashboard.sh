#!/bin/bash
# Integration test of the Grafana dashboard deploy/grafana/gunicorn-observer.json
# against the real observer watching real gunicorn (2 sync workers) with traffic:
#  - the JSON parses; it has the datasource, app and master template variables, and
#    every panel and query uses the datasource variable;
#  - every metric name its queries use is in the observer's exposition (histograms
#    through their _bucket/_sum/_count samples), and every label its selectors and
#    by() clauses name exists on those metrics;
#  - every query parses (promtool check rules);
#  - every query, run by a real Prometheus scraping the observer, returns series,
#    and those series carry every label the panel's legend names.
# Usage: sudo ./test_dashboard.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer

DASHBOARD=${DASHBOARD:-$HERE/../deploy/grafana/gunicorn-observer.json}
. "$HERE/prometheus.sh"
W=$WORKDIR

# check_py ARGS...: run the checker below, count its PASS/FAIL lines into ours
check_py() {
    local out rc p f
    out=$(TMO=180 run $PY "$W/check_dashboard.py" "$@" 2>&1)
    rc=$?
    [ -n "$out" ] && echo "$out"
    p=$(grep -c '^PASS:' <<< "$out")
    f=$(grep -c '^FAIL:' <<< "$out")
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "dashboard checker $1 exited $rc without a FAIL line"; fi
}

cat > "$W/check_dashboard.py" << 'EOF'
# check_dashboard.py static DASHBOARD EXPOSITION   - the JSON and the names in it
# check_dashboard.py rules DASHBOARD RULES_FILE    - writes every query as a recording rule
# check_dashboard.py live DASHBOARD PROM_URL APP MASTER_PID - runs every query
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

# what Grafana substitutes: all apps and masters, a rate window that holds >= 2 scrapes
SUBST = {"$__rate_interval": "1m", "$app": ".*", "$master": ".*"}
FUNCS = {"sum", "rate", "increase", "histogram_quantile", "max", "min", "avg", "count", "by",
         "without", "label_values", "timestamp", "irate", "delta", "topk", "bottomk"}


def out(ok, msg):
    print(("PASS: " if ok else "FAIL: ") + msg)
    return ok


def load(path):
    with open(path) as f:
        return json.load(f)


def panels(d):
    for p in d.get("panels", []):
        yield p
        for q in p.get("panels", []):  # panels inside collapsed rows
            yield q


def queries(d):
    """(panel title, refId, expr, legendFormat) of every panel target."""
    for p in panels(d):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p.get("title", "?"), t.get("refId", "?"), t["expr"], t.get("legendFormat", "")


def var_queries(d):
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            yield v["name"], q.get("query") if isinstance(q, dict) else q


def subst(expr):
    for k, v in SUBST.items():
        expr = expr.replace(k, v)
    return expr


def exposition(path):
    """sample name -> set of label names, from a Prometheus text exposition."""
    names = {}
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
        if not m:
            continue
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        names.setdefault(m.group(1), set()).update(labels)
    return names


def static(dash_path, expo_path):
    try:
        d = load(dash_path)
    except (OSError, ValueError) as e:
        out(False, "dashboard JSON does not parse: %s" % e)
        return
    qs = list(queries(d))
    ps = [p for p in panels(d) if p.get("type") != "row"]
    out(True, "dashboard JSON parses: %d panels, %d queries" % (len(ps), len(qs)))
    tv = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = tv.get("datasource", {})
    out(ds.get("type") == "datasource" and ds.get("query") == "prometheus",
        "template variable 'datasource' of type datasource, Prometheus")
    for name in ("app", "master"):
        v = tv.get(name, {})
        out(v.get("type") == "query" and v.get("datasource", {}).get("uid") == "${datasource}",
            "template variable '%s' queries the datasource variable" % name)
    bad = [p.get("title") for p in ps if p.get("datasource", {}).get("uid") != "${datasource}" or not p.get("targets")
           or any(t.get("datasource", {}).get("uid") != "${datasource}" for t in p["targets"])]
    out(not bad, "every panel has queries, all on ${datasource}" + (": not %s" % bad if bad else ""))
    ids = [p.get("id") for p in panels(d)]
    out(len(ids) == len(set(ids)) and all(p.get("gridPos") for p in panels(d)), "panel ids unique, every panel placed")
    # panels on Gunicorn's metrics (not only the observer's own) honour the app/master choice
    sel = [p.get("title") for p in ps if any(
        re.search(r"\bgunicorn_(?!observer_)", t["expr"]) and not (
            'app=~"$app"' in t["expr"] and 'master_pid=~"$master"' in t["expr"]) for t in p["targets"])]
    out(not sel, "every Gunicorn panel filters on $app and $master" + (": not %s" % sel if sel else ""))

    expo = exposition(expo_path)
    exprs = [e for _, _, e, _ in qs] + [q for _, q in var_queries(d)]
    used = sorted({m for e in exprs for m in re.findall(r"\b(gunicorn_[a-zA-Z0-9_]+)\b", e)})
    for m in used:
        n = sum(1 for line in open(expo_path) if re.match(re.escape(m) + r"[{ ]", line))
        out(m in expo, "metric %s: %d series in the observer's exposition" % (m, n))
    for title, ref, e, legend in qs:
        metrics = re.findall(r"\b(gunicorn_[a-zA-Z0-9_]+)\b", e)
        known = set().union(*(expo.get(m, set()) for m in metrics)) if metrics else set()
        missing = []
        for m, body in re.findall(r"\b(gunicorn_[a-zA-Z0-9_]+)\{([^}]*)\}", e):
            for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", body):
                if label not in expo.get(m, set()):
                    missing.append("%s{%s}" % (m, label))
        for group in re.findall(r"\bby\s*\(([^)]*)\)", e):
            for label in filter(None, (s.strip() for s in group.split(","))):
                if label not in known:
                    missing.append("by (%s)" % label)
        out(not missing, "panel '%s' %s: every label it names exists%s" % (
            title, ref, (": missing %s" % missing) if missing else ""))


def rules(dash_path, rules_path):
    d = load(dash_path)
    rs = [{"record": "dashboard:q%d" % i, "expr": subst(e)} for i, (_, _, e, _) in enumerate(queries(d))]
    with open(rules_path, "w") as f:  # JSON is YAML
        json.dump({"groups": [{"name": "dashboard", "rules": rs}]}, f, indent=1)


def query(url, q):
    data = urllib.parse.urlencode({"query": q}).encode()
    try:
        with urllib.request.urlopen(url + "/api/v1/query", data, timeout=10) as r:
            res = json.load(r)
    except urllib.error.HTTPError as e:  # Prometheus says what is wrong in the body
        raise RuntimeError("HTTP %d: %s" % (e.code, json.load(e).get("error", "?")))
    if res.get("status") != "success":
        raise RuntimeError(res)
    return res["data"]["result"]


def live(dash_path, url, app, master):
    d = load(dash_path)
    for title, ref, e, legend in queries(d):
        try:
            res = query(url, subst(e))
        except Exception as ex:  # an API error names the query's fault
            out(False, "panel '%s' %s: query failed: %s" % (title, ref, ex))
            continue
        want = re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", legend)
        lack = sorted({w for w in want for s in res if w not in s["metric"]})
        out(res and not lack, "panel '%s' %s: %d series%s" % (
            title, ref, len(res), ("; legend labels missing: %s" % lack) if lack else ""))
    # label_values(METRIC{SEL}, LABEL) as Grafana runs it: the label's values on METRIC
    expect = {"app": app, "master": master}
    for name, q in var_queries(d):
        m = re.match(r"label_values\((.*),\s*([a-zA-Z_]+)\)$", subst(q).strip())
        if not m:
            out(False, "variable %s: not a label_values() query: %s" % (name, q))
            continue
        vals = {s["metric"].get(m.group(2)) for s in query(url, "count by (%s) (%s)" % (m.group(2), m.group(1)))}
        out(expect.get(name) in vals, "variable %s: %s offers %s" % (name, q, sorted(v for v in vals if v)))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "static":
        static(sys.argv[2], sys.argv[3])
    elif mode == "rules":
        rules(sys.argv[2], sys.argv[3])
    else:
        live(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
EOF

# wait_scrapes N: until Prometheus holds N scrapes of the observer
wait_scrapes() {
    local n=$1 i got=''
    for i in $(seq 200); do
        got=$(curl -sf --max-time 5 --data-urlencode "query=count_over_time(up{job=\"$JOB\"}[5m])" \
            "http://127.0.0.1:$PPORT/api/v1/query" | $PY -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
        [ "${got:-0}" -ge "$n" ] 2> /dev/null && return 0
        sleep 0.1
    done
    fail "prometheus has $got scrapes of the observer after 20 s, expected $n"
}

if [ -f "$DASHBOARD" ]; then pass "dashboard $DASHBOARD exists"; else
    fail "dashboard $DASHBOARD not found"
    finish
fi

# shellcheck disable=SC2119 # start_observer takes optional extra flags; none here
start_observer
start_gunicorn 2 -k sync
wait_discovered
start_prometheus

k=2
[ "$QUICK" = 1 ] && k=1
mix="/:$((40 * k)),/notfound:$((8 * k)),/error:$((8 * k)),/redirect:$((8 * k)),/sleep:$((8 * k)),/big:$((8 * k)),/echo:$((16 * k))"
say "traffic: $mix, concurrency 2; SIGUSR1 to the master (a signal for the signals panel)"
client "$W/mix.json" --mix "$mix" --post-sizes 0,100,4096,65536 --concurrency 2
kill -USR1 "$GPID"
settle "$(client_total "$W/mix.json")"
for _ in $(seq 50); do # the signal reaches the observer as a ring-buffer event
    scrape "$W/expo.txt"
    grep -q "^gunicorn_master_signals_total{.*master_pid=\"$GPID\".*signal=\"USR1\"" "$W/expo.txt" && break
    sleep 0.1
done

say "static checks: the JSON, and every name in it against the observer's exposition"
check_py static "$DASHBOARD" "$W/expo.txt"

say "every query parses (promtool check rules)"
check_py rules "$DASHBOARD" "$W/dashboard-rules.json"
if out=$(run promtool check rules "$W/dashboard-rules.json" 2>&1); then
    pass "promtool check rules: all $(grep -c '"record"' "$W/dashboard-rules.json") dashboard queries parse"
else
    fail "promtool check rules: $(grep -v '^Checking' <<< "$out" | head -n 20 | tr '\n' ' ')"
fi

say "every query returns series from Prometheus"
wait_scrapes 5
check_py live "$DASHBOARD" "http://127.0.0.1:$PPORT" "app:app" "$GPID"

finish
