#!/usr/bin/env bash
# The whole suite, as CI runs it: set up (idempotent), the tools only the tests
# use, build, then mocha. The reporter ends the output with one plain line:
# "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Test-only tools: shellcheck for the shell scripts, and vagrant (+ its libvirt
# provider, whose built-in test driver lets `vagrant validate` check the
# provider blocks) for the workshop VM's Vagrantfile. Installed where the
# distribution has them (Ubuntu 24.04 no longer ships vagrant: that test then
# says it is skipped, and why).
want=()
for p in shellcheck vagrant vagrant-libvirt; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  [[ $(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}') =~ ^(|\(none\))$ ]] && continue
  want+=("$p")
done
if ((${#want[@]} > 0)); then
  echo "test: installing ${want[*]} (Debian packages the tests use)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
fi

# The real clients of the OCI runtime (tests/clients): containerd (with its
# runc shim and ctr) and Podman (with conmon and the CNI plugins). The tests
# start a private containerd and give Podman private directories, so the
# packages' own services must not run: policy-rc.d (exit 101 = "not now") keeps
# the install from starting them, and a service this install enabled is
# disabled again — a containerd already installed and running is left alone.
want=()
for p in containerd podman; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  [[ $(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}') =~ ^(|\(none\))$ ]] && continue
  want+=("$p")
done
if ((${#want[@]} > 0)); then
  echo "test: installing ${want[*]} (the OCI runtime's clients the tests drive)" >&2
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null || {
    ((made_policy)) && rm -f "$policy"
    exit 1
  }
  ((made_policy)) && rm -f "$policy"
  if [[ -d /run/systemd/system ]]; then
    units=()
    for p in "${want[@]}"; do
      case $p in
        containerd) units+=(containerd.service) ;;
        podman) units+=(podman.service podman.socket podman-restart.service) ;;
      esac
    done
    systemctl disable --quiet "${units[@]}" 2>/dev/null || true
  fi
fi

# The real Docker CLI for cellblockd's tests, taken from Debian's docker.io .deb (dockerd never installed).
bash scripts/docker-client.sh

node scripts/build.mjs --force
exec node_modules/.bin/mocha --reporter tests/support/reporter.cjs "$@" 'dist/tests/**/*.test.js'
