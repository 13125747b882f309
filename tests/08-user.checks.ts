/**
 * Lesson 08 checks: a user namespace of its own, and what it changes.
 *
 * Looked at from the host, as the issue asks: the container's ns/user link,
 * its /proc/<pid>/uid_map and gid_map, the Uid: line of its /proc/<pid>/status,
 * the owner of a file it writes in its upper layer, a root-owned host file
 * bind-mounted into it, and — rootless — the same kind of run started by an
 * ordinary user (uid 65534, nobody), whose every process the host inspects.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRemapRange, helperProblem, usernsSupportProblem } from '../src/core/host/userns.js';
import type { RunningContainer } from '../src/core/host/run.js';
import type { LoadedLesson } from '../src/core/lesson.js';
import { TMP_PREFIX } from '../src/core/names.js';
import {
  defineChecks,
  expectThat,
  skipCheck,
  startFailure,
  type CheckEnv,
  type CheckResult,
} from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';
import { procStatus } from '../src/workshop/probe.js';

const RANGE = defaultRemapRange();
const MAP = `0 ${RANGE.start} ${RANGE.count}`;
/** An ordinary user every Debian and Ubuntu has. */
const NOBODY = 65534;

function outputContains(c: RunningContainer, text: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const timer = setTimeout(resolve, 8000);
    c.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const link = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};
const squeeze = (map: string | undefined): string => (map ?? '').trim().split(/\s+/).join(' ');

/** Why a user namespace cannot be made here at all: then every check says so instead of failing. */
function cannotRun(): string | undefined {
  return usernsSupportProblem() ?? helperProblem();
}

interface Remapped {
  t: TrialResult;
  userns?: string;
  uidMap?: string;
  gidMap?: string;
  uid?: string;
  upperOwner?: number;
}

/** One remapped container: prints `id -u` and the owner of /etc/passwd, writes a file, waits. */
function remapped(env: CheckEnv): Promise<Remapped> {
  return env.once('remap', async () => {
    const o: Partial<Remapped> = {};
    o.t = await env.trial({
      config: {
        argv: ['sh', '-c', 'id -u; stat -c %u /etc/passwd; echo written > /made-inside; echo ready; read _'],
        userns: 'remap',
      },
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        o.userns = link(`/proc/${c.pid}/ns/user`);
        o.uidMap = read(`/proc/${c.pid}/uid_map`);
        o.gidMap = read(`/proc/${c.pid}/gid_map`);
        o.uid = procStatus(c.pid)?.['Uid'];
        const upper = (c.config['overlay'] as { upper?: string } | undefined)?.upper;
        try {
          if (upper) o.upperOwner = statSync(join(upper, 'made-inside')).uid;
        } catch {
          // not there
        }
      },
    });
    return o as Remapped;
  });
}

const lines = (t: TrialResult): string[] => t.stdout.split('\n');

/** The trial's lessons plus the test-only one that bind-mounts a host file (tests/support/bind-host-file.ts). */
const BIND_LESSON = fileURLToPath(new URL('./support/bind-host-file.js', import.meta.url));
async function withBindLesson(lessons: LoadedLesson[]): Promise<LoadedLesson[]> {
  const mod = (await import(BIND_LESSON)) as { default: LoadedLesson['lesson'] };
  return [...lessons, { id: 'test-bind-host-file', file: BIND_LESSON, lesson: mod.default }];
}

interface Rootless {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Every process of the run while the command waited: "pid name Uid-line". */
  processes: string[];
  asRoot: string[];
  leftovers: string[];
}

const RUNNER = fileURLToPath(new URL('./support/rootless-run.js', import.meta.url));

/** Every process below `root` (the runner), with its Uid: line. */
function tree(root: number): { pid: number; name: string; uid: string }[] {
  const procs = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => ({ pid: Number(d), st: procStatus(Number(d)) }))
    .filter((p): p is { pid: number; st: Record<string, string> } => p.st !== undefined);
  const below = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!below.has(p.pid) && below.has(Number(p.st['PPid']))) {
        below.add(p.pid);
        grew = true;
      }
    }
  }
  return procs
    .filter((p) => below.has(p.pid))
    .map((p) => ({ pid: p.pid, name: p.st['Name'] ?? '?', uid: p.st['Uid'] ?? '?' }));
}

