#!/bin/bash
# End-to-end: deploy/kubernetes on a 3-node kind cluster (1 control plane, 2
# workers) with a sample Gunicorn pod on every node. Checks that each node's
# observer reports exactly that node's pods, with the namespace/pod/container
# labels, that its counts equal each pod's access log (kubectl logs) exactly,
# and that a deleted pod's series go.
#
# Usage: e2e/kubernetes/test_daemonset.sh [--quick] [--ci]
#   --quick  fewer requests; --ci  hard timeouts, cluster state and logs on failure
# Environment: VERBOSE=1 (show commands), KEEP=1 (keep the cluster and the work
#   directory), IMAGE (default gunicorn-observer:latest, built by `make image`),
#   KIND_NODE_IMAGE (default: the kind release's own), APP_IMAGE (a prebuilt
#   sample image with gunicorn and python3; default: built from app.Dockerfile).
# Needs kind, kubectl and a Docker engine; skips (one line, exit 0) without them.
# Creates its own cluster and kubeconfig; deletes only that cluster.

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${IMAGE:-gunicorn-observer:latest}
APP_IMAGE=${APP_IMAGE:-}
APP_IMAGE_NAME=gunicorn-observer-e2e-app:latest # the name app.yaml uses
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-}
VERBOSE=${VERBOSE:-0}
CLUSTER=gobs-e2e-$$
OBS_NS=gunicorn-observer
APP_NS=gobs-e2e-app
APP_CONTAINER=web
WORKERS_PER_POD=2 # app.yaml's --workers
ACCESS_RE='^<?[0-9]+>? [0-9]{3} [0-9]+ ([0-9]+|-)$' # '%(p)s %(s)s %(D)s %(B)s': %(p)s is <pid>
QUICK=0 CI=0 PASSED=0 FAILED=0 CLUSTER_CREATED=0
STARTED=() # pids of background processes this script started (port-forward)

parse_args() {
	local a
	for a in "$@"; do
		case $a in
			--quick) QUICK=1 ;;
			--ci) CI=1 ;;
			-v | --verbose) VERBOSE=1 ;;
			*)
				echo "usage: $0 [--quick] [--ci]   (env: VERBOSE=1 KEEP=1 IMAGE= KIND_NODE_IMAGE= APP_IMAGE=)"
				exit 2
				;;
		esac
	done
}
parse_args "$@"

# skip_without_tools: one SKIP line and exit 0 when kind, docker (with an engine
# that answers) or kubectl is missing
skip_without_tools() {
	local why=''
	if ! command -v kind > /dev/null 2>&1; then
		why="kind not found in PATH"
	elif ! command -v docker > /dev/null 2>&1; then
		why="docker not found in PATH"
	elif ! timeout 30 docker info > /dev/null 2>&1; then
		why="no Docker engine answers 'docker info'"
	elif ! command -v kubectl > /dev/null 2>&1; then
		why="kubectl not found in PATH"
	fi
	[ -z "$why" ] && return 0
	echo "SKIP: $(basename "$0"): $why (needs kind, kubectl and a running Docker engine)"
	exit 0
}
skip_without_tools

WORKDIR=$(mktemp -d /tmp/gobs-e2e-k8s.XXXXXX)
export KUBECONFIG=$WORKDIR/kubeconfig # never the user's own kubeconfig or context
exec 3>&1 4>&2

say() { echo "== $*"; }
vsay() { if [ "$VERBOSE" = 1 ]; then echo "   $*" >&3; fi; }
# run CMD...: echoed when VERBOSE, under a hard timeout (TMO s, default 120) with --ci
run() {
	vsay "+ $*"
	if [ "$CI" = 1 ]; then timeout -k 10 "${TMO:-120}" "$@"; else "$@"; fi
}
pass() {
	PASSED=$((PASSED + 1))
	echo "PASS: $*"
}
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
}
finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] && exit 0
	exit 1
}
k() { run kubectl "$@"; } # bounded by run under --ci (streams and watches too)

