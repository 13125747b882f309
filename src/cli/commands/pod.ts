/**
 * `cellblock pod create | ls | rm`: a pod is a pause container that owns the
 * namespaces (core/host/pods.ts) and the members `cellblock run --pod` adds.
 * The pause container is run by a `cellblock run` of its own, detached: like
 * every container here it lives as long as its runtime process does.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/config.js';
import { ROOT } from '../../core/paths.js';
import { leaseOf } from '../../core/net/ipam.js';
import { listPods, nameOf, PAUSE, podId, podPause, POD_NAME, runningState } from '../../core/pods/pods.js';
import { readState, sameProcess, type ContainerState } from '../../core/host/state.js';

const CLI = join(ROOT, 'src', 'bin', 'cellblock.mjs');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface CreateArgs {
  name: string;
  publish?: string[];
  sharePid: boolean;
  solutions: boolean;
  lesson?: string;
}

export async function podCreate(args: CreateArgs): Promise<number> {
  const name = args.name;
  if (!POD_NAME.test(name)) {
    throw new ConfigError([
      `pod name ${JSON.stringify(name)}: 1–25 characters from a-z 0-9 -, not starting or ending with - (it is the pod's hostname)`,
    ]);
  }
  if (podPause(name) || runningState(name)) {
    throw new ConfigError([
      `pod name ${name} is taken by a running pod or container: choose another, or \`cellblock pod rm ${name}\``,
    ]);
  }
  const runArgs = [
    CLI,
    'run',
    '--id',
    podId(name),
    '--name',
    name,
    '--hostname',
    name,
    ...(args.publish ?? []).flatMap((p) => ['-p', String(p)]),
    // Members then join the pause's PID namespace too: it is their PID 1, and reaps their orphans.
    ...(args.sharePid ? ['--share-pid'] : []),
    ...(args.solutions ? ['--solutions'] : []),
    ...(args.lesson !== undefined ? ['--lesson', args.lesson] : []),
    '--',
    PAUSE,
  ];
  // Its own session: a Ctrl-C meant for this command must not reach the pod.
  const child = spawn(process.execPath, runArgs, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 0))));
  let ended: number | undefined;
  void exited.then((c) => (ended = c));
  for (let waited = 0; waited < 15_000; waited += 50) {
    if (ended !== undefined) {
      // Another `pod create` of this name started at the same time and reserved the id first (core/host/reserve.ts).
      if (stderr.includes(`container id ${podId(name)} is taken`)) {
        throw new ConfigError([
          `pod name ${name} is taken by a pod being created at the same time: choose another, or \`cellblock pod rm ${name}\``,
        ]);
      }
      process.stderr.write(stderr);
      return ended === 0 ? 125 : ended; // the pause never ends by itself
    }
    const s = readState(podId(name));
    if (s?.config && pauseRuns(s)) {
      child.stderr!.destroy(); // later notes of the detached runtime go nowhere (EPIPE is ignored)
      child.unref();
      process.stdout.write(`${podId(name)}\n`);
      return 0;
    }
    await sleep(50);
  }
  child.kill('SIGTERM');
  throw new Error(`pod ${name}: the pause container did not start within 15 s`);
}

/** The init has become the pause program (its exe, as the container's mount namespace names it). */
function pauseRuns(s: ContainerState): boolean {
  try {
    return readlinkSync(`/proc/${s.pid}/exe`) === PAUSE;
  } catch {
    return false;
  }
}

