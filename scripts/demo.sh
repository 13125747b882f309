#!/usr/bin/env bash
# The quick start's first command: set up, then a real container on the busybox
# rootfs, built from the reference solutions: its own hostname, PID 1, root
# filesystem, network address and cgroup — each printed from inside.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "on the host:  hostname $(hostname), $(readlink /proc/self/ns/uts), $(grep PRETTY_NAME /etc/os-release | cut -d= -f2 | tr -d '"')"
echo "in the container:"
exec node src/bin/cellblock.mjs run --solutions --hostname cellblock-demo -- sh -c '
  . /etc/os-release
  echo "  hostname    $(hostname), $(readlink /proc/self/ns/uts)"
  echo "  my pid      $$"
  echo "  root fs     $PRETTY_NAME"
  echo "  eth0        $(ip -o -4 addr show eth0 | awk "{print \$4}")"
  echo "  cgroup      $(cut -d: -f3 /proc/self/cgroup | sort -u | tail -n 1)"'
