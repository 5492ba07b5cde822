#!/bin/busybox sh
# shellcheck shell=sh
# /init of the guest's initramfs (built by vm/run.sh; runs under busybox).
# Loads the modules listed in /modules/load.list, mounts the host's / (9p,
# tag "hostroot") read-only under a tmpfs-backed overlay, moves the control
# share (9p, tag "vmctl") into it, and switches root to the guest init script
# named by VM_INIT in /ctl/env.sh (vm/init.sh).
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
	echo "vm-initramfs: $*"
	# PID 1 exiting panics the kernel; with panic=-1 and qemu's -no-reboot
	# that ends the VM at once.
	exit 1
}

mkdir -p /proc /sys /dev /lower /rw /newroot /ctl
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

while read -r m; do
	[ -n "$m" ] || continue
	insmod "/modules/$m" || fail "insmod $m failed"
done </modules/load.list

opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts,ro,cache=loose" hostroot /lower || fail "mount of the host root (9p) failed"
mount -t 9p -o "$opts" vmctl /ctl || fail "mount of the control share (9p) failed"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fail "overlay mount failed"

# shellcheck source=/dev/null
. /ctl/env.sh
[ -n "${VM_INIT:-}" ] || fail "VM_INIT not set in the control share"

mkdir -p /newroot/run/vmctl /newroot/dev
mount --move /ctl /newroot/run/vmctl
mount --move /dev /newroot/dev
umount /proc
exec switch_root /newroot /bin/bash "$VM_INIT"
