#!/usr/bin/env node
// The `cellblock` command: rebuild dist/ if a source changed (a learner just
// saved a lesson file), then hand over to the CLI.
import { ensureBuilt } from '../../scripts/build.mjs';

await ensureBuilt();
const { main } = await import('../../dist/src/cli/main.js');
await main(process.argv.slice(2));
