#!/usr/bin/env bash
# Turns a fresh Ubuntu LTS (or Debian ≥ 12) machine into a cellblock workshop
# machine. `vagrant up` runs it as root on every boot (see Vagrantfile); it can
# also be run by hand: `sudo CELLBLOCK_DIR=/path/to/checkout vagrant/provision.sh`.
#
# What it adds to the box: Node.js LTS (NodeSource) when no Node ≥ 20 is
# there, git and curl, the `cellblock` command on the PATH, a login that lands
# in the checkout — then the checkout's own scripts/setup.sh does the rest
# (build tools, busybox-static, iproute2, npm packages, the rootfs, the build).
#
# Idempotent: every step looks before it acts and reports what it changed; a
# second run prints "provision: nothing to change" and touches no file.
#
# Knobs (environment):
#   CELLBLOCK_DIR         the checkout (default /workshop, where the Vagrantfile mounts it)
#   CELLBLOCK_NODE_MAJOR  Node.js major version to install when needed (default 24)
#   CELLBLOCK_VM_STATE    VM-local directory for node_modules and the rootfs (default /var/lib/cellblock)
#   CELLBLOCK_DESTDIR     prefix for the system files it writes (the test suite uses a temp dir)
#   CELLBLOCK_SYNCED_FOLDER  1 or 0: whether the checkout is a host share (default: from its filesystem type)
set -euo pipefail

workshop=${CELLBLOCK_DIR:-/workshop}
node_major=${CELLBLOCK_NODE_MAJOR:-24}
state=${CELLBLOCK_VM_STATE:-/var/lib/cellblock}
destdir=${CELLBLOCK_DESTDIR:-}

changes=0
say() { printf 'provision: %s\n' "$*" >&2; }
changed() {
  changes=$((changes + 1))
  say "changed: $*"
}
die() {
  say "error: $*"
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (vagrant does; by hand: sudo $0)"
[[ -f $workshop/scripts/setup.sh ]] || die "no checkout at $workshop (set CELLBLOCK_DIR)"

# shellcheck source=/dev/null
. /etc/os-release
case "${ID:-}" in
  ubuntu | debian) ;;
  *) die "made for Ubuntu or Debian, this is ${PRETTY_NAME:-unknown}" ;;
esac

# Write a file only when its content differs (so a second run changes no mtime).
install_file() { # mode path content
  local mode=$1 path=$2 content=$3
  if [[ -f $path && $(cat "$path") == "$content" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "$path")"
  printf '%s\n' "$content" >"$path"
  chmod "$mode" "$path"
  changed "$path"
}

apt_updated=0
apt_install() { # packages…
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  export DEBIAN_FRONTEND=noninteractive
  if ((apt_updated == 0)); then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  changed "installed ${missing[*]}"
}

# 1. What the rest needs to fetch and build.
apt_install ca-certificates curl gnupg git

# 2. Node.js: Ubuntu's own nodejs is too old (18 on 24.04); NodeSource has every
#    LTS line for amd64 and arm64. A Node the workshop's packages accept
#    (^20.19 || ^22.12 || >=23) already there is kept.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 23 ? 0 : 1)' 2>/dev/null; then
  keyring=/etc/apt/keyrings/nodesource.gpg
  if [[ ! -s $keyring ]]; then
    mkdir -p /etc/apt/keyrings
    curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o "$keyring"
    changed "$keyring"
  fi
  list="deb [signed-by=$keyring] https://deb.nodesource.com/node_${node_major}.x nodistro main"
  if [[ ! -f /etc/apt/sources.list.d/nodesource.list || $(cat /etc/apt/sources.list.d/nodesource.list) != "$list" ]]; then
    printf '%s\n' "$list" >/etc/apt/sources.list.d/nodesource.list
    changed "NodeSource repository for Node.js $node_major"
  fi
  apt_updated=0 # the new repository must be read
  apt_install nodejs
fi
say "node $(node --version) ($(uname -m))"

# 3. A synced folder (vboxsf, hgfs, prl_fs, virtiofs, 9p, NFS) cannot hold
#    node_modules' symlinks nor be an overlay's upper dir, and native modules
#    built on the host (macOS) would not load here: keep those on the VM's disk.
fstype=$(stat -f -c %T "$workshop" 2>/dev/null || echo unknown)
case "$fstype" in
  vboxsf | nfs | v9fs | 9p | fuse* | virtiofs | prl_fs | smb2 | cifs | *786f4256* | *7c7c6673*) synced=1 ;;
  *) synced=0 ;;
