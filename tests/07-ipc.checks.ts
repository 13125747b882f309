/**
 * Lesson 07 checks: an IPC namespace of its own, and an mqueue filesystem
 * that shows it.
 *
 * One scenario, looked at from the host: the host makes a System V segment
 * and a POSIX queue of its own; container A lists what it sees, makes one of
 * each, and waits; meanwhile the host lists its own objects and reads A's
 * /dev/mqueue through /proc/<pid>/root, and container B lists what *it* sees.
 * busybox has `ipcs` but no `ipcmk` and nothing for POSIX queues, so both
 * sides use the rootfs's probe (scripts/rootfs/ipcprobe.c).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { defaultRootfs } from '../src/core/paths.js';
import { IPC_KEY_BASE, IPC_MQ_PREFIX } from '../src/core/names.js';
import { hostQueues, hostShmKeys, ipcProbe } from '../src/core/ipc/inventory.js';
import {
  defineChecks,
  expectThat,
  outputContains,
  startFailure,
  type CheckEnv,
  type CheckResult,
} from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';
import { namespacesOf } from '../src/workshop/probe.js';

const PROBE = '/usr/local/bin/ipcprobe';

const key = (): string => `0x${(IPC_KEY_BASE + randomBytes(2).readUInt16BE()).toString(16).padStart(8, '0')}`;
const queue = (who: string): string => `${IPC_MQ_PREFIX}${who}-${randomBytes(3).toString('hex')}`;

/** Run the probe on the host (it is static: the rootfs's binary runs here too). */
function hostProbe(...args: string[]): void {
  execFileSync(ipcProbe(defaultRootfs()), args, { stdio: 'ignore' });
}

function tryHostProbe(...args: string[]): void {
  try {
    hostProbe(...args);
  } catch {
    // already gone
  }
}

/** What `ipcprobe shm; echo --; ipcprobe mq` printed: segment keys, then queue names. */
function listing(stdout: string): { shm: string[]; mq: string[] } {
  const [shm = '', mq = ''] = stdout.split('--\n');
  return { shm: shm.split('\n').filter(Boolean), mq: mq.split('\n').filter((l) => l && l !== 'ready') };
}
const LIST = `${PROBE} shm; echo --; ${PROBE} mq`;

interface Scenario {
  hostKey: string;
  hostQueue: string;
  insideKey: string;
  insideQueue: string;
  a: TrialResult;
  b?: TrialResult;
  /** What the host listed while A ran, and after. */
  hostDuring: { shm: string[]; mq: string[] };
  hostAfter: { shm: string[]; mq: string[] };
  /** A's /dev/mqueue: its type in A's mountinfo, and its entries. */
  mqueueType?: string;
  mqueueEntries?: string[];
}

function mqueueMount(pid: number): string | undefined {
  try {
    for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[4] === '/dev/mqueue') return f[f.indexOf('-') + 1];
    }
  } catch {
    // gone
  }
  return undefined;
}

function scenario(env: CheckEnv): Promise<Scenario> {
  return env.once('ipc', async () => {
    const s = { hostKey: key(), hostQueue: queue('host'), insideKey: key(), insideQueue: queue('inside') } as Scenario;
    hostProbe('mkshm', s.hostKey);
    hostProbe('mkmq', s.hostQueue);
    try {
      s.a = await env.trial({
        config: {
          argv: [
            'sh',
            '-c',
            `${LIST}; ${PROBE} mkshm ${s.insideKey} >/dev/null && ${PROBE} mkmq ${s.insideQueue} && echo ready; read _`,
          ],
        },
        whileRunning: async (c) => {
          await outputContains(c, 'ready');
          s.hostDuring = { shm: hostShmKeys(), mq: hostQueues(defaultRootfs()) };
          s.mqueueType = mqueueMount(c.pid);
          const dir = `/proc/${c.pid}/root/dev/mqueue`;
          s.mqueueEntries = existsSync(dir) ? readdirSync(dir) : undefined;
          s.b = await env.trial({ config: { argv: ['sh', '-c', LIST] } });
          // Made in the host's namespace (no IPC namespace of its own)? Then
          // nothing would ever free it: remove it now, while the check has seen it.
          if (s.hostDuring.shm.includes(s.insideKey)) tryHostProbe('rmshm', s.insideKey);
          if (s.hostDuring.mq.includes(s.insideQueue)) tryHostProbe('rmmq', s.insideQueue);
        },
      });
      s.hostAfter = { shm: hostShmKeys(), mq: hostQueues(defaultRootfs()) };
    } finally {
      tryHostProbe('rmshm', s.hostKey);
      tryHostProbe('rmmq', s.hostQueue);
      tryHostProbe('rmshm', s.insideKey);
      tryHostProbe('rmmq', s.insideQueue);
    }
    return s;
  });
}

