#!/bin/bash
# vm/matrix.sh - the kernel matrix: boots each kernel of a list under qemu
# (vm/run.sh), runs the integration core there on every data plane that
# kernel offers, and the bystander figure of each plane, and prints one
# table. See vm/README.md.
#
#   bash vm/matrix.sh [--kernels LIST] [--planes LIST] [--scripts LIST]
#                     [--bystander-rounds N] [--quick] [--ci]
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
me="kernel-matrix"
CORE=basic,gthread,gevent,lifecycle,framing,nginx,restart,tls

usage() {
	cat <<EOF
usage: bash vm/matrix.sh [--kernels LIST] [--planes LIST] [--scripts LIST]
                         [--bystander-rounds N] [--quick] [--ci]
  --kernels LIST        kernels of vm/run.sh, comma-separated (default: 5.10,6.1,6.12)
  --planes LIST         data planes to test on each kernel: all (default: every
                        plane the kernel offers) or some of socket,fentry,syscall
  --scripts LIST        integration/test_<name>.sh scripts, comma-separated
                        (default: $CORE)
  --bystander-rounds N  rounds of the bystander figure in each guest (default 3; 0: none)
  --quick               the scripts' --quick, and 1 bystander round
  --ci                  the scripts' --ci; a failed guest's console log on stderr
Environment: VERBOSE=1 shows each guest's output; MATRIX_OUT=DIR keeps every
guest's logs there (default: build/kernel-matrix). Ends with "N passed, N failed".
Exit: 0 when every check passed; 1 when one failed; 2 bad usage; 3 setup failed.
EOF
}
bad() {
	echo "$me: $*; see 'bash vm/matrix.sh --help'" >&2
	exit 2
}

kernels=5.10,6.1,6.12 planes=all scripts=$CORE rounds=3 quick=0 ci=0
need_val() { if [ $# -lt 2 ] || [ -z "$2" ]; then bad "option $1 needs a value"; fi; }
while [ $# -gt 0 ]; do
	case $1 in
	--kernels | --planes | --scripts | --bystander-rounds)
		need_val "$@"
		case $1 in
		--kernels) kernels=$2 ;;
		--planes) planes=$2 ;;
		--scripts) scripts=$2 ;;
		--bystander-rounds) rounds=$2 ;;
		esac
		shift 2
		;;
	--kernels=* | --planes=* | --scripts=* | --bystander-rounds=*)
		v=${1#*=}
		[ -n "$v" ] || bad "option ${1%%=*} needs a value"
		case $1 in
		--kernels=*) kernels=$v ;;
		--planes=*) planes=$v ;;
		--scripts=*) scripts=$v ;;
		*) rounds=$v ;;
		esac
		shift
		;;
	--quick) quick=1 && shift ;;
	--ci) ci=1 && shift ;;
	-h | --help) usage && exit 0 ;;
	*) bad "unknown option '$1'" ;;
	esac
done
if ! [[ $rounds =~ ^[0-9]+$ ]] || [ "$rounds" -gt 20 ]; then
	bad "--bystander-rounds must be a number from 0 to 20, got '$rounds'"
fi
for p in ${planes//,/ }; do
	case $p in all | socket | fentry | syscall) ;; *) bad "unknown data plane '$p' in --planes (known: all, socket, fentry, syscall)" ;; esac
done
for s in ${scripts//,/ }; do
	[ -f "$repo/integration/test_$s.sh" ] || bad "no integration/test_$s.sh for '$s' in --scripts"
done
for k in ${kernels//,/ }; do
	case $k in 5.10 | 6.1 | 6.12) ;; *) bad "unknown kernel '$k' in --kernels (known: 5.10, 6.1, 6.12)" ;; esac
done
[ "$quick" = 1 ] && [ "$rounds" -gt 1 ] && rounds=1
[ -x "$repo/build/gunicorn-observer" ] || {
	echo "$me: build/gunicorn-observer is missing: run 'make kernel-matrix' (it builds first)" >&2
	exit 3
}

outdir=${MATRIX_OUT:-$repo/build/kernel-matrix}
if ! rm -rf "$outdir" || ! mkdir -p "$outdir"; then
	echo "$me: cannot create $outdir" >&2
	exit 3
fi
gargs=()
[ "$quick" = 1 ] && gargs+=(--quick)
[ "$ci" = 1 ] && gargs+=(--ci)
vargs=()
[ "$ci" = 1 ] && vargs+=(--ci)
nscripts=$(echo "${scripts//,/ }" | wc -w)
# TCG runs a script in about 1.5 to 4 minutes: room for three planes and the bystander runs
tmo=$((600 + nscripts * 3 * 300))

