/**
 * cellblockd with the real Docker CLI as its client: the `docker` binary from
 * Debian's docker.io package (scripts/docker-client.sh takes it out of the
 * .deb; Debian's dockerd is never installed), pointed at a daemon of the
 * test's own socket with DOCKER_HOST. Always that exact binary: another
 * `docker` may be first on the PATH.
 *
 * Every container the tests make is tracked by id, and at the end nothing of
 * them is left — no mount, cgroup, veth, lease, state file, record or
 * process — and the daemon's socket goes when the daemon stops.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import pty from 'node-pty';
import { readState } from '../../src/core/host/state.js';
import { defaultRuntime } from '../../src/core/shim/index.js';
import { hostItems, isAlive, itemLine } from '../../src/workshop/probe.js';
import { BIN } from '../support/cli.js';
import { skipBecause } from '../support/skip.js';

const DOCKER = process.env['CELLBLOCK_DOCKER_CLIENT'] ?? '/usr/local/lib/cellblock-test/docker';

/** The OCI runtime the shims run (the checkout's cellblock-oci, or $CELLBLOCK_OCI_RUNTIME), if there is one. */
function ociRuntime(): string | undefined {
  const r = defaultRuntime();
  if (r.includes('/')) return existsSync(r) ? r : undefined;
  return spawnSync('sh', ['-c', `command -v ${r}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

describe('cellblockd with the real docker CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let socket: string;
  let daemon: ChildProcess | undefined;
  let daemonLog = '';
  /** Every container id the tests created: the leak check judges these. */
  const ids = new Set<string>();
  let env: NodeJS.ProcessEnv;

  const docker = (args: string[], o: { timeout?: number } = {}): SpawnSyncReturns<string> => {
    const r = spawnSync(DOCKER, args, { encoding: 'utf8', env, timeout: o.timeout ?? 45_000 });
    track();
    return r;
  };
  /** Ids of every container the daemon knows, so that the leak check knows them too. */
  const track = (): void => {
    const r = spawnSync(DOCKER, ['ps', '-a', '-q', '--no-trunc'], { encoding: 'utf8', env, timeout: 20_000 });
    for (const id of r.stdout.split('\n').filter(Boolean)) ids.add(id);
  };
  const inspect = (ref: string, format: string): string => docker(['inspect', '-f', format, ref]).stdout.trim();

  /** A raw request on the daemon's socket (what the CLI never sends: broken JSON). */
  const raw = (method: string, path: string, body: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        { socketPath: socket, method, path, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  before(async function () {
    if (!existsSync(DOCKER)) {
      skipBecause(
        this,
        `the docker client is not at ${DOCKER}: \`bash scripts/docker-client.sh\` takes it from Debian's docker.io package`,
      );
    }
    dir = mkdtempSync(join(tmpdir(), 'cellblockd-test-'));
    socket = join(dir, 'docker.sock');
    // DOCKER_CONFIG: a config directory of the test's own (no credentials, no contexts of the machine's).
    env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      DOCKER_HOST: `unix://${socket}`,
      DOCKER_CONFIG: join(dir, 'config'),
      HOME: dir,
    };
    await startDaemon();
  });

  /** Shims need an OCI runtime; without one the daemon keeps its containers itself (--backend inline). */
  const backend = ociRuntime() ? 'shim' : 'inline';
  async function startDaemon(): Promise<void> {
    daemon = spawn(
      process.execPath,
      [BIN, 'daemon', '--socket', socket, '--dir', join(dir, 'state'), '--backend', backend],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    daemon.stderr!.on('data', (d: Buffer) => (daemonLog += d.toString('utf8')));
    const until = Date.now() + 30_000;
    while (!existsSync(socket) && Date.now() < until && daemon.exitCode === null) await sleep(50);
    expect(existsSync(socket), `the daemon's socket (log: ${daemonLog})`).to.equal(true);
  }

  after(async function () {
    if (!daemon) return;
    if (daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('docker version: the client talks to cellblockd, API 1.41', function () {
    const r = docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Version}} {{.Server.Os}}']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.match(/^1\.41 \S*cellblock linux$/);
  });

  it('the socket is mode 0660, and every request is one log line', function () {
    const mode = spawnSync('stat', ['-c', '%a', socket], { encoding: 'utf8' }).stdout.trim();
    expect(mode).to.equal('660');
    expect(daemonLog).to.match(/^cellblockd: GET \/v1\.41\/version 200 \d+ms$/m);
  });

  it('docker run --rm busybox echo hello: the attached output, then the container is gone', function () {
    const r = docker(['run', '--rm', 'busybox', 'echo', 'hello']);
    expect(r.stdout).to.equal('hello\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(docker(['ps', '-a', '-q']).stdout).to.equal('');
  });

  it("docker run --rm busybox sh -c 'exit 3' exits 3", function () {
    expect(docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']).status).to.equal(3);
  });

  it('stdout and stderr stay apart through the multiplexed attach stream', function () {
    const r = docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; echo out2']);
    expect(r.stdout).to.equal('out\nout2\n');
    expect(r.stderr).to.equal('err\n');
  });

  let webId = '';
  it('docker run -d --name web busybox httpd -f -p 80: the id, and it keeps running', function () {
    const r = docker(['run', '-d', '--name', 'web', 'busybox', 'httpd', '-f', '-p', '80']);
    expect(r.status, r.stderr).to.equal(0);
    webId = r.stdout.trim();
    expect(webId).to.match(/^[0-9a-f]{32,64}$/);
    const pid = Number(inspect('web', '{{.State.Pid}}'));
    expect(isAlive(pid), `its init (pid ${pid}) runs`).to.equal(true);
  });

  it('docker ps lists web as up', function () {
    const r = docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Status}}']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(new RegExp(`^${webId.slice(0, 12)} web busybox Up `, 'm'));
  });

  it('docker logs web, and the logs of a talking container in order, streams apart', function () {
    const w = docker(['logs', 'web']);
    expect(w.status, w.stderr).to.equal(0);
    expect(
      docker(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'echo one; echo two >&2; echo three']).status,
    ).to.equal(0);
    expect(docker(['wait', 'talker']).stdout.trim()).to.equal('0');
    const r = docker(['logs', 'talker']);
    expect(r.stdout).to.equal('one\nthree\n');
    expect(r.stderr).to.equal('two\n');
    // The last entry alone (which one it is depends on which pipe the kernel delivered first: as Docker's).
    const last = docker(['logs', '--tail', '1', 'talker']);
    expect(`${last.stdout}${last.stderr}`).to.match(/^(two|three)\n$/);
    expect(docker(['rm', 'talker']).status).to.equal(0);
  });

  it("docker exec web hostname: the container's hostname, Docker's short id", function () {
    const r = docker(['exec', 'web', 'hostname']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${webId.slice(0, 12)}\n`);
    expect(docker(['exec', 'web', 'sh', '-c', 'exit 4']).status).to.equal(4);
  });

  it('docker stop web: SIGTERM, ignored by httpd as PID 1, then SIGKILL after the grace period (137)', function () {
    const t0 = Date.now();
    const r = docker(['stop', '-t', '2', 'web']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('web\n');
    expect(Date.now() - t0).to.be.greaterThan(1500);
    expect(inspect('web', '{{.State.Status}} {{.State.ExitCode}}')).to.equal('exited 137');
    expect(docker(['ps', '-q']).stdout).to.equal('');
  });

  it('docker rm web: gone from ps -a, and nothing of it left on the host', function () {
    const r = docker(['rm', 'web']);
    expect(r.status, r.stderr).to.equal(0);
    expect(docker(['ps', '-a', '-q']).stdout).to.equal('');
    expect(leftOf([webId])).to.deep.equal([]);
  });

  it('docker run --rm -it busybox sh, through a pseudo-terminal', async function () {
    const term = pty.spawn(DOCKER, ['run', '--rm', '-it', 'busybox', 'sh'], {
      env: env as Record<string, string>,
      cols: 100,
      rows: 30,
    });
    let out = '';
    term.onData((d) => (out += d));
    const exited = new Promise<number>((r) => term.onExit(({ exitCode }) => r(exitCode)));
    const seen = async (re: RegExp): Promise<void> => {
      const until = Date.now() + 30_000;
      while (!re.test(out) && Date.now() < until) await sleep(50);
      expect(out, JSON.stringify(out)).to.match(re);
    };
    await seen(/\/ # /); // the shell's prompt
    term.write('tty; echo $((6*7))\r');
    await seen(/^42\r?$/m);
    expect(out).to.match(/\/dev\/pts\/\d+/); // a terminal inside, not a pipe
    term.write('exit 5\r');
    expect(await exited).to.equal(5);
  });

  it('docker images: the built-in busybox', function () {
    const r = docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.split('\n')).to.include('busybox:latest');
  });

  it("an image not in the store: Docker's No such image, 125, no network", function () {
    const r = docker(['run', '--rm', 'cellblock-no-such-image', 'true']);
    expect(r.status).to.equal(125);
    expect(r.stderr).to.match(/No such image: cellblock-no-such-image:latest/);
  });

  it('unsupported features are refused by name (125), before anything exists', function () {
    const v = docker(['run', '--rm', '-v', '/tmp:/x', 'busybox', 'true']);
    expect(v.status).to.equal(125);
    expect(v.stderr).to.match(/does not support volumes \(-v \/tmp:\/x\)/);
    const n = docker(['run', '--rm', '--network', 'mynet', 'busybox', 'true']);
    expect(n.status).to.equal(125);
    expect(n.stderr).to.match(/does not support --network mynet/);
    expect(docker(['ps', '-a', '-q']).stdout).to.equal('');
  });

  it("malformed JSON: 400 with Docker's message shape; unknown fields are ignored", async function () {
    const bad = await raw('POST', '/v1.41/containers/create', '{"Image": "busybox", ');
    expect(bad.status).to.equal(400);
    expect((JSON.parse(bad.body) as { message: string }).message).to.match(/^invalid JSON: /);
    const ok = await raw(
      'POST',
      '/v1.41/containers/create?name=unknownfields',
      JSON.stringify({ Image: 'busybox', Cmd: ['true'], SomeFutureField: { x: 1 } }),
    );
    expect(ok.status, ok.body).to.equal(201);
    track();
    expect(docker(['rm', 'unknownfields']).status).to.equal(0);
  });

  it('a client that disconnects mid-attach leaves the container running; rm -f then leaves nothing', async function () {
    const r = docker([
      'run',
      '-d',
      '--name',
      'ticker',
      'busybox',
      'sh',
      '-c',
      'while true; do echo tick; sleep 0.2; done',
    ]);
    expect(r.status, r.stderr).to.equal(0);
    const id = r.stdout.trim();
    const attach = spawn(DOCKER, ['attach', '--sig-proxy=false', 'ticker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let got = '';
    attach.stdout.on('data', (d: Buffer) => (got += d.toString('utf8')));
    const until = Date.now() + 20_000;
    while (!got.includes('tick') && Date.now() < until) await sleep(50);
    expect(got).to.include('tick');
    attach.kill('SIGKILL'); // the connection drops without a word
    await new Promise((res) => attach.once('exit', res));
    await sleep(500);
    expect(inspect('ticker', '{{.State.Running}}')).to.equal('true');
    expect(docker(['rm', '-f', 'ticker']).status).to.equal(0);
    expect(leftOf([id])).to.deep.equal([]);
  });

  it('a restarted daemon finds its running containers again, from their shims', async function () {
    if (backend !== 'shim')
      skipBecause(
        this,
        `no OCI runtime for the shims (${defaultRuntime()}): the daemon keeps containers itself, and they end with it`,
      );
    const r = docker(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo before; sleep 1000']);
    expect(r.status, r.stderr).to.equal(0);
    const id = r.stdout.trim();
    const pid = Number(inspect('survivor', '{{.State.Pid}}'));
    daemon!.kill('SIGTERM');
    expect(await new Promise((res) => daemon!.once('exit', res))).to.equal(0);
    expect(existsSync(socket), 'the socket went with the daemon').to.equal(false);
    expect(isAlive(pid), 'the container runs on without the daemon').to.equal(true);
    await startDaemon();
    const ps = docker(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).to.match(/^survivor Up /m);
    expect(docker(['logs', 'survivor']).stdout).to.equal('before\n');
    expect(docker(['exec', 'survivor', 'echo', 'inside']).stdout).to.equal('inside\n');
    expect(docker(['rm', '-f', 'survivor']).status).to.equal(0);
    expect(leftOf([id])).to.deep.equal([]);
  });

  it('the daemon stops on SIGTERM: socket removed, nothing of any container left', async function () {
    daemon!.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => daemon!.once('exit', (c) => r(c)));
    expect(code, daemonLog).to.equal(0);
    expect(existsSync(socket), 'the socket is removed').to.equal(false);
    expect(leftOf([...ids])).to.deep.equal([]);
  });
});

/** What the inventories still attribute to these containers, and their state files. */
function leftOf(ids: string[]): string[] {
  const items = hostItems(ids).items.filter((i) => i.containerId !== undefined && ids.includes(i.containerId));
  return [...items.map(itemLine), ...ids.filter((id) => readState(id) !== undefined).map((id) => `state ${id}`)];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
