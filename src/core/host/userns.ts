/**
 * Host side: start the init in a new *user* namespace, through a C helper.
 *
 * spawnInNewNamespaces (namespaces.ts) cannot do this one: the kernel refuses
 * unshare(CLONE_NEWUSER) with EINVAL to a process that has more than one
 * thread, and Node has a dozen (see docs: kernel-from-node). runc meets the
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
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Socket } from 'node:net';
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
    sync.destroy();
    child.kill('SIGKILL');
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
