/**
 * `cellblock run` end to end, as a learner types it: exit statuses as a shell
 * reports them, bad input rejected with nothing created, stdin, signals, a
 * real terminal with -it — and nothing left behind by any of them.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { expect } from 'chai';
import pty from 'node-pty';
import { hostItems, hostState, isAlive } from '../../src/workshop/probe.js';
import { RUN_DIR } from '../../src/core/names.js';
import { BIN, cellblock, cellblockAsync } from '../support/cli.js';

const run = (...args: string[]) => cellblock(['run', '--solutions', ...args]);

function runningStates(): string[] {
  return existsSync(RUN_DIR) ? readdirSync(RUN_DIR) : [];
}

describe('cellblock run', function () {
  this.timeout(30_000);
  let before: string[];
  let statesBefore: string[];
  beforeEach(() => {
    before = hostState();
    statesBefore = runningStates();
  });
  afterEach(function () {
    // Every run, whatever its outcome, leaves the host as it found it.
    expect(hostState(), 'host state changed').to.deep.equal(before);
    expect(runningStates(), `state files left in ${RUN_DIR}`).to.deep.equal(statesBefore);
  });

  /** `cellblock ARGS` run by an ordinary user (nobody): a rootless run. */
  const asNobody = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });

  describe('bad input after the init has started (run spawns it first, then validates)', function () {
    const bad: [string, string[], RegExp][] = [
      ['a hostname too long', ['--hostname', 'h'.repeat(70)], /70 bytes/],
      ['a network mode that does not exist', ['--net', 'bridged'], /--net "bridged" is not a network mode/],
      ['a rootfs that does not exist', ['--rootfs', '/nonexistent-cellblock-rootfs'], /nonexistent-cellblock-rootfs/],
    ];
    for (const [what, args, message] of bad) {
      it(`${what}: 125, the waiting init killed and gone, nothing in the inventories`, function () {
        // CELLBLOCK_TRACE shows the timeline: proof that an init was spawned before the rejection.
        const id = `cb-prespawn-${process.pid}-${args.length}${args[0]!.length}`;
        const r = cellblock(['run', '--solutions', '--id', id, ...args, '--', 'true'], {
          env: { ...process.env, NO_COLOR: '1', CELLBLOCK_TRACE: '1' },
        });
        expect(r.status, r.stderr).to.equal(125);
        expect(r.stderr).to.match(message);
        expect(r.stderr).to.match(/nothing was created/);
        const pid = Number(/init spawned \(pid (\d+)\)/.exec(r.stderr)?.[1]);
        expect(pid, 'an init was spawned before the validation').to.be.greaterThan(0);
        expect(r.stderr).to.match(/rejected; the waiting init is gone/);
        expect(isAlive(pid), `the init (pid ${pid}) is gone`).to.equal(false);
        const left = hostItems([id]).items.filter((i) => i.containerId === id);
        expect(
          left.map((i) => `${i.kind} ${i.name}`),
          `items of ${id}`,
        ).to.deep.equal([]);
        // afterEach: every inventory (mounts, cgroups, links, netns, leases, rules, directories, state files) as before.
      });
    }
  });

  describe('exit status, as a shell reports it', function () {
    it('0 for a clean exit, with the output on stdout', function () {
      const r = run('--hostname', 'clibox', '--', 'sh', '-c', 'hostname');
      expect(r.stdout).to.equal('clibox\n');
      expect(r.status).to.equal(0);
    });
    it('the command’s own code', function () {
      expect(run('--', 'sh', '-c', 'exit 3').status).to.equal(3);
    });
    it('128 + N for death by signal N (SIGKILL → 137)', function () {
      // With --init the shell is not PID 1, which the kernel shields from its
      // own namespace's signals (lesson 02): here it really dies by SIGKILL.
      expect(run('--init', '--', 'sh', '-c', 'kill -KILL $$').status).to.equal(137);
    });
    it('127 and a clear message for a command that does not exist', function () {
      const r = run('--', 'no-such-command');
      expect(r.status).to.equal(127);
      expect(r.stderr).to.match(/execve\(no-such-command\): ENOENT — no such file in the container/);
    });
  });

  describe('the command’s environment', function () {
    it('-e sets variables and -w the working directory', function () {
      const r = run('-e', 'GREETING=hi', '-w', '/tmp', '--', 'sh', '-c', 'echo "$GREETING from $(pwd)"');
      expect(r.stdout).to.equal('hi from /tmp\n');
    });
    it('126 for a file that is not executable', function () {
      const r = run('--', '/etc/passwd');
      expect(r.status).to.equal(126);
      expect(r.stderr).to.include('execve(/etc/passwd): EACCES');
    });
    it('125 and the path for a working directory that does not exist', function () {
      const r = run('-w', '/no/such/dir', '--', 'true');
      expect(r.status).to.equal(125);
      expect(r.stderr).to.include('chdir(/no/such/dir): ENOENT');
    });
  });

  describe('bad input: a clear error, exit non-zero, nothing created', function () {
    it('a 65-byte hostname', function () {
      const r = run('--hostname', 'x'.repeat(65), '--', 'true');
      expect(r.status).to.equal(125);
      expect(r.stderr).to.include(`hostname "${'x'.repeat(65)}" is 65 bytes long`);
      expect(r.stderr).to.include('nothing was created');
    });
    it('a missing rootfs, named', function () {
      const r = run('--rootfs', '/nonexistent/rootfs', '--', 'true');
      expect(r.status).to.equal(125);
      expect(r.stderr).to.include('rootfs /nonexistent/rootfs does not exist');
    });
    it('no command', function () {
      const r = run();
      expect(r.status).to.equal(125);
      expect(r.stderr).to.include('no command given');
    });
    it('a misspelt option (exit 2, usage error)', function () {
      const r = run('--hostnme', 'x', '--', 'true');
      expect(r.status).to.equal(2);
      expect(r.stderr).to.include('Unknown argument: hostnme');
    });
    it('not root, every lesson: the container runs rootless — root inside, exit 0, what needs root said once', function () {
      const r = asNobody(['run', '--solutions', '--', 'id', '-u']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('0\n');
      expect(r.stderr).to.match(/rootless: no cgroup/);
    });
    it('not root: a limit that needs a cgroup is refused, naming it and the fix (rootless runs have none)', function () {
      const r = asNobody(['run', '--solutions', '--memory', '64m', '--', 'true']);
      expect(r.status, r.stderr).to.equal(125);
      expect(r.stderr).to.match(/--memory needs a cgroup.*rootless.*run it as root/);
    });
  });
  describe('stdio and signals', function () {
    it('without -i, stdin is empty: `cat` ends at once', function () {
      const r = cellblock(['run', '--solutions', '--', 'cat']);
      expect(r.status).to.equal(0);
      expect(r.stdout).to.equal('');
    });
    it('with -i, stdin reaches the command', function () {
      const r = cellblock(['run', '--solutions', '-i', '--', 'cat'], { input: 'hello through stdin\n' });
      expect(r.stdout).to.equal('hello through stdin\n');
    });
    it('SIGTERM to cellblock is passed on to the container', async function () {
      const child = cellblockAsync([
        'run',
        '--solutions',
        '--',
        'sh',
        '-c',
        'trap "exit 42" TERM; echo up; while :; do sleep 0.05; done',
      ]);
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).to.equal(42);
    });
    it('SIGKILL to cellblock takes the container down with it', async function () {
      const child = cellblockAsync(['run', '--solutions', '--', 'sh', '-c', 'echo $$; exec sleep 30']);
      const pidText = await new Promise<string>((resolve) =>
        child.stdout.once('data', (d: Buffer) => resolve(d.toString())),
      );
      const states = runningStates().filter((f) => !statesBefore.includes(f));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      // The container's pid as the host sees it, from the runtime's state file.
      const deadline = Date.now() + 2000;
      const { readState } = await import('../../src/core/host/state.js');
      const pids = states.map((f) => readState(f.replace(/\.json$/, ''))?.pid).filter((p): p is number => !!p);
      expect(pids, `no state file for the container (printed ${pidText.trim()})`).to.have.length(1);
      while (isAlive(pids[0]!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(pids[0]!), 'the container outlived its runtime').to.equal(false);
      // The runtime had no chance to clean up: its state file, the container's
      // cgroups (lessons 05, 09; nothing in the kernel removes an empty cgroup),
      // its address lease (lesson 04; stale now, so free for others), its
      // overlay directory (lesson 06) stay — that is cleanup's job: here, the
      // same inventories' removal of everything attributed to the container.
      const { removeContainerItems } = await import('../../src/core/inventories.js');
      for (const f of states) {
        const { failed } = await removeContainerItems(f.replace(/\.json$/, ''));
        expect(failed, 'cleanup of the killed container').to.deep.equal([]);
      }
    });
  });

  describe('-it: a real terminal', function () {
    it('is a tty, follows window resizes, passes ^C and the exit code', async function () {
      const term = pty.spawn(process.execPath, [BIN, 'run', '--solutions', '-it', '--hostname', 'ttybox', '--', 'sh'], {
        cols: 100,
        rows: 30,
        env: { ...process.env, NO_COLOR: '1' } as Record<string, string>,
      });
      let out = '';
      term.onData((d) => (out += d));
      const waitFor = async (re: RegExp): Promise<void> => {
        const deadline = Date.now() + 10_000;
        while (!re.test(out)) {
          if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${re}; screen so far: ${JSON.stringify(out)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
      try {
        // busybox ash (the rootfs's shell since lesson 03) asks for the cursor position (ESC [6n) after its prompt.
        await waitFor(/# (\x1b\[6n)?$/m);
        term.write('hostname; tty; stty size\r');
        await waitFor(/30 100/);
        expect(out).to.include('ttybox');
        expect(out).to.match(/\/dev\/pts\/\d+/);
        term.resize(120, 40);
        await new Promise((r) => setTimeout(r, 100));
        term.write('stty size; sleep 30\r');
        await waitFor(/40 120/);
        term.write('\x03'); // ^C: the terminal, not cellblock, turns it into SIGINT for sleep
        await waitFor(/\^C/);
        term.write('exit 7\r');
        expect(await exited).to.equal(7);
      } finally {
        // A failed step must not leave a shell (and a running container) behind.
        term.kill('SIGKILL');
      }
    });

    it('the terminal closing (SIGHUP) ends the container and still cleans up', async function () {
      const term = pty.spawn(process.execPath, [BIN, 'run', '--solutions', '-t', '--', 'sleep', '30'], {
        cols: 80,
        rows: 24,
        env: { ...process.env, NO_COLOR: '1' } as Record<string, string>,
      });
      const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
      try {
        const deadline = Date.now() + 10_000;
        while (runningStates().length === statesBefore.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        process.kill(term.pid, 'SIGHUP');
        // sleep as PID 1 ignores SIGHUP: the runtime kills it after a grace period.
        expect(await exited).to.equal(137);
      } finally {
        term.kill('SIGKILL');
      }
      // afterEach: no state file, cgroup, veth, lease or mount left.
    });

    it('-t without a terminal is refused', function () {
      const r = run('-t', '--', 'true');
      expect(r.status).to.equal(125);
      expect(r.stderr).to.include('-t needs a terminal');
    });
  });
});
