/**
 * A container id reserved before anything of the container exists: RUN_DIR/<id>.lock,
 * flock(2)ed by the runtime for as long as it runs.
 *
 * Why: the state file is written only once the init is spawned, so two
 * `cellblock run --id X` (or two `pod create NAME`) started at once both pass
 * the "already running" validation; the second then fails on its veth or
 * cgroup, and its cleanup — which removes what is attributed to *its* id, the
 * same id — takes the first one's lease, veth, ports and state with it.
 * An exclusive lock taken first decides who owns the id; the loser creates
 * nothing. flock rather than an O_EXCL file: the kernel drops a lock when its
 * holder dies (SIGKILL too), so a crashed runtime never leaves the id taken —
 * its file stays, unlocked, and the next run of that id (or `cellblock cleanup`,
 * through the host inventory's `state` kind) takes it over.
 */
import { closeSync, fstatSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config.js';
import { RUN_DIR } from '../names.js';

export interface IdReservation {
  /** Remove the lock file, then drop the lock (in that order: see reserveId). Idempotent. */
  release(): void;
}

export const lockFile = (id: string, runDir = RUN_DIR): string => join(runDir, `${id}.lock`);

/** The error for an id another runtime holds: 125, as any bad input. */
export class IdTaken extends ConfigError {
  constructor(readonly id: string) {
    super([
      `container id ${id} is taken: another cellblock runtime is creating or running it — choose another --id (or wait for it to end)`,
    ]);
  }
}

/**
 * Take `id`'s lock without waiting; throws IdTaken when another process holds it.
 * The file may be unlinked by its last holder between our open() and flock():
 * we would then hold a lock on a file nobody else can find, so the lock counts
 * only if the path still names the inode we locked — else try again.
 */
export async function reserveId(id: string, runDir = RUN_DIR): Promise<IdReservation> {
  const { flock } = await import('../../native/fd.js');
  const { LOCK_EX, LOCK_NB } = await import('../../native/constants.js');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const path = lockFile(id, runDir);
  for (;;) {
    const fd = openSync(path, 'a', 0o600);
    try {
      flock(fd, LOCK_EX | LOCK_NB);
    } catch (err) {
      closeSync(fd);
      const code = (err as { code?: string }).code;
      if (code === 'EWOULDBLOCK' || code === 'EAGAIN') throw new IdTaken(id);
      throw err;
    }
    let same = false;
    try {
      same = statSync(path).ino === fstatSync(fd).ino;
    } catch {
      // unlinked meanwhile
    }
    if (!same) {
      closeSync(fd);
      continue;
    }
    let held = true;
    return {
      release() {
        if (!held) return;
        held = false;
        // Unlink while still holding it: whoever opens the path afterwards gets a new file.
        rmSync(path, { force: true });
        closeSync(fd);
      },
    };
  }
}

/**
 * Remove a lock file left by a runtime that died (for the host inventory):
 * only while nobody holds it — a running runtime's reservation stays.
 */
export async function removeStaleLock(path: string): Promise<void> {
  const { flock } = await import('../../native/fd.js');
  const { LOCK_EX, LOCK_NB } = await import('../../native/constants.js');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return;
  }
  try {
    flock(fd, LOCK_EX | LOCK_NB);
    rmSync(path, { force: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') throw new Error(`${path} is held by a running runtime`);
    throw err;
  } finally {
    closeSync(fd);
  }
}
