/**
 * `run --init`: the runtime's init stays PID 1 and runs the command as its
 * child, instead of exec'ing it (docker's --init, tini, dumb-init do the same).
 *
 * Why a container may want that (pid_namespaces(7), lesson 02):
 *  - the kernel delivers to a namespace's PID 1 only the signals it has a
 *    handler for (SIGKILL and SIGSTOP from outside excepted). A shell, or most
 *    programs, installs none for SIGTERM: as PID 1 it never stops politely;
 *  - orphans are re-parented to PID 1, which must wait() for them, or each
 *    stays a zombie (`State: Z`) for as long as the container lives;
 *  - when PID 1 exits, the kernel SIGKILLs everything else in the namespace.
 *
 * So this init: starts the command with posix_spawn (a pid libuv does not
 * know, so our waitpid(-1) never steals a status from child_process — nothing
 * in the init may use child_process once this runs), forwards the signals a
 * user or supervisor sends to the command, reaps every child on SIGCHLD, and
 * exits with the command's status as soon as the command ends (whatever is
 * left is then killed by the kernel).
 */
import { constants } from 'node:os';
import { sys } from '../../native/index.js';
import { SyscallError } from '../../native/errors.js';
import type { ContainerConfig } from '../config.js';
import { enterCommand, prepareFds } from './exec.js';
import { writeFileSync } from 'node:fs';

/**
 * Under a memory limit the OOM killer picks the biggest process in the cgroup,
 * and a Node init (~40 MB) outweighs most commands: it would die in their
 * place, and the container with it. -1000 exempts it. Set only *after* the
 * spawn, so the command (and everything it starts) keeps the default score 0.
 */
function protectFromOomKiller(): void {
  try {
    writeFileSync('/proc/self/oom_score_adj', '-1000');
  } catch {
    // EACCES without CAP_SYS_RESOURCE (some sandboxes drop it even for root):
    // the init stays an ordinary candidate.
  }
}

/** The signals "stop", "interrupt", "reload" a user sends to the container: passed on to the command. */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Start the command as our child and supervise it. `started` runs once it is
 * running (the caller closes the sync socket there). Resolves with the
 * command's status as a shell reports it (the code, or 128 + signal).
 */
export function superviseCommand(config: ContainerConfig, started: () => void): Promise<number> {
  const file = enterCommand(config); // as execCommand does
  // PID 1 of a namespace gets orphans anyway; without a PID namespace (lesson 02
  // not done yet), this makes the init their reaper all the same.
  sys.prctl(sys.PR_SET_CHILD_SUBREAPER, 1);

  // The fds the command inherits, as for exec: 0–2 and nothing else. Signals
  // stay as they are here: this process keeps running (posix_spawn resets
  // the child's own dispositions and mask).
  prepareFds();

  return new Promise((resolve) => {
    let child = 0;
    // Signal listeners do not keep Node's event loop alive: without a timer
    // the init would fall off the end of main() while the command runs. The
    // timer doubles as a backstop should a SIGCHLD ever be coalesced away.
    const keepAlive = setInterval(() => reap(), 1000);
    const done = (status: number): void => {
      clearInterval(keepAlive);
      resolve(status);
    };
    const reap = (): void => {
      for (;;) {
        let ended;
        try {
          ended = sys.waitpid(-1, sys.WNOHANG);
        } catch (err) {
          if (err instanceof SyscallError && err.code === 'ECHILD') return; // no children left
          throw err;
        }
        if (!ended) return; // children remain, none has ended yet
        if (ended.pid === child) done(ended.code ?? 128 + ended.signal!);
        // anything else was an orphan: collected, nothing more to do
      }
    };
    const forward = (signal: NodeJS.Signals): void => {
      try {
        sys.kill(child, constants.signals[signal]);
      } catch {
        // ESRCH: it has just ended; the SIGCHLD handler will see it
      }
    };
    // Handlers before the spawn: a handled signal cannot run before the spawn
    // has returned (handlers run on the event loop), and none is lost after it.
    process.on('SIGCHLD', reap);
    for (const s of FORWARDED) process.on(s, forward);

    // With a terminal, the command gets its own process group and becomes the
    // terminal's foreground group (in the child, before its exec): ^C and ^Z
    // reach it and its jobs, not the init.
    try {
      child = sys.posix_spawn(file, config.argv, config.env, config.tty ? { pgroup: 0, foreground: 0 } : {});
    } catch (err) {
      // posix_spawn reports the exec's own failure (ENOENT, EACCES, ENOEXEC):
      // name it execve, so the host answers 126/127 exactly as without --init.
      if (err instanceof SyscallError && err.syscall === 'posix_spawn') {
        throw new SyscallError('execve', err.errno, file);
      }
      throw err;
    }
    if (config.tty && !sys.spawn_can_set_foreground()) {
      // glibc before 2.35: do it from here, and wake the command in case it
      // already stopped itself (SIGTTIN) for not being in the foreground.
      const pgrp = Buffer.alloc(4);
      pgrp.writeInt32LE(child);
      sys.ioctlBuffer(0, sys.TIOCSPGRP, pgrp);
      sys.kill(-child, constants.signals.SIGCONT);
    }
    protectFromOomKiller();
    started();
    reap(); // in case it ended before the handler was listening
  });
}
