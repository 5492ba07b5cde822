#!/bin/bash
# vm/matrix_guest.sh - one kernel's part of the kernel matrix, run inside the
# guest by vm/matrix.sh (through vm/run.sh), from the repository. Writes
# $VM_OUT/summary (the lines vm/matrix.sh reads) and one log per data plane.
#
#   bash vm/matrix_guest.sh PLANES SCRIPTS BYSTANDER_ROUNDS [--quick] [--ci]
#
# PLANES: the data planes to test, comma-separated, or "all" (every plane
# this kernel offers); SCRIPTS: integration scripts, comma-separated;
# BYSTANDER_ROUNDS: rounds of bench/bench.py's bystander figure (0: none).
# summary lines:
#   kernel RELEASE
#   auto PLANE
#   offer PLANE yes|no [WHY]
#   plane PLANE PASSED FAILED SECONDS   (PLANE none: the kernel is too old; the
#                                       check is the observer's one-line refusal)
#   refused LINE
#   bystander PLANE CALL RATIO MIN MAX   (CALL: write read getppid sendrecv; aa = none again)
#   rounds N                             (of the bystander figure)
#   error TEXT
set -u
want=$1 scripts=$2 rounds=$3
shift 3
args=()
for a in "$@"; do
	case $a in --quick | --ci) args+=("$a") ;; *) echo "matrix_guest: unknown option '$a'" >&2 && exit 2 ;; esac
done
out=${VM_OUT:?VM_OUT is not set: run through vm/run.sh}
sum=$out/summary
: >"$sum"
obs=build/gunicorn-observer
echo "kernel $(uname -r)" >>"$sum"
if ! offers=$("$obs" data-planes 2>&1); then
	echo "error $obs data-planes failed: $(echo "$offers" | head -n 1)" >>"$sum"
	exit 1
fi
echo "$offers" >"$out/data-planes.txt"
awk '$1 == "auto" {print "auto", $2}' <<<"$offers" >>"$sum"
awk '$1 != "auto" {p = $1; ok = $2; $1 = $2 = ""; sub(/^ +/, ""); print "offer", p, ok, $0}' <<<"$offers" >>"$sum"
planes=()
for p in socket fentry syscall; do
	awk -v p="$p" '$1 == p && $2 == "yes" {f = 1} END {exit !f}' <<<"$offers" || continue
	[ "$want" = all ] || [[ ,$want, == *",$p,"* ]] || continue
	planes+=("$p")
done
# A kernel older than the observer's floor offers no plane: what is tested
# there is the refusal, one line that names the kernel and what to run, exit 1
if awk '$1 == "auto" && $2 == "none" {f = 1} END {exit !f}' <<<"$offers"; then
	"$obs" --no-pin --listen 127.0.0.1:19093 >"$out/refused.out" 2>"$out/refused.err"
	orc=$?
	if [ "$orc" = 1 ] && [ "$(wc -l <"$out/refused.err")" = 1 ] && grep -q 'run Linux 5.12 or later' "$out/refused.err"; then
		echo "plane none 1 0 0" >>"$sum"
	else
		echo "plane none 0 1 0" >>"$sum"
		echo "failure none the observer exited $orc with: $(head -c 300 "$out/refused.err")" >>"$sum"
	fi
	echo "refused $(head -n 1 "$out/refused.err")" >>"$sum"
	exit 0
fi
[ ${#planes[@]} -gt 0 ] || echo "error none of the planes '$want' is offered by this kernel" >>"$sum"

rc=0
for p in "${planes[@]}"; do
	t0=$SECONDS
	log=$out/plane-$p.log
	SCRIPTS="integration/test_${scripts//,/.sh integration/test_}.sh" DATA_PLANES=$p \
		INTEGRATION_ARGS="${args[*]}" bash tests/run.sh >"$log" 2>&1 || rc=1
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	np=${line%% passed*} nf=${line#*passed, } && nf=${nf%% failed*}
	[ -n "$line" ] || np=0 nf=1
	echo "plane $p $np $nf $((SECONDS - t0))" >>"$sum"
	grep -E '^(FAIL|== skip)' "$log" | head -n 20 | sed "s/^/failure $p /" >>"$sum"
done

# What an unwatched process pays, with and without the observer in this guest
if [ "$rounds" -gt 0 ] && [ ${#planes[@]} -gt 0 ]; then
	bo=$out/bench
	mkdir -p "$bo"
	pl=$(
		IFS=,
		echo "${planes[*]}"
	)
	if /usr/bin/python3 bench/bench.py --no-load --no-scale --no-memory --planes "$pl" \
		--bystander-rounds "$rounds" --bystander-reps 3 --bystander-loops 100000 --out "$bo" \
		>"$out/bench.log" 2>&1; then
		/usr/bin/python3 - "$bo/results.json" >>"$sum" <<'EOF'
import json, statistics, sys
by = json.load(open(sys.argv[1]))["bystander"]
print("rounds", len(by["rounds"]))
for c in by["conditions"]:
    if c == "none":
        continue
    for t in ("write", "read", "getppid", "sendrecv"):
        r = [x[c][t] / x["none"][t] for x in by["rounds"] if c in x and t in x[c]]
        if r:
            print("bystander", "aa" if c == "none-again" else c, t,
                  "%.3f %.3f %.3f" % (statistics.median(r), min(r), max(r)))
EOF
	else
		echo "error bench/bench.py (bystander) failed: $(grep -v '^ *$' "$out/bench.log" | tail -n 1)" >>"$sum"
		rc=1
	fi
fi
exit $rc
