/**
 * How cellblock names what it creates in the kernel and on disk. One place, so
 * `cellblock cleanup` can find exactly what the workshop made and nothing else.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATE_DIR } from './paths.js';

/** Generated container ids start with this (users may pass their own with --id). */
export const ID_PREFIX = 'cb-';

/** Every container's cgroup lives under this parent (v2: /sys/fs/cgroup/cellblock/<id>; v1: per controller). */
export const CGROUP_PARENT = 'cellblock';

/** The bridge the network lesson creates on demand. */
export const BRIDGE = 'cellblock0';

/** Host ends of veth pairs: 'cbv' + a short hash of the id (interface names have at most 15 bytes). */
export const VETH_PREFIX = 'cbv';

/** Network namespaces named under /run/netns (if a lesson names one). */
export const NETNS_PREFIX = 'cellblock-';

/** Runtime state of running containers, one JSON file per id (tmpfs: gone after a reboot, like runc's /run/runc). */
/**
 * Rootless runs (an ordinary user) cannot write root's directories: their
 * state and containers live in a directory of the user's own, in
 * $XDG_RUNTIME_DIR (a tmpfs systemd gives each logged-in user) or else the
 * temporary directory, named cellblock-<uid> (TMP_PREFIX: the leak probes know it).
 */
const uid = process.getuid?.() ?? 0;
export const ROOTLESS_DIR =
  uid === 0 ? undefined : join(process.env['XDG_RUNTIME_DIR'] ?? tmpdir(), `cellblock-${uid}`);

export const RUN_DIR =
  process.env['CELLBLOCK_RUN_DIR'] ?? (ROOTLESS_DIR !== undefined ? join(ROOTLESS_DIR, 'run') : '/run/cellblock');

/**
 * Per-container directories on disk (the overlay lesson's upper/work/merged live
 * in <CONTAINERS_DIR>/<id>/). On the VM's synced folder overlayfs cannot use the
 * checkout, so the provisioning points CELLBLOCK_CONTAINERS_DIR at the VM's disk.
 */
export const CONTAINERS_DIR =
  process.env['CELLBLOCK_CONTAINERS_DIR'] ??
  (ROOTLESS_DIR !== undefined ? join(ROOTLESS_DIR, 'containers') : join(STATE_DIR, 'containers'));

/**
 * One container's directories (lesson 06): `upper` (its writes: kept with
 * --keep), `work` (overlayfs' scratch space), `merged` (where the overlay is
 * mounted, inside the container's mount namespace only) and `overlay.json`
 * (its lower layers, for `cellblock diff`).
 */
export function containerDir(id: string): string {
  return join(CONTAINERS_DIR, id);
}

/** Containers `cellblock build` runs for its RUN steps: 'cb-build-' + a random suffix. */
export const BUILD_ID_PREFIX = `${ID_PREFIX}build-`;

/**
 * The local image store (core/images): layers/<sha256>/ (read-only layer
 * directories), images/<name>/<tag>.json, cache/<key>.json (the build cache),
 * tmp/ (staging; anything there is an interrupted import or build). Same
 * filesystem as CONTAINERS_DIR by default, so a built layer moves in by rename;
 * like it, it must not be on the VM's synced folder (overlayfs refuses it).
 */
export const IMAGES_DIR = process.env['CELLBLOCK_IMAGES_DIR'] ?? join(STATE_DIR, 'images');

/** Temporary directories the workshop (and its tests) make: os.tmpdir()/cellblock-XXXXXX. */
export const TMP_PREFIX = 'cellblock-';

/** The host end of a container's veth pair: 'cbv' + 8 hex digits of sha256(id) = 11 bytes (IFNAMSIZ is 16). */
export function hostVethName(id: string): string {
  return `${VETH_PREFIX}${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/**
 * The network lesson's state, next to the containers' state files:
 * `lock` (flock'ed around every change), `leases/<address>` (one JSON file per
 * container on the bridge: its address, name, published ports and runtime).
 * `cellblock cleanup` removes the leases whose runtime is gone.
 */
export const NET_DIR = join(RUN_DIR, 'net');

/**
 * The iptables chain (nat table) of the published ports' DNAT rules; PREROUTING
 * and OUTPUT jump to it. It exists while some container on the bridge runs.
 */
export const NAT_CHAIN = 'CELLBLOCK';

/** The comment on a container's DNAT rules, so they can be found by its id: 'cellblock:<id>'. */
export function natComment(id: string): string {
  return `cellblock:${id}`;
}

/**
 * IPC objects the workshop's checks make (the IPC lesson): System V keys in
 * 0x0cb10000–0x0cb1ffff, POSIX message queues named cellblock-*. One left in
 * the host's IPC namespace is a leak the IPC inventory finds.
 */
export const IPC_KEY_BASE = 0x0cb10000;
export const IPC_MQ_PREFIX = 'cellblock-';

export function isWorkshopIpcKey(key: number): boolean {
  return key >>> 16 === IPC_KEY_BASE >>> 16;
}

/**
 * Detached containers' records (core/shim): one directory per container id,
 * holding its OCI bundle (config.json), the shim's state.json, its control
 * socket and the json-file log. It stays after the container ends, as Docker
 * keeps a stopped container, until `cellblock rm`.
 */
export const SHIMS_DIR = join(RUN_DIR, 'shims');
