#!/usr/bin/env bash
# image.sh VERSION [SOURCE] - what `make image` runs: builds gunicorn-observer:VERSION
# and gunicorn-observer:latest from the Dockerfile. The Debian bases it names
# (debian:bookworm, debian:bookworm-slim) are used when present, pulled when a
# registry answers, and otherwise made here: one debootstrap (minbase, like the
# official images) gives a full and a slim root tarball, cached under
# build/docker-base/, that `docker import` turns into the two images.
# Starts dockerd when no engine answers and leaves it running.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=engine.sh
. "$HERE/engine.sh"
cd "$HERE/../.."

VERSION=${1:?usage: image.sh VERSION [SOURCE]}
SOURCE=${2:-}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=$PWD/build/docker-base
ROOTFS=$CACHE/rootfs.tmp
PATH_ENV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Unmount what an interrupted debootstrap left mounted, then drop its tree.
drop_rootfs() {
	[ -d "$ROOTFS" ] || return 0
	awk -v r="$ROOTFS" 'index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$ROOTFS"
}
trap drop_rootfs EXIT

# Writes $CACHE/$SUITE.tar and $CACHE/$SUITE-slim.tar from one debootstrap.
make_tarballs() {
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg t0=$SECONDS
	command -v debootstrap >/dev/null 2>&1 || sh tests/deps.sh debootstrap
	[ -f "$keyring" ] || sh tests/deps.sh debian-archive-keyring
	drop_rootfs
	mkdir -p "$CACHE"
	echo "== debootstrap --variant=minbase $SUITE from $MIRROR (once; cached in ${CACHE#"$PWD"/})"
	debootstrap --variant=minbase --keyring="$keyring" "$SUITE" "$ROOTFS" "$MIRROR" \
		>"$CACHE/debootstrap.log" 2>&1 ||
		{ echo "debootstrap failed; last lines of $CACHE/debootstrap.log:" >&2; tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
	configure_rootfs
	tar --numeric-owner -C "$ROOTFS" -cf "$CACHE/$SUITE.tar.tmp" .
	slimify_rootfs
	tar --numeric-owner -C "$ROOTFS" -cf "$CACHE/$SUITE-slim.tar.tmp" .
	mv "$CACHE/$SUITE.tar.tmp" "$CACHE/$SUITE.tar"
	mv "$CACHE/$SUITE-slim.tar.tmp" "$CACHE/$SUITE-slim.tar"
	drop_rootfs
	echo "== root tarballs ready in $((SECONDS - t0)) s: $(du -h "$CACHE/$SUITE.tar" | cut -f1) full, $(du -h "$CACHE/$SUITE-slim.tar" | cut -f1) slim"
}

# What the official images add to a minbase tree: the updates and security
# suites, no service starts, no apt caches left in layers.
configure_rootfs() {
	local security=${MIRROR%/debian}/debian-security
	rm -f "$ROOTFS/etc/apt/sources.list"
	cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
	chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
	cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
	echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
	echo 'APT::AutoRemove::SuggestsImportant "false";' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
	rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
		"$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/*
	: >"$ROOTFS/etc/machine-id"
}

# bookworm-slim: no documentation, manual pages or translations, now or later.
slimify_rootfs() {
	cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CONF
	find "$ROOTFS/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
	find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$ROOTFS"/usr/share/groff/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/linda/* \
		"$ROOTFS"/usr/share/lintian/* "$ROOTFS"/usr/share/man/*
	find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
}

# ensure_base TAG: debian:TAG present, pulled, or imported from the cached tarball
ensure_base() {
	local tag=$1
	docker image inspect "debian:$tag" >/dev/null 2>&1 && return 0
	if timeout 300 docker pull -q "debian:$tag" >/dev/null 2>&1; then
		echo "== pulled debian:$tag"
		return 0
	fi
	[ -f "$CACHE/$tag.tar" ] || make_tarballs
	docker import --change 'CMD ["bash"]' --change "ENV PATH=$PATH_ENV" \
		--message "debootstrap --variant=minbase $SUITE $MIRROR" "$CACHE/$tag.tar" "debian:$tag" >/dev/null
	echo "== debian:$tag imported from ${CACHE#"$PWD"/}/$tag.tar (no registry answered)"
}

engine_up build/dockerd.log
if [ -n "$DOCKERD_PID" ]; then
	echo "== started dockerd (pid $DOCKERD_PID, log build/dockerd.log); it keeps running"
fi
ensure_base "$SUITE"
ensure_base "$SUITE-slim"
t0=$SECONDS
# shellcheck disable=SC2046 # build_net is zero or two words
docker build $(build_net) --build-arg "VERSION=$VERSION" --build-arg "SOURCE=$SOURCE" \
	-t "gunicorn-observer:$VERSION" -t gunicorn-observer:latest .
echo "== gunicorn-observer:$VERSION built in $((SECONDS - t0)) s," \
	"$(docker image inspect -f '{{.Size}}' "gunicorn-observer:$VERSION" | awk '{printf "%.1f MB", $1 / 1e6}')"
