/**
 * Container-side steps that only an OCI config asks for (core/oci/spec.ts):
 * the lessons build the container `cellblock run` makes; an OCI bundle may
 * want a little more — bind mounts of files the caller prepared (containerd
 * and Podman bind /etc/hosts, /etc/resolv.conf, /etc/hostname), a tmpfs on
 * /run, sysctls, rlimits, a non-root user. The init runs these around the
 * lessons' steps, in runc's order:
 *
 *   beforeLessons   sysctls: the new namespaces exist, /proc is still the
 *                   host's, and /proc/sys/net, /proc/sys/kernel/shm* answer
 *                   for the namespace of whoever opens them
 *   afterRootfs     after every prepareRootfs (the overlay lesson's root is
 *                   mounted), before the init steps (the mount lesson’s pivot_root):
 *                   the mounts, under the rootfs. A bind must be made while
 *                   its source is still in our mount namespace: after the
 *                   pivot the host's tree is detached, and mount(2) refuses a
 *                   source outside the caller's namespace (EINVAL). Nothing
 *                   may propagate to the host: / is made private first.
 *   beforePivot     after the host ran hooks.createRuntime (the init waits
 *                   for it: InitMessage.waitBeforePivot), hooks.createContainer
 *                   (the spec: in the container's namespaces, before
 *                   pivot_root, a path of the runtime's).
 *   afterLessons    after the pivot: the config's device nodes (in the
 *                   container's /dev), a read-only root, masked and
 *                   read-only paths
 *   beforeDrops     before the lessons' beforeExec steps (the security lesson
 *                   drops capabilities and installs seccomp there), and so
 *                   before "created": rlimits (raising a hard limit needs
 *                   CAP_SYS_RESOURCE), then the user — runc's order. A failure
 *                   here is still reported to `create`.
 *   beforeExec      hooks.startContainer (after `start`, a path of the
 *                   container's, as the config's user: runc's order), the umask
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  CAPABILITIES,
  type CapabilityName,
} from '../../native/constants.js';
import { makedev, mknod } from '../../native/fs.js';
import {
  _LINUX_CAPABILITY_VERSION_3,
  capget,
  capset,
  PR_CAP_AMBIENT,
  PR_CAP_AMBIENT_RAISE,
} from '../../native/capability.js';
import { mount } from '../../native/mount.js';
import { prctl, prlimit } from '../../native/process.js';
import { becomeUser } from './user.js';
import type { OciConfig } from '../oci/spec.js';

/** The init's pid as the host sees it: read while /proc is still the host's (beforeLessons). */
let hostPid = 0;

/**
 * One in-container hook (config.md#posix-platform-hooks): the state on its
 * stdin, its output the container's. A hook that fails or times out fails the
 * container's create or start (the init reports it and ends).
 */
function runHooks(config: OciConfig, kind: 'createContainer' | 'startContainer', status: string): void {
  const h = config.ociInitHooks;
  if (!h) return;
  for (const hook of h[kind]) {
    const [argv0, ...rest] = hook.args ?? [hook.path];
    const r = spawnSync(hook.path, rest, {
      argv0: argv0 ?? hook.path,
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      input: JSON.stringify({ ...h.state, status, pid: hostPid }),
      stdio: ['pipe', 'inherit', 'inherit'],
      ...(hook.timeout !== undefined ? { timeout: hook.timeout * 1000 } : {}),
    });
    if (r.error) throw new Error(`${kind} hook ${hook.path}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${kind} hook ${hook.path} failed: exit status ${r.status ?? r.signal}`);
  }
}

export function beforeLessons(config: OciConfig): void {
  // In the new pid namespace we are 1; the host's /proc (still mounted) names our pid on the host.
  if (config.ociInitHooks) hostPid = Number(readlinkSync('/proc/self'));
  for (const [key, value] of Object.entries(config.ociSysctl ?? {})) {
    writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value);
  }
}

/**
 * `path` (absolute, as seen inside the container) under `root`, every symlink
 * on the way resolved as the container would — relative to `root`, never above
 * it. A plain join would follow rootfs/etc/hosts -> /etc/hosts onto the host's
 * file (runc's securejoin exists for this).
 */
export function secureJoin(root: string, path: string): string {
  let parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  for (let links = 0; parts.length > 0;) {
    const part = parts.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    let target: string | undefined;
    try {
      if (lstatSync(here).isSymbolicLink()) target = readlinkSync(here);
    } catch {
      // not there (yet): created as a plain name
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++links > 40) throw new Error(`too many symlinks under ${root} resolving ${path}`);
    if (target.startsWith('/')) done.length = 0;
    parts = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...parts];
  }
  return join(root, ...done);
}

export function afterRootfs(config: OciConfig): void {
  mountsUnderRoot(config);
}

/** After the host's createRuntime hooks (the runtime's namespaces), still before pivot_root. */
export function beforePivot(config: OciConfig): void {
  // createContainer: in the container's namespaces, its mounts made, before pivot_root (the mount
  // lesson's init step): the path is the runtime's (the host's tree is still reachable).
  runHooks(config, 'createContainer', 'creating');
}

