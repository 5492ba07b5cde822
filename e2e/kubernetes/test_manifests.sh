#!/bin/bash
# Static checks of deploy/kubernetes (no cluster needed): every file is valid YAML,
# the kustomization lists every manifest (and kubectl kustomize renders it when
# kubectl is installed), and the DaemonSet, Service and ServiceMonitor hold what the
# observer needs and agree with each other; the e2e files parse and match them.
# Usage: e2e/kubernetes/test_manifests.sh    (env: VERBOSE=1)
set -u -o pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
PASSED=0 FAILED=0

pass() {
	PASSED=$((PASSED + 1))
	echo "PASS: $*"
}
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
}
count() { # OUTPUT: echo it and count its PASS/FAIL lines into ours
	echo "$1"
	PASSED=$((PASSED + $(grep -c '^PASS:' <<< "$1")))
	FAILED=$((FAILED + $(grep -c '^FAIL:' <<< "$1")))
}

if ! $PY -c 'import yaml' 2> /dev/null; then
	fail "$PY cannot import yaml: apt-get install python3-yaml"
	echo "$PASSED passed, $FAILED failed"
	exit 1
fi

out=$($PY - "$ROOT/deploy/kubernetes" "$HERE" << 'EOF' 2>&1
import os
import re
import sys

import yaml

deploy, e2e = sys.argv[1], sys.argv[2]
NS = "gunicorn-observer"


def out(ok, msg):
    print(("PASS: " if ok else "FAIL: ") + msg)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


objs = {}
files = sorted(f for f in os.listdir(deploy) if f.endswith((".yaml", ".yml")))
for f in files:
    try:
        docs = load(os.path.join(deploy, f))
    except yaml.YAMLError as e:
        out(False, "deploy/kubernetes/%s is not valid YAML: %s" % (f, e))
        continue
    ok = all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in docs) and docs
    if f != "kustomization.yaml":
        ok = ok and all(d.get("metadata", {}).get("name") for d in docs)
    out(bool(ok), "deploy/kubernetes/%s: valid YAML, %s" % (
        f, ", ".join("%s/%s" % (d.get("kind"), d.get("metadata", {}).get("name", "-")) for d in docs)))
    for d in docs:
        objs[d["kind"]] = d

kz = objs.get("Kustomization", {})
listed = kz.get("resources", [])
manifests = [f for f in files if f != "kustomization.yaml"]
out(sorted(listed) == manifests and len(listed) == len(set(listed)),
    "kustomization.yaml lists every manifest exactly once: %s" % listed
    + ("" if sorted(listed) == manifests else " (files: %s)" % manifests))

for kind, o in objs.items():
    if kind in ("Kustomization", "Namespace"):
        continue
    out(o["metadata"].get("namespace") == NS, "%s in namespace %s" % (kind, NS))
out(objs.get("Namespace", {}).get("metadata", {}).get("name") == NS, "Namespace %s" % NS)

ds = objs.get("DaemonSet", {})
tpl = ds.get("spec", {}).get("template", {})
spec = tpl.get("spec", {})
c = (spec.get("containers") or [{}])[0]
sc = c.get("securityContext", {})
caps = sc.get("capabilities", {})
want_caps = {"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE"}
out(spec.get("hostPID") is True, "DaemonSet: hostPID: true")
out(not sc.get("privileged") and not spec.get("hostNetwork"), "DaemonSet: not privileged, no hostNetwork")
out(set(caps.get("add", [])) == want_caps and caps.get("drop") == ["ALL"],
    "DaemonSet: capabilities drop ALL, add %s" % sorted(caps.get("add", [])))
# every added capability has its reason in a comment right above it
text = open(os.path.join(deploy, "daemonset.yaml")).read().splitlines()
bare = [l.strip() for i, l in enumerate(text)
        if re.match(r"\s*- (%s)\s*$" % "|".join(want_caps), l) and not text[i - 1].strip().startswith("#")]
out(not bare, "DaemonSet: a comment gives the reason for every capability" + (": not %s" % bare if bare else ""))
out(c.get("image") == "gunicorn-observer:latest" and c.get("imagePullPolicy") == "IfNotPresent",
    "DaemonSet: image %s, imagePullPolicy %s" % (c.get("image"), c.get("imagePullPolicy")))
env = {e["name"]: e for e in c.get("env", [])}
out(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
    "DaemonSet: NODE_NAME from the downward API (spec.nodeName)")
ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
port = env.get("PROMETHEUS_METRICS_PORT", {}).get("value")
out(ports.get("metrics") == 9093 and port == "9093",
    "DaemonSet: PROMETHEUS_METRICS_PORT %s = containerPort metrics %s" % (port, ports.get("metrics")))
