/**
 * The host/runtime area's inventory (core/inventory.ts): what a `cellblock run`
 * itself leaves when it dies before its cleanup (SIGKILL, a crash).
 *
 *   process  a container's processes whose runtime is gone: the pid of a state
 *            file (and its start time, so a recycled pid is never hit); an init
 *            of this checkout that lost its runtime; the members of a cgroup or
 *            a named network namespace of no running container; their descendants
 *   mount    below RUN_DIR, .cellblock/, a <tmpdir>/cellblock-* directory, or
 *            the rootfs of a container that is gone
 *   loop     a loop device whose backing file is a <tmpdir>/cellblock-loop-*
 *            image: a check made it (the device breakout of a security check) and died
 *            before detaching it
 *   state    RUN_DIR/<id>.json; RUN_DIR/<id>.lock (reserve.ts) that no runtime holds
 *
 * The state files are also how this area knows which containers run: their
 * runtime process is alive (and is Node).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCgroups, type CgroupScope } from '../cgroups/inventory.js';
import {
  AlreadyGone,
  STAGE,
  type Inventory,
  type InventoryItem,
  type Kind,
  type KnownContainer,
} from '../inventory.js';
import { isBelow, mountKind, type MountOps } from '../mountinfo.js';
import { TMP_PREFIX } from '../names.js';
import { netnsByInode, type NetScope } from '../net/inventory.js';
import { processes, readProc, type ProcInfo } from './proc.js';
import { listStates, type ContainerState } from './state.js';
import { removeStaleLock } from './reserve.js';
import { listDir } from '../read.js';

export interface HostScope {
  proc: string;
  mountinfo: string;
  /** Container state files (names.ts RUN_DIR). */
  runDir: string;
  /** The checkout's .cellblock/ (paths.ts STATE_DIR). */
  stateDir: string;
  /** The image area's, inside .cellblock/ by default: its mounts are not claimed here. */
  containersDir: string;
  tmpDir: string;
  /**
   * The workshop's default rootfs (paths.ts defaultRootfs: inside .cellblock/,
   * or wherever CELLBLOCK_ROOTFS puts it — the VM keeps it off the synced
   * folder). A mount below it is a container's mount that reached the host.
   */
  rootfs: string;
  /** The container init script of this checkout (dist/src/core/init/main.js). */
  initScript: string;
  /** Container state files; default: read from runDir. */
  states?: () => ContainerState[];
}

/** This checkout's init script, as its processes show it in their command line. */
/** The user-namespace helper's file name (native/nsexec.c, built by setup). */
const NSEXEC_NAME = 'cellblock-nsexec';

export const INIT_SCRIPT = fileURLToPath(new URL('../init/main.js', import.meta.url));

export interface ProcessItem extends InventoryItem {
  kind: 'process';
  pid: number;
  /** When it started (ms since the epoch): the pid is only killed while it still names this process. */
  startedMs: number;
}

export interface StateItem extends InventoryItem {
  kind: 'state';
  path: string;
}

export interface IdmapDirItem extends InventoryItem {
  kind: 'idmap dir';
  path: string;
}

export interface HostOps extends MountOps {
  /** SIGKILL, if `pid` still is the process that started at `startedMs`. */
  kill(pid: number, startedMs: number): void;
  /** true while the process exists (and is not a zombie). */
  alive(pid: number): boolean;
  rmrf(path: string): void;
  /** losetup -d: detach a loop device (its backing file stays). */
  detachLoop(device: string): void;
  /** rmdir a directory and the empty directories in it — never a file, never through a mount (EBUSY). */
  rmdirTree(path: string): void;
}

export interface LoopItem extends InventoryItem {
  kind: 'loop';
  /** /dev/loopN */
  device: string;
  backingFile: string;
}

/** The image files a check backs a loop device with: <tmpdir>/cellblock-loop-*. */
export const LOOP_IMAGE_PREFIX = `${TMP_PREFIX}loop-`;

const statesOf = (scope: HostScope): ContainerState[] => (scope.states ?? (() => listStates(scope.runDir)))();

/** Runtimes (`cellblock run`, a test) are Node processes: a pid recycled since is something else, mostly. */
const isNode = (p: ProcInfo | undefined): boolean => p !== undefined && /node/.test(basename(p.cmdline[0] ?? ''));

function describe(p: ProcInfo): string {
  const cmd = p.cmdline.join(' ');
  return `${p.pid} ${cmd.length > 60 ? `${cmd.slice(0, 57)}…` : cmd}`;
}

