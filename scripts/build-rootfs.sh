#!/usr/bin/env bash
# Builds the default root filesystem, offline, from Debian's busybox-static:
# one static busybox binary plus one symlink per applet, the directories a
# container expects, and lesson 03's breakout program (scripts/rootfs/).
# Idempotent: a second run changes nothing.
#
# usage: scripts/build-rootfs.sh [TARGET]   (default: .cellblock/rootfs in the checkout)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-$here/.cellblock/rootfs}

busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1 || ! file_is_static=$(ldd "$busybox" 2>&1) || [[ $file_is_static != *"not a dynamic executable"* ]]; then
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    echo "build-rootfs: installing busybox-static (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  fi
fi
"$busybox" --list >/dev/null

# run/cellblock and etc/hosts are mount points the network lesson uses: made
# here, so a container never has to create them in the shared rootfs.
mkdir -p "$target"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var,run/cellblock,home,mnt}
chmod 1777 "$target/tmp"

# Copy only when different, so a rebuild leaves mtimes (and caches) alone.
if ! cmp -s "$busybox" "$target/bin/busybox"; then
  install -m 0755 "$busybox" "$target/bin/busybox"
fi

# One symlink per applet, where busybox itself would install it (--list-full
# gives paths like usr/bin/env), skipping anything already there.
"$target/bin/busybox" --list-full | while read -r applet; do
  [[ -e "$target/$applet" || -L "$target/$applet" ]] && continue
  mkdir -p "$target/$(dirname "$applet")"
  ln -s /bin/busybox "$target/$applet"
done

write_if_changed() { # path content
  if [[ ! -f $1 ]] || [[ $(cat "$1") != "$2" ]]; then printf '%s\n' "$2" >"$1"; fi
}
write_if_changed "$target/etc/passwd" 'root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false'
write_if_changed "$target/etc/group" 'root:x:0:
nogroup:x:65534:'
write_if_changed "$target/etc/hostname" 'cellblock'
write_if_changed "$target/etc/hosts" '127.0.0.1	localhost
::1	localhost'
write_if_changed "$target/etc/os-release" 'NAME="cellblock busybox"
ID=busybox
PRETTY_NAME="cellblock busybox rootfs"'

# Static probes built from our own source (no libc needed in the rootfs), each
# rebuilt only when its source is newer: lesson 03's chroot escape, lesson 09's
# raw-syscall probe.
for probe in breakout secprobe pause; do
  probe_src=$here/scripts/rootfs/$probe.c
  probe_bin=$target/usr/local/bin/$probe
  if [[ ! -x $probe_bin || $probe_src -nt $probe_bin ]]; then
    if ! command -v gcc >/dev/null || [[ ! -f /usr/lib/x86_64-linux-gnu/libc.a && ! -f /usr/lib/aarch64-linux-gnu/libc.a ]]; then
      echo "build-rootfs: installing gcc and libc6-dev (Debian packages)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
    fi
    mkdir -p "$(dirname "$probe_bin")"
    gcc -static -Os -s -Wall -Wextra -o "$probe_bin.tmp" "$probe_src"
    mv "$probe_bin.tmp" "$probe_bin"
  fi
done

# Lesson 07's IPC probe (busybox has no ipcmk, nor anything for POSIX message
# queues), built the same way.
ipcprobe_src=$here/scripts/rootfs/ipcprobe.c
ipcprobe_bin=$target/usr/local/bin/ipcprobe
if [[ ! -x $ipcprobe_bin || $ipcprobe_src -nt $ipcprobe_bin ]]; then
  gcc -static -Os -s -Wall -Wextra -o "$ipcprobe_bin.tmp" "$ipcprobe_src"
  mv "$ipcprobe_bin.tmp" "$ipcprobe_bin"
fi

echo "$target"
