/**
 * `cellblock cleanup`: find everything the workshop ever left in the kernel or
 * on disk, and remove it — nothing else.
 *
 * What counts as ours is each kernel area's inventory (core/inventories.ts):
 * processes, mounts, network namespaces, address leases, NAT rules and their
 * chain, veths and the bridge, cgroups, container directories, state files —
 * found by the names in core/names.ts and by the state files, never by guessing.
 *
 * A container whose runtime is still alive (its state file says so, or its
 * address lease) is *live*: its things, and the ones every container shares,
 * are kept and reported as kept — cleanup is safe to run while another
 * terminal has `cellblock run` open.
 *
 * Finding (plan) and removing (execute) are separate, and every operation
 * that changes the machine goes through `CleanupOps`, so the whole path is
 * unit-tested against temp directories with a recording implementation (as
 * youki tests its cgroups). A dry run is the same plan, with nothing removed.
 */
import {
  defaultScope,
  inventoryItems,
  liveness,
  removeItem,
  settle,
  stages,
  systemOps,
  type InventoryOps,
  type InventoryScope,
} from '../core/inventories.js';
import { AlreadyGone, keptBecause, type InventoryItem, type Liveness } from '../core/inventory.js';

export { defaultScope, systemOps };
export type CleanupScope = InventoryScope;
export type CleanupOps = InventoryOps;

export type Action = 'removed' | 'gone' | 'kept' | 'failed' | 'would remove';

/** An item of an area's inventory, and whether it must stay (`why` then says why). */
export type CleanupItem = InventoryItem & { keep?: boolean };

/** What became of an item, as `cleanup --json` prints it. */
export interface CleanupResult {
  kind: string;
  name: string;
  why: string;
  keep?: boolean;
  action: Action;
  error?: string;
}

export interface Plan {
  /** In removal order. */
  items: CleanupItem[];
  liveness: Liveness;
}

/** What cleanup would remove (and keep), without touching anything. */
export function plan(scope: CleanupScope = defaultScope()): Plan {
  const alive = liveness(scope);
  const items = inventoryItems(scope, alive).map((item): CleanupItem => {
    const kept = keptBecause(item, alive.live);
    return kept === undefined ? item : { ...item, why: kept, keep: true };
  });
  return { items, liveness: alive };
}

/** Remove everything the plan found, stage by stage (kept items are reported, not touched). */
export async function execute(p: Plan, ops: CleanupOps, opts: { dryRun?: boolean } = {}): Promise<CleanupResult[]> {
  const results: CleanupResult[] = [];
  const report = (item: CleanupItem, action: Action, error?: string): void =>
    void results.push({
      kind: item.kind,
      name: item.name,
      why: item.why,
      ...(item.keep ? { keep: true } : {}),
      action,
      ...(error !== undefined ? { error } : {}),
    });
  for (const stage of stages(p.items)) {
    const removed: CleanupItem[] = [];
    for (const item of stage) {
      if (item.keep) report(item, 'kept');
      else if (opts.dryRun) report(item, 'would remove');
      else {
        try {
          await removeItem(item, ops, p.liveness);
          report(item, 'removed');
          removed.push(item);
        } catch (err) {
          if (err instanceof AlreadyGone) report(item, 'gone');
          else report(item, 'failed', err instanceof Error ? err.message : String(err));
        }
      }
    }
    await settle(removed, ops);
  }
  return results;
}

/** How an item is known across two looks at the machine: "area kind name". */
export function itemKey(item: InventoryItem): string {
  return `${item.area} ${item.kind} ${item.name}`;
}

/**
 * plan + execute on the real machine. `only`: touch only the items it
 * accepts (grading: what appeared while it ran, never a `run --keep`
 * container or another terminal's leftovers from before).
 */
export async function cleanup(
  opts: { dryRun?: boolean; scope?: CleanupScope; only?: (item: InventoryItem) => boolean } = {},
): Promise<CleanupResult[]> {
  const p = plan(opts.scope ?? defaultScope());
  if (opts.only) p.items = p.items.filter(opts.only);
  if (p.items.length === 0) return [];
  return execute(p, await systemOps(), opts);
}
