/**
 * Every value conversion for cgroup limits, in one place (runc keeps them in
 * one place too, so v1 and v2 can never disagree about what "256m" means):
 *
 *   CLI text (docker's syntax)   →  Limits (numbers the kernel takes)
 *   -m 256m                         memory      268435456 bytes (binary units, like docker)
 *   --memory-swap 512m              memorySwap  memory + swap, in bytes; -1 → 'max'
 *   --cpus 0.5                      cpu         { quota: 50000, period: 100000 } µs
 *   --pids-limit 10                 pids        10; -1 → 'max'
 *   --device-write-bps /dev/sda:1mb io          [{ major: 8, minor: 0, writeBps: 1048576 }]
 *
 * The v1 and v2 managers only write these numbers into files: which file and in
 * which format is theirs to know (v1.ts, and the v2 mapping lesson 05 writes).
 *
 * Validation runs before anything is created, so every parser here reports a
 * problem as a sentence naming the flag, the value and the fix.
 */
import { cpus as hostCpus } from 'node:os';
import { statSync } from 'node:fs';
import type { ContainerConfig } from '../config.js';
import type { Validation } from '../lesson.js';

/** The config fields lesson 05 adds: exactly its CLI flags, as typed (strings), repeatable ones as arrays. */
export type CgroupConfig = ContainerConfig & {
  memory?: string | number;
  'memory-swap'?: string | number;
  cpus?: string | number;
  'pids-limit'?: string | number;
  'device-read-bps'?: string | string[];
  'device-write-bps'?: string | string[];
};

/** A block device's throttle: bytes per second for reads and/or writes. */
export interface IoLimit {
  /** The path given on the command line, for messages. */
  device: string;
  major: number;
  minor: number;
  readBps?: number;
  writeBps?: number;
}

/** The limits of one container, in the kernel's units. An absent field means "not limited". */
export interface Limits {
  /** Bytes of memory (page cache included). */
  memory?: number;
  /** Memory + swap, in bytes (docker's --memory-swap), or 'max' for unlimited swap. */
  memorySwap?: number | 'max';
  /** CFS bandwidth: `quota` µs of CPU time per `period` µs. */
  cpu?: { quota: number; period: number };
  /** Most tasks (processes and threads) the cgroup may hold. */
  pids?: number | 'max';
  io?: IoLimit[];
}

/** Not a usable value: the message names it and says what would be. */
export class ValueError extends Error {
  override readonly name = 'ValueError';
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
// docker's units.RAMInBytes: digits, an optional fraction, an optional unit,
// an optional "i" and "b" ("1.5g", "512M", "64kb", "2GiB", "100").
const SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;
const SIZE_EXAMPLE = 'a number with an optional unit b, k, m, g (binary: 1k = 1024), e.g. 256m or 1.5g';

/** Docker's size syntax → bytes (rounded down to a whole byte). */
export function parseSize(input: string | number): number {
  const text = String(input).trim();
  if (/^-/.test(text)) throw new ValueError(`"${text}" is negative: a size must be more than 0, e.g. 256m`);
  const m = SIZE.exec(text);
  if (!m) throw new ValueError(`"${text}" is not a size: use ${SIZE_EXAMPLE}`);
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new ValueError(`"${text}" is too large`);
  return bytes;
}

/** The smallest memory limit docker accepts: below it a container cannot start its first process. */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** CFS period (µs) docker uses for --cpus: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;
/** The kernel refuses a quota below 1 ms (cpu.max / cpu.cfs_quota_us: EINVAL). */
const MIN_QUOTA_US = 1000;

/** --cpus N → quota/period: N CPUs' worth of time per period (0.5 → 50 ms every 100 ms). */
export function parseCpus(input: string | number, available = hostCpus().length): { quota: number; period: number } {
  const text = String(input).trim();
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(text)) {
    throw new ValueError(`"${text}" is not a number of CPUs: use a decimal like 0.5 (half a CPU) or 2`);
  }
  const n = Number(text);
  if (n <= 0)
    throw new ValueError(`${text} must be more than 0: e.g. 0.5 for half a CPU (leave --cpus out for no limit)`);
  const quota = Math.round(n * CPU_PERIOD_US);
  if (quota < MIN_QUOTA_US) throw new ValueError(`${text} is below the kernel's minimum of 0.01 (1 ms per 100 ms)`);
  if (available > 0 && n > available) {
    throw new ValueError(`${text} is more than the ${available} CPUs this machine has: use at most ${available}`);
  }
  return { quota, period: CPU_PERIOD_US };
}

