/**
 * Address allocation (IPAM) for the bridge, the way CNI's host-local plugin
 * does it: one small file per address in use, and a lock around every change.
 *
 *   /run/cellblock/net/lock                  flock(2)ed while leases change
 *   /run/cellblock/net/leases/10.217.0.2     {"id":…, "name":…, "pid":…, "runtime":…, "ports":[…]}
 *
 * Why each piece:
 *  - A file per address: "is 10.217.0.2 free?" is "does the file exist?", and
 *    `ls` shows the whole allocation. /run is a tmpfs: a reboot frees everything.
 *  - The lock: picking the lowest free address is read-then-write; two
 *    `cellblock run` doing it at once would pick the same one. flock(2) is
 *    released by the kernel when its holder dies, so a killed runtime can never
 *    leave the allocator locked.
 *  - The runtime in the lease (pid and start time): a lease whose runtime is
 *    gone (SIGKILLed before its cleanup ran) is stale; the next allocation
 *    reclaims it, with its DNAT rules. A recycled pid has another start time.
 *  - Writers replace a lease by rename(2), so readers without the lock (the
 *    validations, `cellblock cleanup`) never see half a file.
 *
 * Everything here is synchronous: a critical section that awaited could let
 * another allocation of this same process in (flock does not exclude a
 * process from itself when it holds the lock through another open file).
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_EX } from '../../native/constants.js';
import { flock } from '../../native/fd.js';
import { processStart, runtimeOwner } from '../host/proc.js';
import { BRIDGE, hostVethName, NET_DIR } from '../names.js';
import { listDir, readJson } from '../read.js';
import { formatIp, parseIp, usableIn, type Subnet } from './addr.js';
import { removeNatChain, removeNatRulesOf, type PortMapping } from './publish.js';
import { ip, unlessGone } from './tools.js';

export const LEASES_DIR = join(NET_DIR, 'leases');
const LOCK_FILE = join(NET_DIR, 'lock');

export interface Lease {
  address: string;
  /** The bridge's subnet it was taken from, '10.217.0.0/24'. */
  subnet: string;
  id: string;
  /** --name: other containers on the bridge resolve it (hosts.ts). */
  name?: string;
  hostname: string;
  /** Host pid of the container's first process. */
  pid: number;
  /** The `cellblock run` (or test) process that holds the lease: pid, and start time in clock ticks after boot. */
  runtime: { pid: number; start: number };
  ports: PortMapping[];
}

export function isStale(lease: Lease): boolean {
  return processStart(lease.runtime.pid) !== lease.runtime.start;
}

/** Every lease on disk (stale ones too). Safe without the lock. */
export function readLeases(): Lease[] {
  return listDir(LEASES_DIR)
    .filter((f) => parseIp(f) !== undefined)
    .flatMap((f) => readJson<Lease>(join(LEASES_DIR, f)) ?? []); // removed meanwhile: none
}

/** The leases of containers whose runtime still runs. Safe without the lock (for validations and probes). */
export function liveLeases(): Lease[] {
  return readLeases().filter((l) => !isStale(l));
}

export function leaseOf(id: string): Lease | undefined {
  return readLeases().find((l) => l.id === id);
}

let locked = false;

/**
 * Run `fn` holding the network lock (and create /run/cellblock/net on first
 * use). `fn` must be synchronous: the lock is released when it returns.
 * Nested calls run inside the outer one.
 */
