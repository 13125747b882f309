/**
 * `cellblock diff CONTAINER`: what a container changed, read from its upper
 * directory alone — overlayfs records every change there:
 *   a file or directory that no lower layer has     A (added)
 *   one that some lower layer has                   C (changed: copied up, then written)
 *   a whiteout (character device 0:0)               D (deleted)
 *   an opaque directory (trusted.overlay.opaque=y)  C, and D for each lower entry it hides
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { listDir } from '../read.js';
import { isOpaque, isWhiteout, walkTree } from './tree.js';

export interface Change {
  kind: 'A' | 'C' | 'D';
  /** Absolute, inside the container. */
  path: string;
}

function inLowers(lowers: string[], rel: string): boolean {
  return lowers.some((l) => lstatSync(join(l, rel), { throwIfNoEntry: false }) !== undefined);
}

export function diffUpper(upper: string, lowers: string[]): Change[] {
  const out: Change[] = [];
  const hidden = new Set<string>();
  for (const e of walkTree(upper)) {
    const inLower = inLowers(lowers, e.path);
    if (isWhiteout(e)) {
      out.push({ kind: 'D', path: `/${e.path}` });
      continue;
    }
    if (e.type === 'dir') {
      if (!inLower) out.push({ kind: 'A', path: `/${e.path}` });
      else if (isOpaque(join(upper, e.path))) {
        out.push({ kind: 'C', path: `/${e.path}` });
        hidden.add(e.path);
      }
      // a lower directory that only holds changes is not a change itself
      continue;
    }
    out.push({ kind: inLower ? 'C' : 'A', path: `/${e.path}` });
  }
  // What an opaque directory hides: every lower entry not re-created in upper.
  for (const rel of hidden) {
    const names = new Set(lowers.flatMap((l) => listDir(join(l, rel))));
    for (const n of names) {
      if (!lstatSync(join(upper, rel, n), { throwIfNoEntry: false })) out.push({ kind: 'D', path: `/${rel}/${n}` });
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
