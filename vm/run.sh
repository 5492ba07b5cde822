#!/bin/bash
# vm/run.sh - boots one of Debian's own kernels (bookworm's 6.1 and 6.12,
# bullseye's 5.10) under qemu/KVM with the host's / as the guest's root (9p,
# read-only, under a tmpfs overlay) and runs a command inside it, from the
# same working directory; exits with the command's exit status. See
# vm/README.md.
#
#   bash vm/run.sh [--kernel 5.10|6.1|6.12] [--smp N] [--mem MiB] [--timeout S]
#                  [--accel auto|kvm|tcg] [--quick] [--ci] -- COMMAND [ARGS...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
me="vm"

usage() {
	cat <<'EOF'
usage: bash vm/run.sh [--kernel 5.10|6.1|6.12] [--smp N] [--mem MiB] [--timeout S]
                      [--accel auto|kvm|tcg] [--quick] [--ci] -- COMMAND [ARGS...]
  --kernel K   Debian kernel series: 6.12 (default) or 6.1 (bookworm, with
               apt), 5.10 (bullseye, from the signed archive index)
  --smp N      vCPUs, 1-255 (default 2; more than the host's cores is fine)
  --mem MiB    guest memory (default 2048)
  --timeout S  kill the VM after S seconds, exit 124 (default 600)
  --accel A    auto (default), kvm (-enable-kvm -cpu host) or tcg (software);
               auto takes kvm unless /dev/kvm is missing or is PVM
  --quick      no dependency check and no apt: use the installed tools and
               the cached kernel only (fails if it is not cached yet)
  --ci         on any failure, print the guest's console log and qemu's
               messages to stderr
Environment: VERBOSE=1 shows the kernel console; VM_OUT=DIR shares DIR
writable with the guest (default: a temp dir removed at exit). The command
sees $VM_OUT, $VM_KERNEL, $VM_KVER, $VM_SMP.
Exit: the command's status; 2 bad usage; 3 setup failed; 124 timed out;
125 the guest ended without reporting a status.
EOF
}
bad() {
	echo "$me: $*; see 'bash vm/run.sh --help'" >&2
	exit 2
}
die() {
	echo "$me: $*" >&2
	exit 3
}
say() { echo "$me: $*" >&2; }

kernel=6.12 smp=2 mem=2048 tmo=600 quick=0 ci=0 accel=${VM_ACCEL:-auto}
need_val() { if [ $# -lt 2 ] || [ -z "$2" ]; then bad "option $1 needs a value"; fi; }
while [ $# -gt 0 ]; do
	case $1 in
	--kernel | --smp | --mem | --timeout | --accel)
		need_val "$@"
		case $1 in
		--accel) accel=$2 ;;
		--kernel) kernel=$2 ;;
		--smp) smp=$2 ;;
		--mem) mem=$2 ;;
		--timeout) tmo=$2 ;;
		esac
		shift 2
		;;
	--kernel=*) kernel=${1#*=} && shift ;;
	--smp=*) smp=${1#*=} && shift ;;
	--mem=*) mem=${1#*=} && shift ;;
	--timeout=*) tmo=${1#*=} && shift ;;
	--accel=*) accel=${1#*=} && shift ;;
	--quick) quick=1 && shift ;;
	--ci) ci=1 && shift ;;
	-h | --help) usage && exit 0 ;;
	--) shift && break ;;
	-*) bad "unknown option '$1'" ;;
	*) bad "expected '--' before the command, got '$1'" ;;
	esac
done
[ $# -gt 0 ] || bad "missing '-- COMMAND [ARGS...]'"
case $kernel in
6.12) meta=linux-image-6.12-amd64 ;;
6.1) meta=linux-image-amd64 ;;
5.10) meta="" ;;
*) bad "unknown kernel '$kernel' (known: 5.10, 6.1, 6.12)" ;;
esac
isnum() { # isnum OPTION VALUE MIN MAX
	if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
		bad "$1 must be a number from $3 to $4, got '$2'"
	fi
}
case $accel in auto | kvm | tcg) ;; *) bad "unknown accelerator '$accel' (known: auto, kvm, tcg)" ;; esac
isnum --smp "$smp" 1 255
isnum --mem "$mem" 128 1048576
isnum --timeout "$tmo" 1 604800

tmp="" qpid="" readers=()
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	unblock_readers
	for p in "${readers[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	[ -n "$tmp" ] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A reader still blocked opening its FIFO (qemu never opened it) is released
