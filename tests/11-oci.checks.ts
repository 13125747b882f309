/**
 * Lesson 11 checks: cellblock as an OCI runtime — create, then start.
 *
 * Everything goes through the real `cellblock-oci` command line, each call a
 * process of its own that exits, as containerd's shim and Podman's conmon
 * call runc: the lessons under test are named with CELLBLOCK_OCI_LESSONS
 * (this lesson's file on the reference of the ones before it, as `verify`
 * runs it). The container's stdout is a file the host reads.
 *
 *   life      create → the host looks at the init (alive after the runtime
 *             exited? still Node, not the command?) → state → start → start
 *             again → state → the command ends → state → delete → nothing left
 *   signals   a shell with a TERM trap: delete without --force refused while
 *             it runs, kill TERM reaches it, then delete
 *   force     delete --force of a running container
 *   bad input a bundle without config.json, invalid JSON, an unsupported
 *             ociVersion, no root.path, a duplicate id, start of an unknown
 *             id — status 1 as runc, the problem named, nothing created
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRootfs } from '../src/core/paths.js';
import { DEFAULT_OCI_ROOT, readOciState } from '../src/core/oci/state.js';
import { readState } from '../src/core/host/state.js';
import { defineChecks, expectThat, SLOW, startFailure, type CheckEnv } from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import { hostItems, isAlive, namespacesOf } from '../src/workshop/probe.js';

const ENTRY = fileURLToPath(new URL('../src/cli/oci-entry.js', import.meta.url));
const ROOT = DEFAULT_OCI_ROOT;
let counter = 0;
const newId = (what: string): string => `cb-oci-${what}-${process.pid.toString(36)}${(counter++).toString(36)}`;

interface Cli {
  status: number;
  stdout: string;
  stderr: string;
}

/** One `cellblock-oci` call with the lessons under test; `out`: the fd the container's stdout/stderr inherit. */
function oci(env: CheckEnv, args: string[], out?: number): Cli {
  const r = spawnSync(process.execPath, [ENTRY, '--root', ROOT, ...args], {
    // Files, never pipes, for a create: the container keeps them open after the runtime has gone.
    stdio: out !== undefined ? ['ignore', out, out] : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CELLBLOCK_OCI_LESSONS: JSON.stringify(env.lessons.map((l) => ({ id: l.id, file: l.file }))) },
    encoding: 'utf8',
    timeout: 15_000 * SLOW,
  });
  return { status: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A bundle: config.json for the workshop's busybox rootfs, `edit` applied. */
function bundle(args: string[], edit: (spec: Record<string, unknown>) => unknown = (s) => s): string {
  const dir = mkdtempSync(join(tmpdir(), 'cellblock-ocib-'));
  const spec = {
    ociVersion: '1.0.2',
    root: { path: defaultRootfs() },
    process: { args, env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/', noNewPrivileges: true },
    hostname: 'oci',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
    ],
    linux: {
      namespaces: ['pid', 'mount', 'uts', 'ipc', 'network'].map((type) => ({ type })),
    },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(edit(spec) ?? spec));
  return dir;
}

const text = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};
const cmdline = (pid: number): string => text(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
const statusIn = (r: Cli): string | undefined => {
  try {
    return (JSON.parse(r.stdout) as { status?: string }).status;
  } catch {
    return undefined;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `state ID` until it says `want`, or give up; the last answer. */
async function waitStatus(env: CheckEnv, id: string, want: string, ms = 8000 * SLOW): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  let last: string | undefined;
  for (;;) {
    last = statusIn(oci(env, ['state', id]));
    if (last === want || Date.now() > deadline) return last;
    await sleep(200);
  }
}

/** What is left of a container: its OCI state dir, the core's state file, its kernel objects, its init. */
function leftovers(id: string, pid: number | undefined): string[] {
  const out: string[] = [];
  if (existsSync(join(ROOT, id))) out.push(`${join(ROOT, id)} (the state directory)`);
  if (readState(id)) out.push(`the runtime state file of ${id}`);
  for (const i of hostItems([id]).items.filter((x) => x.containerId === id)) out.push(`${i.kind} ${i.name}`);
  if (pid !== undefined && pid > 0 && isAlive(pid)) out.push(`process ${pid} (the init)`);
  return out;
}

/** Always leave the machine as found: whatever a scenario left, delete --force. */
function forceDelete(env: CheckEnv, id: string): void {
  if (existsSync(join(ROOT, id))) oci(env, ['delete', '--force', id]);
}

interface Life {
  id: string;
  create: Cli;
  pid: number;
  aliveAfterCreate: boolean;
  cmdlineAfterCreate: string;
  ownPidNs: boolean;
  stateAfterCreate?: string;
  statePid?: number;
  outputAfterCreate: string;
  start: Cli;
  stateAfterStart?: string;
  outputAfterStart: string;
  startAgain: Cli;
  stateAfterExit?: string;
  delete: Cli;
  left: string[];
}

const LINE = 'hello from the oci container';

function life(env: CheckEnv): Promise<Life> {
  return env.once('oci-life', async () => {
    const id = newId('life');
    const dir = bundle(['sh', '-c', `echo ${LINE}; sleep 2`]);
    const outFile = join(dir, 'out');
    const fd = openSync(outFile, 'w');
    try {
      const create = oci(env, ['create', '--bundle', dir, id], fd);
      const pid = readOciState(ROOT, id)?.pid ?? 0;
      await sleep(100); // an init the runtime's exit kills (PDEATHSIG) is gone by now
      const aliveAfterCreate = pid > 0 && isAlive(pid);
      const cmdlineAfterCreate = pid > 0 ? cmdline(pid) : '';
      const ownPidNs = pid > 0 && namespacesOf(pid).pid !== undefined && namespacesOf(pid).pid !== namespacesOf('self').pid;
      const st = oci(env, ['state', id]);
      let statePid: number | undefined;
      try {
        statePid = (JSON.parse(st.stdout) as { pid?: number }).pid;
      } catch {
        // reported by the check
      }
      const outputAfterCreate = text(outFile);
      const start = oci(env, ['start', id]);
      const stateAfterStart = statusIn(oci(env, ['state', id]));
      const startAgain = oci(env, ['start', id]);
      let outputAfterStart = '';
      for (let i = 0; i < 30 && !outputAfterStart.includes(LINE); i++) {
        await sleep(100);
        outputAfterStart = text(outFile);
      }
      const stateAfterExit = await waitStatus(env, id, 'stopped');
      const del = oci(env, ['delete', id]);
      await sleep(50);
      return {
        id,
        create,
        pid,
        aliveAfterCreate,
        cmdlineAfterCreate,
        ownPidNs,
        ...(statusIn(st) !== undefined ? { stateAfterCreate: statusIn(st)! } : {}),
        ...(statePid !== undefined ? { statePid } : {}),
        outputAfterCreate,
        start,
        ...(stateAfterStart !== undefined ? { stateAfterStart } : {}),
        outputAfterStart,
        startAgain,
        ...(stateAfterExit !== undefined ? { stateAfterExit } : {}),
        delete: del,
        left: leftovers(id, pid),
      };
    } finally {
      closeSync(fd);
      forceDelete(env, id);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const createFailed = (l: Life): { ok: false; expected: string; found: string } | undefined =>
  l.create.status === 0
    ? undefined
    : { ok: false, expected: '`cellblock-oci create` exits 0', found: `status ${l.create.status}: ${l.create.stderr.trim()}` };

interface Signals {
  deleteRunning: Cli;
  kill: Cli;
  output: string;
  stateAfterKill?: string;
  left: string[];
}

function signals(env: CheckEnv): Promise<Signals> {
  return env.once('oci-signals', async () => {
    const id = newId('sig');
    const dir = bundle(['sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done']);
    const outFile = join(dir, 'out');
    const fd = openSync(outFile, 'w');
    try {
      oci(env, ['create', '--bundle', dir, id], fd);
      oci(env, ['start', id]);
      for (let i = 0; i < 50 && !text(outFile).includes('ready'); i++) await sleep(100);
      const deleteRunning = oci(env, ['delete', id]);
      const kill = oci(env, ['kill', id, 'TERM']);
      const stateAfterKill = await waitStatus(env, id, 'stopped');
      const output = text(outFile);
      const pid = readOciState(ROOT, id)?.pid;
      oci(env, ['delete', id]);
      return {
        deleteRunning,
        kill,
        output,
        ...(stateAfterKill !== undefined ? { stateAfterKill } : {}),
        left: leftovers(id, pid),
      };
    } finally {
      closeSync(fd);
      forceDelete(env, id);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A bad-input create: its status, stderr, and what it left. */
async function badCreate(env: CheckEnv, make: (dir: string) => void): Promise<Cli & { left: string[] }> {
  const id = newId('bad');
  const dir = mkdtempSync(join(tmpdir(), 'cellblock-ocib-'));
  try {
    make(dir);
    const r = oci(env, ['create', '--bundle', dir, id]);
    return { ...r, left: leftovers(id, undefined) };
  } finally {
    forceDelete(env, id);
    rmSync(dir, { recursive: true, force: true });
  }
}

const refused = (r: Cli & { left?: string[] }, says: RegExp, what: string) =>
  expectThat(
    r.status === 1 && says.test(r.stderr) && (r.left ?? []).length === 0,
    `exit status 1 (as runc), an error naming ${what}, nothing left`,
    `status ${r.status}: ${r.stderr.trim().split('\n').at(-1) ?? ''}${r.left?.length ? `; left: ${r.left.join(', ')}` : ''}`,
    'bad input is refused before anything exists: the core checks config.json before the state directory is made',
  );

export default defineChecks('11-oci', [
  {
    name: '`cellblock run` is untouched: no FIFO, no wait',
    provided: true,
    async run(env) {
      const t = await env.trial({ config: { argv: ['echo', 'plain run'] } });
      return (
        startFailure(t) ??
        expectThat(
          t.status === 0 && t.stdout.includes('plain run'),
          'status 0 and the output',
          `status ${t.status}, ${JSON.stringify(t.stdout.trim())}`,
          'the create/start steps must do nothing without config.execFifo (set only by cellblock-oci)',
        )
      );
    },
  },
  {
    name: 'after `create` exits, the container’s init is still alive',
    async run(env) {
      const l = await life(env);
      return (
        createFailed(l) ??
        expectThat(
          l.aliveAfterCreate,
          `the init (pid ${l.pid}) alive once cellblock-oci create has exited`,
          l.pid > 0 ? 'it is gone' : 'no pid in the state',
          hintSteps(
            '11-oci',
            'the init died with the runtime that created it: the core ties it to its parent with PR_SET_PDEATHSIG (man 2 prctl), right for `cellblock run`, wrong once the runtime exits',
            'undo that tie in the init, while the runtime still waits for it (prepareRootfs runs then)',
          ),
        )
      );
    },
  },
  {
    name: 'after `create`, `state` says created, with the init’s pid',
    async run(env) {
      const l = await life(env);
      return (
        createFailed(l) ??
        expectThat(
          l.stateAfterCreate === 'created' && l.statePid === l.pid && l.pid > 0,
          `"status": "created", "pid": ${l.pid}`,
          `"status": ${JSON.stringify(l.stateAfterCreate)}, "pid": ${String(l.statePid)}`,
          hintSteps(
            '11-oci',
            'status() decides: created while the init waits (its FIFO is still there), running after start, stopped once the init is gone (man 5 proc: /proc/<pid>/stat)',
            'the order matters: a gone or zombie init is stopped whatever the FIFO says; compare the start time too, a pid is reused',
          ),
        )
      );
    },
  },
  {
    name: 'after `create`, the init waits in its own namespaces: the command has not run',
    async run(env) {
      const l = await life(env);
      const stillInit = /init\/main\.js/.test(l.cmdlineAfterCreate);
      return (
        createFailed(l) ??
        expectThat(
          l.aliveAfterCreate && stillInit && l.ownPidNs && !l.outputAfterCreate.includes(LINE),
          'the init still the runtime’s (node …/init/main.js), in a PID namespace of its own, no output yet',
          `${l.aliveAfterCreate ? `cmdline ${JSON.stringify(l.cmdlineAfterCreate.slice(0, 60))}` : 'the init is gone'}, own pid ns: ${l.ownPidNs}, output ${JSON.stringify(l.outputAfterCreate.trim())}`,
          hintSteps(
            '11-oci',
            'the command ran at create: nothing held the init back before its exec (man 7 fifo: an open for writing blocks until a reader comes)',
            'awaitStart is the last step before the exec: open config.execFifo for writing there — through the handle kept before pivot_root',
          ),
        )
      );
    },
  },
  {
    name: '`start` runs the command and `state` says running; a second start is refused',
    async run(env) {
      const l = await life(env);
      return (
        createFailed(l) ??
        expectThat(
          l.start.status === 0 &&
            l.outputAfterStart.includes(LINE) &&
            l.stateAfterStart === 'running' &&
            l.startAgain.status === 1,
          `start exits 0, the command prints "${LINE}", state running, a second start exits 1`,
          `start ${l.start.status}${l.start.status ? ` (${l.start.stderr.trim().split('\n').at(-1)})` : ''}, output ${JSON.stringify(l.outputAfterStart.trim())}, state ${String(l.stateAfterStart)}, second start ${l.startAgain.status}`,
          hintSteps(
            '11-oci',
            'start must release the waiting init: open the FIFO for reading (man 7 fifo), and the init’s open returns',
            'read the init’s byte (O_NONBLOCK and EAGAIN: not yet), then remove the FIFO — its absence is what "running" means to status()',
          ),
        )
      );
    },
  },
  {
    name: 'after the command exits, `state` says stopped; `delete` leaves nothing',
    async run(env) {
      const l = await life(env);
      return (
        createFailed(l) ??
        expectThat(
          l.stateAfterExit === 'stopped' && l.delete.status === 0 && l.left.length === 0,
          'state stopped, delete exits 0, no state directory, cgroup, process or state file left',
          `state ${String(l.stateAfterExit)}, delete ${l.delete.status}${l.left.length ? `, left: ${l.left.join(', ')}` : ''}`,
          'stopped: the init is gone or a zombie (/proc/<pid>/stat state Z) — or its pid now names a process with another start time',
        )
      );
    },
  },
  {
    name: '`delete` of a running container fails without --force; `kill` delivers the signal',
    async run(env) {
      const s = await signals(env);
      return expectThat(
        s.deleteRunning.status === 1 &&
          /not stopped/.test(s.deleteRunning.stderr) &&
          s.kill.status === 0 &&
          s.output.includes('got-term') &&
          s.stateAfterKill === 'stopped' &&
          s.left.length === 0,
        'delete refused (status 1, "not stopped"), kill TERM exits 0, the trap prints got-term, then stopped and nothing left',
        `delete ${s.deleteRunning.status}, kill ${s.kill.status}, output ${JSON.stringify(s.output.trim())}, state ${String(s.stateAfterKill)}${s.left.length ? `, left: ${s.left.join(', ')}` : ''}`,
        'kill signals the init by its host pid; the status must say running while it runs (the FIFO gone after start)',
      );
    },
  },
  {
    name: '`delete --force` ends a running container and removes everything',
    async run(env) {
      const id = newId('force');
      const dir = bundle(['sleep', '100']);
      const fd = openSync(join(dir, 'out'), 'w');
      try {
        oci(env, ['create', '--bundle', dir, id], fd);
        oci(env, ['start', id]);
        const running = statusIn(oci(env, ['state', id]));
        const pid = readOciState(ROOT, id)?.pid;
        const del = oci(env, ['delete', '--force', id]);
        await sleep(50);
        const left = leftovers(id, pid);
        return expectThat(
          running === 'running' && del.status === 0 && left.length === 0,
          'running, then delete --force exits 0 and nothing is left',
          `${String(running)}, delete ${del.status}${left.length ? `, left: ${left.join(', ')}` : ''}`,
          'a container must be running after start for this check to mean anything: see the checks above',
        );
      } finally {
        closeSync(fd);
        forceDelete(env, id);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'a bundle without config.json is refused, nothing created',
    provided: true,
    async run(env) {
      return refused(await badCreate(env, () => undefined), /config\.json/, 'config.json');
    },
  },
  {
    name: 'invalid JSON in config.json is refused, nothing created',
    provided: true,
    async run(env) {
      return refused(
        await badCreate(env, (d) => writeFileSync(join(d, 'config.json'), '{"ociVersion": ')),
        /not valid JSON/,
        'the invalid JSON',
      );
    },
  },
  {
    name: 'an ociVersion cellblock does not read is refused, nothing created',
    provided: true,
    async run(env) {
      const src = bundle(['true'], (s) => ({ ...s, ociVersion: '0.6.0' }));
      try {
        return refused(
          await badCreate(env, (d) => writeFileSync(join(d, 'config.json'), readFileSync(join(src, 'config.json')))),
          /ociVersion/,
          'ociVersion',
        );
      } finally {
        rmSync(src, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'a config.json without root.path is refused, nothing created',
    provided: true,
    async run(env) {
      const src = bundle(['true'], (s) => ({ ...s, root: {} }));
      try {
        return refused(
          await badCreate(env, (d) => writeFileSync(join(d, 'config.json'), readFileSync(join(src, 'config.json')))),
          /root\.path/,
          'root.path',
        );
      } finally {
        rmSync(src, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'a duplicate id and `start` of an unknown id are refused',
    provided: true,
    async run(env) {
      const id = newId('dup');
      const dir = bundle(['sleep', '100']);
      const fd = openSync(join(dir, 'out'), 'w');
      try {
        const first = oci(env, ['create', '--bundle', dir, id], fd);
        mkdirSync(join(dir, 'x'), { recursive: true });
        const second = oci(env, ['create', '--bundle', dir, id]);
        const unknown = oci(env, ['start', newId('none')]);
        return expectThat(
          first.status === 0 &&
            second.status === 1 &&
            /exists/.test(second.stderr) &&
            unknown.status === 1 &&
            /does not exist/.test(unknown.stderr),
          'the first create exits 0; the same id again: status 1, "exists"; start of an unknown id: status 1, "does not exist"',
          `first ${first.status}, second ${second.status} (${second.stderr.trim().split('\n').at(-1)}), unknown start ${unknown.status} (${unknown.stderr.trim().split('\n').at(-1)})`,
          'the state directory is the record of an id: the core refuses an id that has one',
        );
      } finally {
        closeSync(fd);
        forceDelete(env, id);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
]);
