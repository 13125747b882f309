/**
 * How cellblock names what it creates in the kernel and on disk. One place, so
 * `cellblock cleanup` can find exactly what the workshop made and nothing else.
 */

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
export const RUN_DIR = process.env['CELLBLOCK_RUN_DIR'] ?? '/run/cellblock';
