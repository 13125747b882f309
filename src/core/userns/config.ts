/**
 * What the user-namespace lesson (08) needs from the shared code: its config
 * fields, their validation — all of it before any kernel object exists — and
 * the rootless maps. The lesson does the kernel work (maps, idmapped layers);
 * the helper that creates the namespace is core/host/userns.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { CLONE_NEWUSER } from '../../native/constants.js';
import { dirname, join } from 'node:path';
import { ROOT } from '../paths.js';
import type { ContainerConfig } from '../config.js';
import type { OverlayFields } from '../images/overlay.js';
import type { Validation } from '../lesson.js';
import {
  currentUser,
  defaultRemapRange,
  helperArgs,
  helperProblem,
  NSEXEC,
  parseRange,
  rangesOf,
  remapRangeProblem,
  rootlessMaps,
  startInUserNamespace,
  SUBID_FILES,
  usernsSupportProblem,
  writeRootlessMapsFor,
  type IdRange,
} from '../host/userns.js';

export interface UsernsFields {
  /** host (the default, as Docker's): no user namespace. remap: one, mapped to an unused host range. */
  userns?: string;
  /** START:COUNT, with --userns remap (or, rootless, a part of the user's /etc/subuid range). */
  'userns-range'?: string;
  /** Filled in on the host: the idmapped mount of each lower layer, in order. */
  idmapped?: string[];
}

export type UserConfig = ContainerConfig & OverlayFields & UsernsFields;

/** An unprivileged user runs cellblock: every container gets a user namespace, the only way in. */
export function rootless(): boolean {
  return process.getuid?.() !== 0;
}

/** The host range a root `--userns remap` container maps to. */
export function usernsRange(config: UserConfig): IdRange {
  return parseRange(config['userns-range'] ?? '') ?? defaultRemapRange();
}

/** A rootless range must lie inside one of the user's own /etc/subuid and /etc/subgid ranges. */
function rootlessRangeProblem(text: string): string | undefined {
  const r = parseRange(text);
  if (!r) return `--userns-range ${JSON.stringify(text)} is not START:COUNT (two numbers, e.g. 100000:65536)`;
  const user = currentUser();
  for (const file of SUBID_FILES) {
    const mine = rangesOf(user, file);
    if (!mine.some((m) => r.start >= m.start && r.start + r.count <= m.start + m.count)) {
      return mine.length === 0
        ? `--userns-range ${text}: ${user.name} has no subordinate range in ${file}, and only root may map others: ask an admin for one (\`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user.name}\`), or leave the range out to map only yourself`
        : `--userns-range ${text} goes beyond ${user.name}'s subordinate range in ${file} (${mine.map((m) => `${m.start}:${m.count}`).join(', ')}): newuidmap maps nothing else — choose a range inside it`;
    }
  }
  return undefined;
}

export const usernsValidations: Validation<UserConfig>[] = [
  ({ userns }) =>
    userns === undefined || userns === 'host' || userns === 'remap'
      ? undefined
      : `--userns ${JSON.stringify(userns)}: use host (the default: the host's users) or remap (root inside, an unused host range outside)`,
  (c) =>
    c['userns-range'] === undefined || c.userns === 'remap' || rootless()
      ? undefined
      : `--userns-range ${c['userns-range']} needs --userns remap: add it, or leave the range out`,
  (c) => (c.userns === 'remap' || rootless() ? usernsSupportProblem() : undefined),
  (c) => (c.userns === 'remap' || rootless() ? helperProblem() : undefined),
  (c) => {
    const text = c['userns-range'];
    if (text === undefined) return undefined;
    return rootless() ? rootlessRangeProblem(text) : c.userns === 'remap' ? remapRangeProblem(text) : undefined;
  },
  (c) =>
    c.userns === 'remap' && !rootless() ? unreachableForMappedRoot([ROOT, dirname(process.execPath)]) : undefined,
];