export function withNetworkLock<T>(fn: () => T): T {
  if (locked) return fn();
  mkdirSync(LEASES_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(LOCK_FILE, 'a', 0o600);
  try {
    flock(fd, LOCK_EX);
    locked = true;
    const result = fn();
    if (result instanceof Promise)
      throw new Error('withNetworkLock: fn must be synchronous (the lock would be released before it ends)');
    return result;
  } finally {
    locked = false;
    closeSync(fd); // the last fd of this open file: the kernel releases the lock
  }
}

function assertLocked(what: string): void {
  if (!locked) throw new Error(`${what} must run inside withNetworkLock(() => …)`);
}

/**
 * Remove the leases whose runtime is gone, with what they left: DNAT rules
 * (found by their comment) and a host veth end, if the kernel has not removed
 * it yet. Returns them. Under the lock.
 */
export function reclaimStale(): Lease[] {
  assertLocked('reclaimStale');
  const stale = readLeases().filter(isStale);
  for (const l of stale) {
    removeNatRulesOf(l.id);
    unlessGone(() => ip(['link', 'delete', hostVethName(l.id)]));
    dropStaleLease(l);
  }
  return stale;
}

/**
 * Remove `lease`'s file if it still is that container's and still stale — a
 * lease is given back by its own runtime, or taken back once that runtime is
 * gone, never while it runs. false: it was gone already. Under the lock.
 */
export function dropStaleLease(lease: Lease): boolean {
  assertLocked('dropStaleLease');
  const file = join(LEASES_DIR, lease.address);
  const now = readJson<Lease>(file);
  if (now?.id !== lease.id) return false;
  if (!isStale(now))
    throw new Error(`the lease of ${lease.address} is held by a running runtime (pid ${now.runtime.pid})`);
  rmSync(file, { force: true });
  return true;
}

/**
 * Run `fn` under the lock if no container on the bridge runs (none holds a
 * live lease): for what they all share, the bridge and the NAT chain. When
 * one does, throws, naming it.
 */
export function unlessInUse(what: string, fn: () => void): void {
  withNetworkLock(() => {
    const holder = liveLeases()[0];
    if (holder) throw new Error(`${what} is in use: container ${holder.id} runs on the bridge`);
    fn();
  });
}

/**
 * After a runtime was killed (SIGKILL: no cleanup ran): reclaim the stale
 * leases, and if no container is left on the bridge, remove the shared pieces
 * the last cleanup would have removed — the NAT chain and the bridge. Takes
 * the lock. For tests that kill a runtime (`cellblock cleanup` removes the
 * same things one by one, through the network inventory: inventory.ts).
 */
export function sweepNetwork(): Lease[] {
  return withNetworkLock(() => {
    const stale = reclaimStale();
    if (readLeases().length === 0) {
      removeNatChain();
      unlessGone(() => ip(['link', 'delete', BRIDGE]));
    }
    return stale;
  });
}

export interface LeaseRequest {
  id: string;
  subnet: Subnet;
  /** --ip: this address, or fail. Default: the lowest free one. */
  address?: string;
  name?: string;
  hostname: string;
  pid: number;
  ports: PortMapping[];
}

/**
 * Take an address for container `req.id`, under the lock. Fails, naming the
 * value, when the address, the name or a host port is already another running
 * container's — the validations said so before anything was created, unless
 * another `cellblock run` took it in the meantime.
 */
export function leaseAddress(req: LeaseRequest): Lease {
  assertLocked('leaseAddress');
  reclaimStale();
  const live = readLeases();
  const other = live.find((l) => l.subnet !== req.subnet.cidr);
  if (other) {
    throw new Error(
      `the bridge serves ${other.subnet} (container ${other.id} runs on it), not ${req.subnet.cidr}: use that subnet, or stop those containers first`,
    );
  }
  const taken = new Map(live.map((l) => [l.address, l]));
  if (req.name !== undefined) {
    const holder = live.find((l) => l.name === req.name);
    if (holder) throw new Error(`name ${req.name} is taken by running container ${holder.id}: choose another --name`);
  }
  for (const p of req.ports) {
    const holder = live.find((l) => l.ports.some((q) => q.host === p.host));
    if (holder) throw new Error(`host port ${p.host} is already published by container ${holder.id}: choose another`);
  }

  let address: string | undefined = req.address;
  if (address !== undefined) {
    const holder = taken.get(address);
    if (holder)
      throw new Error(`address ${address} is in use by container ${holder.id}: choose another --ip, or leave it out`);
  } else {
    // The lowest free address: the gateway is network+1, the broadcast the last.
    for (let n = req.subnet.network + 2; n < req.subnet.broadcast; n++) {
      if (!taken.has(formatIp(n))) {
        address = formatIp(n);
        break;
      }
    }
    if (address === undefined)
      throw new Error(`no free address left in ${req.subnet.cidr}: stop a container, or use a larger --subnet`);
  }
  if (!usableIn(parseIp(address)!, req.subnet))
    throw new Error(`address ${address} is not usable in ${req.subnet.cidr}`);

  const lease: Lease = {
    address,
    subnet: req.subnet.cidr,
    id: req.id,
    ...(req.name !== undefined ? { name: req.name } : {}),
    hostname: req.hostname,
    pid: req.pid,
    runtime: runtimeOwner(),
    ports: req.ports,
  };
  const file = join(LEASES_DIR, address);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(lease)}\n`);
  renameSync(`${file}.tmp`, file);
  return lease;
}

/** Give back container `id`'s address. Under the lock. */
export function releaseAddress(id: string): void {
  assertLocked('releaseAddress');
  for (const l of readLeases()) if (l.id === id) rmSync(join(LEASES_DIR, l.address), { force: true });
}
