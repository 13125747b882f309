/**
 * Looking at a container from the host, the way a grader would: everything
 * here reads /proc, /sys or runs a standard tool; nothing asks the runtime.
 */
import { readMountinfo } from '../core/mountinfo.js';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE, CGROUP_PARENT, NAT_CHAIN, NET_DIR } from '../core/names.js';

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
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const i = l.indexOf(':');
          return [l.slice(0, i), l.slice(i + 1).trim()];
        }),
    );
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  const st = procStatus(pid);
  return st !== undefined && !st['State']?.startsWith('Z');
}

export function allPids(): number[] {
  return readdirSync('/proc')
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
 * What a container run could leave behind on the host, as sorted lines:
 * mounts, network links, named network namespaces, cgroups named cellblock,
 * address leases and the NAT rules of published ports (lesson 04).
 * Compared before and after a run, any new line is a leak.
 */
export function hostState(): string[] {
  const lines: string[] = [];
  for (const m of mountPoints('self')) lines.push(`mount ${m}`);
  for (const dev of safeList('/sys/class/net')) lines.push(`link ${dev}`);
  for (const ns of safeList('/run/netns')) lines.push(`netns ${ns}`);
  for (const cg of cellblockCgroups()) lines.push(`cgroup ${cg}`);
  for (const lease of leaseFiles()) lines.push(`lease ${lease}`);
  for (const rule of natRules()) lines.push(`nat rule ${rule}`);
  return lines.sort();
}

/** The address leases (names.ts NET_DIR/leases/<address>), as '10.217.0.2 of <container id>'. */
export function leaseFiles(): string[] {
  const dir = join(NET_DIR, 'leases');
  return safeList(dir).map((f) => {
    try {
      return `${f} of ${(JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string }).id}`;
    } catch {
      return f;
    }
  });
}

/**
 * The nat table's rules that are the workshop's — the chain NAT_CHAIN, the
 * jumps to it, anything commented cellblock:<id> — as `iptables-save` prints
 * them. None when iptables is not installed.
 */
export function natRules(): string[] {
  const r = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0 || !r.stdout) return [];
  return r.stdout
    .split('\n')
    .filter((l) => (l.startsWith('-A ') || l.startsWith(':')) && (l.includes(NAT_CHAIN) || l.includes('cellblock:')));
}

/** The network lesson's bridge exists (it is made by the first container on it and removed by the last). */
export function bridgeExists(): boolean {
  return existsSync(`/sys/class/net/${BRIDGE}`);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The workshop's cgroups, in every hierarchy: whatever is inside the parent
 * (names.ts: v2 /sys/fs/cgroup/cellblock/*, v1 /sys/fs/cgroup/<controller>/cellblock/*),
 * and anything else named cellblock* or cb-*. The parent itself is not listed:
 * it is made on first use and kept on purpose — an instructor's cap on the whole
 * workshop is written there — so its appearing during a run is not a leak.
 */
function cellblockCgroups(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number, inParent: boolean): void => {
    for (const e of safeList(dir)) {
      const p = `${dir}/${e}`;
      const named = e.startsWith('cellblock') || e.startsWith('cb-');
      if (!inParent && !named && e.includes('.')) continue; // interface files, systemd's units
      const isCgroup = existsSync(`${p}/cgroup.procs`);
      if (inParent && !isCgroup) continue; // the parent's interface files
      const isParent = !inParent && e === CGROUP_PARENT;
      if (!isParent && (inParent || named)) out.push(p);
      if (depth < 3 && isCgroup) walk(p, depth + 1, inParent || isParent);
    }
  };
  walk('/sys/fs/cgroup', 0, false);
  return out;
}
