/**
 * Host side: start the init in a new *user* namespace, through a C helper.
 *
 * spawnInNewNamespaces (namespaces.ts) cannot do this one: the kernel refuses
 * unshare(CLONE_NEWUSER) with EINVAL to a process that has more than one
 * thread, and Node has a dozen (measured on the workshop's kernels). runc meets the
 * same wall with Go and climbs it with nsexec.c, C code that runs before the
 * Go runtime starts its threads. cellblock's equivalent is
 * native/nsexec.c, built at setup: a single-threaded program, started from
 * this (main) thread, that
 *
 *   1. unshare(CLONE_NEWUSER)                          helper → "U"
 *   2. waits while we write /proc/<helper>/uid_map and gid_map — and
 *      whatever else must happen between the user namespace's birth and
 *      the others' (idmapped mounts the new mount namespace must copy)
 *                                                      we → "M"
 *   3. becomes root of it (setgroups(0), setresgid/setresuid(0)), creates
 *      every other namespace — owned by the user namespace — and forks the
 *      init, which execs `node init` with fd 3, its sync socket, intact
 *                                                      helper → "P <pid>"
 *   4. stays as the init's parent: forwards signals, ends with its status.
 *
 * The interface is narrow on purpose: flags, a way to spawn (which must give
 * the child fds 3 and 4 as pipes), and what to do in the U→M window; out
 * comes the ChildProcess (the helper: its exit is the init's) and the init's
 * host pid, for every host step that works on the container's process.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { STATE_DIR } from '../paths.js';

/** Built by scripts/setup.sh from native/nsexec.c. */
export const NSEXEC = process.env['CELLBLOCK_NSEXEC'] ?? join(STATE_DIR, 'bin', 'cellblock-nsexec');

/** fd numbers in the helper: 3 is passed on to the init, 4 is the helper's own. */
export const HELPER_SYNC_FD = 4;

export interface UsernsChild {
  /** The helper. It stays the init's parent and exits with the init's status. */
  child: ChildProcess;
  /** Host pid of the container's init (PID 1 inside with a PID namespace). */
  initPid: number;
}

export class HelperMissingError extends Error {
  override readonly name = 'HelperMissingError';
}

/** Undefined when the helper can be run; otherwise the problem and the fix. */
export function helperProblem(path: string = NSEXEC): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return `the user-namespace helper ${path} is missing or not executable: build it with \`sudo bash scripts/setup.sh\` (it compiles native/nsexec.c)`;
  }
}

/** The helper's argv: FLAGS PROG ARGS… */
export function helperArgs(flags: number, file: string, args: string[]): string[] {
  return [String(flags), file, ...args];
}

/**
 * Start the helper with `spawn(NSEXEC, helperArgs(…))` — the caller spawns, so
 * it can attach its exit handler in the same tick — run `window(helperPid)`
 * between "U" and "M", and resolve once the init exists ("P"). On any failure
 * the helper is killed (its init with it, by PDEATHSIG) and the error thrown.
 */
export async function startInUserNamespace(
  spawn: () => ChildProcess,
  window: (helperPid: number) => void | Promise<void>,
): Promise<UsernsChild> {
  const problem = helperProblem();
  if (problem) throw new HelperMissingError(problem);
  const child = spawn();
  if (child.pid === undefined) {
    throw await new Promise<Error>((resolve) => child.once('error', resolve));
  }
  const sync = child.stdio[HELPER_SYNC_FD] as Socket | null;
  if (!sync) throw new Error(`the helper was spawned without a pipe on fd ${HELPER_SYNC_FD}`);
  const lines = new LineReader(sync);
  try {
    let line = await lines.next();
    if (line === 'U') {
      await window(child.pid);
      sync.write('M\n');
      line = await lines.next();
    }
    if (line?.startsWith('P ')) {
      sync.end();
      return { child, initPid: Number(line.slice(2)) };
    }
    throw new Error(
      line?.startsWith('E ')
        ? `user-namespace helper: ${line.slice(2)}`
        : `user-namespace helper: unexpected ${line === undefined ? 'end of its sync pipe' : JSON.stringify(line)}`,
    );
  } catch (err) {
    child.kill('SIGKILL'); // first: closing the pipe would make it report the EOF instead
    sync.destroy();
    throw err;
  }
}

