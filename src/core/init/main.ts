/**
 * The container's init: the first process in the new namespaces (PID 1 when
 * there is a PID namespace). It is a fresh Node process, so every one of its
 * threads was born inside the namespaces — unlike the host's.
 *
 * Order, and why:
 *  1. start loading the lesson modules named on our command line, then read
 *     the config from the sync socket (fd 3): the host sends it only after
 *     its own steps on our pid (cgroups, network) are done — the loading
 *     overlaps them; end-of-file instead of a config (the host rejected the
 *     input, or died) ends us with nothing done;
 *  2. have every lesson module loaded *first*: they live in the host's filesystem,
 *     which is out of reach once a lesson has pivoted into the rootfs;
 *  3. run the lessons' container-side steps: every prepareRootfs step (what
 *     the root is made of: the overlay lesson), then every init step, each in
 *     manifest order — so lesson 03 pivots into the root lesson 06 mounted;
 *  4. if a lesson has a host step right before the exec (the cgroup lesson joins the
 *     cgroup there), or with -t, say "ready" and wait for the host's "go":
 *     everything this Node process allocated so far stays out of the
 *     container's accounting; with -t in a container that has a /dev of its
 *     own, "go" names a console opened in its devpts (host/console.ts);
 *  5. an OCI config's rlimits and user (oci.ts), then the lessons' beforeExec
 *     steps (the cgroup lesson: a cgroup namespace rooted in the cgroup the
 *     host has just moved us into; the security lesson's capability drop);
 *  6. set up the terminal, if asked for one — after the console is known;
 *  7. exec the command — or, when a lesson asks for it (superviseCommand:
 *     `run --init`), stay PID 1 and run it as a child (supervise.ts). Any failure before that goes back to the
 *     host as one JSON report and this process exits (125 runtime, 126/127
 *     command).
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readSync,
  readlinkSync,
  statSync,
  writeSync,
} from 'node:fs';
import { pathToFileURL } from 'node:url';
import { sys } from '../../native/index.js';
import { SyscallError } from '../../native/errors.js';
import type { Lesson } from '../lesson.js';
import { enterCommand, execCommand } from './exec.js';
import { guardedSys } from './guard.js';
import { superviseCommand } from './supervise.js';
import * as oci from './oci.js';
import { errorData, type InitMessage, type InitReport } from './protocol.js';
import { trace } from '../trace.js';

const SYNC_FD = 3;

/** One message from the host: everything up to a newline (or end-of-file). */
function readMessage(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  // The host sends nothing after a message until we answer, so nothing is read past its newline.
  while (!chunks.at(-1)?.includes(0x0a)) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString();
}

/**
 * True when stdin, the pty slave the host gave us, cannot be found by its path
 * any more (a lesson gave the container its own /dev) while the container has
 * a devpts of its own to open a console in.
 */
function hostTtyIsGone(): boolean {
  try {
    const mine = fstatSync(0);
    const there = statSync(readlinkSync('/proc/self/fd/0'));
    if (there.dev === mine.dev && there.ino === mine.ino) return false;
  } catch {
    // no /proc, or no such path here: gone
  }
  return existsSync('/dev/pts/ptmx');
}

/** Make the console's slave our stdin, stdout and stderr (the command inherits them). */
function useConsole(slave: string): void {
  const fd = openSync(slave, constants.O_RDWR | constants.O_NOCTTY);
  for (const target of [0, 1, 2]) sys.dup2(fd, target);
  closeSync(fd);
}

/** Like docker: 127 the command is not there, 126 it cannot be run, 125 the runtime failed. */
function exitCodeFor(err: unknown): number {
  if (!(err instanceof SyscallError) || err.syscall !== 'execve') return 125;
  return err.code === 'ENOENT' ? 127 : 126;
}

const importLesson = async (file: string): Promise<Lesson> =>
  ((await import(pathToFileURL(file).href)) as { default: Lesson }).default;

