/**
 * The process `cellblock exec` starts inside a running container (host side:
 * core/host/exec.ts). The C helper has already joined every namespace the
 * lesson listed except the mount namespace — and, for the PID namespace,
 * forked us into it. Node had to start from the host's files, so the mount
 * namespace comes last, here:
 *
 *  1. load the lesson modules (from the host's filesystem, while we still see it)
 *     and read the exec config from fd 3;
 *  2. join the container's mount namespace (fd 5, when the lesson listed it):
 *     setns(CLONE_NEWNS) is refused (EINVAL) to a thread that shares its
 *     filesystem state with others — every Node thread does — so first
 *     unshare(CLONE_NEWNS), which gives this thread its own (a throwaway copy
 *     of the host's mounts), then setns; root and cwd become the container's
 *     `/`. Only this thread moves: from here on, synchronous fs calls only (the
 *     libuv pool's threads still see the host);
 *  3. the lessons' beforeJoinExec steps: what the container's command got
 *     (capabilities, no_new_privs, seccomp);
 *     Before them, --user: setresuid after a capability drop would fail on
 *     this thread and succeed on Node's others (glibc changes every thread's
 *     uid) — glibc aborts then. So the uid changes first, keeping the
 *     permitted set (PR_SET_KEEPCAPS, as runc does), and the lessons drop
 *     from there;
 *  4. a session of its own — with the container's console as its terminal,
 *     or none: never the user's terminal, into which a process may push
 *     keystrokes (TIOCSTI) that the user's shell then runs — and exec the
 *     command (init/exec.ts), the same exec fixups as the init's.
 * A failure before the exec goes back to the host as one JSON report on fd 3.
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { sys } from '../../native/index.js';
import { SyscallError } from '../../native/errors.js';
import { CLONE_NEWNS } from '../../native/constants.js';
import { fchdir } from '../../native/process.js';
import { PR_SET_DUMPABLE } from '../../native/capability.js';
import { becomeUser } from './user.js';
import type { Lesson } from '../lesson.js';
import type { JoinMessage } from '../host/exec.js';
import { execCommand } from './exec.js';
import { guardedSys } from './guard.js';
import { errorData, type InitReport } from './protocol.js';

const SYNC_FD = 3;
const MNT_FD = 5;

function readMessage(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
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
    if (n === 0) break; // the host writes one line and ends
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString();
}

function exitCodeFor(err: unknown): number {
  if (!(err instanceof SyscallError) || err.syscall !== 'execve') return 125;
  return err.code === 'ENOENT' ? 127 : 126;
}

/** Is fd open? (fcntl F_GETFD fails with EBADF when it is not.) */
function isOpen(fd: number): boolean {
  try {
    sys.fcntl(fd, sys.F_GETFD, 0);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  let step = 'join';
  try {
    // Not dumpable until the exec (which resets it): until then we hold host
    // root, host fds (3) and a host cwd inside the container's PID namespace,
    // and /proc/<us>/{root,cwd,fd} must not be a way out for its processes
    // (CVE-2016-9962, runc's fix).
    sys.prctl(PR_SET_DUMPABLE, 0);
    sys.prctl(sys.PR_SET_PDEATHSIG, 9 /* SIGKILL */);
    const modules = new Map(
      await Promise.all(
        process.argv
          .slice(2)
          .map(
            async (file) => [file, ((await import(pathToFileURL(file).href)) as { default: Lesson }).default] as const,
          ),
      ),
    );
    const text = readMessage(SYNC_FD);
    if (text.trim() === '') process.exit(125); // the host gave up
    const message = JSON.parse(text) as JoinMessage;
    const { config } = message;
    // The host always lists mnt (host/exec.ts): fd 5 must be there, and be
    // the init's mount namespace — else the command would run on host files.
    step = 'mnt';
    if (!isOpen(MNT_FD) || fstatSync(MNT_FD).ino !== message.mntNamespace) {
      throw new Error(`fd ${MNT_FD} is not the container's mount namespace (inode ${message.mntNamespace})`);
    }
    // The init's root, opened while /proc is still the host's: setns(CLONE_NEWNS)
    // puts us at the namespace's root, which is not the init's when the init
    // chroot'ed (lesson 03's --chroot) — nsenter --root does the same.
    const root = openSync(`/proc/${message.initPid}/root`, constants.O_RDONLY | constants.O_DIRECTORY);
    sys.unshare(CLONE_NEWNS);
    sys.setns(MNT_FD, CLONE_NEWNS);
    sys.close(MNT_FD);
    fchdir(root);
    sys.chroot('.');
    sys.chdir('/');
    closeSync(root);
    if (message.user) {
      step = 'user';
      becomeUser({ ...message.user, additionalGids: [] });
    }
    const lessonSys = guardedSys(sys, message.hostNamespaces);
    for (const { id, file } of message.lessons) {
      step = id;
      await modules.get(file)?.beforeJoinExec?.(config, lessonSys);
    }
    if (message.console) {
      // The pty the host opened in the container's devpts (host/console.ts): our stdio from now on.
      step = 'tty';
      const fd = openSync(message.console, constants.O_RDWR | constants.O_NOCTTY);
      for (const target of [0, 1, 2]) sys.dup2(fd, target);
      closeSync(fd);
    }
    step = 'tty';
    sys.setsid();
    if (config.tty) sys.ioctl(0, sys.TIOCSCTTY, 0);
    step = 'exec';
    execCommand(config);
  } catch (err) {
    const report: InitReport = { step, error: errorData(err), exitCode: exitCodeFor(err) };
    try {
      writeSync(SYNC_FD, JSON.stringify(report));
    } catch {
      process.stderr.write(`cellblock exec: ${step}: ${String(err)}\n`);
    }
    process.exit(report.exitCode);
  }
}

await main();