const processesKind: Kind<ProcessItem, HostScope & CgroupScope & NetScope, HostOps> = {
  kind: 'process',
  stage: STAGE.processes,
  // The harness looks for a container's leftover processes itself, in the
  // container's own namespaces: a walk of all /proc twice a trial would add nothing.
  probed: false,
  list(scope, { live, spared }) {
    const procs = processes(scope.proc);
    const states = statesOf(scope);
    const livePids = new Set(states.filter((s) => live.has(s.id)).map((s) => s.pid));
    const strays = new Map<number, { why: string; containerId?: string }>();
    const add = (pid: number, why: string, containerId?: string): void => {
      if (spared.has(pid) || livePids.has(pid) || !procs.has(pid) || strays.has(pid)) return;
      strays.set(pid, { why, ...(containerId !== undefined ? { containerId } : {}) });
    };

    // 1. Containers whose runtime is gone. The start time must match the state
    //    file: a pid recycled by an unrelated process is left alone.
    for (const s of states.filter((x) => !live.has(x.id))) {
      const p = procs.get(s.pid);
      const started = Date.parse(s.startedAt);
      if (p && p.startedMs >= started - 10_000 && p.startedMs <= started + 2_000) {
        add(s.pid, `container ${s.id}, whose runtime (pid ${s.runtimePid}) is gone`, s.id);
      }
    }
    // 2. An init of this checkout with no runtime above it — directly, or
    //    through the user-namespace helper (core/host/userns.ts), which stays
    //    the init's parent; and such a helper, or a rootless container's
    //    slirp4netns, whose runtime is gone.
    const isHelper = (p: ProcInfo | undefined): boolean =>
      p !== undefined && basename(p.cmdline[0] ?? '') === NSEXEC_NAME;
    const runtimeOf = (p: ProcInfo): ProcInfo | undefined => {
      const parent = procs.get(p.ppid);
      return isHelper(parent) ? procs.get(parent!.ppid) : parent;
    };
    const orphaned = (p: ProcInfo): boolean => {
      const runtime = runtimeOf(p);
      return runtime?.pid === 1 || !isNode(runtime);
    };
    for (const p of procs.values()) {
      if (p.cmdline[1] === scope.initScript && orphaned(p)) add(p.pid, 'a container init whose runtime is gone');
      if (isHelper(p) && p.cmdline[3] === scope.initScript && orphaned(p)) {
        add(p.pid, 'a user-namespace helper whose runtime is gone');
      }
      // Ours: the exact arguments core/userns/network.ts gives, and reparented (its runtime died).
      if (
        basename(p.cmdline[0] ?? '') === 'slirp4netns' &&
        p.cmdline.slice(1, 4).join(' ') === '--configure --mtu=65520 --disable-host-loopback' &&
        p.ppid === 1
      ) {
        add(p.pid, "a rootless container's slirp4netns whose runtime is gone");
      }
    }
    // 3. Members of the workshop's cgroups that belong to no running container.
    for (const cg of listCgroups(scope)) {
      if (cg.containerId !== undefined && live.has(cg.containerId)) continue;
      for (const pid of cg.pids) add(pid, `in cgroup ${cg.path}`, cg.containerId);
    }
    // 4. Members of the workshop's named network namespaces, the same way.
    const netns = [...netnsByInode(scope)].filter(([, n]) => !live.has(n.containerId!));
    if (netns.length > 0) {
      const dead = new Map(netns);
      for (const p of procs.values()) {
        let link: string;
        try {
          link = readlinkSync(join(scope.proc, String(p.pid), 'ns', 'net'));
        } catch {
          continue; // exited meanwhile
        }
        const n = dead.get(link);
        if (n) add(p.pid, `in network namespace ${n.name}`, n.containerId);
      }
    }
    // 5. Their descendants are the container's too.
    const children = new Map<number, number[]>();
    for (const p of procs.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
    for (const [pid, { why, containerId }] of [...strays]) {
      const stack = [...(children.get(pid) ?? [])];
      while (stack.length > 0) {
        const c = stack.pop()!;
        add(c, `child of ${pid} (${why})`, containerId);
        stack.push(...(children.get(c) ?? []));
      }
    }
    return [...strays].map(([pid, s]) => {
      const p = procs.get(pid)!;
      return { area: 'host', kind: 'process', name: describe(p), pid, startedMs: p.startedMs, ...s };
    });
  },
  remove: (item, ops) => ops.kill(item.pid, item.startedMs),
  // Killed processes hold mounts and cgroups until they have exited.
  async settle(killed, ops) {
    for (let waited = 0; waited < 3000 && killed.some((p) => ops.alive(p.pid)); waited += 25) {
      await new Promise((r) => setTimeout(r, 25));
    }
  },
};

const mounts = mountKind<HostScope>('host', (scope, { live }) => {
  const states = statesOf(scope).filter((s) => s.rootfs && s.rootfs !== '/');
  const ourTmp = (p: string): boolean =>
    isBelow(p, scope.tmpDir) && p.slice(scope.tmpDir.length).replace(/^\/+/, '').startsWith(TMP_PREFIX);
  return (path) => {
    // CONTAINERS_DIR is the image area's, and never removed itself.
    if (path === scope.containersDir || isBelow(path, scope.containersDir)) return undefined;
    const dead = states.find((s) => !live.has(s.id) && isBelow(path, s.rootfs));
    const why = isBelow(path, scope.stateDir)
      ? 'below .cellblock/'
      : isBelow(path, scope.rootfs)
        ? `below the workshop's rootfs ${scope.rootfs}`
        : path === scope.runDir || isBelow(path, scope.runDir)
          ? 'below the runtime state directory'
          : ourTmp(path)
            ? `in a ${TMP_PREFIX}* temporary directory`
            : dead
              ? `below the rootfs ${dead.rootfs} of a container that is gone`
              : undefined;
    if (why === undefined) return undefined;
    // A container's idmapped layers (.cellblock/idmap/<id>/<n>, user namespaces) are named by its id.
    const idmapRoot = join(scope.stateDir, 'idmap');
    const idmapped = isBelow(path, idmapRoot) ? relative(idmapRoot, path).split(sep)[0] : undefined;
    if (idmapped) return { why: `an idmapped layer of container ${idmapped}`, containerId: idmapped };
    // Inside a running container's rootfs: its (kept); else a dead one's, if any.
    const owner = states.find((s) => live.has(s.id) && (path === s.rootfs || isBelow(path, s.rootfs))) ?? dead;
    return { why, ...(owner ? { containerId: owner.id } : {}) };
  };
});

/**
 * Loop devices backed by one of our images, from /sys/block/loopN/loop/backing_file
 * (" (deleted)" appended once the file is gone). Removed by detaching; the
 * image file itself is removed with it.
 */
const loops: Kind<LoopItem, HostScope, HostOps> = {
  kind: 'loop',
  stage: STAGE.mounts + 5, // after the mounts (a mounted loop device stays busy), before the rest
  list(scope) {
    const out: LoopItem[] = [];
    let names: string[];
    try {
      names = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
    } catch {
      return out;
    }
    for (const name of names) {
      let backing: string;
      try {
        backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8')
          .trim()
          .replace(/ \(deleted\)$/, '');
      } catch {
        continue; // not attached
      }
      if (dirname(backing) !== scope.tmpDir || !basename(backing).startsWith(LOOP_IMAGE_PREFIX)) continue;
      out.push({
        area: 'host',
        kind: 'loop',
        name: `/dev/${name} (${backing})`,
        device: `/dev/${name}`,
        backingFile: backing,
        why: `backed by a ${LOOP_IMAGE_PREFIX}* image`,
      });
    }
    return out;
  },
  remove(item, ops) {
    ops.detachLoop(item.device);
    try {
      ops.rmrf(item.backingFile);
    } catch {
      // already gone: the device was what mattered
    }
  },
};

/**
 * The mount points of a container's idmapped layers (.cellblock/idmap/<id>/<n>,
 * user namespaces), left as empty directories when its runtime died: removed
 * after the mounts, one rmdir at a time — a layer still attached there makes
 * rmdir fail (EBUSY) instead of emptying the image through it.
 */
const idmapDirs: Kind<IdmapDirItem, HostScope, HostOps> = {
  kind: 'idmap dir',
  stage: STAGE.dirs,
  list: (scope) => {
    const root = join(scope.stateDir, 'idmap');
    let ids: string[] = [];
    try {
      ids = readdirSync(root);
    } catch {
      // none made yet
    }
    return ids.map((id): IdmapDirItem => ({
      area: 'host',
      kind: 'idmap dir',
      name: join(root, id),
      path: join(root, id),
      why: `the idmapped layers' mount points of container ${id}`,
      containerId: id,
    }));
  },
  remove: (item, ops) => ops.rmdirTree(item.path),
};

const stateFiles: Kind<StateItem, HostScope, HostOps> = {
  kind: 'state',
  stage: STAGE.stateFiles,
  list: (scope) =>
    statesOf(scope)
      .map((s): StateItem => ({
        area: 'host',
        kind: 'state',
        name: join(scope.runDir, `${s.id}.json`),
        path: join(scope.runDir, `${s.id}.json`),
        why: `container ${s.id} is gone`,
        containerId: s.id,
      }))
      .concat(staleLocks(scope)),
  // A lock file is removed only while nobody holds it (a runtime may have taken it since the listing).
  remove: (item, ops) => (item.path.endsWith('.lock') ? removeStaleLock(item.path) : ops.rmrf(item.path)),
};

/**
 * The id reservations (reserve.ts) no process holds: their runtime died
 * before its cleanup. A held one is a runtime's that runs (or is creating
 * its container, before its state file exists): /proc/locks lists its
 * inode, and it is nobody's leftover.
 */
function staleLocks(scope: HostScope): StateItem[] {
  let locks = '';
  try {
    locks = readFileSync(join(scope.proc, 'locks'), 'utf8');
  } catch {
    // no /proc/locks: every lock file counts as held, none is listed
    return [];
  }
  const held = new Set(
    locks
      .split('\n')
      .filter((l) => /\bFLOCK\b/.test(l))
      .map((l) => l.trim().split(/\s+/)[5]?.split(':')[2]),
  );
  return listDir(scope.runDir)
    .filter((f) => f.endsWith('.lock'))
    .flatMap((f) => {
      const path = join(scope.runDir, f);
      let ino: string;
      try {
        ino = String(statSync(path).ino);
      } catch {
        return [];
      }
      if (held.has(ino)) return [];
      const id = f.slice(0, -'.lock'.length);
      return [
        {
          area: 'host',
          kind: 'state' as const,
          name: path,
          path,
          why: `container ${id}'s runtime is gone`,
          containerId: id,
        },
      ];
    });
}

/**
 * The real operations: SIGKILL, umount2 and rm — also the image area's (its
 * mounts and directories are removed the same way).
 */
export async function systemHostOps(): Promise<HostOps> {
  // The syscall bindings load koffi: only when something is actually removed.
  const { umount2 } = await import('../../native/mount.js');
  const { MNT_DETACH } = await import('../../native/constants.js');
  return {
    kill(pid, startedMs) {
      // Still the same process? A pid freed since the listing may name another one.
      if (readProc(pid)?.startedMs !== startedMs) throw new AlreadyGone('no such process');
      try {
        process.kill(pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new AlreadyGone('no such process');
        throw err;
      }
    },
    alive: (pid) => readProc(pid) !== undefined,
    umount(path) {
      try {
        // Lazy: a leftover mount may still be open by a process just killed.
        umount2(path, MNT_DETACH);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EINVAL' || code === 'ENOENT') throw new AlreadyGone(String(err));
        throw err;
      }
    },
    rmrf(path) {
      if (!existsSync(path)) throw new AlreadyGone('no such file or directory');
      rmSync(path, { recursive: true, force: true });
    },
    detachLoop(device) {
      const r = spawnSync('losetup', ['-d', device], { encoding: 'utf8' });
      if (r.status !== 0) {
        if (/No such device|not a block device|ENXIO/i.test(r.stderr)) throw new AlreadyGone(r.stderr.trim());
        throw new Error(`losetup -d ${device}: ${r.stderr.trim() || `exit ${r.status}`}`);
      }
    },
    rmdirTree(path) {
      if (!existsSync(path)) throw new AlreadyGone('no such file or directory');
      for (const entry of readdirSync(path)) rmdirSync(join(path, entry));
      rmdirSync(path);
    },
  };
}

export const hostInventory: Inventory<HostScope & CgroupScope & NetScope, HostOps> = {
  area: 'host',
  kinds: [processesKind, mounts, loops, idmapDirs, stateFiles],
  containers: (scope): KnownContainer[] =>
    statesOf(scope).map((s) => ({
      id: s.id,
      ...(isNode(readProc(s.runtimePid, scope.proc))
        ? { running: `container ${s.id} is running (runtime pid ${s.runtimePid})` }
        : {}),
    })),
};
