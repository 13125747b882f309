#!/bin/sh
# PID 1 of the micro-VM's initrd (see run.sh): reach the host's files, make
# them the root, hand over to guest.sh. Everything here is busybox.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

die() {
  echo "v2vm init: $*" >/dev/console
  poweroff -f
}

while read -r m; do
  insmod "/lib/modules/$m" || die "insmod $m failed"
done </modules.order

# The host's / read-only (cache=loose: nothing on the host changes it meanwhile,
# and every lookup over 9p is a round trip), a tmpfs on top for every write.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower || die "9p mount of the host's / failed"
mount -t tmpfs -o mode=755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || die "overlay failed"

mount -t tmpfs -o mode=755 run /newroot/run
mkdir -p /newroot/run/v2vm
mount -t 9p -o trans=virtio,version=9p2000.L ctl /newroot/run/v2vm || die "9p mount of the control share failed"
cut -d' ' -f1 /proc/uptime >/newroot/run/v2vm/booted

mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash /run/v2vm/guest.sh
