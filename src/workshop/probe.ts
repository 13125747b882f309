/**
 * Looking at a container from the host, the way a grader would: everything
 * here reads /proc, /sys or runs a standard tool; nothing asks the runtime.
 */
import { existsSync, readlinkSync } from 'node:fs';
import { defaultScope, inventoryItems, liveness } from '../core/inventories.js';
import type { InventoryItem } from '../core/inventory.js';
import { readMountinfo } from '../core/mountinfo.js';
import { BRIDGE } from '../core/names.js';
import { listDir, readText } from '../core/read.js';

export type NsType = 'uts' | 'ipc' | 'net' | 'mnt' | 'pid' | 'cgroup';
export const NS_TYPES: NsType[] = ['uts', 'ipc', 'net', 'mnt', 'pid', 'cgroup'];

/** 'uts:[4026531838]', or undefined if the process is gone. */
export function nsLink(pid: number | 'self', type: NsType): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${type}`);
  } catch {
    return undefined;
  }
}

export function namespacesOf(pid: number | 'self'): Partial<Record<NsType, string>> {
  return Object.fromEntries(NS_TYPES.map((t) => [t, nsLink(pid, t)]).filter(([, v]) => v !== undefined));
}

/** /proc/<pid>/status as key → value ('NSpid' → '4711\t1'). */
export function procStatus(pid: number): Record<string, string> | undefined {
  const text = readText(`/proc/${pid}/status`);
  if (!text) return undefined; // gone
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()];
      }),
  );
}

export function isAlive(pid: number): boolean {
  const st = procStatus(pid);
  return st !== undefined && !st['State']?.startsWith('Z');
}

export function allPids(): number[] {
  return listDir('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Every process (host pid) whose namespace of `type` is `link`. */
export function pidsInNamespace(type: NsType, link: string): number[] {
  return allPids().filter((p) => p !== process.pid && nsLink(p, type) === link);
}

/** The mount points of a process's mount namespace, from /proc/<pid>/mountinfo (field 5). */
export function mountPoints(pid: number | 'self'): string[] {
  return readMountinfo(pid).map((m) => m.mountPoint);
}

/**
 * What a container run could leave behind on the host: every item of the
 * kernel areas' inventories (core/inventories.ts) — the workshop's mounts,
 * cgroups, veths and bridge, named netns, address leases, NAT rules, container
 * directories and state files; never another program's. Processes are the
 * harness's own look (the container's namespaces). Compared before and after
 * a run, a new item is a leak. `ids`: containers to trace names back to (a
 * trial's own, whose state file is gone by then); `running`: the containers
 * that still run, whose items are theirs to judge.
 */
export function hostItems(ids: Iterable<string> = []): {
  items: InventoryItem[];
  running: ReadonlyMap<string, string>;
} {
  const scope = defaultScope();
  const alive = liveness(scope, ids);
  return { items: inventoryItems(scope, alive, { probe: true }), running: alive.live };
}

/**
 * hostItems as sorted lines, "kind name", for tests that compare before and
 * after — without what stays between containers by design (the bridge, the
 * NAT chain: InventoryItem.stays), which a run may make and leave.
 */
export function hostState(): string[] {
  return hostItems()
    .items.filter((i) => !i.stays)
    .map(itemLine)
    .sort();
}

export function itemLine(item: InventoryItem): string {
  return `${item.kind} ${item.name}`;
}

/** The network lesson's bridge exists (made by the first container on it; it stays until `cellblock cleanup`). */
export function bridgeExists(): boolean {
  return existsSync(`/sys/class/net/${BRIDGE}`);
}
