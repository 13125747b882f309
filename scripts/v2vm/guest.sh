#!/bin/bash
# PID 1 of the micro-VM after switch_root (see run.sh): the host's programs,
# a private /tmp, cgroup v2 with the controllers the workshop uses, the
# checkout in a tmpfs at its own path; then the command, its status back to
# the host through the control share, and power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
ctl=/run/v2vm
# shellcheck source=/dev/null
. "$ctl/cmd"
stage() { [[ -n ${V2VM_DEBUG:-} ]] && echo "v2vm guest: $(cut -d' ' -f1 /proc/uptime) s: $*"; return 0; }

finish() {
  echo "$1" >"$ctl/status"
  sync
  busybox poweroff -f
}
die() {
  echo "v2vm guest: $*"
  finish 97
}

stage start
# node_modules stays on the host's share; take hold of it before the private
# /tmp goes on, which would hide it when the checkout itself is under /tmp (CI
# clones may be).
mkdir -p /run/host-node_modules
mount --bind "$CHECKOUT/node_modules" /run/host-node_modules || die "no node_modules at $CHECKOUT/node_modules"
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts 2>/dev/null || { mkdir -p /dev/pts && mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts; }
ln -sf pts/ptmx /dev/ptmx
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 shm /dev/shm

# cgroup v2, the whole tree; the root may enable controllers for its children.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || die "cannot mount cgroup2"
echo "+cpu +memory +pids +io" >/sys/fs/cgroup/cgroup.subtree_control || die "cannot enable cpu memory pids io"

stage cgroup2
# The checkout, copied into a tmpfs (minus node_modules, bind-mounted as is).
mkdir -p /run/checkout
mount -t tmpfs -o mode=755 checkout /run/checkout
tar -C /run/checkout -xf "$ctl/checkout.tar" || die "unpacking the checkout failed"
rm -f "$ctl/checkout.tar"
mkdir -p /run/checkout/node_modules
mount --move /run/host-node_modules /run/checkout/node_modules
mkdir -p "$CHECKOUT"
mount --move /run/checkout "$CHECKOUT"

stage checkout
i=0
for dir in $SHARES; do
  mkdir -p "$dir"
  mount -t 9p -o trans=virtio,version=9p2000.L "share$i" "$dir" || die "9p mount of $dir failed"
  i=$((i + 1))
done

modprobe loop 2>/dev/null
stage shares
cd "$CHECKOUT" || die "no checkout at $CHECKOUT"
"${CMD[@]}"
rc=$?
stage "command done"
finish $rc
