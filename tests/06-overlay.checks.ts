/**
 * Lesson 06 checks: an overlay as the container's root.
 *
 * The containers run on a two-layer "image" made for the check: a small top
 * layer of its own (a temp directory) over the busybox rootfs. Looked at from
 * the host: the container's root mount in /proc/<pid>/mountinfo and its
 * overlay options, the container's directories under CONTAINERS_DIR, what
 * lands in upper/ (files, copied-up files, whiteouts), the layers' checksums
 * before and after, two containers side by side, and what is left at the end.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS_PRIVATE, MS_REC } from '../src/native/constants.js';
import type { ContainerConfig } from '../src/core/config.js';
import type { RunningContainer } from '../src/core/host/run.js';
import type { LoadedLesson } from '../src/core/lesson.js';
import type { OverlayConfig, OverlayDirs } from '../src/core/images/overlay.js';
import { treeDigest } from '../src/core/images/tree.js';
import { containerDir } from '../src/core/names.js';
import { defaultRootfs } from '../src/core/paths.js';
import { defineChecks, expectThat, startFailure, type CheckEnv, type CheckResult } from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import { trial, type TrialResult } from '../src/workshop/harness.js';
import { recordingSys } from './unit/recording-sys.js';

const LESSON = '06-overlay';

interface RootMount {
  fstype: string;
  source: string;
  /** Super options: lowerdir=…,upperdir=…,workdir=… for an overlay. */
  options: Record<string, string>;
}

/** The mount on / in a process's mount table, from the host. */
function rootMount(pid: number): RootMount | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l.split(' ')[4] === '/');
  const line = lines.at(-1); // the one on top, if several are stacked
  if (!line) return undefined;
  const f = line.split(' ');
  const dash = f.indexOf('-');
  const options = Object.fromEntries(
    (f[dash + 3] ?? '').split(',').map((o) => {
      const i = o.indexOf('=');
      return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
    }),
  );
  return { fstype: f[dash + 1]!, source: f[dash + 2]!, options };
}

/** The overlay mounts in the host's own table. */
function hostOverlays(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - overlay '))
    .map((l) => l.split(' ')[4]!);
}

function kind(path: string): string {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return 'missing';
  if (st.isCharacterDevice()) return st.rdev === 0 ? 'whiteout (c 0,0)' : 'char device';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'file';
}

/** Resolve once stdout has shown `marker` (the command's writes are done), or after a few seconds. */
function outputShows(c: RunningContainer, marker: string, ms = 5000): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const t = setTimeout(resolve, ms);
    c.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(marker)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** Lesson 06 with its hostAfterSpawn watched: which of the directories exist once it has run. */
function watching(spy: { created?: Record<string, boolean> }) {
  return (lessons: LoadedLesson[]): LoadedLesson[] =>
    lessons.map((l) => {
      const step = l.lesson.hostAfterSpawn;
      if (l.id !== LESSON || !step) return l;
      return {
        ...l,
        lesson: {
          ...l.lesson,
          hostAfterSpawn: async (ctx) => {
            await step(ctx);
            const o = (ctx.config as OverlayConfig).overlay;
            spy.created = o
              ? { upper: existsSync(o.upper), work: existsSync(o.work), merged: existsSync(o.merged) }
              : {};
          },
        },
      };
    });
}

/** A top layer for the check: a file the container deletes, one it leaves alone. Removed by the caller. */
function makeTopLayer(): string {
  const top = mkdtempSync('/tmp/cellblock-layer-');
  mkdirSync(join(top, 'etc'));
  writeFileSync(join(top, 'etc', 'layer-top'), 'from the top layer\n');
  writeFileSync(join(top, 'deleteme'), 'the container deletes this\n');
  return top;
}

interface Inside {
  t: TrialResult;
  top: string;
  layers: string[];
  digestsBefore: string[];
  digestsAfter: string[];
  root?: RootMount;
  dirs: OverlayDirs;
  /** In upper/ while it ran: path → kind. */
  upper: Record<string, string>;
  writtenContent: string;
  /** lesson 06's hostAfterSpawn had created these. */
  created?: Record<string, boolean>;
  dirAfter: boolean;
  hostOverlaysDuring: string[];
  hostOverlaysAfter: string[];
}

