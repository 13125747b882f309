#!/usr/bin/env bash
# Run a command as root inside a throwaway cgroup-v2 micro-VM, and return its
# output and exit status. The suite uses it to prove the cgroup code on a real
# v2 kernel when the machine itself is cgroup v1 (tests/v2vm.test.ts).
#
#   scripts/v2vm/run.sh [--timeout SECONDS] [--memory MB] [--cpus N] [--share DIR]... -- CMD [ARG]...
#
# The VM: Debian's own kernel (linux-image-amd64, the /boot/vmlinuz-* whose
# /lib/modules/* is installed), booted by QEMU under software emulation (TCG —
# KVM on this machine kind cannot boot a stock kernel), a tiny initrd of
# busybox-static and the few modules needed to reach the host's files. The
# host's / is shared read-only over virtio-9p with a tmpfs overlay on top, so
# the guest sees the same programs and checkout, and nothing it does reaches
# the host. cgroup2 is mounted at /sys/fs/cgroup with +cpu +memory +pids +io
# enabled. The checkout (minus node_modules, bind-mounted) is copied into a
# tmpfs at its own path: 9p lookups of many small files are slow, and an
# overlay upper directory cannot live on an overlay.
#
# CMD runs in the checkout, as root, in the guest's root cgroup. Its output is
# streamed to stdout (over the VM's serial console). Each --share DIR is the
# host directory DIR, writable, at the same path in the guest: a way to bring
# files back (e.g. a mocha JSON report).
#
# Exit status: CMD's, or 97 when the VM could not run it (the reason on stderr).
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

timeout_s=900
memory_mb=2048
cpus=2
shares=()
while (($# > 0)); do
  case $1 in
    --timeout) timeout_s=$2; shift 2 ;;
    --memory) memory_mb=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --share) shares+=("$(cd "$2" && pwd)"); shift 2 ;;
    --) shift; break ;;
    *) echo "v2vm: unknown option $1 (usage: run.sh [--timeout S] [--memory MB] [--share DIR]... -- CMD…)" >&2; exit 2 ;;
  esac
