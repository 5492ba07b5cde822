#!/usr/bin/env bash
# run.sh fuzz|replay BINDIR SECS TARGET... - runs the libFuzzer targets.
#   fuzz:   each target for SECS seconds from fuzz/corpus/TARGET (new inputs go
#           to BINDIR/corpus/TARGET, the kept corpus is not touched); a crash
#           fails the run and its reproducer is printed.
#   replay: each target over its kept corpus once, no mutation.
# Ends with "N passed, N failed" (one per target), as tests/run.sh counts.
set -u
cd "$(dirname "$0")/.." || exit 2
mode=${1:-}
bindir=${2:-}
secs=${3:-60}
if [ $# -lt 4 ] || { [ "$mode" != fuzz ] && [ "$mode" != replay ]; }; then
	echo "usage: fuzz/run.sh fuzz|replay BINDIR SECS TARGET..." >&2
	exit 2
fi
case $mode:$secs in
*: | *:*[!0-9]* | fuzz:0)
	echo "fuzz/run.sh: FUZZ_SECS must be a whole number of seconds above 0, not '$secs'" >&2
	exit 2
	;;
esac
shift 3
passed=0
failed=0
log=$(mktemp)
# the fake /proc trees of the targets, gone even when a target crashes
FUZZ_TMPDIR=$(mktemp -d /dev/shm/go-fuzz-run.XXXXXX 2>/dev/null || mktemp -d)
export FUZZ_TMPDIR
trap 'rm -rf "$log" "$FUZZ_TMPDIR"' EXIT

for t in "$@"; do
	bin=$bindir/fuzz_$t
	corpus=fuzz/corpus/$t
	if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
		echo "FAIL fuzz $t: $bin or $corpus is missing (make fuzz-build)"
		failed=$((failed + 1))
		continue
	fi
	if [ "$mode" = replay ]; then
		n=$(find "$corpus" -type f | wc -l)
		if "$bin" -runs=0 -timeout=10 -artifact_prefix="$bindir/$t-replay-" "$corpus" >"$log" 2>&1; then
			echo "ok   fuzz replay $t: $n inputs"
			passed=$((passed + 1))
		else
			echo "FAIL fuzz replay $t: an input of $corpus crashes:"
			grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 8
			echo "reproducer: $(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)"
			failed=$((failed + 1))
		fi
		continue
	fi
	work=$bindir/corpus/$t
	mkdir -p "$work"
	echo "== fuzz $t for ${secs}s"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$bindir/$t-" "$work" "$corpus" >"$log" 2>&1
	rc=$?
	[ "${VERBOSE:-}" = 1 ] && cat "$log"
	stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "ok   fuzz $t: $stats"
		passed=$((passed + 1))
	else
		repro=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
		echo "FAIL fuzz $t (exit $rc):"
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9] ' "$log" | head -n 12
		echo "reproducer: ${repro:-none written} (replay: $bin ${repro:-FILE})"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
