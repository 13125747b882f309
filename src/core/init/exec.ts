/**
 * The last container-side step: become the user's command.
 *
 * execve(2) keeps more than the pid and namespaces. From a Node process it
 * would also keep things a container must not inherit:
 *   - fds 0–2 are FD_CLOEXEC in Node: the command would start with no stdio;
 *   - every other fd Node or the runtime opened (the sync socket, epoll, …):
 *     leaked fds are how runc's CVE-2024-21626 escaped the container;
 *   - ignored signals (Node ignores SIGPIPE and SIGXFSZ) and the blocked mask.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { SyscallError } from '../../native/errors.js';
import { sys } from '../../native/index.js';
import type { ContainerConfig } from '../config.js';

/**
 * Find argv[0] the way execvp(3) does, but on the *container's* PATH (glibc's
 * execvpe would search the init's own environment instead).
 */
export function lookPath(name: string, env: string[]): string {
  if (name.includes('/')) return name;
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/bin:/bin';
  for (const dir of path.split(':')) {
    const candidate = `${dir || '.'}/${name}`;
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: keep looking
    }
  }
  throw new SyscallError('execve', 2 /* ENOENT */, name);
}

/**
 * The fds the command inherits: 0–2 (cleared of Node's FD_CLOEXEC) and nothing
 * else. After this, the init must not use fds ≥ 3 again.
 */
export function prepareFds(): void {
  for (const fd of [0, 1, 2]) {
    try {
      sys.fcntl(fd, sys.F_SETFD, 0); // clear FD_CLOEXEC
    } catch {
      // an fd the host closed on purpose: nothing to keep open
    }
  }
  // Marked, not closed: the sync socket must stay open until the exec succeeds
  // (if it fails, the error still goes back through it).
  sys.close_range(3, ~0 >>> 0, sys.CLOSE_RANGE_CLOEXEC);
}

/** Clean the process for exec: fds, then signal dispositions and mask. */
export function prepareExec(): void {
  prepareFds();
  sys.reset_all_signals();
  sys.unblock_all_signals();
}

/** The working directory (inside the container's root by now) and the command's path. */
export function enterCommand(config: ContainerConfig): string {
  sys.chdir(config.cwd);
  return lookPath(config.argv[0]!, config.env);
}

export function execCommand(config: ContainerConfig): never {
  // The working directory is resolved inside the container's filesystem: after
  // any pivot_root, so "/" means the container's root.
  const file = enterCommand(config);
  prepareExec();
  return sys.execve(file, config.argv, config.env);
}
