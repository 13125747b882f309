/**
 * What the containerd and Podman client tests share: which runtime binary the
 * clients are pointed at, the busybox rootfs they run, and the host-side
 * bookkeeping that proves a client run left nothing behind — the clients'
 * own leftovers (cgroup parents, a CNI bridge and its iptables chains, state
 * directories under /run) are taken down here, only when the test made them.
 *
 * The runtime is this checkout's `cellblock-oci`. CELLBLOCK_CLIENTS_RUNTIME
 * names another runc-compatible binary (e.g. /usr/sbin/runc): the same tests
 * then prove the harness itself, which is how they were developed.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cellblockId } from '../../src/core/oci/state.js';
import { defaultRootfs, ROOT } from '../../src/core/paths.js';
import { hostItems, itemLine } from '../../src/workshop/probe.js';

export const CELLBLOCK_OCI = join(ROOT, 'src', 'bin', 'cellblock-oci.mjs');
export const RUNTIME = process.env['CELLBLOCK_CLIENTS_RUNTIME'] ?? CELLBLOCK_OCI;
/** cellblock-oci runs the reference solutions when asked (the learner's lessons otherwise); runc has no such flag. */
export const IS_CELLBLOCK = RUNTIME === CELLBLOCK_OCI;
/**
 * The runtime's state directory when no --root is given (runc's /run/runc,
 * cellblock-oci's /run/cellblock-oci): Podman's cleanup process (conmon's exit
 * command) calls `delete` without the --runtime-flag options, so Podman runs
 * must use the default root.
 */
export const RUNTIME_DEFAULT_ROOT = IS_CELLBLOCK ? '/run/cellblock-oci' : '/run/runc';

/** The entries (container ids) of a runtime state directory. */
export function stateEntries(root: string): string[] {
  return existsSync(root) ? readdirSync(root).sort() : [];
}

/** Why the clients cannot run here, or undefined. */
export function missingClient(tools: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'the clients need root';
  for (const t of tools) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0)
      return `${t} is not installed (scripts/test.sh installs Debian's containerd and podman)`;
  }
  return undefined;
}

/** Why the runtime cannot be driven, or undefined — a missing cellblock-oci is a failure, not a skip. */
export function runtimeProblem(): string | undefined {
  if (!existsSync(RUNTIME)) return `the runtime ${RUNTIME} does not exist`;
  if ((statSync(RUNTIME).mode & 0o111) === 0) return `the runtime ${RUNTIME} is not executable`;
  return undefined;
}

export function sh(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input ?? '',
    timeout: opts.timeout ?? 60_000,
    env: opts.env ?? process.env,
    killSignal: 'SIGKILL',
  });
}

/** A scratch directory with a private copy of the busybox rootfs (containers write to the rootfs they are given). */
export function scratch(prefix: string): { dir: string; rootfs: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const rootfs = join(dir, 'rootfs');
  const cp = sh('cp', ['-a', defaultRootfs(), rootfs]);
  if (cp.status !== 0) throw new Error(`copying the rootfs ${defaultRootfs()}: ${cp.stderr}`);
  return { dir, rootfs };
}

/** The cgroup hierarchies' roots: every v1 controller's directory, or the one v2 tree. */
export function cgroupRoots(): string[] {
  const base = '/sys/fs/cgroup';
  if (existsSync(join(base, 'cgroup.controllers'))) return [base];
  return readdirSync(base)
    .map((d) => join(base, d))
    .filter((p) => {
      try {
        return statSync(p).isDirectory() && existsSync(join(p, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

/** Every cgroup directory named by `rel` (e.g. "/default/ID") that exists in some hierarchy. */
export function cgroupsAt(rel: string): string[] {
  return cgroupRoots()
    .map((r) => join(r, rel))
    .filter((p) => existsSync(p));
}

/** Removes the cgroup `rel` and what is under it in every hierarchy, deepest first; only empty cgroups go (rmdir). */
export function removeCgroupTree(rel: string): void {
  for (const top of cgroupsAt(rel)) {
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
      try {
        rmdirSync(dir);
      } catch {
        // Busy (a process still in it): the leak assertions report it.
      }
    };
    walk(top);
  }
}

/** Processes whose command line contains `needle` (the tests' unique ids and temp paths). */
export function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmd.includes(needle)) out.push(`${p} ${cmd}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Mount points (host's view) under `path` or with `path` in their source. */
export function mountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(path));
}

/** Network links by name. */
export function linkNames(): string[] {
  return readdirSync('/sys/class/net');
}

/** The chains of the filter and nat tables (iptables -S lines "-N NAME"). */
export function iptablesChains(): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const table of ['filter', 'nat']) {
    const r = sh('iptables', ['-t', table, '-S']);
    m.set(
      table,
      r.status === 0
        ? r.stdout
            .split('\n')
            .filter((l) => l.startsWith('-N '))
            .map((l) => l.slice(3))
        : [],
    );
  }
  return m;
}

/**
 * Takes down iptables chains the test's clients made (not there before): the
 * rules in other chains that jump to them first, then the chains. CNI's
 * firewall plugin and netavark leave their chains when the last container goes.
 */
export function removeNewChains(before: Map<string, string[]>): string[] {
  const removed: string[] = [];
  for (const [table, chains] of iptablesChains()) {
    const fresh = chains.filter((c) => !(before.get(table) ?? []).includes(c));
    if (fresh.length === 0) continue;
    const rules = sh('iptables', ['-t', table, '-S']).stdout.split('\n');
    for (const rule of rules) {
      const jump = / -j (\S+)/.exec(rule)?.[1];
      if (!rule.startsWith('-A ') || jump === undefined || !fresh.includes(jump)) continue;
      const chain = rule.split(' ')[1]!;
      if (fresh.includes(chain)) continue;
      // -S prints the rule as -A would take it: the same words after -D delete it.
      sh('sh', ['-c', `iptables -t ${table} ${rule.replace(/^-A /, '-D ')}`]);
    }
    for (const c of fresh) sh('iptables', ['-t', table, '-F', c]);
    for (const c of fresh) {
      if (sh('iptables', ['-t', table, '-X', c]).status === 0) removed.push(`${table}/${c}`);
    }
  }
  return removed;
}

/** Removes `dir` when it did not exist before the test (`existed` false). */
export function removeIfNew(dir: string, existed: boolean): void {
  if (!existed) rmSync(dir, { recursive: true, force: true });
}

/**
 * What is new in the workshop's inventories since `before` (hostState lines)
 * and belongs to one of the test's containers (`ociIds`: the ids the client
 * gave the runtime; cellblock-oci names its cgroups, veths and state by the
 * cellblock id derived from them) or to no container at all: a leak of the
 * runtime. Attributed by id, since other workshop containers may start and
 * end meanwhile on a shared machine.
 */
export function workshopLeftovers(before: string[], ociIds: string[]): string[] {
  const ours = new Set(ociIds.flatMap((id) => [id, cellblockId(id)]));
  return hostItems(ours)
    .items.filter((i) => !i.stays && !before.includes(itemLine(i)))
    .filter((i) => (i.containerId === undefined ? !i.shared : ours.has(i.containerId)))
    .map(itemLine)
    .sort();
}

/**
 * Removes the directories `dirs` (deepest first) when they are empty — for
 * places under /run a client or the runtime makes on first use and another
 * program may be using meanwhile: never a recursive delete there.
 */
export function removeEmptyDirs(dirs: string[]): void {
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      // Not empty (someone else's), or already gone.
    }
  }
}
