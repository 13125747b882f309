/**
 * What host and init say to each other over the sync socket (fd 3 in the init).
 *
 *   host → init   InitMessage (one JSON line)
 *   init → host   when waitBeforePivot: {"rootfs":true} once the root is
 *                 mounted, before the init steps (pivot_root)
 *   host → init   "go", after the host's steps for that moment
 *   init → host   when waitBeforeExec: {"ready":true} once its steps are done
 *                 (with "console":true when it needs a terminal from the
 *                 container's own devpts, see host/console.ts)
 *   host → init   "go", after the lessons' hostBeforeExec steps — or "go
 *                 /dev/pts/N", the console's slave to use; then end-of-file
 *   init → host   with `detach` (cellblock-oci create): {"created":true} once
 *                 every step is done and the command was found; the socket
 *                 is then closed and the init waits for `start` (awaitStart)
 *   init → host   nothing (the socket closes at exec: success)
 *                 or one InitReport if a step failed before exec
 */
import type { ContainerConfig } from '../config.js';
import type { HostNamespaces } from './guard.js';
import { SyscallError, type SyscallErrorData } from '../../native/errors.js';

export interface InitMessage {
  config: ContainerConfig;
  /** The lesson modules to load, in order: the same files the host loaded. */
  lessons: { id: string; file: string }[];
  /** The host's namespaces, so the init can refuse steps that would act on the host. */
  hostNamespaces: HostNamespaces;
  /** Stop before the exec and wait for the host's "go" (some lesson has a hostBeforeExec step). */
  waitBeforeExec?: boolean;
  /**
   * Stop once the root is mounted, before the init steps (pivot_root), and
   * wait for the host's "go": an OCI config's createRuntime hooks run then,
   * in the runtime's namespaces (StartOptions.beforePivot).
   */
  waitBeforePivot?: boolean;
  /**
   * cellblock-oci create: the runtime will not stay. Say "created" before the
   * exec and wait in the lessons' awaitStart steps; with config.tty, always ask
   * for a console from the container's devpts (its master goes to the
   * --console-socket).
   */
  detach?: boolean;
}

/** The init's "every step done, waiting for start" (detach only). */
export interface InitCreated {
  created: true;
}

/** The init's "the root is mounted, pivot_root is next" (waitBeforePivot only). */
export interface InitRootfs {
  rootfs: true;
}

/** The init's "my steps are done, the exec is next". */
export interface InitReady {
  ready: true;
  /**
   * With -t: the container has a /dev of its own, where the host's pty slave
   * does not exist — the host must open a pty in the container's devpts.
   */
  console?: boolean;
}

/** Every message the init sends the host, one JSON line each. */
export type InitToHost = InitReport | InitReady | InitCreated | InitRootfs;

export type ErrorData = SyscallErrorData | { kind: 'plain'; message: string };

export interface InitReport {
  /** The lesson whose step failed, or 'exec'. */
  step?: string;
  error: ErrorData;
  /** 125: the runtime failed; 126: the command cannot run; 127: the command was not found. */
  exitCode: number;
}

/** A container-side step failed: `step` says which, `cause` says what the kernel answered. */
export class InitError extends Error {
  override readonly name = 'InitError';
  constructor(
    readonly step: string | undefined,
    override readonly cause: Error,
    readonly exitCode: number,
  ) {
    super(step ? `${step}: ${cause.message}` : cause.message);
  }

  static fromReport(report: InitReport): InitError {
    const cause =
      report.error.kind === 'syscall' ? SyscallError.fromJSON(report.error) : new Error(report.error.message);
    return new InitError(report.step, cause, report.exitCode);
  }
}

export function errorData(err: unknown): ErrorData {
  if (err instanceof SyscallError) return err.toJSON();
  return { kind: 'plain', message: err instanceof Error ? err.message : String(err) };
}
