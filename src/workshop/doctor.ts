/**
 * What explains a broken workshop machine: each finding says what was seen and,
 * when it is a problem, the one line that fixes it.
 */
import { readMountinfo } from '../core/mountinfo.js';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cgroupControllers, cgroupMode, usableControllers } from '../core/cgroups/detect.js';
import { spawnSync } from 'node:child_process';
import { release, arch } from 'node:os';
import { defaultRootfs, ROOT } from '../core/paths.js';
import { readText } from '../core/read.js';
import { plan } from './cleanup.js';
import { checkIntegrity } from './integrity.js';
import { syncedFolderType } from './watcher.js';
import {
  currentUser,
  helperProblem,
  maxUserNamespaces,
  onPath,
  subordinateRanges,
  SUBID_FILES,
  usernsSupportProblem,
} from '../core/host/userns.js';

export type Level = 'ok' | 'warn' | 'fail';
export interface Finding {
  name: string;
  level: Level;
  value: string;
  fix?: string;
}

// Which cgroup version, and which controllers: decided in one place (core/cgroups/detect.ts).
export { cgroupMode, cgroupControllers, type CgroupMode } from '../core/cgroups/detect.js';

function kernelAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = release()
    .split('.')
    .map((n) => parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}

/** A filesystem the kernel has, or can load as a module. */
function hasFilesystem(name: string): boolean {
  return new RegExp(`\\s${name}$`, 'm').test(readText('/proc/filesystems')) || moduleAvailable(name);
}

function moduleAvailable(name: string): boolean {
  if (existsSync(`/sys/module/${name}`)) return true;
  const dir = `/lib/modules/${release()}`;
  return ['modules.builtin', 'modules.dep'].some((f) => new RegExp(`/${name}\\.ko`).test(readText(`${dir}/${f}`)));
}

/**
 * Signs that this "machine" is itself a container. /.dockerenv alone proves
 * little (some VM images are built from container images and keep it), so it
 * counts only together with an overlay root.
 */
function insideContainer(): string | undefined {
  if (existsSync('/run/.containerenv')) return 'podman (/run/.containerenv)';
  let rootIsOverlay = false;
  rootIsOverlay = readMountinfo('self').find((m) => m.mountPoint === '/')?.fstype === 'overlay';
  if (rootIsOverlay)
    return existsSync('/.dockerenv') ? 'docker (/.dockerenv, overlay root)' : 'the root filesystem is an overlay';
  const m = /(docker|lxc|kubepods|containerd)/.exec(readText('/proc/1/cgroup'));
  return m ? `PID 1 is in a ${m[1]} cgroup` : undefined;
}

/** Can this kernel make a veth pair? Tried in a throwaway network namespace, which takes the pair with it. */
function vethWorks(): boolean {
  const r = spawnSync(
    'unshare',
    ['--net', '--', 'ip', 'link', 'add', 'cbdoc0', 'type', 'veth', 'peer', 'name', 'cbdoc1'],
    {
      timeout: 5000,
    },
  );
  return r.status === 0;
}

function toolVersion(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
}

