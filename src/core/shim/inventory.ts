/**
 * The shims' inventory (core/inventory.ts): detached containers' records and
 * the shims that keep them.
 *
 *   shim record  SHIMS_DIR/<id>/ (bundle, state, log, socket). Its container
 *                runs while its shim lives. A record whose shim is gone
 *                before the end is a dead container — its init may still run,
 *                re-parented to the host's PID 1 — and is reclaimed through
 *                the runtime (`delete --force` kills the init and gives back
 *                cgroup, veth, lease, overlay) before the directory goes. An
 *                ended container's record is the user's until `cellblock rm`
 *                (as Docker keeps stopped containers): cleanup still removes it.
 *   shim         a shim process of this checkout whose record is gone (rm of a
 *                directory by hand): nothing would ever end it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlreadyGone, STAGE, type Inventory, type InventoryItem, type Kind } from '../inventory.js';
import { processes, readProc } from '../host/proc.js';
import { listDir } from '../read.js';
import { effectiveStatus, readShimState, shimAlive, type ShimState } from './state.js';

export interface ShimScope {
  /** names.ts SHIMS_DIR. */
  shimsDir: string;
  proc: string;
}

export interface ShimOps {
  /** A dead container's runtime state and init, through its runtime (client.ts reclaim). */
  reclaimShim(state: ShimState): Promise<void>;
  /** SIGKILL, if `pid` still is the process that started at `startedMs`. */
  kill(pid: number, startedMs: number): void;
  rmrf(path: string): void;
}

export interface ShimRecordItem extends InventoryItem {
  kind: 'shim record';
  path: string;
  /** Its record, when readable: what the reclaim needs (runtime, root, init pid). */
  state?: ShimState;
}

export interface ShimProcessItem extends InventoryItem {
  kind: 'shim';
  pid: number;
  startedMs: number;
}

/** This checkout's shim script, as its processes show it in their command line. */
export const SHIM_SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

function records(scope: ShimScope): { id: string; path: string; state: ShimState | undefined }[] {
  return listDir(scope.shimsDir).map((id) => ({
    id,
    path: join(scope.shimsDir, id),
    state: readShimState(id, scope.shimsDir),
  }));
}

const recordKind: Kind<ShimRecordItem, ShimScope, ShimOps> = {
  kind: 'shim record',
  // Before the processes: the runtime's delete kills the init itself, and
  // gives back what the kinds after it would otherwise find.
  stage: STAGE.processes - 5,
  list: (scope) =>
    records(scope).map(({ id, path, state }) => {
      const status = state ? effectiveStatus(state, scope.proc) : 'dead';
      return {
        area: 'shims',
        kind: 'shim record',
        name: `${path} (${status})`,
        why: `a detached container's record in ${scope.shimsDir}`,
        containerId: id,
        path,
        ...(state ? { state } : {}),
        ...(status === 'exited' ? { userKept: `an ended container's record and log: \`cellblock rm ${id}\`` } : {}),
      };
    }),
  async remove(item, ops) {
    if (!existsSync(item.path)) throw new AlreadyGone('no such directory');
    if (item.state && item.state.status !== 'exited') await ops.reclaimShim(item.state);
    ops.rmrf(item.path);
  },
};

const processKind: Kind<ShimProcessItem, ShimScope, ShimOps> = {
  kind: 'shim',
  stage: STAGE.processes,
  list(scope) {
    const out: ShimProcessItem[] = [];
    for (const p of processes(scope.proc).values()) {
      const at = p.cmdline.indexOf(SHIM_SCRIPT);
      if (at < 0) continue;
      const id = p.cmdline[at + 1] ?? '';
      if (existsSync(join(scope.shimsDir, id))) continue;
      out.push({
        area: 'shims',
        kind: 'shim',
        name: `${p.pid} shim of ${id}`,
        why: 'a shim of this checkout whose record is gone',
        containerId: id,
        pid: p.pid,
        startedMs: p.startedMs,
      });
    }
    return out;
  },
  remove: (item, ops) => ops.kill(item.pid, item.startedMs),
  async settle(removed) {
    const until = Date.now() + 2000;
    while (removed.some((i) => readProc(i.pid)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  },
};

export const shimInventory: Inventory<ShimScope, ShimOps> = {
  area: 'shims',
  kinds: [recordKind, processKind] as Kind<InventoryItem, ShimScope, ShimOps>[],
  containers: (scope) =>
    records(scope).map(({ id, state }) => ({
      id,
      ...(state && state.status !== 'exited' && shimAlive(state, scope.proc)
        ? { running: `container ${id} is kept by its shim (pid ${state.shimPid})` }
        : {}),
    })),
};

/** The real operations (the reclaim loads the client only when something is removed). */
export const shimOps: Pick<ShimOps, 'reclaimShim'> = {
  async reclaimShim(state) {
    const { reclaim } = await import('./client.js');
    await reclaim(state);
  },
};
