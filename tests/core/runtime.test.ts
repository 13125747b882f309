/**
 * The runtime core, with the reference lessons: what every container gets
 * whatever the lessons do — a clean exec, a host that is put back exactly as it
 * was, and failures at each stage that clean up after themselves.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { expect } from 'chai';
import type { LoadedLesson } from '../../src/core/lesson.js';
import { startContainer } from '../../src/core/host/run.js';
import { InitError } from '../../src/core/init/protocol.js';
import { ConfigError } from '../../src/core/config.js';
import { load } from '../../src/workshop/loader.js';
import { trial } from '../../src/workshop/harness.js';
import { namespacesOf } from '../../src/workshop/probe.js';

describe('runtime core', function () {
  this.timeout(30_000);
  let lessons: LoadedLesson[];
  before(async () => (lessons = await load({ kind: 'cumulative', source: 'solutions' })));

  describe('exec hygiene: nothing of Node leaks into the command', function () {
    it('only fds 0, 1 and 2 are open', async function () {
      const t = await trial(lessons, { config: { argv: ['ls', '-l', '/proc/self/fd'] } });
      const fds = t.stdout
        .split('\n')
        .map((l) => /\s(\d+) -> (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .filter((m) => !/^\/proc\/\d+\/fd$/.test(m[2]!)) // ls's own handle on the directory it lists
        .map((m) => Number(m[1]));
      expect(fds, t.stdout + t.stderr).to.deep.equal([0, 1, 2]);
      expect(t.leaks).to.deep.equal([]);
    });

    it('no signal is ignored or blocked (Node ignores SIGPIPE; exec would keep that)', async function () {
      const t = await trial(lessons, { config: { argv: ['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status'] } });
      expect(t.stdout).to.equal('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    });

    it('SIGPIPE ends a writer whose reader is gone (`yes | head -n 1` terminates)', async function () {
      const t = await trial(lessons, { config: { argv: ['sh', '-c', 'yes | head -n 1 >/dev/null; echo done'] } });
      expect(t.stdout).to.equal('done\n'); // with SIGPIPE ignored, `yes` would spin forever
      expect(t.timedOut).to.equal(false);
    });
  });

  describe('the host thread goes back where it was', function () {
    it('same namespaces and cwd after many containers', async function () {
      const ns = namespacesOf('self');
      const threadNs = readlinkSync('/proc/thread-self/ns/mnt');
      const cwd = process.cwd();
      for (let i = 0; i < 5; i++) {
        const t = await trial(lessons, { config: { argv: ['true'] } });
        expect(t.status).to.equal(0);
      }
      expect(namespacesOf('self')).to.deep.equal(ns);
      expect(readlinkSync('/proc/thread-self/ns/mnt')).to.equal(threadNs);
      expect(process.cwd()).to.equal(cwd);
    });
  });

  describe('failures clean up after themselves', function () {
    it('bad input: ConfigError, nothing spawned', async function () {
      const t = await trial(lessons, { config: { argv: [] } });
      expect(t.error).to.be.instanceOf(ConfigError);
      expect(t.spawned).to.equal(0);
    });

    it('a host step that throws: the init is killed, cleanup still runs', async function () {
      let cleaned = false;
      const failing: LoadedLesson = {
        id: 'zz-failing-host-step',
        file: lessons[0]!.file, // the init loads this file; its step is never reached
        lesson: {
          id: 'zz-failing-host-step',
          hostAfterSpawn: () => {
            throw new Error('host step broke');
          },
          hostCleanup: () => {
            cleaned = true;
          },
        },
      };
      const t = await trial([...lessons, failing], { config: { argv: ['sleep', '30'] } });
      expect(t.error?.message).to.equal('host step broke');
      expect(t.spawned).to.equal(1);
      expect(cleaned, 'hostCleanup ran').to.equal(true);
      expect(t.leaks).to.deep.equal([]);
    });

    it('a step right before the exec sees the init done and not yet exec’d; if it throws, cleanup runs', async function () {
      const seen: string[] = [];
      let cleaned = false;
      const beforeExec = (fail: boolean): LoadedLesson => ({
        id: 'zz-before-exec',
        file: lessons[0]!.file,
        lesson: {
          id: 'zz-before-exec',
          hostBeforeExec: ({ pid }) => {
            // Still the init (node), its steps done: the command has not started.
            seen.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!);
            if (fail) throw new Error('before-exec step broke');
          },
          hostCleanup: () => {
            cleaned = true;
          },
        },
      });
      const ok = await trial([...lessons, beforeExec(false)], { config: { argv: ['echo', 'ran'] } });
      expect(ok.stdout).to.equal('ran\n');
      expect(seen).to.deep.equal([process.execPath]);
      const t = await trial([...lessons, beforeExec(true)], { config: { argv: ['echo', 'ran'] } });
      expect(t.error?.message).to.equal('before-exec step broke');
      expect(t.stdout, 'the command never ran').to.equal('');
      expect(cleaned, 'hostCleanup ran').to.equal(true);
      expect(t.leaks).to.deep.equal([]);
    });

    it('a container-side step that fails: InitError naming the step, exit 125', async function () {
      const err = await startContainer(
        {
          id: 'cb-core-initfail',
          rootfs: '/',
          argv: ['true'],
          env: [],
          cwd: '/',
          tty: false,
          hostname: 'x'.repeat(64),
        },
        {
          // The reference 01-uts step, but without its namespace: the guard refuses.
          lessons: lessons.map((l) => (l.id === '01-uts' ? { ...l, lesson: { ...l.lesson, cloneFlags: () => 0 } } : l)),
          stdio: ['ignore', 'ignore', 'ignore'],
        },
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(InitError);
      expect((err as InitError).step).to.equal('01-uts');
      expect((err as InitError).exitCode).to.equal(125);
      expect((err as InitError).message).to.match(/refused sethostname/);
    });
  });
});
