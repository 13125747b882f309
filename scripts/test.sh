#!/usr/bin/env bash
# The whole suite, as CI runs it: set up (idempotent), build, then mocha. The
# reporter ends the output with one plain line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs --force
exec node_modules/.bin/mocha --reporter tests/support/reporter.cjs "$@" 'dist/tests/**/*.test.js'
