#!/usr/bin/env node
// `cellblock-oci`: the lessons' runtime behind runc's command line, for
// containerd, Podman or a person to drive (src/cli/oci.ts). Rebuilds dist/ if a
// source changed, as `cellblock` does — on stderr only: callers parse stdout.
import module from 'node:module';
import { ensureBuilt } from '../../scripts/build.mjs';

module.enableCompileCache?.();
await ensureBuilt({ only: ['src', 'lessons', 'solutions'] });
await import('../../dist/src/cli/oci-entry.js');
