/**
 * Lesson 08 — root inside, nobody outside (user namespace).
 *
 * A user namespace maps ids: with uid_map "0 100000 65536", uid 0 inside is
 * uid 100000 on the host, 1 is 100001, and so on. Inside, the container's root
 * has every capability — over the namespaces its user namespace owns (its
 * mounts, hostname, network), never over the host: to the host's files and
 * processes it is uid 100000, a nobody.
 *
 * Three walls decide the shape of this lesson:
 *   - Node cannot create a user namespace (the kernel refuses unshare(
 *     CLONE_NEWUSER) to a multithreaded process): a C helper does, like
 *     runc's nsexec.c (core/host/userns.ts, native/nsexec.c). It waits while
 *     the host runs this lesson's hostUserNamespace step;
 *   - every other namespace must be created *after* it, so it owns them;
 *   - the image's files belong to host root, which means nothing inside
 *     (they show as 65534, nobody): the host gives the container idmapped
 *     mounts of its layers, in which host 0 shows as the container's 0.
 *
 *   host       write uid_map, gid_map; idmap the layers   hostUserNamespace
 *   host       stack the idmapped layers; give upper/     hostAfterSpawn
 *              and work/ to the container's root
 *   host       unmount the idmapped layers                hostCleanup
 */
import { chownSync, closeSync, mkdirSync, openSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLONE_NEWUSER, MNT_DETACH } from '../../src/native/constants.js';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_RECURSIVE,
  MOUNT_ATTR_IDMAP,
  MOVE_MOUNT_F_EMPTY_PATH,
  OPEN_TREE_CLOEXEC,
  OPEN_TREE_CLONE,
  move_mount,
  mount_setattr,
  open_tree,
} from '../../src/native/idmap.js';
import { umount2 } from '../../src/native/mount.js';
import { defineLesson } from '../../src/core/lesson.js';
import { STATE_DIR } from '../../src/core/paths.js';
import { overlayDirs } from '../../src/core/images/overlay.js';
import {
  copyLayersForRootless,
  removeAsContainerRoot,
  rootless,
  usernsRange,
  rootlessNetwork,
  usernsValidations,
  writeRootlessMaps,
  type UserConfig,
} from '../../src/core/userns/config.js';
import { slirp4netns, startSlirp, stopSlirp } from '../../src/core/userns/network.js';

/**
 * Where this container's idmapped layers are attached on the host: in the
 * checkout's .cellblock/ (the container's root, host uid 100000…, must be able
 * to reach them: /run/cellblock is root's alone), and *not* below the
 * container's directory, which the overlay lesson removes recursively —
 * through a mount left attached, that would delete the image itself.
 */
const idmapDir = (id: string): string => join(STATE_DIR, 'idmap', id);

