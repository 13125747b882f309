/**
 * cellblock-oci's state directory, as runc keeps /run/runc/<id>/:
 *
 *   <root>/<id>/state.json   what `state`, `start`, `kill` and `delete` read
 *                            (the runtime that created the container is gone)
 *   <root>/<id>/exec.fifo    from create until start: the created init waits on it
 *   <root>/<id>/seccomp.json the config's linux.seccomp, as lesson 09 reads it
 *
 * <root> is /run/cellblock-oci unless `--root` says otherwise (runc's is
 * /run/runc): a tmpfs, gone after a reboot like the containers it describes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN, type ContainerConfig } from '../config.js';
import { listDir, readJson } from '../read.js';
import type { OciHooks } from './spec.js';

export const DEFAULT_OCI_ROOT = '/run/cellblock-oci';

/** The runtime-spec version this runtime reports (state and features). */
export const OCI_VERSION = '1.2.0';

/** An OCI container id as runc accepts it: letters, digits, _ + - . — never a path. */
export const OCI_ID_PATTERN = /^[\w+.-]+$/;

export interface OciState {
  ociVersion: string;
  /** The id the caller gave (containerd's, Podman's). */
  id: string;
  /** cellblock's id for it: names its cgroup, veth, overlay directory (cellblockId()). */
  cellblockId: string;
  bundle: string;
  rootfs: string;
  /** Host pid of the init, and its start time (/proc/<pid>/stat field 22): a pid alone can be reused. */
  pid: number;
  startTime: number;
  created: string;
  annotations: Record<string, string>;
  /** The lesson files it runs with: start, state and delete load the same ones. */
  lessons: { id: string; file: string }[];
  /** The config as the lessons' host steps left it (what their hostCleanup needs). */
  config: ContainerConfig;
  hooks: OciHooks;
  cgroupsPath?: string;
  execFifo: string;
}

/** cellblock's id for an OCI id: itself when it fits ID_PATTERN, else a stable hash of it. */
export function cellblockId(ociId: string): string {
  return ID_PATTERN.test(ociId) ? ociId : `oci-${createHash('sha256').update(ociId).digest('hex').slice(0, 16)}`;
}

export function stateDir(root: string, id: string): string {
  return join(root, id);
}

export function writeOciState(root: string, state: OciState): void {
  const dir = stateDir(root, state.id);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  // Whole, then renamed: `state` may read it at any moment.
  const file = join(dir, 'state.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function readOciState(root: string, id: string): OciState | undefined {
  if (!OCI_ID_PATTERN.test(id) || id === '.' || id === '..') return undefined;
  return readJson<OciState>(join(stateDir(root, id), 'state.json'));
}

/** Every container id with a directory under `root` (with or without a readable state.json). */
export function listOciIds(root: string): string[] {
  return listDir(root).filter((n) => OCI_ID_PATTERN.test(n) && n !== '.' && n !== '..');
}
