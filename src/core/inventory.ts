/**
 * What the workshop makes in the kernel and on disk, area by area. Each kernel
 * area owns one inventory of what it creates: how to find those things — by
 * the names in names.ts and the state files, never by guessing — and how to
 * remove one. `cellblock cleanup`, the test harness's before/after probe and
 * `cellblock doctor` all read the machine through these inventories
 * (inventories.ts lists them), so they cannot disagree about what is ours.
 *
 * An inventory is a list of kinds; a kind lists its items and removes one.
 * Where a new kind goes — IPC objects, user-namespace helpers, pause
 * containers, shims — is its own area's `kinds` (a new area: a file like
 * core/net/inventory.ts, and one line in inventories.ts), with the STAGE at
 * which it is removed. Nothing here changes for it.
 */

/** One thing the workshop made: typed data, so nobody parses it back out of `name`. */
export interface InventoryItem {
  /** The kernel area that made it: 'cgroups', 'net', 'images', 'host', … */
  area: string;
  /** What it is, within its area: 'cgroup', 'veth', 'mount', … (cleanup prints it). */
  kind: string;
  /** For people: a path, an interface name, "pid command". Never parsed back. */
  name: string;
  /** Why it counts as the workshop's. */
  why: string;
  /** The container it belongs to, when one can be named. */
  containerId?: string;
  /**
   * Serves every container (the bridge, the NAT chain, the cgroup parent): it
   * belongs to none of them, and stays while any runs.
   */
  shared?: boolean;
  /**
   * Shared, and stays between containers by design (the bridge and the NAT
   * chain, as docker0 and the CNI bridge plugin stay): never one run's leak —
   * the harness's probe passes over it — and `cellblock cleanup` removes it
   * once nothing runs. `doctor` lists it.
   */
  stays?: boolean;
  /**
   * The user asked for it to stay (`run --keep`): `cellblock cleanup` still
   * removes it, but the runtime's backstop after a failed undo step and
   * grading never do. Says why.
   */
  userKept?: string;
  /** Within its stage, deeper items go first: a mount below another one, a cgroup below its parent. */
  depth?: number;
}

/**
 * When a kind is removed, relative to the others — what holds other things
 * busy goes first: processes hold mounts, namespaces and cgroups; a mount
 * holds its directory; the NAT chain holds the DNAT rules; the bridge has the
 * veths plugged in; state files go last, so an interrupted cleanup can still
 * find what they describe. There are gaps: a new kind takes a number between two.
 */
export const STAGE = {
  processes: 10,
  mounts: 20,
  netns: 30,
  leases: 40,
  nat: 50,
  links: 60,
  cgroups: 70,
  dirs: 80,
  stateFiles: 90,
} as const;

/** A container some area knows of (a state file, an address lease), and whether it still runs. */
export interface KnownContainer {
  id: string;
  /** How we know it runs ("container cb-x is running (runtime pid 42)"); undefined when its runtime is gone. */
  running?: string;
}

/** What every kind needs to know about the containers while it lists or removes. */
export interface Liveness {
  /** Running containers, each with how we know: nothing of theirs is ever removed. */
  live: ReadonlyMap<string, string>;
  /** Every container id known, running or not: names made from an id (a veth's hash) are traced back to it. */
  ids: ReadonlySet<string>;
  /** Processes never to kill: PID 1, this process and its ancestors. */
  spared: ReadonlySet<number>;
}

/** One kind of thing an area makes. `S` is where it looks, `O` the operations that change the machine. */
export interface Kind<I extends InventoryItem, S, O> {
  kind: I['kind'];
  stage: number;
  /** Everything of this kind that is there — live containers' too (they are kept, not left out). */
  list(scope: S, liveness: Liveness): I[];
  /** Remove one; throw AlreadyGone when it went meanwhile. */
  remove(item: I, ops: O, liveness: Liveness): void | Promise<void>;
  /** After the stage, given what was removed: e.g. wait until killed processes are really gone. */
  settle?(removed: I[], ops: O): void | Promise<void>;
  /**
   * false: left out of the harness's before/after probe, with the reason at
   * the kind (processes: the harness looks for the container's own, in its
   * namespaces, and a whole /proc walk twice a trial would buy nothing more).
   */
  probed?: boolean;
}

export interface Inventory<S, O> {
  area: string;
  /** Kinds of different item types side by side: each is only ever given its own items. */
  kinds: Kind<InventoryItem, S, O>[];
  /** The containers this area keeps records of, and which of them run. */
  containers?(scope: S): KnownContainer[];
}

/** Thrown by an operation when the thing was already gone: reported as "gone", not as a failure. */
export class AlreadyGone extends Error {
  override readonly name = 'AlreadyGone';
}

/** Why an item must stay, or undefined: it is a running container's, or shared while any runs. */
export function keptBecause(item: InventoryItem, live: ReadonlyMap<string, string>): string | undefined {
  if (item.containerId !== undefined) return live.get(item.containerId);
  if (item.shared && live.size > 0) return `${live.size} container(s) running`;
  return undefined;
}