t_all=$SECONDS
for k in ${kernels//,/ }; do
	kd=$outdir/$k
	mkdir -p "$kd"
	echo "== kernel $k: $(echo "${scripts//,/ }" | wc -w) scripts on planes '$planes', bystander rounds $rounds" >&2
	t0=$SECONDS
	if [ "${VERBOSE:-0}" = 1 ]; then
		VM_OUT=$kd bash "$here/run.sh" "${vargs[@]}" --kernel "$k" --smp 2 --mem 4096 --timeout "$tmo" -- \
			bash vm/matrix_guest.sh "$planes" "$scripts" "$rounds" "${gargs[@]}" 2>&1 | tee "$kd/vm.log" >&2
		vrc=${PIPESTATUS[0]}
	else
		VM_OUT=$kd bash "$here/run.sh" "${vargs[@]}" --kernel "$k" --smp 2 --mem 4096 --timeout "$tmo" -- \
			bash vm/matrix_guest.sh "$planes" "$scripts" "$rounds" "${gargs[@]}" >"$kd/vm.log" 2>&1
		vrc=$?
	fi
	echo "$vrc $((SECONDS - t0))" >"$kd/status"
	if [ "$ci" = 1 ] && [ "$vrc" != 0 ]; then
		echo "----- $me: kernel $k (exit $vrc) -----" >&2
		tail -n 60 "$kd/vm.log" >&2
		for f in "$kd"/plane-*.log; do
			[ -f "$f" ] && grep -E '^(FAIL|== )' "$f" | tail -n 40 >&2
		done
	fi
	echo "   kernel $k: exit $vrc after $((SECONDS - t0)) s" >&2
done

# ---- the table ------------------------------------------------------------
passed=0 failed=0
echo
echo "Kernel matrix: $(echo "${scripts//,/ }" | wc -w) integration scripts ($scripts)$([ "$quick" = 1 ] && echo ", --quick") on every data plane each kernel offers; qemu $(
	[ -d /sys/module/kvm_pvm ] || [ ! -w /dev/kvm ] && echo TCG || echo KVM), 2 vCPUs. Bystander: ns per call of an unwatched process with the observer / without it, in the same guest (median of $(awk '$1 == "rounds" {print $2; exit}' "$outdir"/*/summary 2>/dev/null || echo "$rounds") rounds, A/A: a second run with no observer)."
echo
echo "| kernel | auto | data plane | checks passed | failed | minutes | bystander write | read | getppid | unix send+recv |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for k in ${kernels//,/ }; do
	kd=$outdir/$k sum=$outdir/$k/summary
	read -r vrc secs <"$kd/status"
	rel=$(awk '$1 == "kernel" {print $2}' "$sum" 2>/dev/null)
	auto=$(awk '$1 == "auto" {print $2}' "$sum" 2>/dev/null)
	rows=$(awk '$1 == "plane"' "$sum" 2>/dev/null)
	if [ -z "$rows" ]; then
		why=$(awk '$1 == "error" {$1 = ""; print; exit}' "$sum" 2>/dev/null)
		[ -n "$why" ] || why="the guest ended with exit $vrc: $(grep -v '^ *$' "$kd/vm.log" | tail -n 1)"
		echo "| $k ${rel:+($rel)} | ${auto:--} | - | 0 | 1 | $((secs / 60)) | $why | | | |"
		failed=$((failed + 1))
		continue
	fi
	while read -r _ p np nf s; do
		if [ "$p" = none ]; then
			r=$(awk '$1 == "refused" {$1 = ""; sub(/^ /, ""); print}' "$sum")
			[ "$nf" = 0 ] && r="too old: refused in one line, exit 1: \`$r\`" || r="too old, and not refused as it must be: \`$r\`"
			echo "| $k ($rel) | none | $r | $np | $nf | | | | | |"
			passed=$((passed + np))
			failed=$((failed + nf))
			continue
		fi
		by() { awk -v p="$p" -v t="$1" '$1 == "bystander" && $2 == p && $3 == t {printf "%.2fx", $4}' "$sum"; }
		echo "| $k ($rel) | $auto | $p | $np | $nf | $(awk -v s="$s" 'BEGIN {printf "%.1f", s / 60}') | $(by write) | $(by read) | $(by getppid) | $(by sendrecv) |"
		passed=$((passed + np))
		failed=$((failed + nf))
	done <<<"$rows"
	awk -v k="$k ($rel)" '$1 == "bystander" && $2 == "aa" {v[$3] = sprintf("%.2fx", $4); n++}
		END {if (n) printf "| %s | | none again (A/A noise) | | | | %s | %s | %s | %s |\n", k, v["write"], v["read"], v["getppid"], v["sendrecv"]}' "$sum"
	while read -r _ p ok why; do
		[ "$ok" = no ] && [ "$auto" != none ] && echo "|  |  | $p: not offered: $why | | | | | | | |"
	done < <(awk '$1 == "offer"' "$sum")
	if awk '$1 == "error"' "$sum" | grep -q .; then
		echo "| | | $(awk '$1 == "error" {$1 = ""; print; exit}' "$sum") | | 1 | | | | | |"
		failed=$((failed + 1))
	fi
	if [ "$vrc" != 0 ] && ! awk '$1 == "plane" && $4 > 0 {f = 1} END {exit !f}' "$sum"; then
		echo "| | | the guest ended with exit $vrc | | 1 | | | | | |"
		failed=$((failed + 1))
	fi
done
echo
awk '$1 == "failure" {$1 = ""; print "  " $0}' "$outdir"/*/summary 2>/dev/null | head -n 40
echo "Logs: $outdir/<kernel>/ (vm.log, plane-<plane>.log, bench/results.md). Wall time $(((SECONDS - t_all) / 60)) min."
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
