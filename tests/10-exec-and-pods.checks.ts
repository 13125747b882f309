/**
 * Lesson 10 checks: `cellblock exec` — a new process inside a running container.
 *
 * One scenario, looked at from the host: a container named web-… with the
 * hostname `web` waits on stdin; meanwhile the check execs into it (through
 * the core's execInContainer, with the lessons under test) a shell that prints
 * what it sees and waits, a command that exits 7, and a long sleep. The host
 * compares the first one's /proc/<pid>/ns/* and /proc/<pid>/cgroup with the
 * init's; then the container ends, and the sleep must end with it. Last, an
 * exec into the container that has ended, and one into a name nobody has.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { execInContainer, type ExecProcess } from '../src/core/host/exec.js';
import { defineChecks, expectThat, outputContains, SLOW, startFailure, type CheckEnv } from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';
import { isAlive } from '../src/workshop/probe.js';

const KINDS = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt'] as const;

const link = (pid: number, kind: string): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
};
const text = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};
const message = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

interface Scenario {
  t: TrialResult;
  name: string;
  /** The init's and the exec'd shell's namespaces, kind → link (undefined: no such kind). */
  init: Record<string, string | undefined>;
  joined: Record<string, string | undefined>;
  initCgroups: string;
  joinedCgroups: string;
  /** What the exec'd shell printed (hostname, its own pid, ps). */
  shown: string;
  shownStatus?: number;
  /** `sh -c 'exit 7'`'s status as exec returned it. */
  exitStatus?: number;
  /** The sleep: its host pid, and whether it was gone soon after the container ended. */
  sleeperPid?: number;
  sleeperGone?: boolean;
  /** Why an exec failed (the first one that did). */
  execError?: string;
  /** Exec into the ended container, and into a name no container has. */
  stoppedError?: string;
  unknownError?: string;
}

function scenario(env: CheckEnv): Promise<Scenario> {
  return env.once('exec', async () => {
    const name = `web-${randomBytes(3).toString('hex')}`;
    const s = { name, init: {}, joined: {}, initCgroups: '', joinedCgroups: '', shown: '' } as Scenario;
    const exec = async (target: string, argv: string[]): Promise<ExecProcess> =>
      execInContainer({ target, argv, stdio: ['pipe', 'pipe', 'pipe'], lessons: env.lessons });
    let sleeper: ExecProcess | undefined;
    s.t = await env.trial({
      config: { argv: ['sh', '-c', 'echo ready; read _'], hostname: 'web', name },
      timeoutMs: 20_000 * SLOW,
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        try {
          const e = await exec(name, ['sh', '-c', 'hostname; echo "pid $$"; ps -o pid,comm; echo shown; read _']);
          let out = '';
          e.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          await outputContains(e.child, 'shown');
          for (const k of KINDS) {
            s.init[k] = link(c.pid, k);
            s.joined[k] = link(e.pid, k);
          }
          s.initCgroups = text(`/proc/${c.pid}/cgroup`);
          s.joinedCgroups = text(`/proc/${e.pid}/cgroup`);
          e.child.stdin?.end();
          s.shownStatus = await e.wait();
          s.shown = out;
          s.exitStatus = await (await exec(c.config.id, ['sh', '-c', 'exit 7'])).wait();
          sleeper = await exec(name, ['sleep', '1000']);
          s.sleeperPid = sleeper.pid;
        } catch (err) {
          s.execError ??= message(err);
        }
      },
    });
    if (sleeper) {
      // The container has ended (its init was PID 1 of the namespace the sleep joined).
      const ended = await Promise.race([sleeper.wait(), new Promise((r) => setTimeout(r, 3000 * SLOW))]);
      s.sleeperGone = ended !== undefined && !isAlive(s.sleeperPid!);
      if (!s.sleeperGone) sleeper.child.kill('SIGKILL');
      await sleeper.wait();
    }
    for (const [target, key] of [
      [s.t.config.id, 'stoppedError'],
      [`nobody-${randomBytes(3).toString('hex')}`, 'unknownError'],
    ] as const) {
      try {
        const e = await exec(target, ['true']);
        await e.wait();
        s[key] = 'it ran';
      } catch (err) {
        s[key] = message(err);
      }
    }
    return s;
  });
}