const none = (xs: string[]): string => (xs.length === 0 ? 'none' : xs.join(', '));

export default defineChecks('07-ipc', [
  {
    name: 'the container has its own IPC namespace',
    async run(env) {
      const { a } = await scenario(env);
      const host = namespacesOf('self').ipc;
      return (
        startFailure(a) ??
        expectThat(
          a.namespaces.ipc !== undefined && a.namespaces.ipc !== host,
          `an ipc inode other than the host's ${host}`,
          `${a.namespaces.ipc}`,
          'same inode as the host: the process was not started in a new IPC namespace — see man 7 ipc_namespaces for its CLONE_NEW* flag',
        )
      );
    },
  },
  {
    name: 'the host’s System V segment and POSIX queue are invisible inside',
    async run(env) {
      const s = await scenario(env);
      const seen = listing(s.a.stdout);
      const leaked = [
        ...(seen.shm.includes(s.hostKey) ? [`segment ${s.hostKey}`] : []),
        ...(seen.mq.includes(s.hostQueue) ? [`queue /${s.hostQueue}`] : []),
      ];
      return (
        startFailure(s.a) ??
        expectThat(
          leaked.length === 0 && s.a.stdout.includes('--'),
          `neither segment ${s.hostKey} nor queue /${s.hostQueue} (made on the host) listed inside`,
          s.a.stdout.includes('--') ? `inside listed: ${none(leaked)}` : `no listing (stderr: ${s.a.stderr.trim()})`,
          'the container still sees the host’s IPC objects: it shares the host’s IPC namespace (man 7 ipc_namespaces)',
        )
      );
    },
  },
  {
    name: 'a segment and a queue made inside never appear on the host',
    async run(env) {
      const s = await scenario(env);
      const onHost = [
        ...(s.hostDuring?.shm.includes(s.insideKey) ? [`segment ${s.insideKey} while it ran`] : []),
        ...(s.hostDuring?.mq.includes(s.insideQueue) ? [`queue /${s.insideQueue} while it ran`] : []),
        ...(s.hostAfter?.shm.includes(s.insideKey) ? [`segment ${s.insideKey} after it ended`] : []),
        ...(s.hostAfter?.mq.includes(s.insideQueue) ? [`queue /${s.insideQueue} after it ended`] : []),
      ];
      return (
        startFailure(s.a) ??
        expectThat(
          s.hostDuring !== undefined && onHost.length === 0,
          `the host never lists segment ${s.insideKey} or queue /${s.insideQueue}: they live and die with the container’s namespace`,
          s.hostDuring === undefined
            ? 'the container did not get as far as making them'
            : `the host saw: ${none(onHost)}`,
          'the container made them in the host’s IPC namespace, where nothing frees them (the check removed them): ask for a new IPC namespace',
        )
      );
    },
  },
  {
    name: 'two containers do not see each other’s IPC objects',
    async run(env) {
      const s = await scenario(env);
      const b = s.b;
      if (!b) return startFailure(s.a) ?? expectThat(false, 'a second container runs', 'it did not start');
      const seen = listing(b.stdout);
      const mine = [
        ...(seen.shm.includes(s.insideKey) ? [`segment ${s.insideKey}`] : []),
        ...(seen.mq.includes(s.insideQueue) ? [`queue /${s.insideQueue}`] : []),
      ];
      return (
        startFailure(b) ??
        expectThat(
          mine.length === 0,
          `container B lists neither segment ${s.insideKey} nor queue /${s.insideQueue} of container A`,
          `B listed: ${none(mine)}`,
          'both containers share one IPC namespace (the host’s): each needs its own',
        )
      );
    },
  },
  {
    name: '/dev/mqueue inside is an mqueue filesystem listing the container’s own queues',
    async run(env): Promise<CheckResult> {
      const s = await scenario(env);
      const entries = s.mqueueEntries ?? [];
      const ok = s.mqueueType === 'mqueue' && entries.includes(s.insideQueue) && !entries.includes(s.hostQueue);
      return (
        startFailure(s.a) ??
        expectThat(
          ok,
          `an mqueue mount on /dev/mqueue that lists ${s.insideQueue} and not the host’s ${s.hostQueue}`,
          s.mqueueType === undefined
            ? 'nothing mounted on /dev/mqueue'
            : `a ${s.mqueueType} mount listing: ${none(entries)}`,
          s.mqueueType === undefined
            ? 'mount a new filesystem of type "mqueue" on /dev/mqueue inside the container (man 7 mq_overview)'
            : s.mqueueType !== 'mqueue'
              ? 'the filesystem type must be "mqueue"'
              : 'an mqueue mount shows the queues of the IPC namespace of whoever mounted it: mount it from inside, in the container’s own IPC namespace',
        )
      );
    },
  },
]);
