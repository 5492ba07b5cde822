# A real Prometheus for the integration tests that query it; sourced after
# lib.sh. start_prometheus [EXTRA_GLOBAL_YAML]: Debian's prometheus scraping
# our observer (127.0.0.1:$OPORT) every second, storage in WORKDIR; checks
# its configuration with promtool and waits until it is ready.
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PPORT='' PROM_PID=''
JOB=gunicorn-observer

start_prometheus() {
    local i code='' cfg=$WORKDIR/prometheus.yml out
    PPORT=$(free_port)
    cat > "$cfg" << EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: $JOB
    static_configs:
      - targets: ['127.0.0.1:$OPORT']
EOF
    if out=$(run promtool check config "$cfg" 2>&1); then pass "promtool check config: our Prometheus configuration is valid"
    else fail "promtool check config: $out"; fi
    vsay "+ $PROMETHEUS --config.file=$cfg --web.listen-address=127.0.0.1:$PPORT"
    "$PROMETHEUS" --config.file="$cfg" --storage.tsdb.path="$WORKDIR/prometheus-data" \
        --web.listen-address="127.0.0.1:$PPORT" --log.level=warn > "$WORKDIR/prometheus.log" 2>&1 &
    PROM_PID=$!
    STARTED+=("$PROM_PID")
    for i in $(seq 300); do
        alive "$PROM_PID" || break
        code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$PPORT/-/ready")
        [ "$code" = 200 ] && { pass "prometheus pid $PROM_PID ready on port $PPORT, scraping 127.0.0.1:$OPORT every 1 s"; return 0; }
        sleep 0.1
    done
    fail "prometheus not ready within 30 s (last code '$code'): $(tail -n 5 "$WORKDIR/prometheus.log")"
    finish
}