# by a writer that opens and closes it; O_RDWR never blocks.
unblock_readers() {
	local f
	[ -n "$tmp" ] || return 0
	for f in "$tmp"/*.fifo; do
		[ -p "$f" ] || continue
		{ exec 7<>"$f" && exec 7>&-; } 2>/dev/null || true
	done
}

# --- host tools -----------------------------------------------------------
if [ "$quick" = 0 ]; then
	sh "$repo/tests/deps.sh" qemu-system-x86 busybox-static cpio kmod xz-utils zstd >&2 ||
		die "installing qemu-system-x86 busybox-static cpio kmod xz-utils zstd failed: run as root with apt working"
	if [ ! -s "$repo/build/vm/$kernel/package" ] && { [ -z "$meta" ] || ! apt-cache show "$meta" >/dev/null 2>&1; }; then
		# not in the host's apt sources (bullseye's on a bookworm host, any
		# on a host that is not Debian): fetched over HTTP from Debian's
		# archive and checked against its signature
		get=curl
		if ! command -v curl >/dev/null 2>&1 && command -v wget >/dev/null 2>&1; then get=""; fi
		# shellcheck disable=SC2086 # no curl where wget is there
		sh "$repo/tests/deps.sh" $get gpgv debian-archive-keyring >&2 ||
			die "installing ${get:+$get }gpgv debian-archive-keyring failed: run as root with apt working"
	fi
fi
for t in qemu-system-x86_64 cpio gzip depmod timeout flock; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found: run without --quick (or: apt-get install qemu-system-x86 cpio kmod)"
done
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b && break; fi
done
[ -n "$busybox" ] || die "no static busybox: apt-get install busybox-static"
kvm_ok=0
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then kvm_ok=1; fi
if [ "$accel" = auto ]; then
	accel=tcg
	if [ "$kvm_ok" = 0 ]; then
		say "/dev/kvm is not usable here: using TCG software emulation (slower)"
	elif [ -d /sys/module/kvm_pvm ]; then
		# PVM (Pagetable-based Virtual Machine) runs only guest kernels built
		# for it; a stock kernel has every instruction emulated (and qemu's
		# -cpu host fails on MSR 0x10a), so it does not boot in useful time.
		say "/dev/kvm here is PVM (kvm_pvm), which cannot run Debian's stock kernels: using TCG software emulation (--accel kvm forces KVM)"
	else
		accel=kvm
	fi
fi
if [ "$accel" = kvm ] && [ "$kvm_ok" = 0 ]; then
	die "/dev/kvm is not usable: enable KVM (nested virtualisation), run as root, or use --accel tcg"
fi
case $accel in
kvm) accel_args=(-enable-kvm -cpu host) ;;
*) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
esac

# --- kernel package, cached in build/vm/<kernel>/ -------------------------
# Each get_* downloads the kernel's .deb into $part/dl and sets pkg and deb.
get_apt() { # 6.1, 6.12: bookworm, from the host's apt sources
	resolve() { apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}'; }
	pkg=$(resolve || true)
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(resolve || true)
	fi
	case $kernel in 6.12) pat='linux-image-6.12*-amd64' ;; *) pat='linux-image-6.1.*-amd64' ;; esac
	# shellcheck disable=SC2254
	case $pkg in $pat) ;; *) die "apt does not know the Debian package for kernel $kernel ($meta -> '${pkg:-nothing}'): add bookworm and bookworm-security to the apt sources and run apt-get update" ;; esac
	part=$vmdir/.$kernel.partial
	rm -rf "$part" && mkdir -p "$part/dl" && chmod 777 "$part/dl"
	say "downloading $pkg (kernel $kernel, once; cached in build/vm/$kernel)"
	if ! (cd "$part/dl" && apt-get download "$pkg") >"$part/apt.log" 2>&1; then
		err=$(grep -E '^(E|Err):' "$part/apt.log" | tail -n 1 || true)
		rm -rf "$part"
		die "apt-get download $pkg failed${err:+ ($err)}: check network access to the Debian mirror, then apt-get update"
	fi
	deb=$(find "$part/dl" -name '*.deb' | head -n 1)
}
# From Debian's archive index, where apt cannot resolve the package: 5.10
# (bullseye) on a bookworm host, or any of them on a host that is not
# Debian (Ubuntu's CI runners). The newest package whose name matches the
# kernel's pattern in the suites' indexes: their InRelease is checked with
# gpgv against debian-archive-keyring, their Packages.xz against InRelease
# and the .deb against Packages.xz.
suites_of() { # suites_of KERNEL: "BASE SUITE" lines
	local d=http://deb.debian.org/debian s=http://deb.debian.org/debian-security
	case $1 in
	5.10) printf '%s\n' "$d bullseye" "$s bullseye-security" ;;
	*) printf '%s\n' "$d bookworm" "$d bookworm-updates" "$s bookworm-security" ;;
	esac
}
name_re() { # name_re KERNEL: the package names of that series (not -dbg, -unsigned, -rt, -cloud)
	case $1 in
	5.10) echo '^linux-image-5\.10\.0-[0-9]+-amd64$' ;;
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
	esac
}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
fetch() { # fetch FILE URL, or remove $part and fail
	local err
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 -o "$1" "$2" 2>"$part/fetch.log" && return 0
	else
		wget -q --tries=3 -O "$1" "$2" 2>"$part/fetch.log" && return 0
	fi
	err=$(grep -v '^$' "$part/fetch.log" | tail -n 1 || true)
	drop "downloading $2 failed${err:+ ($err)}: check network access to deb.debian.org"
}
drop() { rm -rf "$part" && die "$@"; }
get_index() {
	local base suite n=0 idx sum want best="" v f h re
	re=$(name_re "$kernel")
	if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
		die "neither curl nor wget found: run without --quick (or: apt-get install curl)"
	fi
	if ! command -v gpgv >/dev/null 2>&1 || [ ! -s "$keyring" ]; then
		die "gpgv or $keyring not found: run without --quick (or: apt-get install gpgv debian-archive-keyring)"
	fi
	part=$vmdir/.$kernel.partial
	rm -rf "$part" && mkdir -p "$part/dl"
	while read -r base suite; do
		n=$((n + 1)) idx=$part/$n
		fetch "$idx.InRelease" "$base/dists/$suite/InRelease"
		gpgv --keyring "$keyring" --output "$idx.Release" "$idx.InRelease" >/dev/null 2>&1 ||
			drop "the signature of $base/dists/$suite/InRelease does not verify with $keyring"
		want=$(awk '/^[^ ]/ {s = ($1 == "SHA256:")} s && $3 == "main/binary-amd64/Packages.xz" {print $1; exit}' "$idx.Release")
		fetch "$idx.Packages.xz" "$base/dists/$suite/main/binary-amd64/Packages.xz"
		sum=$(sha256sum "$idx.Packages.xz" | cut -d' ' -f1)
		[ "$sum" = "${want:-none}" ] ||
			drop "$base/dists/$suite/main/binary-amd64/Packages.xz has SHA256 $sum, its InRelease says '${want:-nothing}'"
		# "VERSION PACKAGE URL SHA256" for each package of the series
		xz -dc "$idx.Packages.xz" | awk -v RS= -F '\n' -v base="$base" -v re="$re" '
			$1 ~ /^Package: / && substr($1, 10) ~ re {
				delete f
				for (i = 1; i <= NF; i++)
					if ((j = index($i, ": ")) > 0) f[substr($i, 1, j - 1)] = substr($i, j + 2)
				print f["Version"], f["Package"], base "/" f["Filename"], f["SHA256"]
			}' >>"$part/candidates" || drop "reading $base/dists/$suite/main/binary-amd64/Packages.xz failed"
	done < <(suites_of "$kernel")
	while read -r v _ _ _; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "${best%% *}"; then best=$v; fi
	done <"$part/candidates"
	[ -n "$best" ] || drop "no package matching $re in the indexes of $(suites_of "$kernel" | awk '{print $2}' | tr '\n' ' ')"
	read -r v pkg f h < <(awk -v v="$best" '$1 == v {print; exit}' "$part/candidates")
	say "downloading $pkg $v (kernel $kernel, once; cached in build/vm/$kernel)"
	deb=$part/dl/${f##*/}
	fetch "$deb" "$f"
	sum=$(sha256sum "$deb" | cut -d' ' -f1)
	[ "$sum" = "$h" ] || drop "$f has SHA256 $sum, the archive's index says $h"
}
vmdir=$repo/build/vm
cache=$vmdir/$kernel
mkdir -p "$vmdir"
exec 9>"$vmdir/.lock"
flock 9
if [ ! -s "$cache/package" ]; then
	[ "$quick" = 0 ] || die "kernel $kernel is not cached in $cache: run once without --quick"
	if [ -n "$meta" ] && apt-cache show "$meta" >/dev/null 2>&1; then get_apt; else get_index; fi
	mkdir -p "$part/root"
	dpkg-deb -x "$deb" "$part/root" || die "dpkg-deb -x $deb failed (disk full?)"
	kv=$(basename "$(find "$part/root/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)")
	[ -f "$part/root/boot/vmlinuz-$kv" ] || die "$pkg has no boot/vmlinuz-$kv"
	depmod -b "$part/root" "$kv" || die "depmod for $kv failed"
	echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $kv" >"$part/root/package"
	rm -rf "$cache"
	mv "$part/root" "$cache"
	rm -rf "$part"
