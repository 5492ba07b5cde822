#!/bin/bash
# Runs every integration test in turn (options are passed on, e.g. --quick --ci) and
# prints one summary line per test; exits non-zero if any test failed.
# Usage: sudo ./run_all.sh [--quick] [--ci]
cd "$(dirname "$0")" || exit 2
rc=0 summary=()
for t in test_basic.sh test_gthread.sh test_gevent.sh test_eventlet.sh; do
    echo "######## $t $*"
    ./"$t" "$@"
    r=$?
    [ "$r" -ne 0 ] && rc=1
    summary+=("$t: $([ "$r" -eq 0 ] && echo ok || echo "FAILED (exit $r)")")
done
printf '%s\n' "${summary[@]}"
exit "$rc"
