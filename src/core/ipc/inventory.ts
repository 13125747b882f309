/**
 * The IPC area: System V shared memory segments and POSIX message
 * queues the workshop made in the *host's* IPC namespace. A container with an
 * IPC namespace of its own cannot leave any there — its objects die with the
 * namespace — but one without (an unfinished lesson 07, a check's own host
 * object whose run was killed) can, and they outlive every process: nothing
 * but an explicit removal frees them.
 *
 * Found by name only (names.ts): keys with the workshop's prefix, queues named
 * cellblock-*. Segments are listed from /proc/sysvipc/shm; queues need an
 * mqueue filesystem, which the host may not have mounted, so the rootfs's
 * probe (scripts/rootfs/ipcprobe.c) lists them from a private mount of its own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Inventory, InventoryItem, Kind } from '../inventory.js';
import { AlreadyGone, STAGE } from '../inventory.js';
import { IPC_MQ_PREFIX, isWorkshopIpcKey } from '../names.js';

export interface IpcScope {
  proc: string;
  rootfs: string;
}

export interface IpcItem extends InventoryItem {
  kind: 'shm' | 'mqueue';
  /** The System V key, or the queue's name (without the leading slash). */
  key: string;
}

export interface IpcOps {
  /** Remove a host System V segment by key, or a host POSIX queue by name. */
  ipcRemove(kind: IpcItem['kind'], key: string): void;
}

/** The probe in the rootfs: also runs on the host (static, no library needed). */
export function ipcProbe(rootfs: string): string {
  return join(rootfs, 'usr/local/bin/ipcprobe');
}

/** Keys of the host's System V segments, as 0x%08x (the format ipcs and the probe print). */
export function hostShmKeys(proc = '/proc'): string[] {
  let text: string;
  try {
    text = readFileSync(join(proc, 'sysvipc/shm'), 'utf8');
  } catch {
    return []; // no System V IPC in this kernel (or a fixture without it)
  }
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((k): k is string => k !== undefined && k !== '')
    .map((k) => `0x${(Number(k) >>> 0).toString(16).padStart(8, '0')}`);
}

/** Names of the host's POSIX message queues; [] when the probe is not built. */
export function hostQueues(rootfs: string): string[] {
  const probe = ipcProbe(rootfs);
  if (!existsSync(probe)) return [];
  try {
    return execFileSync(probe, ['mq'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // not root: the probe cannot mount its private mqueue
  }
}

const segments: Kind<IpcItem, IpcScope, IpcOps> = {
  kind: 'shm',
  stage: STAGE.mounts + 5, // after the processes that may still have a segment attached
  list: (scope) =>
    hostShmKeys(scope.proc)
      .filter((k) => isWorkshopIpcKey(Number(k)))
      .map((key) => ({
        area: 'ipc',
        kind: 'shm',
        key,
        name: `System V shared memory, key ${key}`,
        why: 'a workshop key in the host IPC namespace',
      })),
  remove: (item, ops) => ops.ipcRemove('shm', item.key),
};

const queues: Kind<IpcItem, IpcScope, IpcOps> = {
  kind: 'mqueue',
  stage: STAGE.mounts + 5,
  list: (scope) =>
    hostQueues(scope.rootfs)
      .filter((n) => n.startsWith(IPC_MQ_PREFIX))
      .map((key) => ({
        area: 'ipc',
        kind: 'mqueue',
        key,
        name: `POSIX message queue /${key}`,
        why: `a ${IPC_MQ_PREFIX}* queue in the host IPC namespace`,
      })),
  remove: (item, ops) => ops.ipcRemove('mqueue', item.key),
};

export const ipcOps = (rootfs: string): IpcOps => ({
  ipcRemove(kind, key) {
    try {
      if (kind === 'shm') execFileSync('ipcrm', ['-M', key], { stdio: 'ignore' });
      else execFileSync(ipcProbe(rootfs), ['rmmq', key], { stdio: 'ignore' });
    } catch {
      throw new AlreadyGone(`${kind} ${key}`);
    }
  },
});

export const ipcInventory: Inventory<IpcScope, IpcOps> = {
  area: 'ipc',
  kinds: [segments, queues],
};