fi
read -r pkg pkgver kv <"$cache/package"
vmlinuz=$cache/boot/vmlinuz-$kv
moddir=$cache/lib/modules/$kv

# --- initramfs: static busybox, the modules for virtio, 9p and overlay ----
tmp=$(mktemp -d /tmp/vm-run.XXXXXX)
ird=$tmp/initramfs
mkdir -p "$ird/bin" "$ird/dev" "$ird/modules"
cp "$busybox" "$ird/bin/busybox"
cp "$here/initramfs-init.sh" "$ird/init"
chmod 755 "$ird/init"
mknod -m 600 "$ird/dev/console" c 5 1 2>/dev/null || true

declare -A mdeps=() mpath=() seen=()
while IFS= read -r line; do
	p=${line%%:*}
	n=${p##*/} && n=${n%%.ko*} && n=${n//-/_}
	mpath[$n]=$p
	mdeps[$n]=${line#*:}
done <"$moddir/modules.dep"
order=()
want() { # want NAME: NAME and its dependencies, dependencies first
	local n=${1//-/_} d
	[ -z "${seen[$n]:-}" ] || return 0
	seen[$n]=1
	if [ -z "${mpath[$n]:-}" ]; then
		grep -Eq "/$1\.ko" "$moddir/modules.builtin" || die "kernel $kv has no module $1"
		return 0
	fi
	for d in ${mdeps[$n]}; do
		d=${d##*/} && want "${d%%.ko*}"
	done
	order+=("${mpath[$n]}")
}
for m in virtio_pci virtio_console 9pnet_virtio 9p overlay; do want "$m"; done
for p in "${order[@]}"; do
	f=${p##*/} && f=${f%%.ko*}.ko
	case $p in
	*.ko.xz) xz -dc "$moddir/$p" >"$ird/modules/$f" ;;
	*.ko.zst) zstd -qdc "$moddir/$p" >"$ird/modules/$f" ;;
	*.ko.gz) gzip -dc "$moddir/$p" >"$ird/modules/$f" ;;
	*) cp "$moddir/$p" "$ird/modules/$f" ;;
	esac
	echo "$f" >>"$ird/modules/load.list"
done
touch "$ird/modules/load.list"
(cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$tmp/initrd.gz"
flock -u 9

# --- control share: environment, command, status --------------------------
ctl=$tmp/ctl
mkdir -p "$ctl"
if [ -n "${VM_OUT:-}" ]; then
	mkdir -p "$VM_OUT" && out=$(cd "$VM_OUT" && pwd)
else
	out=$tmp/out && mkdir -p "$out"
fi
q() { printf '%q' "$1"; }
{
	echo "VM_INIT=$(q "$here/init.sh")"
	echo "VM_OUT=$(q "$out")"
	echo "VM_MODULES=$(q "$moddir")"
	echo "VM_KVER=$(q "$kv")"
	echo "VM_KERNEL=$(q "$kernel")"
	echo "VM_SMP=$(q "$smp")"
	echo "VM_PATH=$(q "$PATH:/usr/local/sbin:/usr/sbin:/sbin")"
	echo "VM_HOME=$(q "${HOME:-/root}")"
	echo "VM_LANG=$(q "${LANG:-}")"
	echo "VM_CI=$ci"
} >"$ctl/env.sh"
{
	echo "cd -- $(q "$PWD") || exit 125"
	printf '%q ' "$@"
	echo
} >"$ctl/cmd.sh"

# --- qemu ---------------------------------------------------------------
mkfifo "$tmp/out.fifo" "$tmp/err.fifo"
cat "$tmp/out.fifo" &
readers+=($!)
cat "$tmp/err.fifo" >&2 &
readers+=($!)
conlog=$tmp/console.log qlog=$tmp/qemu.log
append="console=ttyS0 panic=-1 rdinit=/init"
if [ "$accel" = tcg ]; then
	# Under TCG every secondary CPU's delay-loop calibration fails slowly
	# (about 2 s per few CPUs at --smp 64): give the loops per jiffy of the
	# host's clock (HZ from the kernel's config) and trust the TSC, which
	# TCG derives from one host clock for all vCPUs.
	hz=$(sed -n 's/^CONFIG_HZ=//p' "$cache/boot/config-$kv")
	mhz=$(awk -F: '/^cpu MHz/ {print int($2); exit}' /proc/cpuinfo)
	append="$append lpj=$((${mhz:-2000} * 1000000 / ${hz:-250})) tsc=reliable"
fi
if [ "${VERBOSE:-0}" = 1 ]; then
	mkfifo "$tmp/con.fifo"
	tee "$conlog" <"$tmp/con.fifo" >&2 &
	readers+=($!)
	con=$tmp/con.fifo
	say "kernel $kv ($pkg $pkgver), smp $smp, mem ${mem}M, accel $accel"
else
	con=$conlog
	# --ci keeps the full kernel log for the dump on failure
	[ "$ci" = 1 ] || append="$append quiet loglevel=3"
fi
qargs=()
fs9p() { # fs9p ID PATH TAG [OPTIONS]: a 9p share (qemu doubles commas)
	qargs+=(-fsdev "local,id=$1,path=${2//,/,,},security_model=none${4:+,$4}"
		-device "virtio-9p-pci,fsdev=$1,mount_tag=$3")
}
fs9p root / hostroot readonly=on,multidevs=remap
fs9p ctl "$ctl" vmctl
fs9p out "$out" vmout
t0=$(date +%s.%N)
timeout -k 5 "$tmo" qemu-system-x86_64 "${accel_args[@]}" -smp "$smp" -m "$mem" \
	-nographic -nodefaults -no-reboot -vga none -nic none \
	-kernel "$vmlinuz" -initrd "$tmp/initrd.gz" -append "$append" \
	-chardev file,id=con,path="$con" -serial chardev:con \
	-device virtio-serial-pci,id=vser \
	-chardev file,id=out,path="$tmp/out.fifo" -device virtconsole,bus=vser.0,chardev=out \
	-chardev file,id=err,path="$tmp/err.fifo" -device virtconsole,bus=vser.0,chardev=err \
	"${qargs[@]}" </dev/null >"$qlog" 2>&1 &
qpid=$!
qrc=0
wait "$qpid" 2>/dev/null || qrc=$?
qpid=""
t1=$(date +%s.%N)
unblock_readers
for p in "${readers[@]}"; do wait "$p" 2>/dev/null || true; done
readers=()

dump() { # prints the console log and qemu's messages (with --ci)
	[ "$ci" = 1 ] || return 0
	echo "----- $me: guest console log -----" >&2
	cat "$conlog" >&2 2>/dev/null || true
	echo "----- $me: qemu messages -----" >&2
	cat "$qlog" >&2 2>/dev/null || true
	echo "----- $me: end -----" >&2
}
if [ "${VERBOSE:-0}" = 1 ] && [ -s "$ctl/started" ]; then
	read -r _ up <"$ctl/started"
	say "$(awk -v a="$t0" -v c="$t1" -v u="$up" 'BEGIN {
		printf "guest kernel uptime at command start %.2f s (guest clock); qemu ran %.2f s (wall)", u, c - a }')"
fi
if [ -s "$ctl/status" ]; then
	rc=$(cat "$ctl/status")
	[ "$rc" = 0 ] || dump
	exit "$rc"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	say "timed out after ${tmo}s (kernel $kernel, smp $smp): killed qemu"
	dump
	exit 124
fi
if [ "$qrc" != 0 ]; then
	say "qemu failed (exit $qrc): $(grep -v '^$' "$qlog" | grep -v -i 'warning' | head -n 1 || true)"
	dump
	exit 125
fi
last=$(grep -E 'vm-initramfs:|vm-init:|Kernel panic|end Kernel panic' "$conlog" | head -n 1 || true)
say "guest ended without reporting an exit status (kernel $kernel, smp $smp)${last:+: $last}; VERBOSE=1 shows its console"
dump
exit 125
