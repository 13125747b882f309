/**
 * The one list of the areas' inventories (inventory.ts says what an inventory
 * is), and what every reader of them shares — `cellblock cleanup`, the
 * harness's before/after probe, `cellblock doctor`: where to look, which
 * containers run, every item in removal order, and how each is removed.
 */
import { tmpdir } from 'node:os';
import { realCgroupFs } from './cgroups/fs.js';
import { cgroupInventory, type CgroupOps, type CgroupScope } from './cgroups/inventory.js';
import { hostInventory, INIT_SCRIPT, systemHostOps, type HostOps, type HostScope } from './host/inventory.js';
import { sparedPids } from './host/proc.js';
import { ipcInventory, ipcOps, type IpcOps, type IpcScope } from './ipc/inventory.js';
import { imageInventory, type ImageOps, type ImageScope } from './images/inventory.js';
import { AlreadyGone, type Inventory, type InventoryItem, type Kind, type Liveness } from './inventory.js';
import { CONTAINERS_DIR, RUN_DIR, SHIMS_DIR } from './names.js';
import { shimInventory, shimOps, type ShimOps, type ShimScope } from './shim/inventory.js';
import { releaseAddress, withNetworkLock } from './net/ipam.js';
import { netInventory, netOps, type NetOps, type NetScope } from './net/inventory.js';
import { defaultRootfs, STATE_DIR } from './paths.js';

/** Where every area looks. */
export type InventoryScope = HostScope & ImageScope & NetScope & CgroupScope & IpcScope & ShimScope;
/** Every operation that changes the machine: the seam tests replace with a recording one. */
export type InventoryOps = HostOps & ImageOps & NetOps & CgroupOps & IpcOps & ShimOps;

type AnyKind = Kind<InventoryItem, InventoryScope, InventoryOps>;

/**
 * Every area's inventory. A new area is one more line; a new kind of an
 * existing area goes into that area's `kinds`, not here.
 */
export const INVENTORIES: Inventory<InventoryScope, InventoryOps>[] = [
  hostInventory,
  imageInventory,
  netInventory,
  cgroupInventory,
  ipcInventory,
  shimInventory,
];

/** The real machine. Tests point the same fields at temp directories. */
export function defaultScope(): InventoryScope {
  return {
    proc: '/proc',
    mountinfo: '/proc/self/mountinfo',
    netnsDir: '/run/netns',
    runDir: RUN_DIR,
    containersDir: CONTAINERS_DIR,
    stateDir: STATE_DIR,
    tmpDir: tmpdir(),
    rootfs: defaultRootfs(),
    initScript: INIT_SCRIPT,
    shimsDir: SHIMS_DIR,
  };
}

/**
 * Which containers run (a state file whose runtime is alive, an address lease
 * whose runtime is), every container id known, and the pids never to kill.
 * `ids`: more ids the caller knows of (a trial's own container, gone by now).
 */
export function liveness(scope: InventoryScope, ids: Iterable<string> = []): Liveness {
  const live = new Map<string, string>();
  const known = new Set(ids);
  for (const inventory of INVENTORIES) {
    for (const c of inventory.containers?.(scope) ?? []) {
      known.add(c.id);
      if (c.running !== undefined && !live.has(c.id)) live.set(c.id, c.running);
    }
  }
  return { live, ids: known, spared: sparedPids(scope.proc) };
}

function kindOf(item: InventoryItem): AnyKind {
  const kind = INVENTORIES.find((i) => i.area === item.area)?.kinds.find((k) => k.kind === item.kind);
  if (!kind) throw new Error(`no inventory has ${item.area} ${item.kind}`);
  return kind;
}

/**
 * Everything the areas find — running containers' things too — in removal
 * order: by stage, and deeper first within a stage. `probe`: only the kinds
 * the harness's before/after probe compares.
 */
export function inventoryItems(
  scope: InventoryScope,
  alive: Liveness,
  opts: { probe?: boolean } = {},
): InventoryItem[] {
  const found = INVENTORIES.flatMap((inventory) =>
    inventory.kinds
      .filter((k) => !opts.probe || k.probed !== false)
      .flatMap((k) => k.list(scope, alive).map((item) => ({ item, stage: k.stage }))),
  );
  found.sort((a, b) => a.stage - b.stage || (b.item.depth ?? 0) - (a.item.depth ?? 0));
  return found.map((f) => f.item);
}

/** Items (in inventoryItems' order) cut into their stages: one stage is done before the next begins. */
export function stages<I extends InventoryItem>(items: I[]): I[][] {
  const out: I[][] = [];
  let last: number | undefined;
  for (const item of items) {
    const stage = kindOf(item).stage;
    if (stage !== last) out.push([]);
    out.at(-1)!.push(item);
    last = stage;
  }
  return out;
}

/** Remove one item the way its area does; AlreadyGone when it went meanwhile. */
export async function removeItem(item: InventoryItem, ops: InventoryOps, alive: Liveness): Promise<void> {
  await kindOf(item).remove(item, ops, alive);
}

/** After a stage: what its kinds do once their items are removed (killed processes are waited for). */
export async function settle(removed: InventoryItem[], ops: InventoryOps): Promise<void> {
  for (const kind of new Set(removed.map(kindOf))) {
    await kind.settle?.(
      removed.filter((i) => kindOf(i) === kind),
      ops,
    );
  }
}

/** The real operations. The syscall bindings load only when something is actually removed. */
export async function systemOps(): Promise<InventoryOps> {
  return { ...(await systemHostOps()), ...netOps, cgroupFs: realCgroupFs, ...ipcOps(defaultRootfs()), ...shimOps };
}

/**
 * Remove what the inventories attribute to one container — and what every
 * container shares (the bridge, the NAT chain, the cgroup parent) when no
 * other one runs — stage by stage, each item on its own. The runtime's
 * backstop after one of the container's undo steps threw. The container
 * itself counts as gone: its runtime (the caller) is alive, but it has ended.
 */
export async function removeContainerItems(
  id: string,
  scope: InventoryScope = defaultScope(),
): Promise<{ removed: string[]; failed: { item: string; error: unknown }[] }> {
  const seen = liveness(scope, [id]);
  const live = new Map(seen.live);
  live.delete(id);
  const alive: Liveness = { ...seen, live };
  const mine = inventoryItems(scope, alive).filter(
    (i) =>
      i.userKept === undefined &&
      // What stays by design (the bridge, the NAT chain) is nobody's leftover.
      i.stays !== true &&
      (i.containerId !== undefined ? i.containerId === id : i.shared === true && live.size === 0),
  );
  const removed: string[] = [];
  const failed: { item: string; error: unknown }[] = [];
  if (mine.length === 0) return { removed, failed };
  const system = await systemOps();
  // Its own runtime gives a lease back while it runs (nobody else may): the caller is that runtime.
  const ops: InventoryOps = {
    ...system,
    removeLease: (l) => (l.id === id ? withNetworkLock(() => releaseAddress(id)) : system.removeLease(l)),
  };
  for (const stage of stages(mine)) {
    const done: InventoryItem[] = [];
    for (const item of stage) {
      const line = `${item.kind} ${item.name}`;
      try {
        await removeItem(item, ops, alive);
        removed.push(line);
        done.push(item);
      } catch (error) {
        // A shared item another container still holds (one this process
        // cannot see as running) stays, as `cellblock cleanup` keeps it.
        if (error instanceof AlreadyGone || item.shared) continue;
        failed.push({ item: line, error });
      }
    }
    await settle(done, ops);
  }
  return { removed, failed };
}