function mountsUnderRoot(config: OciConfig): void {
  const mounts = config.ociMounts ?? [];
  if (mounts.length === 0) return;
  mount(null, '/', null, MS_REC | MS_PRIVATE, null);
  // The caller's files (containerd's, Podman's /etc/hosts) win over any a
  // lesson would write: config.callerMounts names them, and lessons check it.
  for (const m of mounts) {
    const target = secureJoin(config.rootfs, m.destination);
    if (m.type === 'bind') {
      if (statSync(m.source).isDirectory()) mkdirSync(target, { recursive: true });
      else if (!existsSync(target)) {
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, '');
      }
      mount(m.source, target, null, MS_BIND | (m.recursive ? MS_REC : 0), null);
      // Flags on a bind take a second call (man 2 mount: MS_REMOUNT|MS_BIND).
      if (m.flags !== 0) mount(null, target, null, MS_REMOUNT | MS_BIND | m.flags, null);
    } else {
      mkdirSync(target, { recursive: true });
      mount('tmpfs', target, 'tmpfs', m.flags, m.data || null);
    }
  }
}

/**
 * After the lessons' init steps (the root is the container's, its /proc and
 * /sys mounted): the config's masked and read-only paths, runc's way — a file
 * masked by a bind of /dev/null, a directory by an empty read-only tmpfs; a
 * read-only path bound onto itself and remounted read-only. A path this kernel
 * does not have is skipped, as runc does.
 */
export function afterLessons(config: OciConfig): void {
  devices(config);
  // root.readonly: the root mount itself, read-only — the mounts on it (/proc,
  // /dev, /dev/shm, a tmpfs the caller asked for) keep their own flags. Last of
  // the writes to / (the device nodes are on /dev's tmpfs), as runc's
  // finalizeRootfs; a bind remount changes this mount only (man 2 mount).
  if (config.ociReadonlyRoot) mount(null, '/', null, MS_REMOUNT | MS_BIND | MS_RDONLY, null);
  for (const path of config.ociMaskedPaths ?? []) {
    if (!existsSync(path)) continue;
    if (statSync(path).isDirectory()) mount('tmpfs', path, 'tmpfs', MS_RDONLY, 'size=0');
    else mount('/dev/null', path, null, MS_BIND, null);
  }
  for (const path of config.ociReadonlyPaths ?? []) {
    if (!existsSync(path)) continue;
    mount(path, path, null, MS_BIND | MS_REC, null);
    mount(path, path, null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
  }
}

/**
 * linux.devices: each node made in the container's /dev (the mount lesson's
 * tmpfs) — after the pivot, so a path cannot leave the container's root;
 * before the security lesson drops CAP_MKNOD. A node the mount lesson already
 * made at that path is replaced, as runc does. The kernel masks mknod's mode
 * with the umask: chmod sets it exactly. Whether the container may *use* the
 * node is the device cgroup's say (linux.resources.devices), not ours.
 */
function devices(config: OciConfig): void {
  const types = { c: S_IFCHR, u: S_IFCHR, b: S_IFBLK, p: S_IFIFO } as const;
  for (const d of config.ociDevices ?? []) {
    mkdirSync(dirname(d.path), { recursive: true, mode: 0o755 });
    rmSync(d.path, { force: true });
    mknod(d.path, types[d.type] | d.fileMode, d.type === 'p' ? 0n : makedev(d.major, d.minor));
    chmodSync(d.path, d.fileMode);
    lchownSync(d.path, d.uid, d.gid);
  }
}

export function beforeDrops(config: OciConfig): void {
  for (const r of config.ociRlimits ?? []) prlimit(r.resource, BigInt(r.soft), BigInt(r.hard));
  // The user before the lessons' capability drop: core/init/user.ts says why.
  if (config.ociUser) becomeUser(config.ociUser);
}

export function beforeExec(config: OciConfig): void {
  // startContainer: after `start` released us, before the command, the path the container's.
  runHooks(config, 'startContainer', 'created');
  if (config.ociUmask !== undefined) process.umask(config.ociUmask);
  raiseAmbient(config.ociAmbient ?? []);
}

/**
 * process.capabilities.ambient for a non-root command: after the security
 * lesson's drops (the set is within what it left permitted), the last step
 * before the exec. The kernel raises an ambient capability only if it is
 * permitted *and* inheritable, so inheritable first (capset; this thread's —
 * the one that calls execve). man 7 capabilities, "Ambient capability set".
 */
function raiseAmbient(names: string[]): void {
  if (names.length === 0) return;
  const bits = names.map((n) => CAPABILITIES[n as CapabilityName]);
  const hdr = { version: _LINUX_CAPABILITY_VERSION_3, pid: 0 };
  const data = capget(hdr);
  for (const bit of bits) data[bit >> 5]!.inheritable |= 1 << (bit & 31);
  capset(hdr, data);
  for (const bit of bits) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, bit);
}