/**
 * With --userns remap the init runs as an unprivileged host uid (100000…):
 * node and the workshop's dist/ must be reachable by anyone, or it dies at
 * its first import (MODULE_NOT_FOUND — EACCES in disguise). A checkout under a
 * 0700/0750 home or a mkdtemp directory is the usual cause: say which
 * directory, and the fix, before anything is created.
 */
export function unreachableForMappedRoot(dirs: string[]): string | undefined {
  for (const dir of dirs) {
    for (let d = dir; ; d = dirname(d)) {
      let mode: number;
      try {
        mode = statSync(d).mode;
      } catch {
        break; // a missing path is another validation's to name
      }
      if ((mode & 0o001) === 0) {
        return `--userns remap: the container's root is an unprivileged host uid, which cannot enter ${d} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) on the way to ${dir}, where the init's code lives: give others search permission (chmod o+x ${d}), or keep the workshop where everyone can read it`;
      }
      if (d === dirname(d)) break;
    }
  }
  return undefined;
}

/** The maps of a rootless run (see rootlessMaps), with the range the user chose. */
export function writeRootlessMaps(pid: number, config: UserConfig): void {
  const range = config['userns-range'] !== undefined ? parseRange(config['userns-range']) : undefined;
  writeRootlessMapsFor(pid, rootlessMaps(currentUser(), SUBID_FILES, range));
}

/** Does a rootless container want a network beyond lo (the default bridge mode)? */
export function rootlessNetwork(config: UserConfig): boolean {
  return (config['net'] ?? 'bridge') === 'bridge';
}

/**
 * Rootless, the image's files belong to host root, which has no id in the
 * container's map: readable (as 65534), but every copy-up of a directory
 * fails with EOVERFLOW — overlayfs must give the copy its original, unmapped
 * owner — so not even /tmp could take a new file. Idmapped layers would fix
 * it, but only root may make them. So a rootless container stacks a copy of
 * each layer made by the user (owned by the user: root inside), in its own
 * directory, removed with it. It costs a copy per start (≈ 25 ms and 2 MB for
 * the busybox rootfs, measured); setuid bits and device nodes do not survive
 * it (an ordinary user cannot make them), so an image layer with whiteouts
 * cannot be copied: the error says so.
 */
export function copyLayersForRootless(lower: string[], dir: string): string[] {
  return lower.map((layer, i) => {
    const copy = join(dir, 'rootless-layers', String(i));
    mkdirSync(copy, { recursive: true });
    try {
      execFileSync('cp', ['-a', '--no-preserve=ownership', `${layer}/.`, copy], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(
        `rootless: cannot copy the layer ${layer} for this user (${stderr.split('\n')[0] ?? 'cp failed'}): an ordinary user cannot copy device nodes or whiteouts — run this image as root`,
      );
    }
    return copy;
  });
}

/**
 * Rootless cleanup: what the container wrote belongs to the ids of its map
 * (`chown 1000` inside is host 100999), which the user may not delete on the
 * host — only inside a user namespace with the same map, as its root. So the
 * helper makes one, the maps are written as for the container, and `rm -rf`
 * runs there. overlayfs' own work/work (mode 000) is the user's: chmod suffices.
 */
export async function removeAsContainerRoot(config: UserConfig, paths: string[]): Promise<void> {
  const work = config.overlay ? join(config.overlay.work, 'work') : undefined;
  if (work && existsSync(work)) chmodSync(work, 0o700); // a start that failed before the mount made none
  const targets = paths.filter((p) => existsSync(p));
  if (targets.length === 0) return;
  const { child } = await startInUserNamespace(
    () =>
      spawn(NSEXEC, helperArgs(CLONE_NEWUSER, 'rm', ['-rf', '--', ...targets]), {
        stdio: ['ignore', 'ignore', 'pipe', 'ignore', 'pipe'],
      }),
    (pid) => writeRootlessMaps(pid, config),
  );
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (status !== 0)
    throw new Error(`rootless cleanup: rm -rf ${targets.join(' ')} in the container's user namespace exited ${status}`);
}
