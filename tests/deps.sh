#!/bin/sh
# deps.sh PKG... - installs with apt the Debian/Ubuntu packages of the list
# that are missing; prints nothing and changes nothing when all are present.
# On Ubuntu releases without a "bpftool" package, bpftool comes from
# linux-tools for the running kernel.
set -eu
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
missing=""
for p in "$@"; do
	if [ "$p" = bpftool ] && command -v bpftool >/dev/null 2>&1; then
		continue
	fi
	installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages:$missing: run 'make deps' as root (or apt-get install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
pkgs=""
for p in $missing; do
	if [ "$p" = bpftool ] && ! apt-cache show bpftool >/dev/null 2>&1; then
		p="linux-tools-common linux-tools-$(uname -r)"
	fi
	pkgs="$pkgs $p"
done
echo "installing:$pkgs"
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