function rootlessRun(env: CheckEnv): Promise<Rootless> {
  return env.once('rootless', async () => {
    const files = env.lessons.map((l) => ({ id: l.id, file: l.file }));
    const r: Rootless = { status: null, stdout: '', stderr: '', processes: [], asRoot: [], leftovers: [] };
    // What a rootless run keeps of its own: state files, id locks, container
    // directories. Only what is new counts: an earlier run killed by a check's
    // timeout (a starter's) leaves its lock file, as a SIGKILLed root run does.
    const base = join(process.env['XDG_RUNTIME_DIR'] ?? tmpdir(), `${TMP_PREFIX}${NOBODY}`);
    const stateEntries = (): string[] =>
      ['run', 'containers'].flatMap((dir) => {
        const p = join(base, dir);
        return existsSync(p)
          ? readdirSync(p)
              .filter((f) => f !== 'net')
              .map((f) => join(p, f))
          : [];
      });
    const before = new Set(stateEntries());
    const child = spawn(
      'setpriv',
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        process.execPath,
        RUNNER,
        JSON.stringify(files),
        '--',
        'sh',
        '-c',
        'id -u; echo ready; read _ || true',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } },
    );
    child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await Promise.race([
      new Promise<void>((resolve) => child.stdout.on('data', () => r.stdout.includes('ready') && resolve())),
      exited,
      new Promise((resolve) => setTimeout(resolve, 15_000)),
    ]);
    if (r.stdout.includes('ready')) {
      const all = tree(child.pid!);
      r.processes = all.map((p) => `${p.pid} ${p.name} Uid ${p.uid}`);
      // Real, effective, saved and filesystem uid: none may be host root.
      r.asRoot = all.filter((p) => p.uid.split(/\s+/).some((u) => u === '0')).map((p) => `${p.pid} ${p.name}`);
    }
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    r.status = await exited;
    clearTimeout(timer);
    r.leftovers = stateEntries().filter((p) => !before.has(p));
    // Reported above; removed so that the next run of this check (and the
    // machine) starts clean — a killed run cannot remove its own.
    for (const p of r.leftovers) rmSync(p, { recursive: true, force: true });
    return r;
  });
}