/** Lines from the helper's sync pipe; undefined at end-of-file. */
class LineReader {
  private buffer = '';
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      this.buffer += c;
      this.wake?.();
    });
    sock.on('error', () => undefined); // the exit status tells
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  async next(): Promise<string | undefined> {
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        return line;
      }
      if (this.closed) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

// ─── ranges and maps: what a container's user namespace maps, checked before anything exists ───

/** uid_map/gid_map: `inside outside count` lines (man 7 user_namespaces). */
export interface IdMap {
  inside: number;
  outside: number;
  count: number;
}

/** A START:COUNT range of host ids. */
export interface IdRange {
  start: number;
  count: number;
}

/** The ids an image uses: root (0) to nobody (65534). A smaller range leaves some files unmapped. */
export const MIN_RANGE = 65536;
/** Where `--userns remap` looks for a free range first (as Docker's dockremap and Debian's useradd). */
export const DEFAULT_START = 100000;
const MAX_ID = 2 ** 32 - 1; // (uid_t)-1 is "no id"

export function parseRange(text: string): IdRange | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { start: Number(m[1]), count: Number(m[2]) } : undefined;
}

const overlaps = (a: IdRange, b: IdRange): boolean => a.start < b.start + b.count && b.start < a.start + a.count;
const showRange = (r: IdRange): string => `${r.start}:${r.count}`;

/** /etc/subuid or /etc/subgid: `user:start:count` lines (man 5 subuid). */
export function subordinateRanges(file: string): { owner: string; range: IdRange }[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim().split(':'))
    .filter((f) => f.length === 3 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!))
    .map(([owner, start, count]) => ({ owner: owner!, range: { start: Number(start), count: Number(count) } }));
}

/** The ranges /etc/subuid and /etc/subgid give `user` (by name or uid). */
export function rangesOf(user: { name: string; uid: number }, file: string): IdRange[] {
  return subordinateRanges(file)
    .filter((e) => e.owner === user.name || e.owner === String(user.uid))
    .map((e) => e.range);
}

/**
 * The default `--userns remap` range: from 100000 up, the first 65536 ids
 * that are no user's subordinate range — on a learner's VM, useradd gave the
 * first user exactly 100000:65536 for *their* rootless containers.
 */
export function defaultRemapRange(files = SUBID_FILES): IdRange {
  const taken = files.flatMap((f) => subordinateRanges(f).map((e) => e.range));
  let r = { start: DEFAULT_START, count: MIN_RANGE };
  for (let moved = true; moved;) {
    moved = false;
    for (const t of taken) {
      if (overlaps(r, t)) {
        r = { start: Math.ceil((t.start + t.count) / MIN_RANGE) * MIN_RANGE, count: MIN_RANGE };
        moved = true;
      }
    }
  }
  return r;
}

export const SUBID_FILES = ['/etc/subuid', '/etc/subgid'];

/**
 * What is wrong with `range` for a root `--userns remap` run, or undefined.
 * Each problem names the value and the fix.
 */
export function remapRangeProblem(text: string, files = SUBID_FILES): string | undefined {
  const r = parseRange(text);
  if (!r) return `--userns-range ${JSON.stringify(text)} is not START:COUNT (two numbers, e.g. 100000:65536)`;
  if (r.count < MIN_RANGE) {
    return `--userns-range ${text}: ${r.count} ids are too few — an image uses ids 0 (root) to 65534 (nobody), so COUNT must be at least ${MIN_RANGE}`;
  }
  if (r.start + r.count - 1 > MAX_ID - 1)
    return `--userns-range ${text} ends past the largest uid (${MAX_ID - 1}): lower START`;
  if (r.start < MIN_RANGE) {
    return `--userns-range ${text} overlaps the host's own ids (0–65535: root, system and login users): use a START of at least 65536, e.g. ${defaultRemapRange(files).start}`;
  }
  for (const f of files) {
    const clash = subordinateRanges(f).find((e) => overlaps(r, e.range));
    if (clash) {
      return `--userns-range ${text} overlaps ${clash.owner}'s subordinate range ${showRange(clash.range)} in ${f} (their rootless containers use those ids): choose another START, e.g. ${defaultRemapRange(files).start}`;
    }
  }
  return undefined;
}

