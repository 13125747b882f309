/**
 * The container config: one typed object, filled from CLI flags (or a test),
 * validated as a whole before any kernel resource exists, then handed to the
 * host side and, as JSON, to the init inside the container.
 *
 * The core owns only the fields every container has. Each lesson adds its own
 * (the UTS lesson adds `hostname`), declares them as CLI options and validates them.
 */
import { ID_PREFIX } from './names.js';

export interface BaseConfig {
  /** Unique per run: names the container's kernel objects (cgroup, veth, …). */
  id: string;
  /** Absolute path of the root filesystem directory. */
  rootfs: string;
  /** The command and its arguments; argv[0] is looked up on the container's PATH. */
  argv: string[];
  /** Environment of the command, as KEY=VALUE strings. */
  env: string[];
  /** Working directory of the command, inside the container. */
  cwd: string;
  /** Give the command a terminal (stdio on a pty slave that becomes its controlling tty). */
  tty: boolean;
}

/** A config as lessons see it: the base fields plus whatever the active lessons add. */
export type ContainerConfig = BaseConfig & Record<string, unknown>;

export const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'];

/** A bad value in the config: names the field and the value, and says how to fix it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid config:\n  - ${problems.join('\n  - ')}`);
  }
}

/** A container id becomes part of paths and interface names: keep it to a safe alphabet. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,31}$/;

export function newContainerId(): string {
  return `${ID_PREFIX}${process.pid.toString(36)}-${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, '0')}`;
}