export async function podLs(args: { json: boolean }): Promise<number> {
  const pods = listPods().map((p) => ({
    name: p.name,
    id: p.pause.id,
    pid: p.pause.pid,
    address: leaseOf(p.pause.id)?.address ?? '',
    ports: (leaseOf(p.pause.id)?.ports ?? []).map((x) => `${x.host}->${x.container}`).join(','),
    members: p.members.map(nameOf),
  }));
  if (args.json) {
    process.stdout.write(`${JSON.stringify(pods, null, 2)}\n`);
    return 0;
  }
  const rows = [['POD', 'PAUSE PID', 'ADDRESS', 'PORTS', 'MEMBERS']];
  for (const p of pods) rows.push([p.name, String(p.pid), p.address, p.ports, p.members.join(',') || '-']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}

/**
 * The container's runtime still runs: the very process its state file names
 * (not a reuse of its pid), and not a zombie its parent has yet to reap.
 */
function runtimeAlive(s: ContainerState): boolean {
  if (!sameProcess(s.runtimePid, s.runtimeStartTime)) return false;
  try {
    const stat = readFileSync(`/proc/${s.runtimePid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * End a container and wait until its runtime has cleaned up after it (its
 * state file gone, or the runtime itself). `kill` is what to send and to whom:
 * the pause gets SIGTERM (pause.c ends on it at once); a running member gets
 * SIGKILL on its init, as `docker rm -f` does. A gentler SIGTERM-then-wait
 * would buy nothing here: most members' PID 1 is a shell or a program with no
 * handler, and a PID 1 without a handler never sees SIGTERM (lesson 02) — the
 * old SIGHUP route (the runtime's "SIGHUP, then SIGKILL after 2 s") cost 2 s
 * per `pod rm -f` for exactly that reason. Killed, the member's runtime sees
 * the exit and removes its cgroup, mounts and state as after any end.
 */
async function stop(s: ContainerState, signal: NodeJS.Signals, target: 'init' | 'runtime'): Promise<void> {
  try {
    // Only while its runtime lives: then s.pid is still the container's init, not a reused pid.
    if (runtimeAlive(s)) process.kill(target === 'init' ? s.pid : s.runtimePid, signal);
  } catch {
    // already gone
  }
  // Until the runtime has exited, not just removed the state file: that is its
  // cleanup's first step, and the lease, veth and cgroup go after it.
  for (let waited = 0; waited < 10_000; waited += 20) {
    if (!runtimeAlive(s)) return;
    await sleep(20);
  }
  throw new Error(`container ${s.id} did not end within 10 s (its runtime is pid ${s.runtimePid})`);
}

/**
 * What a container whose runtime is gone left behind — a runtime killed by
 * SIGKILL ran no cleanup: its state file, lease, veth, cgroup, maybe its
 * init. Removed as `cellblock cleanup` removes them, but only this id's
 * (the inventories' per-container removal). Throws when an item stays.
 */
async function removeRemains(id: string): Promise<void> {
  const { removeContainerItems } = await import('../../core/inventories.js');
  const { failed } = await removeContainerItems(id);
  if (failed.length > 0) {
    throw new Error(
      `container ${id}: could not remove ${failed.map((f) => `${f.item} (${String(f.error)})`).join('; ')} — \`cellblock cleanup\` retries`,
    );
  }
}

export async function podRm(args: { name: string; force: boolean }): Promise<number> {
  const pod = listPods().find((p) => p.name === args.name);
  if (!pod) throw new ConfigError([`no pod ${JSON.stringify(args.name)}: \`cellblock pod ls\` lists them`]);
  const running = pod.members.filter(runtimeAlive);
  if (running.length > 0 && !args.force) {
    throw new ConfigError([
      `pod ${args.name} has running members (${running.map(nameOf).join(', ')}): stop them, or \`cellblock pod rm -f ${args.name}\``,
    ]);
  }
  // Members first: they are in the pause's namespaces, not the other way round.
  await Promise.all(running.map((m) => stop(m, 'SIGKILL', 'init')));
  // The pause ends on SIGTERM (scripts/rootfs/pause.c), passed on by its runtime, which then removes veth, lease and cgroup.
  if (runtimeAlive(pod.pause)) await stop(pod.pause, 'SIGTERM', 'runtime');
  // A member or pause whose runtime died (SIGKILL, a crash) cleaned up nothing:
  // its state file still names it. Its remains go too — members' first.
  for (const s of [...pod.members, pod.pause]) {
    if (readState(s.id) && !runtimeAlive(s)) await removeRemains(s.id);
  }
  process.stdout.write(`${args.name}\n`);
  return 0;
}