/** /proc/sys/user/max_user_namespaces, or undefined on a kernel without user namespaces. */
export function maxUserNamespaces(proc = '/proc'): number | undefined {
  try {
    return Number(readFileSync(join(proc, 'sys/user/max_user_namespaces'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Undefined when this kernel lets us create a user namespace; otherwise why not, and the fix. */
export function usernsSupportProblem(proc = '/proc'): string | undefined {
  const max = maxUserNamespaces(proc);
  if (max === undefined)
    return 'this kernel has no user namespaces (no /proc/sys/user/max_user_namespaces): it needs CONFIG_USER_NS';
  if (max === 0)
    return 'user namespaces are switched off (/proc/sys/user/max_user_namespaces is 0): `sudo sysctl user.max_user_namespaces=15000`';
  return undefined;
}

/** The first program named `name` on PATH (newuidmap, slirp4netns, …), or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
    ':',
  )) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** This process's user, as /etc/subuid names it. */
export function currentUser(): { name: string; uid: number; gid: number } {
  const info = userInfo();
  return { name: info.username, uid: info.uid, gid: info.gid };
}

/**
 * The maps of a rootless run: the user becomes root inside, and — when the
 * user has a subordinate range and newuidmap is installed — that range
 * follows as ids 1…COUNT. Without it, only uid 0 exists inside.
 */
export function rootlessMaps(
  user = currentUser(),
  files = SUBID_FILES,
  chosen?: IdRange,
): { uid: IdMap[]; gid: IdMap[]; helper: boolean } {
  const [subuid] = chosen ? [chosen] : rangesOf(user, files[0]!);
  const [subgid] = chosen ? [chosen] : rangesOf(user, files[1]!);
  const helper = subuid !== undefined && subgid !== undefined && !!onPath('newuidmap') && !!onPath('newgidmap');
  const maps = (id: number, sub: IdRange | undefined): IdMap[] => [
    { inside: 0, outside: id, count: 1 },
    ...(helper && sub ? [{ inside: 1, outside: sub.start, count: sub.count }] : []),
  ];
  return { uid: maps(user.uid, subuid), gid: maps(user.gid, subgid), helper };
}

/** One map as the kernel's file takes it. */
export function mapText(maps: IdMap[]): string {
  return maps.map((m) => `${m.inside} ${m.outside} ${m.count}\n`).join('');
}

/**
 * Write a rootless process's maps. An unprivileged user may write only a
 * single line mapping its own id, and only after `deny` in setgroups (else a
 * process could drop a group that *denies* it access); anything more goes
 * through newuidmap/newgidmap, setuid-root programs that check /etc/subuid.
 */
export function writeRootlessMapsFor(pid: number, maps: ReturnType<typeof rootlessMaps>): void {
  if (maps.helper) {
    const args = (m: IdMap[]): string[] => [
      String(pid),
      ...m.flatMap((x) => [x.inside, x.outside, x.count].map(String)),
    ];
    execFileSync('newuidmap', args(maps.uid), { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('newgidmap', args(maps.gid), { stdio: ['ignore', 'ignore', 'pipe'] });
    return;
  }
  writeFileSync(`/proc/${pid}/setgroups`, 'deny');
  writeFileSync(`/proc/${pid}/uid_map`, mapText(maps.uid));
  writeFileSync(`/proc/${pid}/gid_map`, mapText(maps.gid));
}