export default defineChecks('08-user', [
  {
    name: 'with --userns remap, the container has its own user namespace',
    async run(env) {
      const why = cannotRun();
      if (why) return skipCheck(why, 'a user namespace of its own');
      const o = await remapped(env);
      const host = link('/proc/self/ns/user');
      return (
        startFailure(o.t) ??
        expectThat(
          o.userns !== undefined && o.userns !== host,
          `a user inode other than the host's ${host}`,
          `${o.userns}`,
          "same inode as the host: the init was not started in a new user namespace — man 7 user_namespaces names the CLONE_NEW* flag; cloneFlags returns it for config.userns === 'remap'",
        )
      );
    },
  },
  {
    name: `its uid_map and gid_map map 0 to the host range (${MAP})`,
    async run(env): Promise<CheckResult> {
      const why = cannotRun();
      if (why) return skipCheck(why, MAP);
      const o = await remapped(env);
      const found = `uid_map "${squeeze(o.uidMap)}", gid_map "${squeeze(o.gidMap)}"`;
      return (
        startFailure(o.t) ??
        expectThat(
          squeeze(o.uidMap) === MAP && squeeze(o.gidMap) === MAP,
          `uid_map and gid_map both "${MAP}"`,
          found,
          squeeze(o.uidMap) === '0 0 4294967295'
            ? "that is the host's own identity map: the container has no user namespace of its own"
            : 'write "INSIDE OUTSIDE COUNT" into /proc/<pid>/uid_map and gid_map from the host, while the helper waits (man 7 user_namespaces)',
        )
      );
    },
  },
  {
    name: `\`id -u\` prints 0 inside, while the host sees the process as uid ${RANGE.start}`,
    async run(env) {
      const why = cannotRun();
      if (why) return skipCheck(why, `0 inside, ${RANGE.start} on the host`);
      const o = await remapped(env);
      const inside = lines(o.t)[0];
      const host = o.uid?.split(/\s+/) ?? [];
      return (
        startFailure(o.t) ??
        expectThat(
          inside === '0' && host.length === 4 && host.every((u) => u === String(RANGE.start)),
          `id -u → 0, and Uid: ${RANGE.start} ${RANGE.start} ${RANGE.start} ${RANGE.start} in /proc/<pid>/status`,
          `id -u → ${inside}, Uid: ${o.uid ?? '(no process)'}`,
          host[0] === '0'
            ? 'the host sees the container as root: it is real root, with every privilege over the machine — give it a user namespace'
            : 'the process must become uid 0 of its namespace (the helper does, once the maps are written)',
        )
      );
    },
  },
  {
    name: '/etc/passwd inside belongs to root (0) — through idmapped layers',
    async run(env) {
      const why = cannotRun();
      if (why) return skipCheck(why, 'owner 0');
      const o = await remapped(env);
      const owner = lines(o.t)[1];
      const inNs = o.userns !== undefined && o.userns !== link('/proc/self/ns/user');
      return (
        startFailure(o.t) ??
        expectThat(
          inNs && owner === '0',
          'owner 0 as the container sees it, in a user namespace of its own',
          inNs ? `owner ${owner}` : `owner ${owner}, but outside any user namespace (host root's view)`,
          owner === '65534'
            ? "the image's files belong to host root, which has no id in the container's map (65534 = unmapped): stack idmapped views of the layers (man 2 mount_setattr, MOUNT_ATTR_IDMAP)"
            : 'give the container a user namespace first',
        )
      );
    },
  },
  {
    name: `a file the container writes lands in its upper layer owned by host uid ${RANGE.start}`,
    async run(env) {
      const why = cannotRun();
      if (why) return skipCheck(why, `owner ${RANGE.start}`);
      const o = await remapped(env);
      return (
        startFailure(o.t) ??
        expectThat(
          o.upperOwner === RANGE.start,
          `upper/made-inside owned by ${RANGE.start}`,
          o.upperOwner === undefined ? 'no such file in the upper layer' : `owned by ${o.upperOwner}`,
          o.upperOwner === 0
            ? "written by real root: the container's root must be the mapped uid"
            : 'the upper and work directories must belong to the mapped root (chown), and the overlay must be stacked on them',
        )
      );
    },
  },
  {
    name: "a root-owned host file bind-mounted read-write cannot be written by the container's root",
    async run(env) {
      const why = cannotRun();
      if (why) return skipCheck(why, 'EACCES');
      const dir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}userns-`));
      chmodSync(dir, 0o755); // reachable by the container's root (host 100000…), like any host path
      const file = join(dir, 'host-owned');
      writeFileSync(file, 'host\n', { mode: 0o644 });
      try {
        const lessons = await withBindLesson(env.lessons);
        const t = await env.trial({
          config: {
            argv: ['sh', '-c', 'if echo container 2>/dev/null > /host-owned; then echo wrote; else echo refused; fi'],
            userns: 'remap',
            bindHostFile: { source: file, name: 'host-owned' },
          },
          lessons: () => lessons,
        });
        const after = read(file);
        return (
          startFailure(t) ??
          expectThat(
            t.stdout.trim() === 'refused' && after === 'host\n',
            'the write refused (EACCES), the host file unchanged',
            `${t.stdout.trim() || '(no output)'}; the host file now says ${JSON.stringify(after)}`,
            "the container's root wrote a file of the host's root: it is host root itself. In a user namespace, its capabilities stop at files whose owner has no id in its map",
          )
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'a bad --userns-range is rejected before anything is created, naming the value and the fix',
    provided: true,
    async run(env) {
      const cases = [
        { range: '100000:1000', says: 'too few' },
        { range: '1000:65536', says: "host's own ids" },
        { range: 'lots', says: 'START:COUNT' },
      ];
      const wrong: string[] = [];
      for (const c of cases) {
        const t = await env.trial({ config: { argv: ['true'], userns: 'remap', 'userns-range': c.range } });
        const ok =
          t.error?.name === 'ConfigError' &&
          t.error.message.includes(c.range) &&
          t.error.message.includes(c.says) &&
          t.spawned === 0;
        if (!ok)
          wrong.push(
            `${c.range}: ${t.error ? `${t.error.name}: ${t.error.message}` : `status ${t.status}`} (spawned ${t.spawned})`,
          );
      }
      return expectThat(
        wrong.length === 0,
        `a ConfigError for each of ${cases.map((c) => c.range).join(', ')}, and no process spawned`,
        wrong.length === 0 ? 'all rejected' : wrong.join('; '),
        'keep usernsValidations in the lesson file',
      );
    },
  },
  {
    name: 'rootless: the same run started by an ordinary user works, and none of its processes is host root',
    async run(env) {
      const why = cannotRun();
      if (why) return skipCheck(why, 'exit 0, id -u → 0, no process as host root');
      if (process.getuid?.() !== 0)
        return skipCheck('the check must start as root, to become an ordinary user', 'a rootless run');
      const r = await rootlessRun(env);
      const ok =
        r.status === 0 &&
        r.stdout.split('\n')[0] === '0' &&
        r.asRoot.length === 0 &&
        r.processes.length > 0 &&
        r.leftovers.length === 0;
      return expectThat(
        ok,
        `run by uid ${NOBODY}: exit 0, id -u → 0, no process of the run with a uid of 0 on the host, nothing left in its state directory`,
        `exit ${r.status}, output ${JSON.stringify(r.stdout.trim())}, processes [${r.processes.join('; ')}]` +
          (r.asRoot.length > 0 ? `, as host root: ${r.asRoot.join(', ')}` : '') +
          (r.leftovers.length > 0 ? `, left: ${r.leftovers.join(', ')}` : '') +
          (r.stderr.trim() ? `, stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''),
        r.stderr.includes('EPERM')
          ? 'an ordinary user may create the other namespaces only inside a user namespace of its own: ask for one whenever rootless() is true'
          : 'read stderr: it names the step that failed',
      );
    },
  },
]);
