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
 *   trap    prints a line on stdout, one on stderr, one on stdout, and waits
 *           with a TERM trap that exits 7: while it runs, the shim's session,
 *           the init's and the shim's parents; then `stop` runs the trap, and
 *           the log holds the lines in order and by stream; `wait` says 7; the
 *           runtime has forgotten it after the end
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

/** Per check: a detached container goes through a separate process, the OCI runtime's commands and a shim. */
const CHECK_MS = 60_000 * SLOW;

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

interface Trap {
  c: Started;
  /** While it ran: the shim's session, the shim's and the init's parents, alive after the starter's SIGKILL. */
  session?: number;
  shimPpid?: number;
  initPpid?: number;
  aliveAfterStarter?: boolean;
  stop?: shim.ExitInfo;
  /** `wait` after the stop. */
  exit?: shim.ExitInfo;
  log?: shim.LogEntry[];
  /** What the shim noted at the end (a duty it had to do itself). */
  notes?: string[];
  errors: string[];
}
interface Hog {
  c: Started;
  exit?: shim.ExitInfo;
  errors: string[];
}
interface Orphan {
  c: Started;
  status?: string;
  initGone?: boolean;
  reclaimed?: string[];
  errors: string[];
}

async function attempt<T>(errors: string[], step: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    errors.push(`${step}: ${message(err)}`);
    return undefined;
  }
}

/**
 * The end of every container: rm -f, then whatever the inventories still
 * attribute to it is a leak, for the final "nothing left behind".
 */
async function finish(env: CheckEnv, c: Started, errors: string[]): Promise<void> {
  await shim.remove(c.id, { force: true }).catch((err: unknown) => {
    if (!(err instanceof shim.NoSuchContainer)) errors.push(`rm -f ${c.id}: ${message(err)}`);
  });
  const leaks = hostItems([c.id])
    .items.filter((i) => i.containerId === c.id && !i.stays)
    .map(itemLine);
  if (c.pid && isAlive(c.pid)) leaks.push(`process ${c.pid} (init of ${c.id})`);
  env.report({ leaks, undoFailures: [], leftoversRemoved: [] });
}

/**
 * The three containers start together (the first check to ask starts them
 * all), each a scenario of its own: a check waits only for its container.
 */
function scenarios(env: CheckEnv): {
  trap: Promise<Trap>;
  hog: Promise<Hog>;
  orphan: Promise<Orphan>;
} {
  const trap = env.once('trap', async () => {
    const t: Trap = {
      c: await startDetached(env, {
        argv: [
          'sh',
          '-c',
          'trap "echo trapped; exit 7" TERM; echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; while :; do sleep 0.1; done',
        ],
        name: `trap-${randomBytes(3).toString('hex')}`,
      }),
      errors: [],
    };
    const { shimPid, pid } = t.c;
    if (!t.c.error && shimPid && pid) {
      // Its three lines are out, the trap is set.
      await waitForLog(t.c.id, 'three', 5000 * SLOW);
      t.aliveAfterStarter = !isAlive(t.c.starterPid) && isAlive(pid);
      t.session = sessionOf(shimPid);
      t.shimPpid = readStat(shimPid)?.ppid;
      t.initPpid = readStat(pid)?.ppid;
      t.stop = await attempt(t.errors, 'stop', () => shim.stop(t.c.id, { timeoutSec: 5 }));
      t.exit = await attempt(t.errors, 'wait', () => shim.wait(t.c.id, { timeoutMs: 5000 * SLOW }));
      t.log = await attempt(t.errors, 'logs', () => collect(t.c.id));
      t.notes = shim.inspect(t.c.id)?.notes;
    }
    await finish(env, t.c, t.errors);
    return t;
  });
  const hog = env.once('hog', async () => {
    const h: Hog = {
      c: await startDetached(env, {
        argv: ['sh', '-c', 'x=$(head -c 64m /dev/zero | tr "\\0" a); echo survived'],
        memory: '16m',
        'memory-swap': '16m',
      }),
      errors: [],
    };
    if (!h.c.error) h.exit = await attempt(h.errors, 'wait', () => shim.wait(h.c.id, { timeoutMs: 15_000 * SLOW }));
    await finish(env, h.c, h.errors);
    return h;
  });
  const orphan = env.once('orphan', async () => {
    const o: Orphan = { c: await startDetached(env, { argv: ['sleep', '1000'] }), errors: [] };
    const { shimPid, pid } = o.c;
    if (!o.c.error && shimPid && pid) {
      process.kill(shimPid, 'SIGKILL');
      await sleep(200);
      o.status = shim.inspect(o.c.id)?.status;
      // What `cellblock cleanup` does, for this one container: every inventory's items of it.
      const { removed, failed } = await removeContainerItems(o.c.id);
      o.reclaimed = removed;
      for (const f of failed) o.errors.push(`cleanup ${f.item}: ${message(f.error)}`);
      await sleep(200);
      o.initGone = !isAlive(pid);
    }
    await finish(env, o.c, o.errors);
    return o;
  });
  return { trap, hog, orphan };
}

