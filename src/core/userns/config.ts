/**
 * What the user-namespace lesson (08) needs from the shared code: its config
 * fields, their validation — all of it before any kernel object exists — and
 * the rootless maps. The lesson does the kernel work (maps, idmapped layers);
 * the helper that creates the namespace is core/host/userns.ts.
 */
import type { ContainerConfig } from '../config.js';
import type { OverlayFields } from '../images/overlay.js';
import type { Validation } from '../lesson.js';
import {
  currentUser,
  defaultRemapRange,
  helperProblem,
  parseRange,
  rangesOf,
  remapRangeProblem,
  rootlessMaps,
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
];

/** The maps of a rootless run (see rootlessMaps), with the range the user chose. */
export function writeRootlessMaps(pid: number, config: UserConfig): void {
  const range = config['userns-range'] !== undefined ? parseRange(config['userns-range']) : undefined;
  writeRootlessMapsFor(pid, rootlessMaps(currentUser(), SUBID_FILES, range));
}

/** Does a rootless container want a network beyond lo (the default bridge mode)? */
export function rootlessNetwork(config: UserConfig): boolean {
  return (config['net'] ?? 'bridge') === 'bridge';
}
