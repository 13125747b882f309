#!/usr/bin/env bash
# Everything the workshop needs, installed idempotently: Debian packages, npm
# packages, the busybox rootfs, and the built JavaScript. Safe to run again and
# again; a second run installs nothing and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() {
  if [[ -t 2 ]]; then printf '\033[1msetup:\033[0m %s\n' "$*" >&2; else printf 'setup: %s\n' "$*" >&2; fi
}

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: needs root (namespaces, mounts and cgroups do): run it with sudo" >&2
  exit 1
fi

# yargs, mocha and eslint need ^20.19 || ^22.12 || >=23.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 23 ? 0 : 1)' 2>/dev/null; then
  echo "setup: needs Node.js 20.19+, 22.12+ or 23+ (found: $(node --version 2>/dev/null || echo none)): install a current LTS, e.g. from NodeSource" >&2
  exit 1
fi

# 1. Debian packages: the static busybox for the rootfs, iproute2 (ip),
#    util-linux (unshare, the benchmark's floor; nsenter for lesson 04),
#    iptables (lesson 04's published ports), a C compiler for the lesson
#    03 breakout program, lesson 07's IPC probe, lesson 08's user-namespace
#    helper and for node-pty when no prebuilt binary fits; uidmap (newuidmap,
#    newgidmap: a rootless run maps its /etc/subuid range) and slirp4netns (a
#    rootless container's network: no veth without CAP_NET_ADMIN on the host).
packages=(busybox-static iproute2 util-linux iptables gcc libc6-dev make g++ python3 uidmap slirp4netns)
# The cgroup v2 micro-VM (tests/v2vm): on an x86_64 machine that is not cgroup
# v2 itself, the suite proves the cgroup lesson on a real v2 kernel under QEMU
# (scripts/v2vm/run.sh) — Debian's kernel, whose modules come in the same
# package, and QEMU. Cgroup v2 machines (the workshop VMs) need neither.
if [[ $(uname -m) == x86_64 && $(stat -fc %T /sys/fs/cgroup 2>/dev/null) != cgroup2fs ]]; then
  packages+=(qemu-system-x86)
  grep -qx 'ID=debian' /etc/os-release 2>/dev/null && packages+=(linux-image-amd64)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. npm packages, exactly as locked. Skipped when the lockfile has not changed
#    since the last install (npm ci always deletes and reinstalls).
mkdir -p .cellblock
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -d node_modules || ! -f .cellblock/npm.stamp || $(cat .cellblock/npm.stamp) != "$lock_sum" ]]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >.cellblock/npm.stamp
fi

# 3. The default rootfs (offline, from busybox-static).
# CELLBLOCK_ROOTFS moves it (the VM keeps it off the synced folder: vagrant/provision.sh).
bash scripts/build-rootfs.sh ${CELLBLOCK_ROOTFS:+"$CELLBLOCK_ROOTFS"} >/dev/null

# The user-namespace helper (native/nsexec.c, lesson 08): a static C program,
# because a multithreaded Node cannot create a user namespace. World-readable
# and executable, like the rest of the checkout: a rootless run starts it as
# its user, and a remapped init (host uid 100000+) must read node and the init.
nsexec_src=native/nsexec.c
nsexec_bin=.cellblock/bin/cellblock-nsexec
if [[ ! -x $nsexec_bin || $nsexec_src -nt $nsexec_bin ]]; then
  mkdir -p .cellblock/bin
  gcc -static -O2 -s -Wall -Wextra -o "$nsexec_bin.tmp" "$nsexec_src"
  chmod 0755 "$nsexec_bin.tmp"
  mv "$nsexec_bin.tmp" "$nsexec_bin"
fi

# 4. TypeScript → dist/ (only if a source changed).
node scripts/build.mjs

# 5. The `cellblock` command on root's PATH, pointing at this checkout.
# CELLBLOCK_DESTDIR: a prefix for this system file (the provisioning test installs under a temp dir).
bin=${CELLBLOCK_DESTDIR:-}/usr/local/bin/cellblock
target=$PWD/src/bin/cellblock.mjs
# A link left at a deleted checkout is dangling ("command not found"): relinked too, and said so.
if [[ $(readlink "$bin" 2>/dev/null) != "$target" ]]; then
  if [[ -L $bin && ! -e $bin ]]; then
    say "cellblock pointed at $(readlink "$bin"), which no longer exists: relinked"
  elif [[ -e $bin || -L $bin ]]; then
    say "cellblock now points at this checkout (was: $(readlink "$bin" || echo a file))"
  fi
  mkdir -p "$(dirname "$bin")"
  ln -sfn "$target" "$bin"
fi
# The OCI runtime (lesson 11): runc's command line, for containerd and Podman to call.
ocibin=${CELLBLOCK_DESTDIR:-}/usr/local/bin/cellblock-oci
ocitarget=$PWD/src/bin/cellblock-oci.mjs
if [[ $(readlink "$ocibin" 2>/dev/null) != "$ocitarget" ]]; then
  say "cellblock-oci now points at this checkout"
  mkdir -p "$(dirname "$ocibin")"
  ln -sfn "$ocitarget" "$ocibin"
fi
# Information, not a change: no "setup:" prefix (vagrant/provision.sh counts
# those lines as changes, and a second run must have none).
echo "the cellblock command ($bin) runs this checkout: $PWD" >&2
