#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: sync workers (2), one connection per request. The observer starts
# first, so it must discover a gunicorn master started after it. Checks exact counts and
# byte sums against the access log and the client, /sleep mean duration, promtool.
# Usage: sudo ./test_basic.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
start_observer
start_gunicorn 2 -k sync
wait_discovered
run_standard 0 4
finish