for probe in ("livenessProbe", "readinessProbe"):
    g = c.get(probe, {}).get("httpGet", {})
    p = ports.get(g.get("port"), g.get("port"))
    out(g.get("path") == "/healthz" and p == 9093, "DaemonSet: %s GET /healthz on port %s" % (probe, p))
res = c.get("resources", {})
out(all(res.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")),
    "DaemonSet: cpu and memory requests and limits %s" % res)
tol = spec.get("tolerations", [])
out(any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect") for t in tol),
    "DaemonSet: tolerates every taint (operator Exists, no key)")
ann = tpl.get("metadata", {}).get("annotations", {})
out(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9093"
    and ann.get("prometheus.io/path") == "/metrics", "DaemonSet: prometheus.io scrape/port/path annotations")
vols = {v["name"]: v.get("hostPath", {}).get("path") for v in spec.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
for path, ro in (("/sys/kernel/btf", True), ("/sys/kernel/tracing", None), ("/var/log/pods", True),
                 ("/var/log/containers", True)):
    m = mounts.get(path, {})
    ok = vols.get(m.get("name")) == path and (ro is None or m.get("readOnly") is ro)
    out(ok, "DaemonSet: hostPath %s mounted at %s%s" % (path, path, " read-only" if ro else ""))
sel = ds.get("spec", {}).get("selector", {}).get("matchLabels", {})
plabels = tpl.get("metadata", {}).get("labels", {})
out(sel and all(plabels.get(k) == v for k, v in sel.items()), "DaemonSet: selector matches its pod labels")

svc = objs.get("Service", {})
ssel = svc.get("spec", {}).get("selector", {})
sports = {p.get("name"): p for p in svc.get("spec", {}).get("ports", [])}
out(ssel and all(plabels.get(k) == v for k, v in ssel.items()), "Service: selects the DaemonSet's pods")
out(sports.get("metrics", {}).get("port") == 9093 and sports["metrics"].get("targetPort") in ("metrics", 9093),
    "Service: port metrics 9093 to the container's metrics port")
sm = objs.get("ServiceMonitor", {})
msel = sm.get("spec", {}).get("selector", {}).get("matchLabels", {})
eps = sm.get("spec", {}).get("endpoints", [])
out(msel and all(svc.get("metadata", {}).get("labels", {}).get(k) == v for k, v in msel.items())
    and any(e.get("port") == "metrics" for e in eps), "ServiceMonitor: selects the Service, endpoint port metrics")
out(any(e.get("honorLabels") is True for e in eps),
    "ServiceMonitor: honorLabels, so the Gunicorn pod's namespace/pod/container labels are kept")

# the e2e files
for f in ("kind.yaml", "app.yaml", "servicemonitor-crd.yaml"):
    try:
        docs = load(os.path.join(e2e, f))
        out(bool(docs), "e2e/kubernetes/%s: valid YAML (%s)" % (f, ", ".join(d.get("kind", "?") for d in docs)))
    except (OSError, yaml.YAMLError) as e:
        out(False, "e2e/kubernetes/%s: %s" % (f, e))
        docs = []
    if f == "kind.yaml" and docs:
        roles = [n.get("role") for n in docs[0].get("nodes", [])]
        out(sorted(roles) == ["control-plane", "worker", "worker"], "kind.yaml: 1 control plane + 2 workers: %s" % roles)
    if f == "app.yaml" and docs:
        dep = [d for d in docs if d.get("kind") == "Deployment"][0]
        cmd = dep["spec"]["template"]["spec"]["containers"][0]["command"]
        fmt = cmd[cmd.index("--access-logformat") + 1]
        out(fmt == "%(p)s %(s)s %(D)s %(B)s" and cmd[cmd.index("--access-logfile") + 1] == "-",
            "app.yaml: gunicorn access log on stdout in '%s'" % fmt)
        out(dep["spec"]["replicas"] == 3, "app.yaml: 3 replicas, one per node")
EOF
)
count "$out"

if command -v kubectl > /dev/null 2>&1; then
	if rendered=$(kubectl kustomize "$ROOT/deploy/kubernetes" 2>&1); then
		pass "kubectl kustomize deploy/kubernetes renders $(grep -c '^kind:' <<< "$rendered") objects"
	else
		fail "kubectl kustomize deploy/kubernetes: $rendered"
	fi
else
	echo "(kubectl not installed: kustomize rendering not checked)"
fi

if command -v shellcheck > /dev/null 2>&1; then
	if sc=$(shellcheck "$HERE"/*.sh 2>&1); then pass "shellcheck e2e/kubernetes/*.sh: clean"; else
		fail "shellcheck e2e/kubernetes/*.sh: $(head -n 20 <<< "$sc")"
	fi
else
	echo "(shellcheck not installed: e2e scripts not linted)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
