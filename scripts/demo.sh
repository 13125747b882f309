#!/usr/bin/env bash
# The quick start's first command: set up, then a real container on the busybox
# rootfs, built from the reference solutions, with a hostname of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "host:      $(hostname)"
exec node src/bin/cellblock.mjs run --solutions --hostname cellblock-demo -- \
  sh -c 'echo "container: $(hostname)"; echo "uts ns:    $(readlink /proc/self/ns/uts) (host: '"$(readlink /proc/self/ns/uts)"')"'