/** Resolves once the log holds `text` (or after `ms`: the checks then say what it held). */
async function waitForLog(id: string, text: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const log = await collect(id).catch(() => []);
    if (log.some((e) => e.log.includes(text))) return;
    await sleep(100);
  }
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
    timeoutMs: CHECK_MS,
    async run(env) {
      const t = await scenarios(env).trap;
      return (
        notStarted(t.c) ??
        expectThat(
          t.aliveAfterStarter === true,
          'the init alive, the starting process gone (SIGKILL)',
          `init alive after the starter's SIGKILL: ${String(t.aliveAfterStarter)}`,
          'the container depends on the process that started it: core/shim starts the shim through `sh -c "… &"`',
        )
      );
    },
  },
  {
    name: 'the shim has a session of its own (setsid)',
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).trap;
      return (
        notStarted(s.c) ??
        expectThat(
          s.session !== undefined && s.session === s.c.shimPid,
          `session id = the shim's pid (${s.c.shimPid})`,
          `session id ${String(s.session)} (field 6 of /proc/${s.c.shimPid}/stat)`,
          'the shim still belongs to the session of whoever started it: a closed terminal would send it SIGHUP (man 2 setsid)',
        )
      );
    },
  },
  {
    name: "the container's init is a child of the shim, the shim is nobody's but the host's",
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).trap;
      return (
        notStarted(s.c) ??
        expectThat(
          s.initPpid === s.c.shimPid && s.shimPpid !== s.c.starterPid && s.shimPpid !== process.pid,
          `init's parent = the shim (${s.c.shimPid}); the shim's parent not the starter (${s.c.starterPid})`,
          `init ${s.c.pid}'s parent: ${String(s.initPpid)}; shim's parent: ${String(s.shimPpid)}`,
          "when the runtime exited, its child — the init — went to another process: only the shim's own children come back to it unless it asks for orphans (man 2 prctl)",
        )
      );
    },
  },
  {
    name: 'logs: what it printed, in order, stdout and stderr told apart, with times',
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).trap;
      const got = (s.log ?? []).map((e) => `${e.stream}:${JSON.stringify(e.log)}`).join(' ');
      const times = (s.log ?? []).every((e) => !Number.isNaN(Date.parse(e.time)) && /T.*Z$/.test(e.time));
      const want = 'stdout:"one\\n" stderr:"two\\n" stdout:"three\\n" stdout:"trapped\\n"';
      return (
        notStarted(s.c) ??
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
    name: 'wait: 7 for `exit 7` (the TERM trap’s)',
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).trap;
      return (
        notStarted(s.c) ??
        expectThat(
          s.exit?.exitCode === 7 && typeof s.exit.finishedAt === 'string',
          'exit code 7 and a finishedAt time in the record',
          s.exit
            ? `exit code ${String(s.exit.exitCode)}, finishedAt ${String(s.exit.finishedAt)}; notes: ${(s.notes ?? []).join('; ') || 'none'}`
            : `no end recorded: ${s.errors.join('; ') || 'wait timed out'}`,
          'the end was not recorded: was the init waited for (waitpid), and did recordExit set exitCode and finishedAt?',
        )
      );
    },
  },
  {
    name: 'wait: 137 for a container the kernel OOM-killed',
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).hog;
      return (
        notStarted(s.c) ??
        expectThat(
          s.exit?.exitCode === 137,
          '137 (128 + SIGKILL)',
          s.exit
            ? `exit code ${String(s.exit.exitCode)}`
            : `no end recorded: ${s.errors.join('; ') || 'wait timed out'}`,
          'a death by a signal is reported as 128 + the signal, as a shell does',
        )
      );
    },
  },
  {
    name: 'stop: SIGTERM runs the container’s TERM trap, and its status is the trap’s',
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).trap;
      return (
        notStarted(s.c) ??
        expectThat(
          s.stop?.exitCode === 7 && (s.log ?? []).some((e) => e.log === 'trapped\n'),
          'exit code 7 (the trap’s), "trapped" in its log',
          `exit code ${String(s.stop?.exitCode)}, log ${JSON.stringify((s.log ?? []).map((e) => e.log).join(''))}`,
          'stop sends SIGTERM through the shim, and waits for the end the shim records',
        )
      );
    },
  },
  {
    name: 'after the end, the shim had the runtime delete the container',
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).trap;
      const backstop = (s.notes ?? []).filter((n) => /still had container/.test(n));
      return (
        notStarted(s.c) ??
        expectThat(
          s.exit !== undefined && backstop.length === 0,
          "the runtime's delete ran from the shim's cleanup",
          s.exit ? backstop.join('; ') || 'it did' : 'the container did not end',
          "the runtime still knew the container after the cleanup duty, so the shim deleted it itself: which runtime command removes a container's state and what it used?",
        )
      );
    },
  },
  {
    name: 'a shim killed with SIGKILL: the container shows as dead, and the cleanup reclaims it',
    provided: true,
    timeoutMs: CHECK_MS,
    async run(env) {
      const s = await scenarios(env).orphan;
      return (
        notStarted(s.c) ??
        expectThat(
          s.status === 'dead' && s.initGone === true,
          'status dead; after the cleanup its init is gone',
          `status ${String(s.status)}; init gone: ${String(s.initGone)}; removed: ${(s.reclaimed ?? []).join(', ') || 'nothing'}`,
          'the shim inventory (core/shim/inventory.ts) reclaims a dead record through the runtime',
        )
      );
    },
  },
]);
