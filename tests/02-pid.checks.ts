/**
 * Lesson 02 checks: a PID namespace of its own, the command as its PID 1, and
 * what PID 1 has to do (signals, orphans) — with and without `run --init`.
 *
 * Lessons 00–02 only: there is no mount namespace yet, so the container still
 * sees the host's /proc and runs the host's /bin/sh. `echo $$` and NSpid do not
 * depend on /proc; `ps` does, which is the question the lesson ends on.
 */
import { readlinkSync } from 'node:fs';
import { CLONE_NEWPID } from '../src/native/constants.js';
import type { RunningContainer } from '../src/core/host/run.js';
import {
  defineChecks,
  expectEqual,
  outputContains,
  expectThat,
  startFailure,
  type CheckEnv,
} from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import type { TrialResult } from '../src/workshop/harness.js';
import { allPids, namespacesOf, nsLink, pidsInNamespace, procStatus } from '../src/workshop/probe.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The zombies (`State: Z`) in the container, as "pid name": the processes of
 * its PID namespace when it has one, else the first process's descendants
 * (the host's namespace holds every zombie of the machine).
 */
function zombiesIn(c: RunningContainer): string[] {
  const ns = nsLink(c.pid, 'pid');
  let pids: number[];
  if (ns !== undefined && ns !== namespacesOf('self').pid) {
    pids = pidsInNamespace('pid', ns);
  } else {
    const parent = new Map(allPids().map((p) => [p, Number(procStatus(p)?.['PPid'] ?? 0)]));
    const descends = (p: number): boolean => {
      for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === c.pid) return true;
      return false;
    };
    pids = [...parent.keys()].filter(descends);
  }
  return pids
    .map((p) => ({ p, st: procStatus(p) }))
    .filter(({ st }) => st?.['State']?.startsWith('Z'))
    .map(({ p, st }) => `${p} ${st?.['Name']}`);
}

interface Observed {
  t: TrialResult;
  /** NSpid of the first process, as the host reads it. */
  nspid?: string;
  pidForChildren?: string;
  /** Still running 300 ms after the host sent it SIGTERM. */
  aliveAfterTerm?: boolean;
  zombies: string[];
  /** --init only: how long from SIGTERM to the container's end. */
  stopMs?: number;
  /** --init only: the command's process, as the host sees it. */
  command?: Record<string, string>;
}

/**
 * Plain sh as the first process: it prints its pid, leaves an orphan that
 * exits after 0.1 s, then waits on stdin. The host reads NSpid, sends SIGTERM
 * and looks for zombies.
 */
function plainSh(env: CheckEnv): Promise<Observed> {
  return env.once('plain', async () => {
    const o: Partial<Observed> = { zombies: [] };
    o.t = await env.trial({
      config: { argv: ['sh', '-c', 'echo $$; (sleep 0.1 &); echo ready; read _'] },
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        o.nspid = procStatus(c.pid)?.['NSpid'];
        o.pidForChildren = readPidForChildren(c.pid);
        process.kill(c.pid, 'SIGTERM');
        await sleep(300);
        o.aliveAfterTerm = procStatus(c.pid) !== undefined && !procStatus(c.pid)?.['State']?.startsWith('Z');
        o.zombies = zombiesIn(c);
      },
    });
    return o as Observed;
  });
}

/** The same with `--init`: the runtime's init stays PID 1, sh is its child. */
function withInit(env: CheckEnv): Promise<Observed> {
  return env.once('init', async () => {
    const o: Partial<Observed> = { zombies: [] };
    o.t = await env.trial({
      config: { argv: ['sh', '-c', '(sleep 0.1 &); echo ready; read _'], init: true },
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        o.nspid = procStatus(c.pid)?.['NSpid'];
        const child = pidsInNamespace('pid', nsLink(c.pid, 'pid') ?? '-')
          .map((p) => procStatus(p))
          .find((st) => st?.['PPid'] === String(c.pid));
        if (child) o.command = child;
        await sleep(300);
        o.zombies = zombiesIn(c);
        const t0 = performance.now();
        process.kill(c.pid, 'SIGTERM');
        await Promise.race([c.wait(), sleep(3000)]);
        o.stopMs = performance.now() - t0;
      },
    });
    return o as Observed;
  });
}

/** The PID namespace the process's *next child* will be born in. */
function readPidForChildren(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid_for_children`);
  } catch {
    return undefined;
  }
}

const showNSpid = (s: string | undefined): string =>
  s === undefined ? 'no NSpid line' : `NSpid: ${s.replace(/\s+/g, ' ')}`;

/** No PID namespace of its own: what was found, the concept, then where to ask for it. */
const noPidNs = (found: string): string =>
  hintSteps(
    '02-pid',
    `${found}: the container's first process was not born in a new PID namespace (man 7 pid_namespaces)`,
    `${found}: the runtime passes cloneFlags' flags to unshare(2) right before it spawns the init — the PID flag is already imported`,
  );