esac
synced=${CELLBLOCK_SYNCED_FOLDER:-$synced} # 1/0 forces it (a share type not listed above; the tests)
((synced)) && say "$workshop is a synced folder ($fstype): node_modules and the rootfs go to $state"
env_lines="CELLBLOCK_DIR=$workshop"
if ((synced)); then
  mkdir -p "$state/node_modules" "$workshop/node_modules"
  if ! mountpoint -q "$workshop/node_modules"; then
    mount --bind "$state/node_modules" "$workshop/node_modules"
    changed "bound $state/node_modules on $workshop/node_modules"
  fi
  # A new VM behind an old share: the npm stamp in the checkout says "installed",
  # the VM's empty node_modules says otherwise.
  if [[ ! -f $workshop/node_modules/.package-lock.json ]]; then
    rm -f "$workshop/.cellblock/npm.stamp"
  fi
  env_lines+=$'\n'"CELLBLOCK_ROOTFS=$state/rootfs"$'\n'"CELLBLOCK_CONTAINERS_DIR=$state/containers"
fi
install_file 0644 "$destdir/etc/cellblock.env" "$env_lines"

# 4. `cellblock` for the `vagrant` user: re-run as root through sudo (namespaces,
#    mounts and cgroups need it), with the environment above. In /usr/local/sbin,
#    which comes before /usr/local/bin (where setup.sh links the bare command for
#    root) in Ubuntu's PATH and in sudo's secure_path.
install_file 0755 "$destdir/usr/local/sbin/cellblock" "#!/bin/sh
# cellblock, installed by vagrant/provision.sh
if [ \"\$(id -u)\" -ne 0 ]; then exec sudo \"\$0\" \"\$@\"; fi
set -a
. $destdir/etc/cellblock.env
set +a
exec node \"\$CELLBLOCK_DIR/src/bin/cellblock.mjs\" \"\$@\""

# 5. `vagrant ssh` lands in the checkout, with the three commands that matter.
install_file 0644 "$destdir/etc/profile.d/cellblock.sh" "# cellblock: start in the workshop (installed by vagrant/provision.sh)
if [ -n \"\$PS1\" ] && [ -d $workshop ] && [ \"\$PWD\" = \"\$HOME\" ]; then
  cd $workshop || true
  echo 'cellblock workshop: cellblock watch (the loop) · cellblock doctor (is this machine ok?) · cellblock --help'
fi"

# 6. Everything else is the checkout's own installer, the one the README's
#    quick start runs: packages, npm ci (only when the lockfile changed), the
#    rootfs, the build. Its "setup:" lines are the changes it made.
setup_log=$(mktemp)
trap 'rm -f "$setup_log"' EXIT
(
  set -a
  # shellcheck source=/dev/null
  . "$destdir/etc/cellblock.env"
  set +a
  export CELLBLOCK_DESTDIR="$destdir"
  bash "$workshop/scripts/setup.sh"
) 2>&1 | tee "$setup_log" >&2
while IFS= read -r line; do
  [[ $line == setup:* ]] && changed "${line#setup: }"
done <"$setup_log"

# 7. cellblockd (lesson 12's daemon, the Docker Engine API for the real docker
#    CLI) starts at boot. KillMode=process: stopping or restarting the daemon
#    leaves the shims — and the containers they keep — running, as containerd's
#    shims outlive dockerd; the daemon finds them again from their records.
install_file 0644 "$destdir/etc/systemd/system/cellblockd.service" "[Unit]
Description=cellblockd: the Docker Engine API on /run/cellblock/docker.sock (cellblock workshop)
After=network.target

[Service]
ExecStart=$destdir/usr/local/sbin/cellblock daemon
KillMode=process
Restart=on-failure

[Install]
WantedBy=multi-user.target"
if [[ -z $destdir && -d /run/systemd/system ]] && ! systemctl is-active --quiet cellblockd; then
  systemctl daemon-reload
  systemctl enable --now --quiet cellblockd
  changed "cellblockd started (systemctl status cellblockd; DOCKER_HOST=unix:///run/cellblock/docker.sock)"
fi

if ((changes == 0)); then
  say "nothing to change"
else
  say "$changes change(s)"
fi
say "ready: vagrant ssh, then cellblock watch"