const WRITES = 'echo written > /written; rm /deleteme; echo more >> /etc/os-release; echo ready; read _';

/** One container on the two layers: it writes, deletes, appends to a lower file, then waits on stdin. */
function inside(env: CheckEnv): Promise<Inside> {
  return env.once('inside', async () => {
    const top = makeTopLayer();
    const layers = [top, defaultRootfs()];
    const id = `cb-check06-${randomBytes(3).toString('hex')}`;
    const config = { id, argv: ['sh', '-c', WRITES], layers } as Partial<ContainerConfig> & { argv: string[] };
    const o: Partial<Inside> & { upper: Record<string, string> } = {
      top,
      layers,
      upper: {},
      writtenContent: '',
      hostOverlaysDuring: [],
      digestsBefore: layers.map(treeDigest),
    };
    const spy: { created?: Record<string, boolean> } = {};
    o.dirs = {
      dir: containerDir(id),
      lower: layers,
      upper: join(containerDir(id), 'upper'),
      work: join(containerDir(id), 'work'),
      merged: join(containerDir(id), 'merged'),
    };
    try {
      o.t = await env.trial({
        config,
        lessons: watching(spy),
        whileRunning: async (c) => {
          await outputShows(c, 'ready');
          o.root = rootMount(c.pid);
          for (const p of ['written', 'deleteme', 'etc/os-release', 'etc/layer-top', 'bin/busybox']) {
            o.upper[p] = kind(join(o.dirs!.upper, p));
          }
          try {
            o.writtenContent = readFileSync(join(o.dirs!.upper, 'written'), 'utf8');
          } catch {
            // not there: the check says so
          }
          o.hostOverlaysDuring = hostOverlays();
        },
      });
      o.created = spy.created;
      o.dirAfter = existsSync(containerDir(id));
      o.hostOverlaysAfter = hostOverlays();
      o.digestsAfter = layers.map(treeDigest);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
    return o as Inside;
  });
}

/** The hint steps of lesson 06's checks: found and concept first, then more precise (the `cellblock hint` counter). */
const steps = (...s: string[]): string => hintSteps(LESSON, ...s);

const CREATE = (): string =>
  steps(
    'upper/, work/ and merged/ must all exist before the overlay is mounted, and their parent o.dir does not exist yet (man 2 mkdir, ENOENT)',
    "createContainerDirs: node:fs mkdirSync makes one directory — unless it is told to make the missing parents too (Node docs: fs.mkdirSync's options)",
  );
const MOUNT = (): string =>
  steps(
    "nothing is mounted on o.merged: the merged view exists only once an overlay is mounted there (the kernel's filesystems/overlayfs.rst)",
    'mountOverlay: one mount(2) of filesystem type "overlay"; the layers and the two directories go in its data string, as key=value pairs',
  );
const POINT = (): string =>
  steps(
    "the overlay is mounted, but the container's root is not on it: lesson 03 pivots into config.rootfs",
    "prepareRootfs runs before lesson 03's init, on the same config object: what config.rootfs says when it returns is where lesson 03 goes",
  );

/** Why the root is not the overlay yet, as the next step to take. */
function rootHint(o: Inside): string {
  const msg = o.t.error?.message ?? '';
  // A mkdir that failed: its parent is missing (ENOENT) — said before anything about mounts.
  if (/mkdir/.test(msg) && /ENOENT/.test(msg)) return `mkdir(2) said ENOENT on the host: ${CREATE()}`;
  if (o.created && !(o.created['upper'] && o.created['work'] && o.created['merged'])) {
    const missing = ['upper', 'work', 'merged'].filter((d) => !o.created![d]);
    return `no ${missing.join(', ')} after the host step: ${CREATE()}`;
  }
  if (/mount\(.*merged\)/.test(msg)) {
    if (/ENOENT/.test(msg))
      return `mount(2) on merged/ said ENOENT: a directory named in the overlay's data string does not exist — ${CREATE()}`;
    if (/EINVAL/.test(msg))
      return 'the kernel refused the overlay\'s data string (EINVAL): comma-separated key=value pairs, the lower layers joined by ":", no spaces (the kernel\'s filesystems/overlayfs.rst, "Multiple lower layers")';
  }
  if (/the overlay is mounted on/.test(msg)) return POINT();
  if (/nothing is mounted on/.test(msg)) return MOUNT();
  if (o.root?.fstype === 'overlay') return POINT();
  return MOUNT();
}

function failed(o: Inside): CheckResult | undefined {
  const r = startFailure(o.t);
  if (r) r.hint = rootHint(o);
  return r;
}

export default defineChecks(LESSON, [
  {
    name: "the container's / is an overlay whose lowerdirs are the image's layers, top first",
    async run(env) {
      const o = await inside(env);
      const expectedLower = o.layers.join(':');
      const r = o.root;
      return (
        failed(o) ??
        expectThat(
          r?.fstype === 'overlay' && r.options['lowerdir'] === expectedLower,
          `overlay, lowerdir=${expectedLower}`,
          r
            ? `${r.fstype}${r.options['lowerdir'] ? `, lowerdir=${r.options['lowerdir']}` : ` (${r.source})`}`
            : 'no mount on /',
          r?.fstype === 'overlay'
            ? `lowerdir is ${r.options['lowerdir'] ?? 'missing'}: overlayfs looks a name up in the layers from left to right, so the top layer comes first — o.lower is already in that order`
            : rootHint(o),
        )
      );
    },
  },
  {
    name: 'its upperdir and workdir are its own directories: <containers>/<id>/upper and work',
    async run(env) {
      const o = await inside(env);
      const r = o.root;
      const ok = r?.options['upperdir'] === o.dirs.upper && r.options['workdir'] === o.dirs.work;
      return (
        failed(o) ??
        expectThat(
          ok,
          `upperdir=${o.dirs.upper}, workdir=${o.dirs.work}`,
          r?.fstype === 'overlay'
            ? `upperdir=${r.options['upperdir']}, workdir=${r.options['workdir']}`
            : `/ is ${r?.fstype ?? 'nothing'}`,
          r?.fstype === 'overlay'
            ? 'the upper and work directories must be the ones made for this container (o holds them: they contain its id) — removed at the end, never shared'
            : rootHint(o),
        )
      );
    },
  },
  {
    name: 'writes inside land in upper/: a new file, and a lower file copied up when changed',
    async run(env) {
      const o = await inside(env);
      const ok =
        o.upper['written'] === 'file' &&
        o.writtenContent === 'written\n' &&
        o.upper['etc/os-release'] === 'file' &&
        o.upper['bin/busybox'] === 'missing' &&
        o.upper['etc/layer-top'] === 'missing';
      return (
        failed(o) ??
        expectThat(
          ok,
          'upper/written ("written"), upper/etc/os-release (copied up); nothing else copied (no bin/busybox, no etc/layer-top)',
          `written: ${o.upper['written']}, etc/os-release: ${o.upper['etc/os-release']}, bin/busybox: ${o.upper['bin/busybox']}, etc/layer-top: ${o.upper['etc/layer-top']}`,
          rootHint(o),
        )
      );
    },
  },
  {
    name: 'a deleted lower file is a whiteout in upper/ (a character device 0:0)',
    async run(env) {
      const o = await inside(env);
      return (
        failed(o) ??
        expectThat(
          o.upper['deleteme'] === 'whiteout (c 0,0)',
          'upper/deleteme: whiteout (c 0,0)',
          `upper/deleteme: ${o.upper['deleteme']}`,
          rootHint(o),
        )
      );
    },
  },
  {
    name: "the layers' contents are unchanged after the run (sha256 of each tree)",
    async run(env) {
      const o = await inside(env);
      const changed = o.layers.filter((_, i) => o.digestsBefore[i] !== o.digestsAfter[i]);
      return expectThat(
        changed.length === 0 && !o.t.error,
        'same checksums before and after, for every layer',
        o.t.error
          ? `the container did not start: ${o.t.error.message}`
          : changed.length === 0
            ? 'unchanged'
            : `changed: ${changed.join(', ')}`,
        o.t.error
          ? rootHint(o)
          : 'the container wrote into a layer: its root must be the overlay — the merged view lesson 03 pivots into — never a layer directory',
      );
    },
  },
  {
    name: 'two containers of the same image run at once: the same lower directories, their own upper, neither sees the other’s writes',
    async run(env) {
      const top = makeTopLayer();
      const layers = [top, defaultRootfs()];
      const cmd = (name: string) => ['sh', '-c', `echo ${name} > /mine-${name}; echo ready; read _`];
      let a: RootMount | undefined;
      let b: RootMount | undefined;
      let aSeesB = 'not looked';
      let bSeesA = 'not looked';
      let tb: TrialResult | undefined;
      try {
        const ta = await env.trial({
          config: { argv: cmd('a'), layers },
          whileRunning: async (ca) => {
            await outputShows(ca, 'ready');
            tb = await env.trial({
              config: { argv: cmd('b'), layers },
              whileRunning: async (cb) => {
                await outputShows(cb, 'ready');
                a = rootMount(ca.pid);
                b = rootMount(cb.pid);
                aSeesB = kind(`/proc/${ca.pid}/root/mine-b`);
                bSeesA = kind(`/proc/${cb.pid}/root/mine-a`);
              },
            });
          },
        });
        const fail = startFailure(ta) ?? (tb && startFailure(tb));
        if (fail)
          return {
            ...fail,
            hint: `a container of the pair did not start: the checks above, on one container, say why`,
          };
        const ok =
          a?.fstype === 'overlay' &&
          b?.fstype === 'overlay' &&
          a.options['lowerdir'] === layers.join(':') &&
          b.options['lowerdir'] === a.options['lowerdir'] &&
          a.options['upperdir'] !== b.options['upperdir'] &&
          aSeesB === 'missing' &&
          bSeesA === 'missing';
        return expectThat(
          ok,
          `both lowerdir=${layers.join(':')}, two upperdirs, each file seen only by its writer`,
          `a: ${a?.fstype} upper ${a?.options['upperdir']}, b: ${b?.fstype} upper ${b?.options['upperdir']}; same lower: ${a?.options['lowerdir'] === b?.options['lowerdir']}; a sees b's file: ${aSeesB}, b sees a's: ${bSeesA}`,
          a?.fstype !== 'overlay'
            ? MOUNT()
            : a.options['lowerdir'] !== layers.join(':')
              ? `lowerdir is ${a.options['lowerdir']}, the layers are ${layers.join(':')} top first: overlayfs searches the lower layers from left to right (the kernel's filesystems/overlayfs.rst, "Multiple lower layers")`
              : a.options['upperdir'] === b?.options['upperdir']
                ? "both containers write to the same upper directory: each needs its own upper and work (o holds this container's)"
                : "a container sees the other's file: their writes meet in a directory they share — check which directories the mount names",
        );
      } finally {
        rmSync(top, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'the overlay is mounted only inside the container: never in the host’s mount table, during or after',
    async run(env) {
      const o = await inside(env);
      const mine = (list: string[]) => list.filter((p) => p.startsWith(o.dirs.dir));
      const seen = [
        ...mine(o.hostOverlaysDuring).map((p) => `during: ${p}`),
        ...mine(o.hostOverlaysAfter).map((p) => `after: ${p}`),
      ];
      return (
        failed(o) ??
        expectThat(
          seen.length === 0 && o.root?.fstype === 'overlay',
          "an overlay in the container's mountinfo, none in the host's",
          seen.length > 0
            ? seen.join(', ')
            : o.root?.fstype === 'overlay'
              ? 'as expected'
              : `the container's / is ${o.root?.fstype ?? 'nothing'}`,
          seen.length > 0
            ? steps(
                'the overlay reached the host\'s mount table: on a host whose mounts are shared, a new mount propagates to the peers (man 7 mount_namespaces, "shared subtrees")',
                "this step runs before lesson 03's: it has to change the propagation of every mount itself, before the overlay mount",
              )
            : rootHint(o),
        )
      );
    },
  },
  {
    name: 'the step makes every mount private before it mounts the overlay (it runs before lesson 03’s)',
    async run(env) {
      const lesson = env.lessons.find((l) => l.id === LESSON)!.lesson;
      const { sys, calls } = recordingSys();
      const dirs: OverlayDirs = {
        dir: '/c',
        lower: ['/l2', '/l1'],
        upper: '/c/upper',
        work: '/c/work',
        merged: '/c/merged',
      };
      const config = { id: 'cb-rec', rootfs: '/l1', argv: ['true'], env: [], cwd: '/', tty: false, overlay: dirs };
      let error = '';
      try {
        await lesson.prepareRootfs?.(config as ContainerConfig, sys);
      } catch (err) {
        error = (err as Error).message;
      }
      const mounts = calls.filter((c) => c.name === 'mount');
      const privateAt = mounts.findIndex((c) => c.args[1] === '/' && c.args[3] === (MS_REC | MS_PRIVATE));
      const overlayAt = mounts.findIndex((c) => c.args[2] === 'overlay');
      const show = mounts.map((c) => `mount(${c.args.map((a) => JSON.stringify(a)).join(', ')})`).join('; ');
      return expectThat(
        privateAt >= 0 && overlayAt > privateAt,
        'a mount(2) that makes "/" and every mount below it private, then the overlay mount',
        show || (error ? `no mount, then: ${error}` : 'no mount at all'),
        privateAt < 0
          ? steps(
              "no propagation change before the overlay mount: this step runs before lesson 03's, and on a host whose mounts are shared (systemd) the overlay would appear on the host (man 7 mount_namespaces)",
              'the same first step as lesson 03: mount(2) with no source, type or data — only the flags for "private", recursively',
            )
          : MOUNT(),
      );
    },
  },
  {
    name: "after the run the container's directory is gone: no upper/, work/ or merged/ left",
    async run(env) {
      const o = await inside(env);
      return (
        failed(o) ??
        expectThat(
          !o.dirAfter,
          `${o.dirs.dir}: gone`,
          o.dirAfter ? `${o.dirs.dir} is still there` : 'gone',
          steps(
            `${o.dirs.dir} is still on the host after the run: the container's writes live in it, and nothing unmounts or deletes a directory by itself`,
            "removeContainerDirs runs in hostCleanup: without --keep the whole o.dir goes, with everything in it (Node docs: fs.rmSync's options)",
          ),
        )
      );
    },
  },
  {
    name: 'with --keep, upper/ (the changes) and overlay.json stay; work/ and merged/ go',
    async run(env) {
      const id = `cb-check06k-${randomBytes(3).toString('hex')}`;
      const dir = containerDir(id);
      // Not through env.trial: this run leaves its upper/ on purpose, which the
      // final "nothing left behind" would count. Its other leftovers are checked here.
      const top = makeTopLayer();
      let t: TrialResult;
      try {
        t = await trial(env.lessons, {
          config: { id, argv: ['sh', '-c', 'echo kept > /kept'], keep: true, layers: [top, defaultRootfs()] },
        });
      } finally {
        rmSync(top, { recursive: true, force: true });
      }
      const left = {
        upper: existsSync(join(dir, 'upper', 'kept')),
        record: existsSync(join(dir, 'overlay.json')),
        work: existsSync(join(dir, 'work')),
        merged: existsSync(join(dir, 'merged')),
      };
      const leaks = t.leaks.filter((l) => !l.startsWith(`dir ${dir}`));
      rmSync(dir, { recursive: true, force: true });
      const r = startFailure(t);
      if (r) return { ...r, hint: 'the --keep run did not start: the checks above, on a run without --keep, say why' };
      return expectThat(
        left.upper && left.record && !left.work && !left.merged && leaks.length === 0,
        'upper/kept and overlay.json there; no work/, no merged/; nothing else left',
        `upper/kept: ${left.upper}, overlay.json: ${left.record}, work/: ${left.work}, merged/: ${left.merged}${leaks.length ? `; also left: ${leaks.join(', ')}` : ''}`,
        !left.upper && !left.record
          ? 'with --keep the changes went too: upper/ and overlay.json are what `cellblock diff` reads, and must stay'
          : `with --keep, ${[left.work && 'work/', left.merged && 'merged/'].filter(Boolean).join(' and ') || 'something else'} stayed: only upper/ and overlay.json are kept`,
      );
    },
  },
]);