export default defineChecks('02-pid', [
  {
    name: 'the container has its own PID namespace',
    async run(env) {
      const o = await plainSh(env);
      const host = namespacesOf('self').pid;
      const mine = o.t.namespaces.pid;
      const onlyChildren = mine === host && o.pidForChildren !== undefined && o.pidForChildren !== host;
      return (
        startFailure(o.t) ??
        expectThat(
          mine !== undefined && mine !== host,
          `a pid inode other than the host's ${host}`,
          `${mine}`,
          onlyChildren
            ? "its *children* get a new namespace, it does not: unshare(CLONE_NEWPID) moves only the caller's future children (man 2 unshare) — ask for it where the runtime spawns the first process"
            : noPidNs("the same pid inode as the host's"),
        )
      );
    },
  },
  {
    name: 'inside, `echo $$` prints 1',
    async run(env) {
      const o = await plainSh(env);
      const found = o.t.stdout.split('\n')[0]?.trim() ?? '';
      return (
        startFailure(o.t) ??
        expectEqual(
          found,
          '1',
          `PID inside is ${found}, expected 1: the command was not started as the first process of a new PID namespace`,
        )
      );
    },
  },
  {
    name: 'the host sees the same process under another pid: NSpid is "<host pid> 1"',
    async run(env) {
      const o = await plainSh(env);
      const values = o.nspid?.split(/\s+/) ?? [];
      return (
        startFailure(o.t) ??
        expectThat(
          values.length === 2 && values[0] === String(o.t.pid) && values[1] === '1',
          `NSpid: ${o.t.pid} 1`,
          showNSpid(o.nspid),
          values.length === 1
            ? noPidNs('one value: the process lives in the host’s PID namespace only')
            : 'the last value is its pid in the innermost namespace (man 5 proc, NSpid): the first process born there has 1',
        )
      );
    },
  },
  {
    name: 'the init step refuses to run the command when it is not PID 1',
    async run(env) {
      // Take CLONE_NEWPID away from every lesson: the init is now an ordinary
      // process, and lesson 02's init step must notice before the command runs.
      const t = await env.trial({
        config: { argv: ['echo', 'the command ran'] },
        lessons: (ls) =>
          ls.map((l) =>
            l.lesson.cloneFlags
              ? {
                  ...l,
                  lesson: { ...l.lesson, cloneFlags: (c) => (l.lesson.cloneFlags?.(c) ?? 0) & ~CLONE_NEWPID },
                }
              : l,
          ),
      });
      const stopped = t.error !== undefined && !t.stdout.includes('the command ran');
      const namesPid = /\b\d{2,}\b/.test(t.error?.message ?? '');
      return expectThat(
        stopped && namesPid && t.error?.message.startsWith('02-pid') === true,
        'the container does not start: an error from step 02-pid naming the pid the init has',
        t.error ? `${t.error.name}: ${t.error.message}` : `the command ran (status ${t.status})`,
        !stopped
          ? hintSteps(
              '02-pid',
              'the command ran though the init was not PID 1: init() runs before the command, and it can ask the kernel for its own pid (man 2 getpid)',
              'init() should throw when the answer is not 1 — the runtime then stops before the exec',
            )
          : 'the init stopped, but its message does not name the pid it saw: say which one it was',
      );
    },
  },
  {
    name: 'PID 1 without a handler ignores SIGTERM from the host (plain sh keeps running)',
    async run(env) {
      const o = await plainSh(env);
      return (
        startFailure(o.t) ??
        expectThat(
          o.aliveAfterTerm === true,
          'sh still running 300 ms after `kill -TERM <host pid>`',
          o.aliveAfterTerm ? 'still running' : `sh ended (status ${o.t.status})`,
          noPidNs(
            'SIGTERM killed it, so it was not PID 1 of a namespace — the kernel drops the signals a PID 1 has no handler for',
          ),
        )
      );
    },
  },
  {
    name: 'PID 1 must reap: under plain sh, an orphan that exits stays a zombie',
    async run(env) {
      const o = await plainSh(env);
      return (
        startFailure(o.t) ??
        expectThat(
          o.zombies.length > 0,
          'a zombie (State: Z) in the container: sh, blocked in `read`, never waits for the orphan it adopted',
          o.zombies.length > 0 ? `zombie ${o.zombies.join(', ')}` : 'no zombie in the container',
          noPidNs("the orphan was re-parented outside the container, to a process of the host's"),
        )
      );
    },
  },
  {
    name: 'with --init, a small init stays PID 1 and runs the command as its child',
    async run(env) {
      const o = await withInit(env);
      const values = o.nspid?.split(/\s+/) ?? [];
      return (
        startFailure(o.t) ??
        expectThat(
          values.at(-1) === '1' && values.length === 2 && o.command?.['Name'] === 'sh',
          `the init is PID 1 (NSpid: ${o.t.pid} 1) and sh is its child`,
          `init ${showNSpid(o.nspid)}, child: ${o.command?.['Name'] ?? 'none'}`,
          values.length === 1 ? noPidNs('the init has one pid only, the host’s') : undefined,
        )
      );
    },
  },
  {
    name: 'with --init, orphans are reaped: no zombie (State: Z) remains after they exit',
    provided: true,
    async run(env) {
      const o = await withInit(env);
      return (
        startFailure(o.t) ??
        expectEqual(o.zombies.length === 0 ? 'no zombie' : `zombie ${o.zombies.join(', ')}`, 'no zombie')
      );
    },
  },
  {
    name: 'with --init, `kill -TERM` stops the container within a second (forwarded to the command)',
    provided: true,
    async run(env) {
      const o = await withInit(env);
      const ms = Math.round(o.stopMs ?? Infinity);
      return (
        startFailure(o.t) ??
        expectThat(
          ms < 1000 && o.t.status === 143,
          'ended in < 1000 ms, status 143 (128 + SIGTERM)',
          `${Number.isFinite(ms) ? `${ms} ms` : 'never'}, status ${o.t.status}`,
        )
      );
    },
  },
]);
