/**
 * Lesson 12 checks: detached containers and their shims, looked at from the host.
 *
 * Each container is started the way `cellblock run -d` starts one, by a
 * separate Node process (the "starter", a stand-in for the CLI) that calls
 * core/shim's create and start with the lessons under test, prints the id and
 * then waits — until the check SIGKILLs it: the container must not care. The
 * OCI runtime is the checkout's cellblock-oci (or $CELLBLOCK_OCI_RUNTIME),
 * running the reference lessons, as `verify 12` runs every earlier lesson.
 *
 *   talk    prints a line on stdout, one on stderr, one on stdout, exits 7:
 *           the log, in order and by stream; `wait` says 7; the runtime has
 *           forgotten it after the end
 *   trap    a shell with a TERM trap: while it runs, the shim's session, the
 *           init's parent, the shim's parent; then `stop` runs the trap (3)
 *   hog     a 16 MiB memory limit and a 64 MiB allocation: `wait` says 137
 *   orphan  its shim is SIGKILLed: the record says "dead", and the cleanup
 *           (the inventories, as `cellblock cleanup` reads them) reclaims it
 *
 * Every container is removed at the end (`rm -f`); anything the inventories
 * still attribute to one of them is a leak, reported by the final check.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_ENV, newContainerId, type ContainerConfig } from '../src/core/config.js';
import { removeContainerItems } from '../src/core/inventories.js';
import { defaultRootfs } from '../src/core/paths.js';
import * as shim from '../src/core/shim/index.js';
import { readStat } from '../src/core/host/proc.js';
import { defineChecks, expectThat, SLOW, type CheckEnv, type CheckResult } from '../src/workshop/checks.js';
import { hostItems, isAlive, itemLine } from '../src/workshop/probe.js';

const CLIENT = pathToFileURL(fileURLToPath(new URL('../src/core/shim/index.js', import.meta.url))).href;

/** The starter: create + start with the lesson files given, print the id, then wait to be killed. */
const STARTER = `
const { create, start } = await import(process.env.SHIM_CLIENT);
const { pathToFileURL } = await import('node:url');
const job = JSON.parse(process.env.SHIM_JOB);
const lessons = [];
for (const l of job.lessons) lessons.push({ ...l, lesson: (await import(pathToFileURL(l.file).href)).default });
try {
  const c = await create({ config: job.config, lessons, runtimeSolutions: true });
  await start(c.id);
  process.stdout.write(JSON.stringify({ id: c.id, shimPid: c.shimPid, pid: c.pid }) + '\\n');
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err && err.message || err) }) + '\\n');
}
setInterval(() => {}, 1000);
`;

interface Started {
  id: string;
  /** The starter process (the CLI's stand-in) and whether it was still alive when killed. */
  starterPid: number;
  shimPid?: number;
  pid?: number;
  error?: string;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Start one detached container through the starter; the starter is SIGKILLed once it has answered. */
function startDetached(env: CheckEnv, config: Partial<ContainerConfig> & { argv: string[] }): Promise<Started> {
  const full: ContainerConfig = {
    id: newContainerId(),
    rootfs: defaultRootfs(),
    env: DEFAULT_ENV,
    cwd: '/',
    tty: false,
    net: 'none',
    ...config,
  };
  const job = { config: full, lessons: env.lessons.map((l) => ({ id: l.id, file: l.file })) };
  const child = spawn(process.execPath, ['--input-type=module', '-e', STARTER], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SHIM_CLIENT: CLIENT, SHIM_JOB: JSON.stringify(job) },
  });
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => finish({ error: 'the starter did not answer in 15 s' }), 15_000 * SLOW);
    const finish = (answer: Partial<Started>): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ id: full.id, starterPid: child.pid ?? 0, ...answer });
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        try {
          finish(JSON.parse(out.split('\n')[0]!) as Partial<Started>);
        } catch {
          finish({ error: `the starter said: ${out.trim()}` });
        }
      }
    });
    child.once('exit', () => finish({ error: out.trim() || 'the starter exited without a word' }));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** /proc/<pid>/stat's session id (field 6). */
function sessionOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  } catch {
    return undefined;
  }
}

interface Scenario {
  ids: string[];
  talk: Started;
  talkLog?: shim.LogEntry[];
  talkExit?: shim.ExitInfo;
  talkNotes?: string[];
  trap: Started;
  /** While it ran: the shim's session and pid, the init's parent, the shim's parent, alive after the starter died. */
  trapSession?: number;
  trapShimPpid?: number;
  trapInitPpid?: number;
  aliveAfterStarter?: boolean;
  trapStop?: shim.ExitInfo;
  trapLog?: string;
  hog: Started;
  hogExit?: shim.ExitInfo;
  orphan: Started;
  orphanStatus?: string;
  orphanInitGoneAfterCleanup?: boolean;
  orphanReclaimed?: string[];
  /** Errors met along the way, by step. */
  errors: string[];
  leaks: string[];
}

