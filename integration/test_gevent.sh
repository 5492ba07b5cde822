#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: gevent workers (2, --worker-connections 100), keep-alive client
# connections (10 requests each, 4 concurrent). Observer starts before gunicorn.
# Same checks as test_basic.sh. Usage: sudo ./test_gevent.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
start_observer
start_gunicorn 2 -k gevent --worker-connections 100 --keep-alive 5
wait_discovered
run_standard 10 4
finish
