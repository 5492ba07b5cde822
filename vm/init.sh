#!/bin/bash
# Guest init (PID 1 after the initramfs switched root onto the overlay of the
# host's /). Mounts the pseudo filesystems, binds the guest kernel's modules
# over /lib/modules/<ver>, mounts $VM_OUT, brings lo up, runs the command of
# /run/vmctl/cmd.sh with its stdout on hvc0 and its stderr on hvc1, writes
# its exit status to /run/vmctl/status and powers the VM off. Its own output
# goes to the kernel console (ttyS0), shown only with VERBOSE=1.
set -u
ctl=/run/vmctl
# shellcheck source=/dev/null
. "$ctl/env.sh"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "vm-init: $*"; }
mnt() { # mnt TYPE DIR [OPTIONS]: mounts a pseudo filesystem unless present
	local type=$1 dir=$2 opts=${3:-}
	mountpoint -q "$dir" && return 0
	mkdir -p "$dir" 2>/dev/null
	mount -t "$type" ${opts:+-o "$opts"} "$type" "$dir" || say "mount $type on $dir failed"
}
off() {
	busybox poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 30
}

mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts gid=5,mode=620,ptmxmode=666
mnt tmpfs /dev/shm mode=1777
mnt cgroup2 /sys/fs/cgroup nsdelegate
mnt bpf /sys/fs/bpf mode=700
mnt tracefs /sys/kernel/tracing
mnt debugfs /sys/kernel/debug
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

if [ -n "${VM_MODULES:-}" ] && [ -d "$VM_MODULES" ]; then
	mkdir -p "/lib/modules/$VM_KVER"
	mount --bind "$VM_MODULES" "/lib/modules/$VM_KVER" || say "bind of $VM_MODULES failed"
fi
if [ -n "${VM_OUT:-}" ]; then
	mkdir -p "$VM_OUT"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmout "$VM_OUT" ||
		say "mount of VM_OUT ($VM_OUT) failed"
fi
echo vm >/proc/sys/kernel/hostname
ip link set lo up || say "ip link set lo up failed"
ulimit -l unlimited
ulimit -n 65536 2>/dev/null

for d in /dev/hvc0 /dev/hvc1; do
	[ -c "$d" ] || { say "$d missing"; off; }
done

export PATH=$VM_PATH HOME=$VM_HOME VM_OUT VM_KERNEL VM_KVER VM_SMP
[ -n "${VM_LANG:-}" ] && export LANG=$VM_LANG
echo "$(date +%s.%N) $(cut -d' ' -f1 /proc/uptime)" >"$ctl/started"
bash "$ctl/cmd.sh" </dev/null >/dev/hvc0 2>/dev/hvc1
rc=$?
echo "$rc" >"$ctl/status"
say "command exited with status $rc"
off