export function diagnose(): Finding[] {
  const f: Finding[] = [];
  const uid = process.getuid?.() ?? -1;
  f.push(
    uid === 0
      ? { name: 'root', level: 'ok', value: 'yes' }
      : {
          name: 'root',
          level: 'warn',
          value: `uid ${uid}: containers run rootless (no cgroup limits, no bridge), and the lessons' checks need root`,
          fix: 'run as root for the workshop: sudo cellblock …',
        },
  );
  f.push(
    kernelAtLeast(5, 9)
      ? { name: 'kernel', level: 'ok', value: release() }
      : {
          name: 'kernel',
          level: 'fail',
          value: release(),
          fix: 'needs Linux ≥ 5.9 (close_range): use the workshop VM (vagrant/)',
        },
  );
  f.push(
    ['x64', 'arm64'].includes(arch())
      ? { name: 'architecture', level: 'ok', value: arch() }
      : { name: 'architecture', level: 'fail', value: arch(), fix: 'only x86_64 and arm64 have syscall tables here' },
  );
  const mode = cgroupMode();
  const controllers = cgroupControllers(mode);
  f.push({
    name: 'cgroups',
    level: mode === 'none' ? 'fail' : 'ok',
    value: `${mode}${mode === 'hybrid' ? ' (v1 controllers, empty v2 at /sys/fs/cgroup/unified)' : ''}; controllers: ${controllers.join(' ') || 'none'}`,
    ...(mode === 'none' ? { fix: 'mount cgroup2 at /sys/fs/cgroup (systemd does this at boot)' } : {}),
  });
  // What lesson 05 can actually use: v2's controllers for the workshop's parent
  // cgroup, v1's mounted hierarchies — and what is missing, with the fix.
  const { usable, missing } = usableControllers(mode);
  if (mode !== 'none') {
    const fixes = missing.map((c) =>
      c.startsWith('memory.memsw')
        ? 'swap limits (--memory-swap) need swap accounting: boot with swapaccount=1'
        : mode === 'v2'
          ? `${c}: not offered in /sys/fs/cgroup/cgroup.controllers — check the kernel's boot options (cgroup_disable=…)`
          : `${c}: no v1 hierarchy mounted — mount -t cgroup -o ${c} cgroup /sys/fs/cgroup/${c}`,
    );
    f.push({
      name: 'cgroup controllers',
      level: missing.length > 0 ? 'warn' : 'ok',
      value: `usable by containers: ${usable.join(' ') || 'none'}${missing.length > 0 ? `; missing: ${missing.join(', ')}` : ''}`,
      ...(fixes.length > 0 ? { fix: fixes.join('; ') } : {}),
    });
  }
  f.push(
    hasFilesystem('overlay')
      ? { name: 'overlayfs', level: 'ok', value: 'available' }
      : { name: 'overlayfs', level: 'fail', value: 'not in this kernel', fix: 'modprobe overlay' },
  );
  f.push(
    vethWorks()
      ? { name: 'veth', level: 'ok', value: 'a pair can be created' }
      : {
          name: 'veth',
          level: 'warn',
          value: 'could not create a veth pair',
          fix: 'modprobe veth (Ubuntu: apt-get install linux-modules-extra-$(uname -r)); needs root and util-linux unshare',
        },
  );
  const inside = insideContainer();
  f.push(
    inside
      ? {
          name: 'inside a container',
          level: 'warn',
          value: inside,
          fix: 'use a VM (vagrant/): overlay-on-overlay and nested namespaces break lessons',
        }
      : { name: 'inside a container', level: 'ok', value: 'no' },
  );
  // What yargs, mocha and eslint accept: ^20.19 || ^22.12 || >=23.
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  f.push(
    (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 23
      ? { name: 'node', level: 'ok', value: process.version }
      : {
          name: 'node',
          level: 'fail',
          value: process.version,
          fix: 'install Node.js 20.19+ or 22.12+ (a current LTS)',
        },
  );
  const npm = toolVersion('npm', ['--version']);
  f.push(
    npm
      ? { name: 'npm', level: 'ok', value: npm }
      : { name: 'npm', level: 'warn', value: 'not found', fix: 'apt-get install npm' },
  );
  const ip = toolVersion('ip', ['-V']);
  f.push(
    ip
      ? { name: 'iproute2', level: 'ok', value: ip }
      : { name: 'iproute2', level: 'warn', value: 'no `ip`', fix: 'apt-get install iproute2' },
  );
  const rootfs = defaultRootfs();
  f.push(
    existsSync(`${rootfs}/bin/busybox`)
      ? { name: 'rootfs', level: 'ok', value: rootfs }
      : { name: 'rootfs', level: 'fail', value: `${rootfs} missing`, fix: 'bash scripts/setup.sh' },
  );
  f.push(...userNamespaceFindings());
  f.push(...workshopFindings());
  return f;
}

/**
 * What --userns remap and rootless runs need: user namespaces, the C helper,
 * idmapped layers, and for rootless the /etc/subuid ranges, newuidmap and a
 * user-mode network.
 */
export function userNamespaceFindings(): Finding[] {
  const f: Finding[] = [];
  const problem = usernsSupportProblem();
  const restricted = readText('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')?.trim() === '1';
  const cloneOff = readText('/proc/sys/kernel/unprivileged_userns_clone')?.trim() === '0';
  f.push(
    problem
      ? { name: 'user namespaces', level: 'warn', value: problem, fix: 'needed by --userns remap and rootless runs' }
      : restricted || cloneOff
        ? {
            name: 'user namespaces',
            level: 'warn',
            value: `up to ${maxUserNamespaces()}; ${restricted ? 'AppArmor restricts them for ordinary users' : 'kernel.unprivileged_userns_clone is 0'}: root's --userns remap works, rootless does not`,
            fix: restricted
              ? 'sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile granting `userns,` to .cellblock/bin/cellblock-nsexec'
              : 'sudo sysctl kernel.unprivileged_userns_clone=1',
          }
        : { name: 'user namespaces', level: 'ok', value: `up to ${maxUserNamespaces()}` },
  );
  const helper = helperProblem();
  f.push(
    helper
      ? {
          name: 'userns helper',
          level: 'warn',
          value: 'not built',
          fix: 'sudo bash scripts/setup.sh (compiles native/nsexec.c)',
        }
      : { name: 'userns helper', level: 'ok', value: '.cellblock/bin/cellblock-nsexec' },
  );
  f.push(
    kernelAtLeast(5, 19)
      ? { name: 'idmapped layers', level: 'ok', value: 'overlay over idmapped mounts (Linux ≥ 5.19)' }
      : {
          name: 'idmapped layers',
          level: 'warn',
          value: `${release()}: overlayfs cannot stack idmapped layers before 5.19`,
          fix: '--userns remap needs Linux ≥ 5.19 (Ubuntu 22.04: the HWE kernel)',
        },
  );
  const user = currentUser();
  const entries = SUBID_FILES.flatMap((file) =>
    subordinateRanges(file).map((e) => `${file.slice(5)} ${e.owner}:${e.range.start}:${e.range.count}`),
  );
  const mine = entries.some((e) => e.includes(` ${user.name}:`) || e.includes(` ${user.uid}:`));
  f.push({
    name: '/etc/subuid',
    level: 'ok',
    value: entries.length > 0 ? entries.join(', ') : 'no subordinate ranges',
    ...(user.uid !== 0 && !mine
      ? {
          fix: `rootless, ${user.name} maps only its own uid: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user.name}`,
        }
      : {}),
  });
  const newuidmap = onPath('newuidmap') && onPath('newgidmap');
  f.push(
    newuidmap
      ? { name: 'newuidmap', level: 'ok', value: onPath('newuidmap')! }
      : {
          name: 'newuidmap',
          level: 'warn',
          value: 'not installed: rootless maps only the user’s own id',
          fix: 'apt-get install uidmap',
        },
  );
  const slirp = onPath('slirp4netns');
  f.push(
    slirp
      ? { name: 'rootless network', level: 'ok', value: `slirp4netns (${slirp})` }
      : {
          name: 'rootless network',
          level: 'warn',
          value: 'no slirp4netns: rootless containers get lo only',
          fix: 'apt-get install slirp4netns',
        },
  );
  return f;
}

/** The distribution, and whether it is older than the workshop VM's. */
export function osFinding(osRelease = '/etc/os-release'): Finding {
  const text = readText(osRelease);
  if (!text) return { name: 'os', level: 'warn', value: 'unknown (no /etc/os-release)' };
  const field = (k: string): string => new RegExp(`^${k}="?([^"\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
  const id = field('ID');
  const version = Number(field('VERSION_ID')) || 0;
  const pretty = field('PRETTY_NAME') || `${id} ${version}`;
  const outdated = (id === 'ubuntu' && version < 22.04) || (id === 'debian' && version < 12);
  return outdated
    ? {
        name: 'os',
        level: 'warn',
        value: `${pretty} (older than the workshop VM)`,
        fix: 'an outdated VM box: on the host, `vagrant box update && vagrant destroy -f && vagrant up` in vagrant/',
      }
    : { name: 'os', level: 'ok', value: pretty };
}

/**
 * Which checkout the `cellblock` command runs: the first one on PATH, followed
 * through its link. A link left pointing at a deleted checkout makes the shell
 * say "command not found" — the fix is setup, run in the checkout to use.
 */
export function commandFinding(pathEnv = process.env['PATH'] ?? '', root = ROOT): Finding {
  const name = 'cellblock command';
  root = resolve(root); // ROOT ends in a slash
  const setup = `cd ${root} && sudo bash scripts/setup.sh (links the command to this checkout)`;
  for (const dir of pathEnv.split(':').filter(Boolean)) {
    const bin = join(dir, 'cellblock');
    let target: string | undefined;
    try {
      if (!lstatSync(bin).isSymbolicLink()) return { name, level: 'ok', value: `${bin} (a file, not a link)` };
      target = resolve(dir, readlinkSync(bin));
    } catch {
      continue; // not in this directory
    }
    if (!existsSync(target)) {
      return { name, level: 'fail', value: `${bin} → ${target}, which no longer exists`, fix: setup };
    }
    const runs = resolve(dirname(target), '..', '..'); // <checkout>/src/bin/cellblock.mjs
    return runs === root
      ? { name, level: 'ok', value: `${bin} → this checkout (${root})` }
      : { name, level: 'warn', value: `${bin} runs another checkout: ${runs}`, fix: setup };
  }
  return { name, level: 'warn', value: 'not on PATH', fix: setup };
}

/** Tools the lessons call by name. */
function toolFinding(name: string, cmd: string, args: string[], pkg: string): Finding {
  const v = toolVersion(cmd, args);
  return v
    ? { name, level: 'ok', value: v }
    : { name, level: 'fail', value: `no \`${cmd}\``, fix: `apt-get install ${pkg}` };
}

/** The workshop's own state: leftovers, changed files, the synced folder. */
function workshopFindings(): Finding[] {
  const f: Finding[] = [osFinding()];
  const virt = toolVersion('systemd-detect-virt', []);
  if (virt) f.push({ name: 'virtualization', level: 'ok', value: virt });
  f.push(toolFinding('unshare', 'unshare', ['--version'], 'util-linux'));
  f.push(toolFinding('busybox', 'busybox', ['--help'], 'busybox-static'));
  f.push(commandFinding());
  const synced = syncedFolderType(ROOT);
  f.push({
    name: 'checkout',
    level: 'ok',
    value: `${ROOT}${synced ? ` on a ${synced} synced folder (watch polls for changes)` : ''}`,
  });
  try {
    // The areas' inventories, through cleanup's plan: exactly what `cellblock cleanup --dry-run` would remove.
    const all = plan().items;
    // The bridge and the NAT chain stay between containers by design (as docker0 does): listed, not a leftover.
    const staying = all.filter((i) => i.stays);
    f.push({
      name: 'shared network',
      level: 'ok',
      value:
        staying.length === 0
          ? 'none yet (the first container on the bridge makes it)'
          : `${staying.map((i) => `${i.kind} ${i.name}`).join(', ')} (stay between containers; \`cellblock cleanup\` removes them)`,
    });
    const items = all.filter((i) => !i.keep && !i.stays);
    const kinds = [...new Set(items.map((i) => i.kind))];
    f.push(
      items.length === 0
        ? { name: 'leftovers', level: 'ok', value: 'none' }
        : {
            name: 'leftovers',
            level: 'warn',
            value: `${items.length} from earlier runs (${kinds.join(', ')})`,
            fix: 'cellblock cleanup',
          },
    );
  } catch (err) {
    f.push({ name: 'leftovers', level: 'warn', value: `could not look: ${(err as Error).message}` });
  }
  const integrity = checkIntegrity();
  f.push(
    integrity.status === 'tampered'
      ? {
          name: 'workshop files',
          level: 'warn',
          value: `${integrity.changes.length} changed outside lessons/: ${integrity.changes
            .slice(0, 4)
            .map((c) => `${c.path} (${c.change})`)
            .join(', ')}${integrity.changes.length > 4 ? ', …' : ''}`,
          fix: 'git status; restore with `git checkout -- <file>` (only lessons/<id>/ files are yours to edit)',
        }
      : {
          name: 'workshop files',
          level: 'ok',
          value: `${integrity.status === 'ok' ? 'unchanged' : 'unverified'} (${integrity.reference}); fingerprint ${integrity.fingerprint.slice(0, 16)}`,
        },
  );
  return f;
}
