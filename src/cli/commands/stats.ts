/**
 * `cellblock stats [ID]`, `pause ID`, `unpause ID`: what a running container
 * uses, read from its cgroup's own accounting (like `docker stats --no-stream`),
 * and the freezer. Containers are found by their state files (core/host/state.ts).
 */
import chalk from 'chalk';
import { existsSync } from 'node:fs';
import { cgroupName, openCgroup, type CgroupManager, type CgroupStats } from '../../core/cgroups/index.js';
import { listStates, readState, type ContainerState } from '../../core/host/state.js';
import { CliError } from '../errors.js';

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

function running(id: string): ContainerState {
  const s = readState(id);
  if (!s || !alive(s.pid) || !alive(s.runtimePid)) {
    throw new CliError(`no running container ${id}`, 1, '`cellblock stats` lists the running ones');
  }
  return s;
}

function cgroupOf(s: ContainerState, doing: string): CgroupManager {
  const cg = openCgroup(cgroupName({ ...s.config, id: s.id }));
  if (!cg.exists()) {
    throw new CliError(
      `container ${s.id} has no cgroup, so it cannot be ${doing}`,
      1,
      'its runtime made none: the cgroup lesson creates it (`cellblock status` shows how far you are)',
    );
  }
  return cg;
}

export interface StatsRow {
  id: string;
  pid: number;
  version: 'v1' | 'v2';
  /** CPU time over the sample, in % of one CPU (200 = two CPUs busy), as docker shows it. */
  cpuPercent: number | undefined;
  stats: CgroupStats | undefined;
}

/** Two readings `sampleMs` apart: everything from the second, CPU % from the difference. */
export async function sample(states: ContainerState[], sampleMs = 500): Promise<StatsRow[]> {
  const cgroups = states.map((s) => ({ s, cg: openCgroup(cgroupName({ ...s.config, id: s.id })) }));
  const read = (cg: CgroupManager): CgroupStats | undefined => (cg.exists() ? cg.stats() : undefined);
  const first = cgroups.map(({ cg }) => read(cg));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, sampleMs));
  const elapsedUs = (performance.now() - t0) * 1000;
  return cgroups.map(({ s, cg }, i) => {
    const stats = read(cg);
    const before = first[i]?.cpu?.usageUsec;
    const after = stats?.cpu?.usageUsec;
    return {
      id: s.id,
      pid: s.pid,
      version: cg.version,
      cpuPercent: before === undefined || after === undefined ? undefined : ((after - before) / elapsedUs) * 100,
      stats,
    };
  });
}

/** 1536 → "1.5KiB", as docker prints sizes. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)}${units[i]}`;
}

function row(r: StatsRow): string[] {
  const s = r.stats;
  if (!s) return [r.id, '-', 'no cgroup (the cgroup lesson makes it)', '-', '-', '-', '-'];
  const m = s.memory;
  const memory = m ? `${bytes(m.usage)} / ${m.limit === 'max' ? 'no limit' : bytes(m.limit)}` : '-';
  const memPercent = m && m.limit !== 'max' ? `${((m.usage / m.limit) * 100).toFixed(1)}%` : '-';
  const pids = s.pids ? `${s.pids.current}${s.pids.limit === 'max' ? '' : ` / ${s.pids.limit}`}` : '-';
  const io = s.io?.length
    ? `${bytes(s.io.reduce((a, d) => a + d.readBytes, 0))} / ${bytes(s.io.reduce((a, d) => a + d.writeBytes, 0))}`
    : '-';
  const oom = m?.oomKills ? chalk.red(` (${m.oomKills} OOM kill${m.oomKills > 1 ? 's' : ''})`) : '';
  return [
    r.id,
    r.cpuPercent === undefined ? '-' : `${r.cpuPercent.toFixed(1)}%`,
    memory + oom,
    memPercent,
    pids,
    io,
    s.frozen ? chalk.yellow('paused') : 'running',
  ];
}

export async function stats(args: { id?: string; json: boolean }): Promise<number> {
  const states = args.id ? [running(args.id)] : listStates().filter((s) => alive(s.pid) && alive(s.runtimePid));
  const rows = await sample(states);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('No running containers.\n');
    return 0;
  }
  const table = [
    ['CONTAINER', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS', 'BLOCK I/O (R / W)', 'STATE'],
    ...rows.map(row),
  ];
  const width = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => width(r[c]!))));
  for (const r of table) {
    process.stdout.write(
      `${r
        .map((cell, c) => cell + ' '.repeat(widths[c]! - width(cell)))
        .join('   ')
        .trimEnd()}\n`,
    );
  }
  return 0;
}

export async function pause(args: { id: string }): Promise<number> {
  const cg = cgroupOf(running(args.id), 'paused');
  if (cg.frozen()) throw new CliError(`container ${args.id} is already paused`, 1, `\`cellblock unpause ${args.id}\``);
  await cg.freeze();
  process.stdout.write(`${args.id} paused\n`);
  return 0;
}

export async function unpause(args: { id: string }): Promise<number> {
  const cg = cgroupOf(running(args.id), 'unpaused');
  if (!cg.frozen()) throw new CliError(`container ${args.id} is not paused`, 1);
  await cg.thaw();
  process.stdout.write(`${args.id} unpaused\n`);
  return 0;
}