/** The exec could not run at all: say why, once, in every check that needed it. */
function execFailure(s: Scenario): ReturnType<typeof expectThat> | undefined {
  if (!s.execError) return startFailure(s.t);
  return expectThat(
    false,
    'cellblock exec runs the command',
    s.execError,
    'the exec failed before the command ran: the error names the step (joinNamespaces, the helper, a setns)',
  );
}

export default defineChecks('10-exec-and-pods', [
  {
    name: 'the exec’d process is in every namespace of the container',
    async run(env) {
      const s = await scenario(env);
      const differ = KINDS.filter((k) => s.init[k] !== s.joined[k]).map(
        (k) => `${k} ${s.joined[k]} (container: ${s.init[k]})`,
      );
      return (
        execFailure(s) ??
        expectThat(
          differ.length === 0 && s.joined['mnt'] !== undefined,
          'the same /proc/<pid>/ns/* links as the container’s init',
          differ.length === 0 ? 'all equal' : differ.join('; '),
          'a namespace was not joined: joinNamespaces must name every kind /proc/<pid>/ns lists (man 2 setns)',
        )
      );
    },
  },
  {
    name: 'the exec’d process is in the container’s cgroups',
    async run(env) {
      const s = await scenario(env);
      return (
        execFailure(s) ??
        expectThat(
          s.joinedCgroups !== '' && s.joinedCgroups === s.initCgroups,
          `the init's /proc/<pid>/cgroup: ${s.initCgroups.trim().replace(/\n/g, ' ')}`,
          s.joinedCgroups.trim().replace(/\n/g, ' ') || 'nothing (it had ended)',
          'the process is where the runtime was, so no limit of the container applies to it: write its pid to each cgroup’s cgroup.procs in hostJoin (man 7 cgroups)',
        )
      );
    },
  },
  {
    name: 'hostname and ps inside show the container',
    async run(env) {
      const s = await scenario(env);
      const lines = s.shown.split('\n');
      const pid = Number(/^pid (\d+)$/m.exec(s.shown)?.[1]);
      const psLines = lines.filter((l) => /^\s*\d+\s/.test(l));
      return (
        execFailure(s) ??
        expectThat(
          lines[0] === 'web' && pid > 1 && pid < 100 && psLines.some((l) => /^\s*1\s/.test(l)) && psLines.length < 20,
          'hostname web, a small pid of its own, and ps listing the container’s few processes from PID 1',
          `hostname ${JSON.stringify(lines[0] ?? '')}, pid ${pid}, ${psLines.length} processes in ps`,
          'it sees the host: the UTS and PID namespaces (and the mount namespace, for /proc) were not joined',
        )
      );
    },
  },
  {
    name: 'the command’s exit status comes back',
    async run(env) {
      const s = await scenario(env);
      return (
        execFailure(s) ??
        expectThat(
          s.exitStatus === 7,
          'status 7 from `sh -c "exit 7"`',
          `status ${s.exitStatus}`,
          'read the exec error',
        )
      );
    },
  },
  {
    name: 'an exec’d process ends with the container',
    async run(env) {
      const s = await scenario(env);
      return (
        execFailure(s) ??
        expectThat(
          s.sleeperGone === true,
          'the exec’d sleep gone once the container’s init has ended',
          s.sleeperGone ? 'gone' : `pid ${s.sleeperPid} still ran 3 s after (killed by the check)`,
          'it outlived the container: a process in the container’s PID namespace is killed with its init — was that namespace joined? (man 7 pid_namespaces)',
        )
      );
    },
  },
  {
    name: 'exec into an ended or unknown container fails clearly',
    provided: true,
    async run(env) {
      const s = await scenario(env);
      const ok = (e: string | undefined): boolean => !!e && e.startsWith('ConfigError') && !e.includes('it ran');
      return expectThat(
        ok(s.stoppedError) && ok(s.unknownError),
        'ConfigError (exit 125) naming the container, for both',
        `ended: ${s.stoppedError}; unknown: ${s.unknownError}`,
        'the runtime refuses these before it starts anything',
      );
    },
  },
]);
