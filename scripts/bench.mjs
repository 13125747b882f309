// Start→exit latency of a container, side by side with the references, in one
// run: the commands are interleaved round-robin so machine noise hits them all
// alike. Prints medians and ratios; asserts nothing (numbers vary by machine).
//
//   npm run bench [-- --runs 30]
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './build.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 30;
const rootfs = process.env.CELLBLOCK_ROOTFS ?? join(ROOT, '.cellblock', 'rootfs');
const bin = join(ROOT, 'src', 'bin', 'cellblock.mjs');
await ensureBuilt();

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** A TCP port nothing listens on (for the --publish row): the kernel's pick, released at once. */
const benchPort = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

/** An OCI bundle for runc on the same rootfs, running /bin/true. */
function runcBundle() {
  const dir = mkdtempSync(join(tmpdir(), 'cellblock-bench-runc-'));
  const spec = spawnSync('runc', ['spec', '--bundle', dir]);
  if (spec.status !== 0) return undefined;
  const config = JSON.parse(spawnSync('cat', [join(dir, 'config.json')], { encoding: 'utf8' }).stdout);
  config.process.terminal = false;
  config.process.args = ['/bin/true'];
  config.root = { path: rootfs, readonly: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const cases = [
  { name: 'node -e 0 (Node start-up)', argv: [process.execPath, '-e', '0'] },
  {
    name: 'cellblock run --solutions /bin/true',
    argv: [process.execPath, bin, 'run', '--solutions', '--', '/bin/true'],
  },
  // Lesson 04: the default above is --net bridge (a veth, an address, the
  // bridge made and removed when it is the only container); these two show
  // what the network costs, and a published port adds iptables rules.
  {
    name: 'cellblock run --solutions --net host /bin/true',
    argv: [process.execPath, bin, 'run', '--solutions', '--net', 'host', '--', '/bin/true'],
  },
  {
    name: 'cellblock run --solutions --net none /bin/true',
    argv: [process.execPath, bin, 'run', '--solutions', '--net', 'none', '--', '/bin/true'],
  },
  {
    name: 'cellblock run --solutions -p PORT:80 /bin/true',
    argv: () => [process.execPath, bin, 'run', '--solutions', '-p', `${benchPort}:80`, '--', '/bin/true'],
  },
  {
    name: 'unshare --uts --pid --fork --mount /bin/true (floor)',
    argv: ['unshare', '--uts', '--pid', '--fork', '--mount', '/bin/true'],
  },
];
let bundle;
if (has('runc')) {
  bundle = runcBundle();
  let n = 0;
  if (bundle)
    cases.push({
      name: 'runc run /bin/true',
      argv: () => ['runc', 'run', '--bundle', bundle, `cellblock-bench-${process.pid}-${n++}`],
    });
} else {
  console.log('runc: not installed (apt-get install runc) — its row is left out');
}
cases.push({
  name: 'cellblock verify 01 --solutions',
  argv: [process.execPath, bin, 'verify', '01', '--solutions'],
  runs: 5,
});

cases.push(...usernsCases());

const times = new Map(cases.map((c) => [c.name, []]));
const once = (c) => {
  const argv = typeof c.argv === 'function' ? c.argv() : c.argv;
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${c.name} failed (${r.status}): ${r.stderr}`);
  return ms;
};
try {
  for (const c of cases) once(c); // warm the page cache and dist/
  for (let i = 0; i < runs; i++) {
    for (const c of cases) if (i < (c.runs ?? runs)) times.get(c.name).push(once(c));
  }
} finally {
  if (bundle) rmSync(bundle, { recursive: true, force: true });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const m = Object.fromEntries(cases.map((c) => [c.name, median(times.get(c.name))]));
const node = m[cases[0].name];
const ours = m[cases[1].name];
const floor = m['unshare --uts --pid --fork --mount /bin/true (floor)'];
console.log(`\n${runs} interleaved runs each (verify: 5), median wall time, ${new Date().toISOString()}\n`);
for (const c of cases) {
  console.log(`  ${c.name.padEnd(55)} ${m[c.name].toFixed(1).padStart(8)} ms`);
}
console.log('\nratios');
console.log(`  cellblock run / unshare (floor)    ${(ours / floor).toFixed(1)}×`);
if (bundle) console.log(`  cellblock run / runc run           ${(ours / m['runc run /bin/true']).toFixed(2)}×`);
console.log(`  cellblock run − node -e 0          ${(ours - node).toFixed(1)} ms (target: ≤ 30 ms)`);
const hostNet = m['cellblock run --solutions --net host /bin/true'];
console.log(
  `  bridge network − --net host        ${(ours - hostNet).toFixed(1)} ms (veth, address, route, lease, bridge)`,
);
console.log(
  `  --net none − --net host            ${(m['cellblock run --solutions --net none /bin/true'] - hostNet).toFixed(1)} ms (a namespace, lo up)`,
);
console.log(
  `  -p PORT:80 − bridge                ${(m['cellblock run --solutions -p PORT:80 /bin/true'] - ours).toFixed(1)} ms (DNAT rule, chain, loopback proxy)`,
);
console.log(
  `  cellblock verify 01                ${(m['cellblock verify 01 --solutions'] / 1000).toFixed(2)} s (target: < 3 s)`,
);
usernsRatios(m, ours);
if (!existsSync(rootfs)) console.log(`(rootfs ${rootfs} missing: run bash scripts/setup.sh)`);

// ── Lesson 06: what a container costs on disk, and what a build costs ─────────
// N containers of one image at once: each adds only its own upper/work/merged
// directories (the image's layers are shared, never copied). Measured with
// du while they run, on a store of the bench's own; then a cold build of
// examples/hello and a rebuild from the cache.
const containersDir = process.env.CELLBLOCK_CONTAINERS_DIR ?? join(ROOT, '.cellblock', 'containers');
const du = (paths) =>
  Number(
    spawnSync('du', ['-scB1', ...paths], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .at(-1)
      .split('\t')[0],
  );
const store = mkdtempSync(join(tmpdir(), 'cellblock-bench-images-'));
const benchEnv = { ...process.env, NO_COLOR: '1', CELLBLOCK_IMAGES_DIR: store };
const timed = (args) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { env: benchEnv, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cellblock ${args.join(' ')} failed: ${r.stderr}`);
  return { ms: performance.now() - t0, out: r.stdout };
};
try {
  const cold = timed(['build', '-t', 'hello', join(ROOT, 'examples', 'hello')]);
  const warm = timed(['build', '-t', 'hello', join(ROOT, 'examples', 'hello')]);
  const cached = (warm.out.match(/: cached/g) ?? []).length;
  const N = 5;
  const ids = Array.from({ length: N }, (_, i) => `cb-bench-disk-${process.pid}-${i}`);
  const ready = [];
  const procs = ids.map((id) => {
    const p = spawn(
      process.execPath,
      [bin, 'run', '--solutions', '-i', '--id', id, 'hello', '--', 'sh', '-c', 'echo ready; read _'],
      {
        env: benchEnv,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    ready.push(new Promise((resolve) => p.stdout.once('data', resolve)));
    return p;
  });
  await Promise.all(ready);
  const perContainer = ids.map((id) => du([join(containersDir, id)]));
  const layersBytes = du([join(store, 'layers')]);
  const exited = procs.map((p) => new Promise((resolve) => p.once('exit', resolve)));
  for (const p of procs) p.stdin.end();
  await Promise.all(exited);
  const left = ids.filter((id) => existsSync(join(containersDir, id)));
  const row = (label, value) => console.log(`  ${label.padEnd(55)} ${value}`);
  console.log(`\nlesson 06 — disk and build`);
  row('image hello:latest: its layers on disk (du)', `${layersBytes.toLocaleString('en')} bytes`);
  row(
    `${N} containers of it at once: what each adds (du)`,
    `${Math.min(...perContainer).toLocaleString('en')}–${Math.max(...perContainer).toLocaleString('en')} bytes (upper/ work/ merged/ overlay.json)`,
  );
  row('directories left after they ended', left.length ? left.join(', ') : 'none');
  row('cellblock build examples/hello, cold', `${(cold.ms / 1000).toFixed(2)} s`);
  row(`the same build again (${cached} steps cached)`, `${(warm.ms / 1000).toFixed(2)} s`);
} finally {
  rmSync(store, { recursive: true, force: true });
}

// ── Lesson 04: the processes the network steps start ─────────────────────────
// In this process, through the runtime's API: how many ip / nsenter ip /
// iptables processes one container start and end take, and their time.
{
  const { load } = await import(join(ROOT, 'dist', 'src', 'workshop', 'loader.js'));
  const { startContainer } = await import(join(ROOT, 'dist', 'src', 'core', 'host', 'run.js'));
  const { toolStats } = await import(join(ROOT, 'dist', 'src', 'core', 'net', 'tools.js'));
  const { DEFAULT_ENV, newContainerId } = await import(join(ROOT, 'dist', 'src', 'core', 'config.js'));
  const lessons = await load({ kind: 'cumulative', source: 'solutions' });
  const row = (label, value) => console.log(`  ${label.padEnd(55)} ${value}`);
  console.log('\nlesson 04 — network tool processes per container (start + end)');
  for (const [label, extra] of [
    ['--net bridge (+4 if alone: the bridge is made and removed)', {}],
    ['--net bridge -p PORT:80', { publish: [`${benchPort}:80`] }],
    ['--net none', { net: 'none' }],
  ]) {
    const n = 5;
    const before = { ...toolStats };
    for (let i = 0; i < n; i++) {
      const c = await startContainer(
        { id: newContainerId(), rootfs, argv: ['/bin/true'], env: DEFAULT_ENV, cwd: '/', tty: false, ...extra },
        { lessons, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      await c.wait();
    }
    const calls = (toolStats.calls - before.calls) / n;
    const ms = (toolStats.ms - before.ms) / n;
    row(label, `${calls.toFixed(1)} processes, ${ms.toFixed(1)} ms`);
  }
}

// ── Lesson 08: user namespaces ─────────────────────────────────────────────────
// --userns remap: the init through the C helper (.cellblock/bin/cellblock-nsexec),
// maps written by the host, one idmapped mount per layer; rootless: the same
// run started by uid 65534 (no cgroup, no veth; slirp4netns when installed).
// Kept apart from the rows above so the bench's other rows can change freely.
function usernsCases() {
  const out = [];
  if (!existsSync(join(ROOT, '.cellblock', 'bin', 'cellblock-nsexec'))) {
    console.log('userns helper not built (bash scripts/setup.sh) — its rows are left out');
    return out;
  }
  out.push({
    name: 'cellblock run --solutions --userns remap /bin/true',
    argv: [process.execPath, bin, 'run', '--solutions', '--userns', 'remap', '--', '/bin/true'],
  });
  if (process.getuid?.() === 0 && has('setpriv')) {
    out.push({
      name: 'rootless (uid 65534): cellblock run --solutions /bin/true',
      argv: [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        bin,
        'run',
        '--solutions',
        '--',
        '/bin/true',
      ],
    });
  }
  return out;
}

function usernsRatios(m, bridge) {
  const remap = m['cellblock run --solutions --userns remap /bin/true'];
  const rootless = m['rootless (uid 65534): cellblock run --solutions /bin/true'];
  if (remap !== undefined)
    console.log(`  --userns remap − bridge           ${(remap - bridge).toFixed(1)} ms (helper, maps, idmapped layer)`);
  if (rootless !== undefined)
    console.log(
      `  rootless − bridge                  ${(rootless - bridge).toFixed(1)} ms (helper, maps, slirp4netns; no cgroup, no veth)`,
    );
}
