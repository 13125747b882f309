// Start→exit latency of a container, side by side with the references, in one
// run: the commands are interleaved round-robin so machine noise hits them all
// alike. Prints medians, ratios and the budgets of issue 17; asserts nothing
// (numbers vary by machine — a busy shared machine makes every row slower).
//
//   npm run bench [-- --runs 30] [-- --grade-runs 2] [-- --baseline DIR] [-- --only REGEX (rows by name)]
//
// --baseline DIR: another checkout (e.g. `git archive <commit> | tar -x -C DIR`,
// with node_modules and .cellblock linked in, then `node scripts/build.mjs`):
// its run/verify/grade rows are measured in the same interleaved rounds, so
// "before → after" is read off one table.
// CELLBLOCK_TRACE=1 cellblock run … prints where one start-up goes, phase by phase.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBuilt, ROOT } from './build.mjs';

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs')) || 30;
const gradeRuns = Number(arg('--grade-runs')) || 2;
const verifyRuns = Math.min(runs, 5);
const baseline = arg('--baseline') ? resolve(arg('--baseline')) : undefined;
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
  // Not read-only: cellblock-oci refuses root.readonly (the same bundle serves both rows).
  config.root = { path: rootfs, readonly: false };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const NODE = 'node -e 0 (Node start-up)';
const BRIDGE = 'cellblock run --solutions /bin/true (bridge)';
const HOST = 'cellblock run --solutions --net host /bin/true';
const NONE = 'cellblock run --solutions --net none /bin/true';
const PUBLISH = 'cellblock run --solutions -p PORT:80 /bin/true';
const UNSHARE = 'unshare --uts --pid --fork --mount /bin/true (floor)';
const RUNC = 'runc run /bin/true (reference)';
const OCI = 'cellblock-oci --solutions run /bin/true (same bundle)';
const DAEMON = 'cellblockd create→start→wait→rm /bin/true (API, curl)';
const VERIFY = 'cellblock verify 01 --solutions';
const GRADE = 'cellblock grade (every lesson, the learner tree)';

/** The cellblock rows, for one checkout. */
const cellblockCases = (checkout, tag) => {
  const b = join(checkout, 'src', 'bin', 'cellblock.mjs');
  const name = (n) => (tag ? `${n} [${tag}]` : n);
  return [
    { name: name(BRIDGE), argv: [process.execPath, b, 'run', '--solutions', '--', '/bin/true'] },
    { name: name(HOST), argv: [process.execPath, b, 'run', '--solutions', '--net', 'host', '--', '/bin/true'] },
    { name: name(NONE), argv: [process.execPath, b, 'run', '--solutions', '--net', 'none', '--', '/bin/true'] },
    {
      name: name(PUBLISH),
      argv: () => [process.execPath, b, 'run', '--solutions', '-p', `${benchPort}:80`, '--', '/bin/true'],
    },
    { name: name(VERIFY), argv: [process.execPath, b, 'verify', '01', '--solutions'], runs: verifyRuns },
    // grade rebuilds dist/ itself and runs every lesson's checks: a few rounds only. Its
    // status is 1 when a learner check fails (the untouched starters do): not an error here.
    { name: name(GRADE), argv: [process.execPath, b, 'grade', '--json'], runs: gradeRuns, ok: [0, 1] },
  ];
};

const cases = [
  { name: NODE, argv: [process.execPath, '-e', '0'] },
  ...cellblockCases(ROOT),
  ...(baseline ? cellblockCases(baseline, 'baseline') : []),
  { name: UNSHARE, argv: ['unshare', '--uts', '--pid', '--fork', '--mount', '/bin/true'] },
];
let bundle;
if (has('runc')) {
  bundle = runcBundle();
  let n = 0;
  if (bundle)
    cases.push(
      {
        name: RUNC,
        argv: () => ['runc', 'run', '--bundle', bundle, `cellblock-bench-${process.pid}-${n++}`],
      },
      // runc's place in the stack, taken by the lessons (lesson 11): create + start + wait + delete, as `runc run`.
      {
        name: OCI,
        argv: () => [
          process.execPath,
          join(ROOT, 'src', 'bin', 'cellblock-oci.mjs'),
          '--solutions',
          'run',
          '--bundle',
          bundle,
          `cellblock-bench-oci-${process.pid}-${n++}`,
        ],
      },
    );
} else {
  console.log('runc: not installed (apt-get install runc) — its row is left out');
}

