#!/usr/bin/env bash
# run.sh UNIT_TEST_BINARY... - runs the cmocka unit tests, then every
# integration/test_*.sh (or the scripts in SCRIPTS), and ends with one line
# "N passed, N failed". Scripts get --ci under CI=true; INTEGRATION_ARGS adds
# more (e.g. --quick).
# A script whose first lines hold "# data-planes: PLANE..." (e.g. "socket
# syscall") runs once per plane, with GUNICORN_OBSERVER_DATA_PLANE=PLANE, as
# "== script: S (data plane PLANE)"; each run counts. DATA_PLANES="P..."
# keeps only those planes (e.g. DATA_PLANES=syscall). A plane this kernel does not
# offer ("gunicorn-observer data-planes") is skipped with a line that says why.
set -u
cd "$(dirname "$0")/.." || exit 2
passed=0
failed=0

count_cmocka() { # output file
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

count_script() { # output file, exit code
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$2" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		failed=$((failed + 1)) # the script died before counting
	fi
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	echo "== unit: $t"
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	count_cmocka "$out"
	if [ $rc -ne 0 ] && ! grep -q '^\[  FAILED  \]' "$out"; then
		failed=$((failed + 1))
	fi
done

# libFuzzer targets over their kept corpus once (make test sets these)
if [ -n "${FUZZ_BINDIR:-}" ]; then
	echo "== fuzz replay: $FUZZ_BINDIR"
	# shellcheck disable=SC2086
	bash fuzz/run.sh replay "$FUZZ_BINDIR" 0 ${FUZZ_REPLAY_TARGETS:-} 2>&1 | tee "$out"
	count_script "$out" "${PIPESTATUS[0]}"
fi

args=()
[ "${CI:-}" = "true" ] && args+=(--ci)
# shellcheck disable=SC2206
args+=(${INTEGRATION_ARGS:-})
# planes_of SCRIPT: the planes of its "# data-planes:" line (within its first 10
# lines), less those DATA_PLANES leaves out; nothing when it has no such line
planes_of() {
	local p want=" ${DATA_PLANES:-} " out=''
	for p in $(head -n 10 "$1" | sed -n 's/^# data-planes://p' | head -n 1); do
		if [ -z "${DATA_PLANES:-}" ] || [[ $want == *" $p "* ]]; then out="$out $p"; fi
	done
	echo "$out"
}

# offered PLANE: 0 when this kernel offers PLANE (or the binary cannot say);
# else 1, with the reason in $no_why
offers=''
[ -x build/gunicorn-observer ] && offers=$(build/gunicorn-observer data-planes 2>/dev/null)
offered() {
	no_why=$(awk -v p="$1" '$1 == p && $2 == "no" {$1 = $2 = ""; sub(/^ +/, ""); print}' <<<"$offers")
	[ -z "$no_why" ]
}
skipped=0

for s in ${SCRIPTS:-integration/test_*.sh}; do
	[ -e "$s" ] || continue
	if ! head -n 10 "$s" | grep -q '^# data-planes:'; then
		echo "== script: $s ${args[*]}"
		t0=$SECONDS
		bash "$s" "${args[@]}" 2>&1 | tee "$out"
		count_script "$out" "${PIPESTATUS[0]}"
		echo "== time: $((SECONDS - t0)) s for $s"
		continue
	fi
	for plane in $(planes_of "$s"); do
		if ! offered "$plane"; then
			echo "== skip: $s (data plane $plane: $no_why)"
			skipped=$((skipped + 1))
			continue
		fi
		echo "== script: $s (data plane $plane) ${args[*]}"
		t0=$SECONDS
		GUNICORN_OBSERVER_DATA_PLANE=$plane bash "$s" "${args[@]}" 2>&1 | tee "$out"
		count_script "$out" "${PIPESTATUS[0]}"
		echo "== time: $((SECONDS - t0)) s for $s (data plane $plane)"
	done
done

[ "$skipped" = 0 ] || echo "skipped: $skipped script runs on data planes this kernel does not offer"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
