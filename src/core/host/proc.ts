/**
 * Processes as /proc shows them (proc(5)), read in one place: the address
 * leases record their runtime's start time (net/ipam.ts), and the inventories
 * tell a container's process from an unrelated one that got its pid again.
 *
 * A pid alone names nothing for long: the kernel hands a freed pid to the next
 * process. The pair (pid, start time) does — the start time is field 22 of
 * /proc/<pid>/stat, in clock ticks after boot.
 */
import { join } from 'node:path';
import { listDir, readText } from '../read.js';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, … — Z and X are already dead (a zombie only waits to be reaped). */
  state: string;
  /** When it started: clock ticks after boot (field 22). */
  start: number;
}

/** /proc/<pid>/stat, or undefined when the process is gone. */
export function readStat(pid: number, proc = '/proc'): ProcStat | undefined {
  const stat = readText(join(proc, String(pid), 'stat'));
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(rest[1]), state: rest[0] ?? '', start: Number(rest[19]) };
}

/** A process's start time in clock ticks after boot, or undefined when it is gone. */
export function processStart(pid: number, proc = '/proc'): number | undefined {
  return readStat(pid, proc)?.start;
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Start time, in ms since the epoch (comparable with a state file's startedAt). */
  startedMs: number;
  cmdline: string[];
}

// USER_HZ is 100 on every Linux architecture Node runs on (it is the ABI value, not CONFIG_HZ).
const CLK_TCK = 100;

const bootMs = new Map<string, number>();
/** When the machine booted, in ms since the epoch (`btime` in /proc/stat). */
function bootTimeMs(proc: string): number {
  let ms = bootMs.get(proc);
  if (ms === undefined) {
    const btime = /^btime (\d+)$/m.exec(readText(join(proc, 'stat')));
    bootMs.set(proc, (ms = btime ? Number(btime[1]) * 1000 : 0));
  }
  return ms;
}

/** A living process (not a zombie), with its command line; undefined when it is gone. */
export function readProc(pid: number, proc = '/proc'): ProcInfo | undefined {
  const stat = readStat(pid, proc);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return undefined;
  return {
    pid,
    ppid: stat.ppid,
    startedMs: bootTimeMs(proc) + (stat.start / CLK_TCK) * 1000,
    cmdline: readText(join(proc, String(pid), 'cmdline'))
      .split('\0')
      .filter(Boolean),
  };
}

/** Every living process, by pid. */
export function processes(proc = '/proc'): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const name of listDir(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name), proc);
    if (p) out.set(p.pid, p);
  }
  return out;
}

/** PID 1, this process and its ancestors: what no cleanup may ever kill. */
export function sparedPids(proc = '/proc'): Set<number> {
  const spared = new Set<number>([1, process.pid]);
  for (let p = readStat(process.pid, proc); p && p.ppid > 0 && !spared.has(p.ppid); p = readStat(p.ppid, proc)) {
    spared.add(p.ppid);
  }
  return spared;
}

let owner: number | undefined;

/**
 * The process that holds a container's runtime resources (its state file's
 * runtimePid, its address lease): this one — `cellblock run` lives as long as
 * its container — unless set. cellblock-oci create exits while its container
 * lives on, so it names the container's init instead: when the init is gone,
 * what it held is stale, exactly as when a `cellblock run` dies.
 */
export function setRuntimeOwner(pid: number | undefined): void {
  owner = pid;
}

/** The runtime owner's pid and start time (see setRuntimeOwner). */
export function runtimeOwner(): { pid: number; start: number } {
  const pid = owner ?? process.pid;
  return { pid, start: processStart(pid) ?? 0 };
}
