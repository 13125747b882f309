#!/usr/bin/env bash
# The real Docker CLI for cellblockd's tests: the `docker` client binary from
# Debian's docker.io package, taken out of the downloaded .deb with dpkg-deb -x.
# The package itself is never installed, so Debian's dockerd never starts and
# leaves no docker0 bridge, no iptables chains and no /run/docker.sock behind.
# Idempotent: a second run finds the binary and does nothing. The tests use
# this exact path (never whatever `docker` is first on PATH — some machines
# have another one in /usr/local/bin).
set -euo pipefail
dest=${CELLBLOCK_DOCKER_CLIENT:-/usr/local/lib/cellblock-test/docker}
if [[ -x $dest ]] && "$dest" --version >/dev/null 2>&1; then
  exit 0
fi
if [[ $(apt-cache policy docker.io 2>/dev/null | awk '/Candidate:/ {print $2}') =~ ^(|\(none\))$ ]]; then
  echo "docker-client: this distribution has no docker.io package; the daemon's CLI tests will say they are skipped" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt drops to the _apt user to write the download: let it.
if id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
(cd "$work" && apt-get download -qq docker.io >/dev/null)
dpkg-deb -x "$work"/docker.io_*.deb "$work/x"
mkdir -p "$(dirname "$dest")"
install -m 0755 "$work/x/usr/bin/docker" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "docker-client: $("$dest" --version) at $dest (client only; dockerd not installed)" >&2