# shellcheck disable=SC2317 # reached from the EXIT trap (cleanup) only
# dump_cluster: the cluster's state and logs, for --ci failures (every call bounded)
dump_cluster() {
	local p
	kt() { timeout 60 kubectl --request-timeout=30s "$@" 2>&1; }
	echo "----- nodes and pods"
	kt get nodes -o wide
	kt get pods -A -o wide
	echo "----- events (last 60)"
	kt get events -A --sort-by=.lastTimestamp | tail -n 60
	for p in $(kt -n "$OBS_NS" get pods -o name); do
		echo "----- $OBS_NS $p"
		kt -n "$OBS_NS" describe "$p" | tail -n 25
		kt -n "$OBS_NS" logs "$p" --tail=200
	done
	for p in $(kt -n "$APP_NS" get pods -o name); do
		echo "----- $APP_NS $p (last 40 lines)"
		kt -n "$APP_NS" logs "$p" --tail=40
	done
	for p in "$WORKDIR"/*.log; do
		[ -f "$p" ] || continue
		echo "----- $p (last 100 lines)"
		tail -n 100 "$p"
	done
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	exec 1>&3 2>&4
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		kill "${STARTED[i]}" 2> /dev/null
		wait "${STARTED[i]}" 2> /dev/null
	done
	if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
		[ "$CI" = 1 ] && [ "$CLUSTER_CREATED" = 1 ] && dump_cluster
	fi
	if [ "$CLUSTER_CREATED" = 1 ]; then
		if [ "${KEEP:-0}" = 1 ]; then
			echo "cluster kept: kind delete cluster --name $CLUSTER   (KUBECONFIG=$KUBECONFIG)"
		else
			timeout 180 kind delete cluster --name "$CLUSTER" > /dev/null 2>&1 ||
				echo "could not delete kind cluster $CLUSTER: run 'kind delete cluster --name $CLUSTER'"
		fi
	fi
	if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $WORKDIR"
	else
		rm -rf "$WORKDIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# metrics POD FILE: one observer pod's /metrics, through the API server's pod proxy
metrics() {
	k get --raw "/api/v1/namespaces/$OBS_NS/pods/$1:9093/proxy/metrics" > "$2" 2> "$2.err"
}

# sum_for FILE FAMILY POD: sum of a family's samples whose pod label is POD
sum_for() {
	grep "^$2{" "$1" | grep -F "pod=\"$3\"" | awk '{s += $NF} END {printf "%d\n", s}'
}

# worker_counts FILE POD: the pod's per-worker request counts, sorted
worker_counts() {
	grep '^gunicorn_worker_requests_total{' "$1" | grep -F "pod=\"$2\"" |
		awk '{printf "%d\n", $NF}' | sort -n | tr '\n' ' '
}

# code_counts FILE POD: "code:count ..." of gunicorn_requests_total for the pod
code_counts() {
	grep '^gunicorn_requests_total{' "$1" | grep -F "pod=\"$2\"" |
		sed -n 's/.*code="\([0-9]*\)".* \([0-9.e+]*\)$/\1 \2/p' |
		awk '$2 > 0 {printf "%s:%d\n", $1, $2}' | sort | tr '\n' ' '
}

# access_log POD FILE: the pod's access-log lines (stderr's error log filtered out)
access_log() {
	k -n "$APP_NS" logs "$1" -c "$APP_CONTAINER" > "$2.all" 2>&1 || return 1
	grep -E "$ACCESS_RE" "$2.all" > "$2"
	return 0
}
log_total() { wc -l < "$1" | tr -d ' '; }
log_worker_counts() { awk '{print $1}' "$1" | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' '; }
log_code_counts() { awk '{print $2}' "$1" | sort | uniq -c | awk '{printf "%s:%d\n", $2, $1}' | sort | tr '\n' ' '; }

W=$WORKDIR
say "work directory $W, cluster $CLUSTER, image $IMAGE"

# --- images ---------------------------------------------------------------------
if ! run docker image inspect "$IMAGE" > /dev/null 2>&1; then
	fail "image $IMAGE not found in the Docker engine: build it first ('make image')"
	finish
fi
if [ -n "$APP_IMAGE" ]; then
	run docker tag "$APP_IMAGE" "$APP_IMAGE_NAME"
elif ! TMO=600 run docker build -t "$APP_IMAGE_NAME" -f "$HERE/app.Dockerfile" "$HERE" > "$W/app-build.log" 2>&1; then
	fail "building the sample app image failed: $(tail -n 5 "$W/app-build.log")"
	finish
fi

# --- cluster ----------------------------------------------------------------------
say "creating kind cluster $CLUSTER (1 control plane, 2 workers)"
args=(create cluster --name "$CLUSTER" --config "$HERE/kind.yaml" --kubeconfig "$KUBECONFIG" --wait 180s)
[ -n "$KIND_NODE_IMAGE" ] && args+=(--image "$KIND_NODE_IMAGE")
CLUSTER_CREATED=1 # from here on cleanup deletes it, even if create fails halfway
if ! TMO=420 run kind "${args[@]}" > "$W/kind-create.log" 2>&1; then
	fail "kind create cluster failed: $(tail -n 5 "$W/kind-create.log")"
	finish
fi
mapfile -t NODES < <(kind get nodes --name "$CLUSTER" | sort)
if [ "${#NODES[@]}" -eq 3 ]; then pass "kind cluster with 3 nodes: ${NODES[*]}"; else
	fail "expected 3 kind nodes, got ${#NODES[@]}: ${NODES[*]}"
	finish
fi

# A kind node is a container with a PID namespace of its own: hostPID gives the observer
# the node's pids, while the kernel (BPF) reports pids of the initial namespace.
for n in "${NODES[@]}"; do
	say "node $n: PID namespace $(docker exec "$n" readlink /proc/self/ns/pid 2> /dev/null), this host's $(readlink /proc/self/ns/pid)"
done

# A node mounts tracefs at boot (systemd); a kind node (a container) does not.
for n in "${NODES[@]}"; do
	run docker exec "$n" sh -c 'grep -q " /sys/kernel/tracing tracefs " /proc/mounts ||
		mount -t tracefs nodev /sys/kernel/tracing' ||
		fail "could not mount tracefs in node $n (the observer will try itself)"
done

for img in "$IMAGE" "$APP_IMAGE_NAME"; do
	if TMO=300 run kind load docker-image "$img" --name "$CLUSTER" > "$W/kind-load.log" 2>&1; then
		pass "kind load docker-image $img"
	else
		fail "kind load docker-image $img: $(tail -n 3 "$W/kind-load.log")"
		finish
	fi
done

# --- the observer -----------------------------------------------------------------
say "deploying deploy/kubernetes (kubectl apply -k)"
if ! k get crd servicemonitors.monitoring.coreos.com > /dev/null 2>&1; then
	if ! k apply -f "$HERE/servicemonitor-crd.yaml" > /dev/null ||
		! k wait --for condition=established --timeout=60s crd/servicemonitors.monitoring.coreos.com > /dev/null; then
		fail "could not install the stand-in ServiceMonitor CRD"
	fi
fi
if k apply -k "$ROOT/deploy/kubernetes" > "$W/apply.log" 2>&1; then
	pass "kubectl apply -k deploy/kubernetes: $(tr '\n' ';' < "$W/apply.log")"
else
	fail "kubectl apply -k deploy/kubernetes: $(cat "$W/apply.log")"
	finish
fi
if TMO=240 k -n "$OBS_NS" rollout status daemonset/gunicorn-observer --timeout=200s > "$W/rollout.log" 2>&1; then
	pass "DaemonSet gunicorn-observer rolled out"
else
	fail "DaemonSet gunicorn-observer not ready within 200 s: $(tail -n 3 "$W/rollout.log")"
	finish
fi

declare -A OBS_POD APP_POD
while read -r pod node; do OBS_POD[$node]=$pod; done < <(k -n "$OBS_NS" get pods \
	-l app.kubernetes.io/name=gunicorn-observer --field-selector=status.phase=Running \
	-o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}')
missing=''
for n in "${NODES[@]}"; do [ -n "${OBS_POD[$n]:-}" ] || missing="$missing $n"; done
if [ -z "$missing" ]; then pass "one observer pod on every node (${OBS_POD[*]})"; else
	fail "no running observer pod on:$missing"
	finish
fi
for n in "${NODES[@]}"; do
	if k get --raw "/api/v1/namespaces/$OBS_NS/pods/${OBS_POD[$n]}:9093/proxy/healthz" 2> /dev/null | grep -q ok; then
		pass "observer ${OBS_POD[$n]} on $n answers /healthz"
	else
		fail "observer ${OBS_POD[$n]} on $n does not answer /healthz"
	fi
done

# --- the sample app ---------------------------------------------------------------
say "deploying the sample Gunicorn (one pod per node, $WORKERS_PER_POD workers each)"
if ! k apply -f "$HERE/app.yaml" > "$W/app-apply.log" 2>&1 ||
	! TMO=240 k -n "$APP_NS" rollout status deployment/web --timeout=200s >> "$W/app-apply.log" 2>&1; then
	fail "sample app not ready within 200 s: $(tail -n 5 "$W/app-apply.log")"
	finish
fi
while read -r pod node; do APP_POD[$node]=$pod; done < <(k -n "$APP_NS" get pods -l app=gobs-e2e-web --field-selector=status.phase=Running \
	-o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}')
missing=''
for n in "${NODES[@]}"; do [ -n "${APP_POD[$n]:-}" ] || missing="$missing $n"; done
if [ -z "$missing" ]; then pass "one sample pod on every node (${APP_POD[*]})"; else
	fail "no sample pod on:$missing"
	finish
fi

# booted: every pod's error log shows its workers (no request is made to find out)
for n in "${NODES[@]}"; do
	p=${APP_POD[$n]} booted=0
	for _ in $(seq 60); do
		booted=$(k -n "$APP_NS" logs "$p" -c "$APP_CONTAINER" 2> /dev/null | grep -c 'Booting worker with pid')
		[ "$booted" -ge "$WORKERS_PER_POD" ] && break
		sleep 1
	done
	[ "$booted" -ge "$WORKERS_PER_POD" ] || fail "pod $p booted $booted of $WORKERS_PER_POD workers in 60 s"
done

# discovery: each observer shows its node's pod with both workers and its labels
for n in "${NODES[@]}"; do
	p=${APP_POD[$n]} f=$W/discover-$n.txt ok=0
	for _ in $(seq 60); do
		metrics "${OBS_POD[$n]}" "$f" &&
			[ "$(grep -c "^gunicorn_worker_uptime_seconds{.*pod=\"$p\"" "$f")" -eq "$WORKERS_PER_POD" ] && ok=1 && break
		sleep 1
	done
	if [ "$ok" = 1 ]; then
		pass "observer on $n tracks pod $p with $WORKERS_PER_POD workers"
	else
		fail "observer on $n shows no $WORKERS_PER_POD workers of pod $p after 60 s (it tracks $(grep '^gunicorn_observer_tracked_masters ' "$f" 2> /dev/null | awk '{print $2}') masters, $(grep -c '^gunicorn_worker_uptime_seconds{' "$f" 2> /dev/null) workers)"
		continue
	fi
	want="namespace=\"$APP_NS\",pod=\"$p\",container=\"$APP_CONTAINER\""
	if grep '^gunicorn_master_workers{' "$f" | grep -qF "$want"; then
		pass "observer on $n labels pod $p's series $want"
	else
		fail "observer on $n: no gunicorn_master_workers series with $want: $(grep '^gunicorn_master_workers{' "$f" | head -n 3)"
	fi
done

# --- traffic ----------------------------------------------------------------------
base=60
[ "$QUICK" = 1 ] && base=20
i=0
for n in "${NODES[@]}"; do
	p=${APP_POD[$n]} nreq=$((base + 7 * i)) # a different count per pod: no mix-up hides
	i=$((i + 1))
	if TMO=300 k -n "$APP_NS" exec "$p" -c "$APP_CONTAINER" -- python3 /app/load.py "$nreq" > "$W/load-$p.log" 2>&1; then
		pass "kubectl exec load.py $nreq in $p: $(tail -n 1 "$W/load-$p.log")"
	else
		fail "kubectl exec load.py $nreq in $p: $(tail -n 3 "$W/load-$p.log")"
	fi
done

# and through kubectl port-forward, to the first node's pod
p=${APP_POD[${NODES[0]}]} lport=$(free_port) npf=10
[ "$QUICK" = 1 ] && npf=5
kubectl -n "$APP_NS" port-forward "pod/$p" "$lport:8000" > "$W/port-forward.log" 2>&1 &
STARTED+=("$!")
for _ in $(seq 100); do
	grep -q 'Forwarding from' "$W/port-forward.log" && break
	sleep 0.1
done
got=0
for j in $(seq "$npf"); do
	code=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://127.0.0.1:$lport/?pf=$j")
	[ "$code" = 200 ] && got=$((got + 1))
done
kill "${STARTED[-1]}" 2> /dev/null
wait "${STARTED[-1]}" 2> /dev/null
unset 'STARTED[-1]'
if [ "$got" -eq "$npf" ]; then pass "$npf requests through kubectl port-forward to $p"; else
	fail "$got of $npf requests through kubectl port-forward to $p answered 200"
fi

# --- exact counts -----------------------------------------------------------------
say "comparing each observer with its node's pod's access log"
for n in "${NODES[@]}"; do
	p=${APP_POD[$n]} f=$W/metrics-$n.txt lg=$W/access-$p.log
	# wait until the log stops growing and the observer has caught up with it
	prev=-1 total=0
	for _ in $(seq 30); do
		access_log "$p" "$lg" && total=$(log_total "$lg")
		if [ "$total" = "$prev" ] && metrics "${OBS_POD[$n]}" "$f" &&
			[ "$(sum_for "$f" gunicorn_worker_requests_total "$p")" -ge "$total" ]; then
			break
		fi
		prev=$total
		sleep 1
	done
	metrics "${OBS_POD[$n]}" "$f" || fail "scrape of ${OBS_POD[$n]} failed"
	got=$(sum_for "$f" gunicorn_worker_requests_total "$p")
	if [ "$got" -eq "$total" ] && [ "$total" -gt 0 ]; then
		pass "$n: pod $p: gunicorn_worker_requests_total sums to $got = access log lines $total"
	else
		fail "$n: pod $p: gunicorn_worker_requests_total sums to $got, access log has $total lines"
	fi
	got=$(sum_for "$f" gunicorn_requests_total "$p")
	if [ "$got" -eq "$total" ]; then pass "$n: pod $p: gunicorn_requests_total sums to $got = $total"; else
		fail "$n: pod $p: gunicorn_requests_total sums to $got, access log has $total lines"
	fi
	# per worker: the observer's pids are the node's, the log's the pod's; the
	# multisets of per-worker counts must still be equal
	want=$(log_worker_counts "$lg") got=$(worker_counts "$f" "$p")
	if [ "$got" = "$want" ]; then pass "$n: pod $p: per-worker counts [${got% }] = access log's per pid"; else
		fail "$n: pod $p: per-worker counts [${got% }], access log's per pid [${want% }]"
	fi
	want=$(log_code_counts "$lg") got=$(code_counts "$f" "$p")
	if [ "$got" = "$want" ]; then pass "$n: pod $p: requests by code [${got% }] = access log's"; else
		fail "$n: pod $p: requests by code [${got% }], access log's [${want% }]"
	fi
done

# each observer reports its own node's pod and none of the others
for n in "${NODES[@]}"; do
	f=$W/metrics-$n.txt others=''
	for m in "${NODES[@]}"; do
		[ "$m" = "$n" ] && continue
		grep -qF "pod=\"${APP_POD[$m]}\"" "$f" && others="$others ${APP_POD[$m]}"
	done
	if [ -z "$others" ]; then pass "observer on $n reports no pod of another node"; else
		fail "observer on $n reports pods of other nodes:$others"
	fi
done

# --- a deleted pod's series go ----------------------------------------------------
n=${NODES[${#NODES[@]} - 1]}
p=${APP_POD[$n]}
say "deleting pod $p on $n"
if TMO=120 k -n "$APP_NS" delete pod "$p" --wait=true --timeout=90s > "$W/delete.log" 2>&1; then
	gone=0 t0=$SECONDS
	for _ in $(seq 60); do
		metrics "${OBS_POD[$n]}" "$W/after-delete.txt" && ! grep -qF "pod=\"$p\"" "$W/after-delete.txt" && gone=1 && break
		sleep 1
	done
	if [ "$gone" = 1 ]; then pass "observer on $n dropped every series of deleted pod $p (within $((SECONDS - t0 + 1)) s)"; else
		fail "observer on $n still reports pod $p 60 s after its deletion: $(grep -cF "pod=\"$p\"" "$W/after-delete.txt") series"
	fi
else
	fail "kubectl delete pod $p: $(tail -n 3 "$W/delete.log")"
fi

# the replacement pod (a new master, found through its exec) is reported on its node
newpod='' newnode=''
for _ in $(seq 90); do
	read -r newpod newnode < <(k -n "$APP_NS" get pods -l app=gobs-e2e-web --field-selector=status.phase=Running \
		-o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' 2> /dev/null |
		grep -v -e "^${APP_POD[${NODES[0]}]} " -e "^${APP_POD[${NODES[1]}]} " -e "^$p ")
	[ -n "$newpod" ] && break
	sleep 1
done
if [ -z "$newpod" ]; then
	fail "no replacement pod Running within 90 s of deleting $p"
else
	ok=0
	for _ in $(seq 60); do
		metrics "${OBS_POD[$newnode]}" "$W/replacement.txt" &&
			[ "$(grep -c "^gunicorn_worker_uptime_seconds{.*pod=\"$newpod\"" "$W/replacement.txt")" -eq "$WORKERS_PER_POD" ] && ok=1 && break
		sleep 1
	done
	if [ "$ok" = 1 ]; then pass "observer on $newnode tracks replacement pod $newpod"; else
		fail "observer on $newnode shows no $WORKERS_PER_POD workers of replacement pod $newpod after 60 s"
	fi
fi

finish