/** Attach at `target` a view of `source` whose owners are translated through the user namespace `usernsFd`. */
function idmapLayer(source: string, target: string, usernsFd: number): void {
  // [idmap-layer] Every owner seen through this mount goes through usernsFd's
  // maps: host 0 appears as the namespace's 0. Only a *detached* copy of a
  // mount can be idmapped (an attached one: EINVAL), so: clone (open_tree),
  // set the attribute on the clone (mount_setattr), attach it (move_mount).
  const fd = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  try {
    mount_setattr(fd, '', AT_EMPTY_PATH | AT_RECURSIVE, { attr_set: MOUNT_ATTR_IDMAP, userns_fd: usernsFd });
    move_mount(fd, '', AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
  } finally {
    closeSync(fd);
  }
}

export default defineLesson<UserConfig>({
  id: '08-user',
  options: {
    userns: {
      type: 'string',
      describe: "host (default, as Docker): the host's users; remap: root inside is an unprivileged range outside",
    },
    'userns-range': {
      type: 'string',
      describe: 'with --userns remap: START:COUNT host ids for the container (default: 100000:65536, or the next free)',
    },
  },
  validate: usernsValidations,

  // [user-flag] The runtime sees CLONE_NEWUSER and starts the init through
  // the C helper: the user namespace first, every other one after it (owned by
  // it). An unprivileged user gets one always: it is the only way a rootless
  // runtime may create the other namespaces at all.
  cloneFlags: (config) => (config.userns === 'remap' || rootless() ? CLONE_NEWUSER : 0),

  hostUserNamespace({ config, pid }) {
    if (rootless()) {
      // Rootless: the user's own id (and /etc/subuid range, via newuidmap).
      // No idmapped layers: mount_setattr needs CAP_SYS_ADMIN on the host.
      writeRootlessMaps(pid, config);
      return;
    }
    // [user-maps] From the host, before the helper goes on: until the maps
    // exist the process has no identity inside (it is 65534) and may not
    // become root there. One line each: inside start, outside start, count.
    // gid_map too, or files it creates would get an unmapped group.
    const r = usernsRange(config);
    writeFileSync(`/proc/${pid}/uid_map`, `0 ${r.start} ${r.count}\n`);
    writeFileSync(`/proc/${pid}/gid_map`, `0 ${r.start} ${r.count}\n`);

    // The layers, idmapped through the new namespace — now, before the helper
    // creates the mount namespace, whose copy of the mount table must hold
    // them. /proc/<pid>/ns/user names the namespace whose maps translate.
    const userns = openSync(`/proc/${pid}/ns/user`, 'r');
    try {
      config.idmapped = [];
      for (const [i, layer] of overlayDirs(config).lower.entries()) {
        const target = join(idmapDir(config.id), String(i));
        mkdirSync(target, { recursive: true });
        idmapLayer(layer, target, userns);
        config.idmapped.push(target);
      }
    } finally {
      closeSync(userns);
    }
  },

  async hostAfterSpawn({ config, pid, notes }) {
    if (rootless()) {
      // The image's files, owned by host root, would be unmapped inside: stack the user's own copies.
      if (config.overlay) config.overlay.lower = copyLayersForRootless(config.overlay.lower, config.overlay.dir);
      // No veth without root (the network lesson said so): a user-mode network instead, when installed.
      if (!rootlessNetwork(config)) return;
      const tool = slirp4netns();
      if (!tool) {
        notes.push('rootless: no network but lo — install slirp4netns (Debian package) for one');
        return;
      }
      await startSlirp(config.id, pid, tool);
      notes.push('rootless: network through slirp4netns (eth0 10.0.2.100, NAT, no route to the host)');
      return;
    }
    if (!config.idmapped) return;
    // [user-owner] The overlay lesson made its directories (it runs first):
    // stack the idmapped layers instead of the originals, and give upper/ and
    // work/ to the container's root — host uid START — or it could not write.
    const r = usernsRange(config);
    if (config.overlay) {
      config.overlay.lower = config.idmapped;
      chownSync(config.overlay.upper, r.start, r.start);
      chownSync(config.overlay.work, r.start, r.start);
    } else {
      config.rootfs = config.idmapped[0]!;
    }
  },

  // Host mounts, outside the container: its end does not remove them. Detach
  // lazily (the container's last process may be exiting), then remove the
  // empty mount points one by one — never recursively: a mount still
  // attached makes rmdir fail (EBUSY) instead of emptying the image.
  async hostCleanup({ config }) {
    await stopSlirp(config.id);
    // Rootless: what the container wrote may belong to ids of its map, which only its root may remove.
    if (rootless() && config.overlay) {
      const o = config.overlay;
      await removeAsContainerRoot(config, [join(o.dir, 'rootless-layers'), ...(config.keep ? [] : [o.upper])]);
    }
    const dir = idmapDir(config.id);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return; // nothing was made
    }
    for (const name of entries) {
      try {
        umount2(join(dir, name), MNT_DETACH);
      } catch {
        // never attached
      }
      rmdirSync(join(dir, name));
    }
    rmdirSync(dir);
  },
});
