# engine.sh - sourced by the e2e/docker scripts: makes sure a Docker engine
# answers. When none does it installs docker.io (if dockerd is missing) and
# starts `dockerd --iptables=false --bridge=none` itself, in a session of its
# own so that a Ctrl-C of the caller does not take it down; DOCKERD_PID is
# then its pid, for engine_down. A dockerd this file did not start is never
# stopped.

DOCKERD_PID=''

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

# engine_up LOGFILE: 0 when an engine answers (started here if need be)
engine_up() {
	local log=$1
	engine_answers && return 0
	if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
		sh "$(dirname "${BASH_SOURCE[0]}")/../../tests/deps.sh" docker.io || return 1
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "no Docker engine answers and only root can start one: run as root, or start docker" >&2
		return 1
	fi
	mkdir -p "$(dirname "$log")"
	setsid dockerd --iptables=false --bridge=none >"$log" 2>&1 < /dev/null &
	DOCKERD_PID=$!
	for _ in $(seq 120); do
		engine_answers && return 0
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.5
	done
	echo "dockerd did not answer within 60 s ($(kill -0 "$DOCKERD_PID" 2>/dev/null && echo running || echo exited)); last lines of $log:" >&2
	tail -n 20 "$log" >&2
	engine_down
	return 1
}

# engine_down: stops the dockerd that engine_up started, if any (SIGTERM, then
# SIGKILL after 30 s); dockerd stops its containerd with it.
engine_down() {
	[ -n "$DOCKERD_PID" ] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	for _ in $(seq 300); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$DOCKERD_PID" 2>/dev/null; then
		echo "dockerd $DOCKERD_PID ignored SIGTERM for 30 s, sending SIGKILL" >&2
		kill -KILL "$DOCKERD_PID" 2>/dev/null
	fi
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=''
	return 0
}

# build_net: the option docker build needs here: "--network host" when the
# engine has no bridge network (a dockerd started with --bridge=none)
build_net() { docker network inspect bridge >/dev/null 2>&1 || echo --network host; }
