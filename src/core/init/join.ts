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
 *  4. --user, then a terminal's session, then exec the command (init/exec.ts)
 *     — the same exec fixups as the init's.
 * A failure before the exec goes back to the host as one JSON report on fd 3.
 */
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { sys } from '../../native/index.js';
import { SyscallError } from '../../native/errors.js';
import { CLONE_NEWNS } from '../../native/constants.js';
import { setgroups, setresgid, setresuid } from '../../native/process.js';
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
    if (isOpen(MNT_FD)) {
      step = 'mnt';
      sys.unshare(CLONE_NEWNS);
      sys.setns(MNT_FD, CLONE_NEWNS);
      sys.close(MNT_FD);
    }
    const lessonSys = guardedSys(sys, message.hostNamespaces);
    for (const { id, file } of message.lessons) {
      step = id;
      await modules.get(file)?.beforeJoinExec?.(config, lessonSys);
    }
    if (message.user) {
      step = 'user';
      setgroups([]);
      setresgid(message.user.gid);
      setresuid(message.user.uid);
      sys.prctl(sys.PR_SET_PDEATHSIG, 9); // the uid change cleared it
    }
    if (message.console) {
      // The pty the host opened in the container's devpts (host/console.ts): our stdio from now on.
      step = 'tty';
      const fd = openSync(message.console, constants.O_RDWR | constants.O_NOCTTY);
      for (const target of [0, 1, 2]) sys.dup2(fd, target);
      closeSync(fd);
    }
    if (config.tty) {
      step = 'tty';
      sys.setsid();
      sys.ioctl(0, sys.TIOCSCTTY, 0);
    }
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