/** --pids-limit N → a positive count, or 'max' for -1 (docker's "unlimited"). */
export function parsePids(input: string | number): number | 'max' {
  const text = String(input).trim();
  if (text === '-1' || text === 'max') return 'max';
  if (!/^\d+$/.test(text)) throw new ValueError(`"${text}" is not a whole number: e.g. 100 (or -1 for no limit)`);
  const n = Number(text);
  if (n === 0) {
    throw new ValueError('0 would not even let the first process exist: use at least 1 (or -1 for no limit)');
  }
  return n;
}

/** --memory-swap: memory + swap in bytes, or 'max' for -1. Needs --memory, and is at least as large. */
export function parseMemorySwap(input: string | number, memory: number | undefined): number | 'max' {
  const text = String(input).trim();
  if (memory === undefined) throw new ValueError('needs --memory too: it is the total of memory and swap');
  if (text === '-1') return 'max';
  const total = parseSize(text);
  if (total < memory) {
    throw new ValueError(
      `${text} is less than --memory (${memory} bytes): it is memory + swap, so at least the memory (equal: no swap)`,
    );
  }
  return total;
}

/** A block device's numbers, from its node: what the kernel's throttle files take ("8:0"). */
export function blockDevice(path: string): { major: number; minor: number } {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    throw new ValueError(`device ${path} does not exist: give a block device such as /dev/sda or /dev/loop0`);
  }
  if (!st.isBlockDevice()) {
    throw new ValueError(`${path} is not a block device: the io limits apply to disks (see \`lsblk\`)`);
  }
  // glibc's major(3)/minor(3) on the 64-bit dev_t.
  const dev = st.rdev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** DEVICE:RATE (docker's --device-write-bps /dev/sda:1mb) → the device's numbers and bytes per second. */
export function parseDeviceRate(input: string): { device: string; major: number; minor: number; bps: number } {
  const i = input.lastIndexOf(':');
  if (i <= 0 || i === input.length - 1) {
    throw new ValueError(`"${input}" is not DEVICE:RATE: e.g. /dev/sda:1mb`);
  }
  const device = input.slice(0, i);
  const rate = input.slice(i + 1);
  let bps: number;
  try {
    bps = parseSize(rate);
  } catch (err) {
    throw new ValueError(`the rate in "${input}": ${(err as Error).message}`);
  }
  if (bps === 0) throw new ValueError(`the rate in "${input}" is 0: give bytes per second, e.g. 1mb`);
  return { device, ...blockDevice(device), bps };
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** The Limits of a validated config (throws ValueError on a value validation would have rejected). */
export function limitsFromConfig(config: CgroupConfig): Limits {
  const limits: Limits = {};
  if (config.memory !== undefined) limits.memory = parseSize(config.memory);
  if (config['memory-swap'] !== undefined) limits.memorySwap = parseMemorySwap(config['memory-swap'], limits.memory);
  if (config.cpus !== undefined) limits.cpu = parseCpus(config.cpus);
  if (config['pids-limit'] !== undefined) limits.pids = parsePids(config['pids-limit']);
  const io = new Map<string, IoLimit>();
  const add = (spec: string, key: 'readBps' | 'writeBps'): void => {
    const { device, major, minor, bps } = parseDeviceRate(spec);
    const k = `${major}:${minor}`;
    io.set(k, { ...(io.get(k) ?? { device, major, minor }), [key]: bps });
  };
  for (const s of list(config['device-read-bps'])) add(s, 'readBps');
  for (const s of list(config['device-write-bps'])) add(s, 'writeBps');
  if (io.size > 0) limits.io = [...io.values()];
  return limits;
}

/** True when the config asks for no limit at all. */
export function noLimits(l: Limits): boolean {
  return Object.keys(l).length === 0;
}

/** One validation per flag: `flag value: problem`, or undefined. */
function check(flag: string, value: unknown, parse: () => unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    parse();
    return undefined;
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    return `${flag} ${String(value)}: ${err.message}`;
  }
}

/** Lesson 05's validations: every limit, before any cgroup or process exists. */
export const cgroupValidations: Validation<CgroupConfig>[] = [
  ({ memory }) =>
    check('--memory', memory, () => {
      const bytes = parseSize(memory!);
      if (bytes < MIN_MEMORY) {
        // A bare number is bytes (docker's convention too): say so, since "-m 100" usually means 100m.
        const bare = /^\s*\d+\s*$/.test(String(memory));
        throw new ValueError(
          `${bare ? `is ${bytes} bytes (a size without a unit is bytes; did you mean ${String(memory).trim()}m?), ` : 'is '}below 6m, the least a container needs to start its first process (docker has the same minimum)`,
        );
      }
    }),
  ({ memory, 'memory-swap': swap }) => {
    // A bad --memory is reported by its own validation; it must not make this one say "needs --memory".
    const mem = memory === undefined ? undefined : safe(() => parseSize(memory));
    if (memory !== undefined && mem === undefined) return undefined;
    return check('--memory-swap', swap, () => parseMemorySwap(swap!, mem));
  },
  ({ cpus }) => check('--cpus', cpus, () => parseCpus(cpus!)),
  ({ 'pids-limit': pids }) => check('--pids-limit', pids, () => parsePids(pids!)),
  (c) =>
    list(c['device-read-bps'])
      .map((s) => check('--device-read-bps', s, () => parseDeviceRate(s)))
      .find(Boolean),
  (c) =>
    list(c['device-write-bps'])
      .map((s) => check('--device-write-bps', s, () => parseDeviceRate(s)))
      .find(Boolean),
  // Rootless, no cgroup can be made (see rootlessCgroupNote): a limit would be
  // silently ignored, which is worse than refusing it.
  (c) => {
    if (process.getuid?.() === 0) return undefined;
    const asked = LIMIT_FLAGS.filter((f) => c[f] !== undefined && list(c[f] as string | string[]).length > 0);
    return asked.length === 0
      ? undefined
      : `--${asked[0]} needs a cgroup, and cellblock runs as an ordinary user (rootless), who may not create one: run it as root (sudo cellblock …), or leave the limit out`;
  },
];

const LIMIT_FLAGS = ['memory', 'memory-swap', 'cpus', 'pids-limit', 'device-read-bps', 'device-write-bps'] as const;

/**
 * What a rootless container goes without (Lesson.withoutRoot): creating a
 * cgroup needs root — on cgroup v1 always, on v2 unless systemd delegated a
 * subtree to the user (user@UID.service), which this runtime does not use.
 */
export function rootlessCgroupNote(): string {
  return 'rootless: no cgroup (creating one needs root, or a cgroup v2 subtree delegated by systemd): the container runs unlimited, in the cgroup of the command that started it';
}

function safe(f: () => number): number | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/**
 * Swap alone, for v2's memory.swap.max: docker's --memory-swap is memory + swap
 * (v1's memory.memsw.limit_in_bytes is that total too), v2 counts swap apart.
 * Undefined when no swap limit was asked for.
 */
export function swapOnly(l: Limits): number | 'max' | undefined {
  if (l.memorySwap === undefined) return undefined;
  return l.memorySwap === 'max' ? 'max' : l.memorySwap - (l.memory ?? 0);
}