async function attempt<T>(s: Scenario, step: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    s.errors.push(`${step}: ${message(err)}`);
    return undefined;
  }
}

function scenario(env: CheckEnv): Promise<Scenario> {
  return env.once('detached', async () => {
    const [talk, trap, hog, orphan] = await Promise.all([
      startDetached(env, { argv: ['sh', '-c', 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 7'] }),
      startDetached(env, {
        argv: ['sh', '-c', 'trap "echo trapped; exit 3" TERM; echo ready; while :; do sleep 0.1; done'],
        name: `trap-${randomBytes(3).toString('hex')}`,
      }),
      startDetached(env, {
        argv: ['sh', '-c', 'x=$(head -c 64m /dev/zero | tr "\\0" a); echo survived'],
        memory: '16m',
        'memory-swap': '16m',
      }),
      startDetached(env, { argv: ['sleep', '1000'] }),
    ]);
    const s: Scenario = { ids: [talk.id, trap.id, hog.id, orphan.id], talk, trap, hog, orphan, errors: [], leaks: [] };
    for (const c of [talk, trap, hog, orphan]) if (c.error) s.errors.push(`start ${c.id}: ${c.error}`);

    if (!trap.error && trap.shimPid && trap.pid) {
      await sleep(300);
      s.aliveAfterStarter = !isAlive(trap.starterPid) && isAlive(trap.pid);
      s.trapSession = sessionOf(trap.shimPid);
      s.trapShimPpid = readStat(trap.shimPid)?.ppid;
      s.trapInitPpid = readStat(trap.pid)?.ppid;
      s.trapStop = await attempt(s, 'stop', () => shim.stop(trap.id, { timeoutSec: 5 }));
      s.trapLog = (await attempt(s, 'logs', () => collect(trap.id)))?.map((e) => e.log).join('');
    }
    if (!talk.error) {
      s.talkExit = await attempt(s, 'wait', () => shim.wait(talk.id, { timeoutMs: 8000 * SLOW }));
      s.talkLog = await attempt(s, 'logs', () => collect(talk.id));
      s.talkNotes = shim.inspect(talk.id)?.notes;
    }
    if (!hog.error) s.hogExit = await attempt(s, 'wait', () => shim.wait(hog.id, { timeoutMs: 8000 * SLOW }));
    if (!orphan.error && orphan.shimPid && orphan.pid) {
      process.kill(orphan.shimPid, 'SIGKILL');
      await sleep(200);
      s.orphanStatus = shim.inspect(orphan.id)?.status;
      const { removed, failed } = await removeContainerItems(orphan.id);
      s.orphanReclaimed = removed;
      for (const f of failed) s.errors.push(`cleanup ${f.item}: ${message(f.error)}`);
      await sleep(200);
      s.orphanInitGoneAfterCleanup = !isAlive(orphan.pid);
    }
    // The end of every run: rm -f, then whatever the inventories still attribute to one of them is a leak.
    for (const id of s.ids) {
      await shim.remove(id, { force: true }).catch((err: unknown) => {
        if (!(err instanceof shim.NoSuchContainer)) s.errors.push(`rm -f ${id}: ${message(err)}`);
      });
    }
    const mine = new Set(s.ids);
    s.leaks = hostItems(s.ids)
      .items.filter((i) => i.containerId !== undefined && mine.has(i.containerId) && !i.stays)
      .map(itemLine);
    for (const c of [talk, trap, hog, orphan])
      if (c.pid && isAlive(c.pid)) s.leaks.push(`process ${c.pid} (init of ${c.id})`);
    env.report({ leaks: s.leaks, undoFailures: [], leftoversRemoved: [] });
    return s;
  });
}

async function collect(id: string): Promise<shim.LogEntry[]> {
  const out: shim.LogEntry[] = [];
  for await (const e of shim.logs(id)) out.push(e);
  return out;
}

/** A container that did not start is reported as that, not as a wrong value. */
function notStarted(c: Started): CheckResult | undefined {
  if (!c.error) return undefined;
  return {
    ok: false,
    expected: 'the detached container starts',
    found: c.error,
    hint: 'read the error: the shim reports what failed (the runtime, or one of its duties)',
  };
}

export default defineChecks('12-shim', [
  {
    name: 'run -d: the container runs on after the process that started it is killed',
    provided: true,
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.trap) ??
        expectThat(
          s.aliveAfterStarter === true,
          'the init alive, the starting process gone (SIGKILL)',
          `init alive after the starter's SIGKILL: ${String(s.aliveAfterStarter)}`,
          'the container depends on the process that started it: core/shim starts the shim through `sh -c "… &"`',
        )
      );
    },
  },
  {
    name: 'the shim has a session of its own (setsid)',
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.trap) ??
        expectThat(
          s.trapSession !== undefined && s.trapSession === s.trap.shimPid,
          `session id = the shim's pid (${s.trap.shimPid})`,
          `session id ${String(s.trapSession)} (field 6 of /proc/${s.trap.shimPid}/stat)`,
          'the shim still belongs to the session of whoever started it: a closed terminal would send it SIGHUP (man 2 setsid)',
        )
      );
    },
  },
  {
    name: "the container's init is a child of the shim, the shim is nobody's but the host's",
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.trap) ??
        expectThat(
          s.trapInitPpid === s.trap.shimPid && s.trapShimPpid !== s.trap.starterPid && s.trapShimPpid !== process.pid,
          `init's parent = the shim (${s.trap.shimPid}); the shim's parent not the starter (${s.trap.starterPid})`,
          `init ${s.trap.pid}'s parent: ${String(s.trapInitPpid)}; shim's parent: ${String(s.trapShimPpid)}`,
          "when the runtime exited, its child — the init — went to another process: only the shim's own children come back to it unless it asks for orphans (man 2 prctl)",
        )
      );
    },
  },
  {
    name: 'logs: what it printed, in order, stdout and stderr told apart, with times',
    async run(env) {
      const s = await scenario(env);
      const got = (s.talkLog ?? []).map((e) => `${e.stream}:${JSON.stringify(e.log)}`).join(' ');
      const times = (s.talkLog ?? []).every((e) => !Number.isNaN(Date.parse(e.time)) && /T.*Z$/.test(e.time));
      const want = 'stdout:"one\\n" stderr:"two\\n" stdout:"three\\n"';
      return (
        notStarted(s.talk) ??
        expectThat(
          got === want && times,
          `${want}, each with an ISO time`,
          `${got || '(no entry)'}${times ? '' : ' — a time is missing or not ISO 8601'}`,
          'the log file\'s lines are not Docker json-file entries: {"log": …, "stream": …, "time": …}, one per line',
        )
      );
    },
  },
  {
    name: 'wait: 7 for `exit 7`',
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.talk) ??
        expectThat(
          s.talkExit?.exitCode === 7 && typeof s.talkExit.finishedAt === 'string',
          'exit code 7 and a finishedAt time in the record',
          s.talkExit
            ? `exit code ${String(s.talkExit.exitCode)}, finishedAt ${String(s.talkExit.finishedAt)}; notes: ${(s.talkNotes ?? []).join('; ') || 'none'}`
            : `no end recorded: ${s.errors.join('; ') || 'wait timed out'}`,
          'the end was not recorded: was the init waited for (waitpid), and did recordExit set exitCode and finishedAt?',
        )
      );
    },
  },
  {
    name: 'wait: 137 for a container the kernel OOM-killed',
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.hog) ??
        expectThat(
          s.hogExit?.exitCode === 137,
          '137 (128 + SIGKILL)',
          s.hogExit
            ? `exit code ${String(s.hogExit.exitCode)}`
            : `no end recorded: ${s.errors.join('; ') || 'wait timed out'}`,
          'a death by a signal is reported as 128 + the signal, as a shell does',
        )
      );
    },
  },
  {
    name: 'stop: SIGTERM runs the container’s TERM trap, and its status is the trap’s',
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.trap) ??
        expectThat(
          s.trapStop?.exitCode === 3 && (s.trapLog ?? '').includes('trapped'),
          'exit code 3, "trapped" in its log',
          `exit code ${String(s.trapStop?.exitCode)}, log ${JSON.stringify(s.trapLog ?? '')}`,
          'stop sends SIGTERM through the shim, and waits for the end the shim records',
        )
      );
    },
  },
  {
    name: 'after the end, the shim had the runtime delete the container',
    async run(env) {
      const s = await scenario(env);
      const backstop = (s.talkNotes ?? []).filter((n) => /still had container/.test(n));
      return (
        notStarted(s.talk) ??
        expectThat(
          s.talkExit !== undefined && backstop.length === 0,
          "the runtime's delete ran from the shim's cleanup",
          s.talkExit ? backstop.join('; ') || 'it did' : 'the container did not end',
          "the runtime still knew the container after the cleanup duty, so the shim deleted it itself: which runtime command removes a container's state and what it used?",
        )
      );
    },
  },
  {
    name: 'a shim killed with SIGKILL: the container shows as dead, and the cleanup reclaims it',
    provided: true,
    async run(env) {
      const s = await scenario(env);
      return (
        notStarted(s.orphan) ??
        expectThat(
          s.orphanStatus === 'dead' && s.orphanInitGoneAfterCleanup === true,
          'status dead; after the cleanup its init is gone',
          `status ${String(s.orphanStatus)}; init gone: ${String(s.orphanInitGoneAfterCleanup)}; removed: ${(s.orphanReclaimed ?? []).join(', ') || 'nothing'}`,
          'the shim inventory (core/shim/inventory.ts) reclaims a dead record through the runtime',
        )
      );
    },
  },
]);