done
(($# > 0)) || { echo "v2vm: no command given: run.sh -- CMD…" >&2; exit 2; }

fail() {
  echo "v2vm: $*" >&2
  exit 97
}

[[ $(uname -m) == x86_64 ]] || fail "the micro-VM boots Debian's x86_64 kernel; this machine is $(uname -m)"
qemu=$(command -v qemu-system-x86_64) || fail "qemu-system-x86_64 is not installed: apt-get install qemu-system-x86 (scripts/setup.sh does)"
busybox=/bin/busybox
if ! [[ -x $busybox ]] || ! $busybox --list | grep -qx switch_root; then
  fail "no static busybox at /bin/busybox: apt-get install busybox-static"
fi
bios=/usr/share/qemu/qboot.rom
[[ -f $bios ]] || bios=""

# The newest kernel whose modules are installed: both come from the same package.
kver=""
for k in $(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's|^vmlinuz-||' | sort -V -r); do
  if [[ -f /lib/modules/$k/modules.dep ]]; then kver=$k; break; fi
done
[[ -n $kver ]] || fail "no /boot/vmlinuz-* with its /lib/modules: apt-get install linux-image-amd64 (scripts/setup.sh does)"

cache=$root/.cellblock/v2vm/$kver
mkdir -p "$cache"

# 1. The uncompressed kernel: booted as an ELF (PVH entry) it skips the
#    in-guest decompression, which under emulation costs seconds.
vmlinux=$cache/vmlinux
if [[ ! -s $vmlinux ]]; then
  # The payload starts at its compressor's magic (Debian: xz; others zstd, gzip);
  # trailing bytes after it make the decompressor complain, hence the || true.
  for c in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
    tool=${c%%:*}
    offset=$(grep -obUaP "${c#*:}" "/boot/vmlinuz-$kver" | head -n 1 | cut -d: -f1 || true)
    if [[ -z $offset ]] || ! command -v "$tool" >/dev/null; then continue; fi
    tail -c "+$((offset + 1))" "/boot/vmlinuz-$kver" | "$tool" -dc >"$vmlinux.tmp.$$" 2>/dev/null || true
    [[ $(head -c 4 "$vmlinux.tmp.$$" | od -An -c | tr -d ' ') == 177ELF ]] && break
  done
  [[ -s $vmlinux.tmp.$$ && $(head -c 4 "$vmlinux.tmp.$$" | od -An -c | tr -d ' ') == 177ELF ]] ||
    { rm -f "$vmlinux.tmp.$$"; fail "could not extract vmlinux from /boot/vmlinuz-$kver (xz, zstd or gzip payload expected)"; }
  mv "$vmlinux.tmp.$$" "$vmlinux"
fi

# 2. The initrd: busybox, the modules that reach the host's files, and init.sh.
#    Rebuilt when init.sh changes.
modules=(virtio_pci 9pnet_virtio 9p overlay)
stamp=$(cat "$here/init.sh" "$0" | sha256sum | cut -c1-16)
initrd=$cache/initrd-$stamp.cpio
if [[ ! -s $initrd ]]; then
  find "$cache" -name 'initrd-*.cpio' ! -name "initrd-$stamp.cpio" -delete
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
  cp "$busybox" "$work/bin/busybox"
  ln -s busybox "$work/bin/sh"
  cp "$here/init.sh" "$work/init"
  chmod +x "$work/init"
  # Each module after its dependencies (modules.dep lists them, deepest last).
  order=()
  add() {
    local m=$1 line path dep
    line=$(grep -E "/$m\.ko(\.[a-z]+)?:" "/lib/modules/$kver/modules.dep") || fail "module $m not in /lib/modules/$kver"
    path=${line%%:*}
    for dep in $(echo "${line#*:}" | tr ' ' '\n' | tac); do
      dep=$(basename "$dep"); dep=${dep%%.ko*}
      add "$dep"
    done
    [[ " ${order[*]} " == *" $path "* ]] || order+=("$path")
  }
  for m in "${modules[@]}"; do add "$m"; done
  : >"$work/modules.order"
  for p in "${order[@]}"; do
    cp "/lib/modules/$kver/$p" "$work/lib/modules/"
    basename "$p" >>"$work/modules.order"
  done
  (cd "$work" && find . | cpio -o -H newc --quiet) >"$initrd.tmp.$$"
  mv "$initrd.tmp.$$" "$initrd"
  rm -rf "$work"
  trap - EXIT
fi

# 3. The control share: what to run, and where the status comes back.
ctl=$(mktemp -d "${TMPDIR:-/tmp}/cellblock-v2vm-XXXXXX")
trap 'rm -rf "$ctl"' EXIT
{
  printf 'CHECKOUT=%q\n' "$root"
  printf 'V2VM_DEBUG=%q\n' "${V2VM_DEBUG:-}"
  printf 'SHARES=%q\n' "${shares[*]:-}"
  printf 'CMD=('
  printf '%q ' "$@"
  printf ')\n'
} >"$ctl/cmd"
cp "$here/guest.sh" "$ctl/guest.sh"
# The checkout as one archive, made here: reading ~1000 small files over 9p
# under emulation takes seconds, one 10 MB file a fraction of one. node_modules
# (big, read only in parts) stays on the share.
tar -C "$root" --exclude=./node_modules --exclude=./.git --exclude=./.cellblock/v2vm \
  --exclude=./.cellblock/containers --exclude=./.cellblock/images -cf "$ctl/checkout.tar" . 2>/dev/null ||
  fail "could not archive the checkout $root"

virtfs=(
  -virtfs "local,path=/,mount_tag=hostroot,readonly=on,security_model=passthrough,multidevs=remap"
  -virtfs "local,path=$ctl,mount_tag=ctl,security_model=passthrough,multidevs=remap"
)
for i in "${!shares[@]}"; do
  virtfs+=(-virtfs "local,path=${shares[$i]},mount_tag=share$i,security_model=passthrough,multidevs=remap")
done

started=$(date +%s%N)
set +e
timeout --kill-after=10 "$timeout_s" "$qemu" \
  -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory_mb" \
  ${bios:+-bios "$bios"} -kernel "$vmlinux" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
  -nodefaults -no-user-config -nographic -no-reboot \
  -chardev stdio,id=con,signal=off -serial chardev:con \
  -device virtio-rng-pci \
  "${virtfs[@]}" </dev/null
qemu_status=$?
set -e
elapsed=$((($(date +%s%N) - started) / 1000000))

if [[ ! -f $ctl/status ]]; then
  if ((qemu_status == 124 || qemu_status == 137)); then
    fail "the VM did not finish within ${timeout_s} s (qemu killed; see the console output above)"
  fi
  fail "the VM ended without running the command (qemu exit status $qemu_status; see the console output above)"
fi
status=$(cat "$ctl/status")
boot=$(cat "$ctl/booted" 2>/dev/null || echo '?')
printf '\nv2vm: kernel %s, guest command exit status %s; booted in %s s, total %d.%03d s\n' "$kver" "$status" "$boot" $((elapsed / 1000)) $((elapsed % 1000)) >&2
exit "$status"
