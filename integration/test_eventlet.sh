#!/bin/bash
# data-planes: socket fentry syscall
# Integration test: eventlet workers (2), keep-alive client connections (10 requests
# each, 4 concurrent). Gunicorn starts BEFORE the observer, so the observer must pick up
# an already running master. Same checks as test_basic.sh.
# Usage: sudo ./test_eventlet.sh [--quick] [--ci]
. "$(dirname "$0")/lib.sh"
parse_args "$@"
require_observer
start_gunicorn 2 -k eventlet --worker-connections 100 --keep-alive 5
start_observer
wait_discovered
run_standard 10 4
finish