async function main(): Promise<void> {
  let step = 'init';
  trace('init main');
  try {
    // If the host dies (even by SIGKILL), take the container down with it
    // rather than leave it running unmanaged — from the start: the host may
    // die while we wait for the config. Survives execve.
    sys.prctl(sys.PR_SET_PDEATHSIG, 9 /* SIGKILL */);
    // The lesson files the host named on our command line (host/namespaces.ts
    // spawnInit): load them now, while the host validates and runs its steps.
    const preloaded = new Map(process.argv.slice(2).map((file) => [file, importLesson(file)]));
    // Loading needs the event loop, which the blocking read below would stop: first
    // load, then read (the config waits in the socket meanwhile). A failure is
    // reported below, when the file is asked for.
    await Promise.allSettled(preloaded.values());
    trace('init preloaded');
    const text = readMessage(SYNC_FD);
    // End-of-file before any config: the host gave up (bad input) — nothing was done here.
    if (text.trim() === '') process.exit(125);
    const message = JSON.parse(text) as InitMessage;
    const { config } = message;
    trace('init got config');
    const lessons = await Promise.all(
      message.lessons.map(async (l) => ({
        id: l.id,
        lesson: await (preloaded.get(l.file) ?? importLesson(l.file)),
      })),
    );
    trace('init lessons imported');
    const lessonSys = guardedSys(sys, message.hostNamespaces);
    // An OCI config's own steps (cellblock-oci) run around the lessons' (oci.ts).
    step = 'oci';
    oci.beforeLessons(config);
    for (const { id, lesson } of lessons) {
      step = id;
      await lesson.prepareRootfs?.(config, lessonSys);
    }
    step = 'oci';
    oci.afterRootfs(config);
    if (message.waitBeforePivot) {
      // The host's steps for this moment (an OCI config's createRuntime hooks), then ours.
      step = 'rootfs';
      writeSync(SYNC_FD, `${JSON.stringify({ rootfs: true })}\n`);
      if (readMessage(SYNC_FD).trim() !== 'go') process.exit(125);
    }
    step = 'oci';
    oci.beforePivot(config);
    for (const { id, lesson } of lessons) {
      step = id;
      await lesson.init?.(config, lessonSys);
    }
    step = 'oci';
    oci.afterLessons(config);

    // With -t, after the lessons: has the container a /dev of its own, where
    // the host's pty slave is not? Then it needs a console from its own devpts.
    // Detached (cellblock-oci), the console is what goes to --console-socket: always one of the container's own.
    const wantConsole = config.tty && (message.detach === true || hostTtyIsGone());
    if (message.waitBeforeExec) {
      step = 'ready';
      writeSync(SYNC_FD, `${JSON.stringify({ ready: true, ...(wantConsole ? { console: true } : {}) })}\n`);
      // Anything but "go" (end-of-file: the host gave up) ends the container before it starts.
      const reply = readMessage(SYNC_FD).trim();
      if (reply !== 'go' && !reply.startsWith('go /dev/pts/')) process.exit(125);
      if (reply !== 'go') {
        step = 'tty';
        useConsole(reply.slice(3));
      }
    }
    // An OCI config's rlimits and user: before the lessons' capability drops, and before "created".
    step = 'oci';
    oci.beforeDrops(config);
    for (const { id, lesson } of lessons) {
      step = id;
      await lesson.beforeExec?.(config, lessonSys);
    }
    if (config.tty) {
      step = 'tty';
      // A new session without a terminal, then stdin (the pty slave) becomes
      // its controlling terminal: job control and ^C work as in a login shell.
      sys.setsid();
      sys.ioctl(0, sys.TIOCSCTTY, 0);
    }
    if (message.detach) {
      // cellblock-oci create: the runtime exits once we say "created", so
      // whatever could still fail must fail now, while it can report it (runc
      // looks the command up before it waits, too). Then nobody is left to
      // read a report: the socket is closed, and a lesson's awaitStart blocks
      // until `cellblock-oci start`.
      step = 'exec';
      enterCommand(config); // chdir + PATH lookup; the exec does both again
      step = 'created';
      writeSync(SYNC_FD, `${JSON.stringify({ created: true })}\n`);
      sys.close(SYNC_FD);
      for (const { id, lesson } of lessons) {
        step = id;
        await lesson.awaitStart?.(config, lessonSys);
      }
    }
    step = 'oci';
    oci.beforeExec(config);
    step = 'exec';
    trace('init exec');
    // A lesson may keep the init as PID 1 with the command as its child (Lesson.superviseCommand).
    if (lessons.some(({ lesson }) => lesson.superviseCommand?.(config))) {
      process.exit(
        await superviseCommand(config, () => {
          if (!message.detach) sys.close(SYNC_FD); // detached: closed at "created"
        }),
      );
    }
    execCommand(config);
  } catch (err) {
    const report: InitReport = { step, error: errorData(err), exitCode: exitCodeFor(err) };
    try {
      writeSync(SYNC_FD, JSON.stringify(report));
    } catch {
      process.stderr.write(`cellblock init: ${step}: ${String(err)}\n`);
    }
    process.exit(report.exitCode);
  }
}

await main();
