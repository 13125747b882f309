/**
 * The container config: one typed object, filled from CLI flags (or a test),
 * validated as a whole before any kernel resource exists, then handed to the
 * host side and, as JSON, to the init inside the container.
 *
 * The core owns only the fields every container has. Each lesson adds its own
 * (the UTS lesson adds `hostname`), declares them as CLI options and validates them.
 */
import { ID_PREFIX } from './names.js';
import type { DeviceRule } from './cgroups/device-rule.js';

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
  /**
   * Set by the runtime, never by a flag: the kinds of namespace (as
   * /proc/PID/ns names them) the init started *in* — another container's,
   * Lesson.shareNamespaces — rather than new ones. With "pid" the init is not
   * PID 1: the other container's first process is (joinedNamespace).
   */
  joined?: string[];
  /**
   * Set by the runtime from Lesson.cgroupParent: the cgroup below the
   * workshop's parent this container's own cgroup goes in (a pod's), as
   * docker's --cgroup-parent. core/cgroups cgroupName() joins the two.
   */
  cgroupParent?: string;
  /**
   * Set by the OCI runtime from config.json's linux.cgroupsPath: the
   * container's cgroup as a path from each hierarchy's root ("/default/ID"),
   * instead of cellblock/[parent/]id. cgroupName() returns it as it is.
   */
  cgroupPath?: string;
  /**
   * Set by the runtime, never by a flag: paths inside the container that the
   * caller mounts itself (an OCI bundle's mounts: containerd and Podman bind
   * their own /etc/hosts, /etc/resolv.conf, /etc/hostname). A lesson that
   * would write a file there leaves it to the caller — runc writes none.
   */
  callerMounts?: string[];
  /**
   * Set by the OCI runtime from config.json's linux.resources.devices: the
   * device allow list for this container (runc's defaults included), instead
   * of the security lesson's default one. `cellblock run` never sets it.
   */
  deviceRules?: DeviceRule[];
}

/** A config as lessons see it: the base fields plus whatever the active lessons add. */
export type ContainerConfig = BaseConfig & Record<string, unknown>;

export const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'];

/** Did the container's init start in another container's namespace of `kind` (BaseConfig.joined)? */
export function joinedNamespace(config: BaseConfig, kind: string): boolean {
  return config.joined?.includes(kind) === true;
}

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