cases.push(...usernsCases());

// cellblockd: one container through the Docker API — create, start, wait,
// delete — as `docker run --rm` does, with curl as the client (no Node
// start-up on the client side, as runc's row has none), --network none as
// runc's default bundle. The daemon is started once, on a socket of the
// bench's own, before the rounds.
let daemon;
const daemonDir = mkdtempSync(join(tmpdir(), 'cellblock-bench-daemon-'));
if (has('curl')) {
  const sock = join(daemonDir, 'docker.sock');
  daemon = spawn(process.execPath, [bin, 'daemon', '--socket', sock, '--dir', join(daemonDir, 'state')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  daemon.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 300 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const kind = /containers: (\w+)/.exec(log)?.[1] ?? '?';
  const api = `curl -sf --unix-socket ${sock} -H Content-Type:application/json`;
  const body = JSON.stringify({ Image: 'busybox', Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' } });
  const script = [
    `id=$(${api} -XPOST -d '${body}' http://d/v1.41/containers/create | sed 's/.*"Id":"\\([0-9a-f]*\\)".*/\\1/')`,
    `${api} -XPOST http://d/v1.41/containers/$id/start`,
    `${api} -XPOST http://d/v1.41/containers/$id/wait | grep -q '"StatusCode":0'`,
    `${api} -XDELETE http://d/v1.41/containers/$id`,
  ].join(' && ');
  if (existsSync(sock)) cases.push({ name: `${DAEMON} [${kind}]`, daemon: true, argv: ['sh', '-c', script] });
  else console.log(`cellblockd did not start — its row is left out: ${log}`);
}
const only = arg('--only') ? new RegExp(arg('--only')) : undefined;
if (only) cases.splice(0, cases.length, ...cases.filter((c) => only.test(c.name) || c.name === NODE));

const times = new Map(cases.map((c) => [c.name, []]));
const once = (c) => {
  const argv = typeof c.argv === 'function' ? c.argv() : c.argv;
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (!(c.ok ?? [0]).includes(r.status)) throw new Error(`${c.name} failed (${r.status}): ${r.stderr}`);
  return ms;
};
try {
  for (const c of cases) if ((c.runs ?? runs) > 1) once(c); // warm the page cache and dist/
  for (let i = 0; i < runs; i++) {
    for (const c of cases) if (i < (c.runs ?? runs)) times.get(c.name).push(once(c));
  }
} finally {
  if (bundle) rmSync(bundle, { recursive: true, force: true });
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  rmSync(daemonDir, { recursive: true, force: true });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const m = Object.fromEntries(cases.map((c) => [c.name, median(times.get(c.name))]));
const fmt = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`);
console.log(
  `\n${runs} interleaved runs each (verify: ${verifyRuns}, grade: ${gradeRuns}), median wall time, ${new Date().toISOString()}`,
);
const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
console.log(`load average at the end: ${load} (${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} CPUs)\n`);
for (const c of cases) console.log(`  ${c.name.padEnd(62)} ${fmt(m[c.name]).padStart(10)}`);

const node = m[NODE];
const budget = (label, value, limit) => {
  const verdict = value <= limit ? 'OK' : `over by ${(value - limit).toFixed(1)} ms`;
  console.log(
    `  ${label.padEnd(44)} ${value.toFixed(1).padStart(7)} ms ≤ ${limit.toFixed(1).padStart(7)} ms: ${verdict}`,
  );
};
const daemonRow = cases.find((c) => c.daemon);
if (daemonRow && bundle && m[RUNC] !== undefined) {
  console.log(
    `\ncellblockd (issue 16): API create→exit / runc run   ${(m[daemonRow.name] / m[RUNC]).toFixed(2)}× (no warm pool yet)`,
  );
}
if (only) process.exit(0);
console.log('\nbudgets (issue 17)');
budget('bridge ≤ 2 × (node -e 0) + 30 ms', m[BRIDGE], 2 * node + 30);
budget('--net host ≤ 2 × (node -e 0) + 15 ms', m[HOST], 2 * node + 15);
budget('-p PORT:80 ≤ bridge + 20 ms', m[PUBLISH], m[BRIDGE] + 20);
console.log('\nratios');
console.log(`  cellblock run / unshare (floor)    ${(m[BRIDGE] / m[UNSHARE]).toFixed(1)}×`);
if (bundle) console.log(`  cellblock run / runc run           ${(m[BRIDGE] / m[RUNC]).toFixed(2)}×`);
if (bundle) console.log(`  cellblock-oci run / runc run       ${(m[OCI] / m[RUNC]).toFixed(2)}× (same bundle)`);
console.log(
  `  cellblock run − 2 × node -e 0      ${(m[BRIDGE] - 2 * node).toFixed(1)} ms (two Node start-ups are inherent)`,
);
console.log(
  `  bridge network − --net host        ${(m[BRIDGE] - m[HOST]).toFixed(1)} ms (veth, address, route, lease)`,
);
console.log(`  --net none − --net host            ${(m[NONE] - m[HOST]).toFixed(1)} ms (a namespace, lo up)`);
console.log(
  `  -p PORT:80 − bridge                ${(m[PUBLISH] - m[BRIDGE]).toFixed(1)} ms (DNAT rule, loopback proxy)`,
);
if (baseline) {
  console.log(`\nbefore → after (baseline ${baseline}, same rounds)`);
  for (const n of [BRIDGE, HOST, NONE, PUBLISH, VERIFY, GRADE]) {
    const before = m[`${n} [baseline]`];
    console.log(`  ${n.padEnd(62)} ${fmt(before).padStart(10)} → ${fmt(m[n]).padStart(10)}`);
  }
}
usernsRatios(m, m[BRIDGE]);
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
    ['--net bridge (+3 if there is no bridge yet: it is made, then stays)', {}],
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

// ── Lesson 09: what the security steps cost at start-up ───────────────────────
// --privileged skips every step of the lesson (device cgroup, masks,
// capabilities, no_new_privs, seccomp), so the difference of the medians is
// their cost; seccomp=unconfined isolates the filter's assembly and install.
// Interleaved like the table above, in a function of its own.
async function securityCost() {
  const variants = [
    ['default (every security step)', []],
    ['--security-opt seccomp=unconfined', ['--security-opt', 'seccomp=unconfined']],
    ['--privileged (none of them)', ['--privileged']],
  ];
  const t = new Map(variants.map(([label]) => [label, []]));
  const n = Math.min(runs, 15);
  for (let i = 0; i < n; i++) {
    for (const [label, extra] of variants) {
      t.get(label).push(
        once({ name: label, argv: [process.execPath, bin, 'run', '--solutions', ...extra, '--', '/bin/true'] }),
      );
    }
  }
  const med = Object.fromEntries(variants.map(([label]) => [label, median(t.get(label))]));
  console.log(`\nlesson 09 — security steps at start-up (${n} interleaved runs each, median)`);
  for (const [label] of variants) console.log(`  ${label.padEnd(55)} ${med[label].toFixed(1).padStart(8)} ms`);
  const all = med['default (every security step)'] - med['--privileged (none of them)'];
  const filter = med['default (every security step)'] - med['--security-opt seccomp=unconfined'];
  console.log(`  every step − --privileged          ${all.toFixed(1)} ms`);
  console.log(`  of which the seccomp filter        ${filter.toFixed(1)} ms`);
}
await securityCost();

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
