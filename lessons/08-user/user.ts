/**
 * Lesson 08 — root inside, nobody outside (user namespace).
 *
 * GOAL: with --userns remap, the container runs in a user namespace of its
 * own: uid 0 inside is an unprivileged range on the host (100000… by
 * default). Its root may mount, set the hostname and configure its network
 * in its own namespaces, and cannot touch what belongs to the host's users.
 * The image's files still look owned by root inside (idmapped layers), and
 * what the container writes lands on the host owned by the mapped uid.
 * Node cannot create a user namespace itself: the runtime starts the init
 * through a small C helper, which waits while hostUserNamespace runs.
 * Check your work with `cellblock verify 08`.
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
  // TODO [idmap-layer]: clone the mount at `source` (detached), mark the clone idmapped with usernsFd, attach it at `target`.
  // HINT: man 2 open_tree (OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_RECURSIVE), man 2 mount_setattr (MOUNT_ATTR_IDMAP,
  // HINT: userns_fd; the fd itself is the path: '' with AT_EMPTY_PATH), man 2 move_mount (MOVE_MOUNT_F_EMPTY_PATH,
  // HINT: AT_FDCWD). All imported. Close the clone's fd (node:fs closeSync) whatever happens.
  void [open_tree, mount_setattr, move_mount, closeSync, AT_EMPTY_PATH, AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_IDMAP];
  void [MOVE_MOUNT_F_EMPTY_PATH, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE];
  throw new Error(`TODO: idmapLayer(${source}, ${target}, ${usernsFd})`);
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

  // TODO [user-flag]: ask for a new user namespace when config.userns is 'remap' — and always when rootless().
  // HINT: man 7 user_namespaces; the CLONE_NEW* flag is imported. The runtime sees it and starts the init through the helper.
  cloneFlags: () => 0,

  hostUserNamespace({ config, pid }) {
    if (rootless()) {
      // Rootless: the user's own id (and /etc/subuid range, via newuidmap).
      // No idmapped layers: mount_setattr needs CAP_SYS_ADMIN on the host.
      writeRootlessMaps(pid, config);
      return;
    }
    // TODO [user-maps]: write /proc/<pid>/uid_map and gid_map: container id 0 → host id r.start, r.count ids.
    // HINT: man 7 user_namespaces, "User and group ID mappings": one line "INSIDE OUTSIDE COUNT" each (node:fs writeFileSync).
    const r = usernsRange(config);
    void [r, writeFileSync];

    // The layers, idmapped through the new namespace — now, before the helper
    // creates the mount namespace, whose copy of the mount table must hold them.
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
    // TODO [user-owner]: stack the idmapped layers (config.idmapped, in order) in place of config.overlay.lower,
    // HINT: and give config.overlay.upper and .work to the container's root: host uid and gid r.start (node:fs chownSync).
    // HINT: Without the overlay lesson (no config.overlay), config.rootfs becomes config.idmapped[0].
    void [chownSync, usernsRange];
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
