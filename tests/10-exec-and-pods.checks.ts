/**
 * Lesson 10 checks: `cellblock exec` — a new process inside a running container.
 *
 * One scenario, looked at from the host: a container named web-… with the
 * hostname `web` waits on stdin; meanwhile the check execs into it (through
 * the core's execInContainer, with the lessons under test) a shell that prints
 * what it sees and waits, a command that exits 7, and a long sleep. The host
 * compares the first one's /proc/<pid>/ns/* and /proc/<pid>/cgroup with the
 * init's; then the container ends, and the sleep must end with it. Last, an
 * exec into the container that has ended, and one into a name nobody has.
 * A second container has its own user namespace (--userns remap): an exec
 * into it must join that one too, first.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { execInContainer, type ExecProcess } from '../src/core/host/exec.js';
import { listCgroups } from '../src/core/cgroups/inventory.js';
import { leaseOf } from '../src/core/net/ipam.js';
import { PAUSE, podId } from '../src/core/pods/pods.js';
import { helperProblem, usernsSupportProblem } from '../src/core/host/userns.js';
import {
  defineChecks,
  expectThat,
  outputContains,
  skipCheck,
  SLOW,
  startFailure,
  type CheckEnv,
} from '../src/workshop/checks.js';
import type { TrialResult } from '../src/workshop/harness.js';
import { isAlive } from '../src/workshop/probe.js';

const KINDS = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt'] as const;

const link = (pid: number, kind: string): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
};
const text = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};
const message = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

interface Scenario {
  t: TrialResult;
  name: string;
  /** The init's and the exec'd shell's namespaces, kind → link (undefined: no such kind). */
  init: Record<string, string | undefined>;
  joined: Record<string, string | undefined>;
  initCgroups: string;
  joinedCgroups: string;
  /** What the exec'd shell printed (hostname, its own pid, ps). */
  shown: string;
  shownStatus?: number;
  /** `sh -c 'exit 7'`'s status as exec returned it. */
  exitStatus?: number;
  /** The sleep: its host pid, and whether it was gone soon after the container ended. */
  sleeperPid?: number;
  sleeperGone?: boolean;
  /** Why an exec failed (the first one that did). */
  execError?: string;
  /** Exec into the ended container, and into a name no container has. */
  stoppedError?: string;
  unknownError?: string;
  /** `run --net container:NAME -- ip addr show eth0`, and web's address. */
  sharer?: TrialResult;
  /** `run --net container:NAME` once that container has ended. */
  stoppedSharer?: TrialResult;
  webAddress?: string;
}

function scenario(env: CheckEnv): Promise<Scenario> {
  return env.once('exec', async () => {
    const name = `web-${randomBytes(3).toString('hex')}`;
    const s = { name, init: {}, joined: {}, initCgroups: '', joinedCgroups: '', shown: '' } as Scenario;
    const exec = async (target: string, argv: string[]): Promise<ExecProcess> =>
      execInContainer({ target, argv, stdio: ['pipe', 'pipe', 'pipe'], lessons: env.lessons });
    let sleeper: ExecProcess | undefined;
    s.t = await env.trial({
      config: { argv: ['sh', '-c', 'echo ready; read _'], hostname: 'web', name },
      timeoutMs: 20_000 * SLOW,
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        s.webAddress = leaseOf(c.config.id)?.address;
        s.sharer = await env.trial({ config: { net: `container:${name}`, argv: ['ip', 'addr', 'show', 'eth0'] } });
        try {
          const e = await exec(name, ['sh', '-c', 'hostname; echo "pid $$"; ps -o pid,comm; echo shown; read _']);
          let out = '';
          e.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          await outputContains(e.child, 'shown');
          for (const k of KINDS) {
            s.init[k] = link(c.pid, k);
            s.joined[k] = link(e.pid, k);
          }
          s.initCgroups = text(`/proc/${c.pid}/cgroup`);
          s.joinedCgroups = text(`/proc/${e.pid}/cgroup`);
          e.child.stdin?.end();
          s.shownStatus = await e.wait();
          s.shown = out;
          s.exitStatus = await (await exec(c.config.id, ['sh', '-c', 'exit 7'])).wait();
          sleeper = await exec(name, ['sleep', '1000']);
          s.sleeperPid = sleeper.pid;
          // End the container (its command reads stdin), and see the sleep go with it.
          c.stdin?.end();
          const ended = await Promise.race([sleeper.wait(), new Promise((r) => setTimeout(r, 3000 * SLOW))]);
          s.sleeperGone = ended !== undefined && !isAlive(s.sleeperPid);
        } catch (err) {
          s.execError ??= message(err);
        } finally {
          if (sleeper && !s.sleeperGone) sleeper.child.kill('SIGKILL');
          await sleeper?.wait();
        }
      },
    });
    s.stoppedSharer = await env.trial({ config: { net: `container:${name}`, argv: ['true'] } });
    for (const [target, key] of [
      [s.t.config.id, 'stoppedError'],
      [`nobody-${randomBytes(3).toString('hex')}`, 'unknownError'],
    ] as const) {
      try {
        const e = await exec(target, ['true']);
        await e.wait();
        s[key] = 'it ran';
      } catch (err) {
        s[key] = message(err);
      }
    }
    return s;
  });
}

interface UsernsScenario {
  t: TrialResult;
  /** The init's and the exec'd process's ns/user links. */
  init?: string;
  joined?: string;
  /** What `id -u` printed inside the exec'd process. */
  uid?: string;
  error?: string;
}

/**
 * A container with its own user namespace (lesson 08's --userns remap): an
 * exec must join it — first, so that it is root *of it* for the joins that
 * follow (the runtime refuses an order that is not, and an exec without it).
 */
function remappedExec(env: CheckEnv): Promise<UsernsScenario> {
  return env.once('exec-userns', async () => {
    const s = {} as UsernsScenario;
    s.t = await env.trial({
      config: { argv: ['sh', '-c', 'echo ready; read _'], userns: 'remap' },
      timeoutMs: 20_000 * SLOW,
      whileRunning: async (c) => {
        await outputContains(c, 'ready');
        try {
          const e = await execInContainer({
            target: c.config.id,
            argv: ['sh', '-c', 'id -u; echo shown; read _'],
            stdio: ['pipe', 'pipe', 'pipe'],
            lessons: env.lessons,
          });
          let out = '';
          e.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          await outputContains(e.child, 'shown');
          s.init = link(c.pid, 'user');
          s.joined = link(e.pid, 'user');
          s.uid = out.split('\n')[0];
          e.child.stdin?.end();
          await e.wait();
        } catch (err) {
          s.error = message(err);
        } finally {
          c.stdin?.end();
        }
      },
    });
    return s;
  });
}

/** The exec could not run at all: say why, once, in every check that needed it. */
function execFailure(s: Scenario): ReturnType<typeof expectThat> | undefined {
  if (!s.execError) return startFailure(s.t);
  return expectThat(
    false,
    'cellblock exec runs the command',
    s.execError,
    'the exec failed before the command ran: the error names the step (joinNamespaces, the helper, a setns)',
  );
}

/** A TCP port nothing on the host listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** GET http://host:port/ from the host: the body, or the error's code. */
function fetchBody(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = get({ host, port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

const until = async (ok: () => boolean, ms: number): Promise<boolean> => {
  for (let t = 0; t < ms; t += 50) {
    if (ok()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return ok();
};

interface PodScenario {
  pause: TrialResult;
  web?: TrialResult;
  client?: TrialResult;
  /** kind → [pause, web, client] links. */
  ns: Record<string, (string | undefined)[]>;
  /** What the client got from localhost:8080, and its hostname. */
  clientSaw: string;
  address?: string;
  fromHost: string;
  fromPublished: string;
  port: number;
  /** The web member still ran after the client had exited. */
  webAfterClient?: boolean;
  /** /proc/<pid>/cgroup of the pause and of web, while they ran. */
  pauseCgroups: string;
  webCgroups: string;
  /** v2: the pod's own cgroup's cgroup.procs (it must hold no process). */
  podProcs?: string;
  /** The workshop's cgroups below the pod's, still there after the pause had ended. */
  podCgroupsLeft: string[];
  /** Bad input while the pod ran: --pod with --net, --hostname, -p; a second pause of the same name. */
  rejects: { what: string; value: string; t: TrialResult }[];
  error?: string;
}

/**
 * A pod by hand, as `cellblock pod create` and `run --pod` make it: the pause
 * container (id cb-pod-NAME, the pod's address and a published port), a web
 * member serving on 8080, a client member that fetches localhost:8080.
 */
function pod(env: CheckEnv): Promise<PodScenario> {
  return env.once('pod', async () => {
    const name = `p${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    const s = {
      ns: {},
      clientSaw: '',
      fromHost: '',
      fromPublished: '',
      port,
      pauseCgroups: '',
      webCgroups: '',
      podCgroupsLeft: [],
      rejects: [],
    } as unknown as PodScenario;
    const web =
      'mkdir -p /dev/www && echo served-in-the-pod > /dev/www/index.html && httpd -f -p 8080 -h /dev/www & echo ready; read _';
    s.pause = await env.trial({
      config: { id: podId(name), name, hostname: name, argv: [PAUSE], publish: [`${port}:8080`] },
      timeoutMs: 30_000 * SLOW,
      whileRunning: async (p) => {
        try {
          await until(() => {
            try {
              return readlinkSync(`/proc/${p.pid}/exe`) === PAUSE;
            } catch {
              return false;
            }
          }, 5000 * SLOW);
          s.address = leaseOf(podId(name))?.address;
          s.web = await env.trial({
            config: { pod: name, argv: ['sh', '-c', web] },
            timeoutMs: 20_000 * SLOW,
            whileRunning: async (w) => {
              await outputContains(w, 'ready');
              await until(() => text(`/proc/${w.pid}/net/tcp`).includes(':1F90 '), 3000 * SLOW);
              s.client = await env.trial({
                config: { pod: name, argv: ['sh', '-c', 'wget -qO- http://localhost:8080/; hostname'] },
              });
              s.webAfterClient = isAlive(w.pid);
              s.pauseCgroups = text(`/proc/${p.pid}/cgroup`);
              s.webCgroups = text(`/proc/${w.pid}/cgroup`);
              const v2 = /^0::(\S+)$/m.exec(s.pauseCgroups)?.[1];
              if (!/^\d+:[^:]+:/m.test(s.pauseCgroups.replace(/^0::.*$/m, '')) && v2) {
                s.podProcs = text(`/sys/fs/cgroup${v2.replace(/\/[^/]+$/, '')}/cgroup.procs`);
              }
              for (const k of ['net', 'ipc', 'uts', 'pid', 'mnt']) {
                s.ns[k] = [link(p.pid, k), link(w.pid, k), s.client.namespaces[k as 'net']];
              }
              s.clientSaw = s.client.stdout.trim();
              // The pod's one address, and its published port (the DNAT rule, and the loopback proxy).
              s.fromHost = s.address ? await fetchBody(s.address, 8080) : 'no address';
              s.fromPublished = await fetchBody('127.0.0.1', port);
              // Bad input, while the pod runs: each refused before anything exists (spawned 0).
              for (const [what, value, config] of [
                ['--pod with --net', '--net', { pod: name, net: 'none', argv: ['true'] }],
                ['--pod with --hostname', '--hostname', { pod: name, hostname: 'other', argv: ['true'] }],
                ['--pod with -p', '--publish', { pod: name, publish: ['18997:80'], argv: ['true'] }],
                ['a pod name already taken', podId(name), { id: podId(name), name, hostname: name, argv: [PAUSE] }],
              ] as const) {
                s.rejects.push({ what, value, t: await env.trial({ config: { ...config, argv: [...config.argv] } }) });
              }
            },
          });
        } catch (err) {
          s.error = message(err);
        } finally {
          p.kill('SIGTERM'); // the pause ends on it
        }
      },
    });
    s.podCgroupsLeft = listCgroups({ mountinfo: '/proc/self/mountinfo' })
      .map((c) => c.path)
      .filter((path) => path.includes(`/${podId(name)}`));
    return s;
  });
}

interface SharedPidScenario {
  pause: TrialResult;
  a?: TrialResult;
  b?: TrialResult;
  /** ns/pid of the pause, member a (waits), member b (runs ps). */
  pidNs: (string | undefined)[];
  /** a's pid as its PID namespace numbers it (the last NSpid field). */
  aPid?: number;
  error?: string;
}

/** A pod made with --share-pid: member b runs `ps` while member a waits. */
function sharedPid(env: CheckEnv): Promise<SharedPidScenario> {
  return env.once('shared-pid', async () => {
    const name = `q${randomBytes(3).toString('hex')}`;
    const s = { pidNs: [] } as unknown as SharedPidScenario;
    s.pause = await env.trial({
      config: { id: podId(name), name, hostname: name, argv: [PAUSE], 'share-pid': true },
      timeoutMs: 30_000 * SLOW,
      whileRunning: async (p) => {
        try {
          await until(() => {
            try {
              return readlinkSync(`/proc/${p.pid}/exe`) === PAUSE;
            } catch {
              return false;
            }
          }, 5000 * SLOW);
          s.a = await env.trial({
            config: { pod: name, argv: ['sh', '-c', 'echo ready; read _'] },
            timeoutMs: 20_000 * SLOW,
            whileRunning: async (a) => {
              await outputContains(a, 'ready');
              s.aPid = Number(/^NSpid:.*?(\d+)\s*$/m.exec(text(`/proc/${a.pid}/status`))?.[1]);
              s.b = await env.trial({ config: { pod: name, argv: ['ps', '-o', 'pid,comm'] } });
              s.pidNs = [link(p.pid, 'pid'), link(a.pid, 'pid'), s.b.namespaces.pid];
            },
          });
        } catch (err) {
          s.error = message(err);
        } finally {
          p.kill('SIGTERM');
        }
      },
    });
    return s;
  });
}

const podFailure = (s: PodScenario): ReturnType<typeof expectThat> | undefined =>
  startFailure(s.pause) ??
  (s.web && startFailure(s.web)) ??
  (s.client && startFailure(s.client)) ??
  (s.error ? expectThat(false, 'the pod scenario runs', s.error, 'read the error') : undefined);

export default defineChecks('10-exec-and-pods', [
  {
    name: 'the exec’d process is in every namespace of the container',
    async run(env) {
      const s = await scenario(env);
      const differ = KINDS.filter((k) => s.init[k] !== s.joined[k]).map(
        (k) => `${k} ${s.joined[k]} (container: ${s.init[k]})`,
      );
      return (
        execFailure(s) ??
        expectThat(
          differ.length === 0 && s.joined['mnt'] !== undefined,
          'the same /proc/<pid>/ns/* links as the container’s init',
          differ.length === 0 ? 'all equal' : differ.join('; '),
          'a namespace was not joined: joinNamespaces must name every kind /proc/<pid>/ns lists (man 2 setns)',
        )
      );
    },
  },
  {
    name: 'exec into a container with its own user namespace joins it, first',
    async run(env) {
      const why = usernsSupportProblem() ?? helperProblem();
      if (why) return skipCheck(why, 'the exec’d process in the container’s user namespace');
      const s = await remappedExec(env);
      return (
        startFailure(s.t) ??
        expectThat(
          !s.error && s.joined !== undefined && s.joined === s.init && s.uid === '0',
          `ns/user ${s.init ?? '?'} as the init's, and \`id -u\` 0 inside`,
          s.error ?? `ns/user ${s.joined ?? 'none'}, id -u ${JSON.stringify(s.uid ?? '')}`,
          'a --userns container owns its other namespaces through its user namespace: the joining process must enter that one too, and before the rest (man 2 setns; man 7 user_namespaces)',
        )
      );
    },
  },
  {
    name: 'the exec’d process is in the container’s cgroups',
    async run(env) {
      const s = await scenario(env);
      return (
        execFailure(s) ??
        expectThat(
          s.joinedCgroups !== '' && s.joinedCgroups === s.initCgroups,
          `the init's /proc/<pid>/cgroup: ${s.initCgroups.trim().replace(/\n/g, ' ')}`,
          s.joinedCgroups.trim().replace(/\n/g, ' ') || 'nothing (it had ended)',
          'the process is where the runtime was, so no limit of the container applies to it: write its pid to each cgroup’s cgroup.procs in hostJoin (man 7 cgroups)',
        )
      );
    },
  },
  {
    name: 'hostname and ps inside show the container',
    async run(env) {
      const s = await scenario(env);
      const lines = s.shown.split('\n');
      const pid = Number(/^pid (\d+)$/m.exec(s.shown)?.[1]);
      const psLines = lines.filter((l) => /^\s*\d+\s/.test(l));
      return (
        execFailure(s) ??
        expectThat(
          lines[0] === 'web' && pid > 1 && pid < 100 && psLines.some((l) => /^\s*1\s/.test(l)) && psLines.length < 20,
          'hostname web, a small pid of its own, and ps listing the container’s few processes from PID 1',
          `hostname ${JSON.stringify(lines[0] ?? '')}, pid ${pid}, ${psLines.length} processes in ps`,
          'it sees the host: the UTS and PID namespaces (and the mount namespace, for /proc) were not joined',
        )
      );
    },
  },
  {
    name: 'the command’s exit status comes back',
    async run(env) {
      const s = await scenario(env);
      return (
        execFailure(s) ??
        expectThat(
          s.exitStatus === 7,
          'status 7 from `sh -c "exit 7"`',
          `status ${s.exitStatus}`,
          'read the exec error',
        )
      );
    },
  },
  {
    name: 'an exec’d process ends with the container',
    async run(env) {
      const s = await scenario(env);
      return (
        execFailure(s) ??
        expectThat(
          s.sleeperGone === true,
          'the exec’d sleep gone once the container’s init has ended',
          s.sleeperGone ? 'gone' : `pid ${s.sleeperPid} still ran 3 s after (killed by the check)`,
          'it outlived the container: a process in the container’s PID namespace is killed with its init — was that namespace joined? (man 7 pid_namespaces)',
        )
      );
    },
  },
  {
    name: 'exec into an ended or unknown container fails clearly',
    provided: true,
    async run(env) {
      const s = await scenario(env);
      const ok = (e: string | undefined): boolean => !!e && e.startsWith('ConfigError') && !e.includes('it ran');
      return expectThat(
        ok(s.stoppedError) && ok(s.unknownError),
        'ConfigError (exit 125) naming the container, for both',
        `ended: ${s.stoppedError}; unknown: ${s.unknownError}`,
        'the runtime refuses these before it starts anything',
      );
    },
  },
  {
    name: '--net container:NAME sees that container’s eth0 and address',
    provided: true,
    async run(env) {
      const s = await scenario(env);
      const t = s.sharer;
      return (
        startFailure(s.t) ??
        (t && startFailure(t)) ??
        expectThat(
          !!t && !!s.webAddress && t.stdout.includes(`inet ${s.webAddress}/`) && t.status === 0,
          `eth0 with web's address ${s.webAddress}`,
          t ? `status ${t.status}: ${t.stdout.trim().replace(/\s+/g, ' ') || t.stderr.trim()}` : 'not run',
          'the container did not start in web’s network namespace (Lesson.shareNamespaces)',
        )
      );
    },
  },
  {
    name: 'pod: pause and members share net, IPC and UTS, each member has its own mounts',
    provided: true,
    async run(env) {
      const s = await pod(env);
      const same = (k: string): boolean => new Set(s.ns[k]).size === 1 && s.ns[k]![0] !== undefined;
      const mnt = s.ns['mnt'] ?? [];
      return (
        podFailure(s) ??
        expectThat(
          same('net') && same('ipc') && same('uts') && new Set(mnt).size === 3,
          'one net, ipc and uts inode for pause, web and client; three mnt inodes',
          Object.entries(s.ns)
            .map(([k, v]) => `${k}: ${v.join(' ')}`)
            .join('; '),
          'the members were not started in the pause container’s namespaces (Lesson.shareNamespaces)',
        )
      );
    },
  },
  {
    name: 'pod: a member reaches another on localhost; the host reaches the pod’s one address',
    provided: true,
    async run(env) {
      const s = await pod(env);
      return (
        podFailure(s) ??
        expectThat(
          s.clientSaw.startsWith('served-in-the-pod') &&
            s.fromHost === 'served-in-the-pod' &&
            s.fromPublished === 'served-in-the-pod',
          `served-in-the-pod from localhost:8080 inside, from ${s.address}:8080 and 127.0.0.1:${s.port} on the host`,
          `inside: ${JSON.stringify(s.clientSaw)}; ${s.address}:8080: ${JSON.stringify(s.fromHost)}; 127.0.0.1:${s.port}: ${JSON.stringify(s.fromPublished)}`,
          'the members do not share one network namespace, or the pod’s published port does not lead to it',
        )
      );
    },
  },
  {
    name: 'pod: each member keeps its own PID namespace by default',
    provided: true,
    async run(env) {
      const s = await pod(env);
      const pid = s.ns['pid'] ?? [];
      return (
        podFailure(s) ??
        expectThat(
          pid.length === 3 && pid.every(Boolean) && new Set(pid).size === 3,
          'three pid inodes: the pause’s, web’s and the client’s',
          pid.join(' '),
          'without --share-pid a member starts in a PID namespace of its own (Lesson.shareNamespaces leaves pid out)',
        )
      );
    },
  },
  {
    name: 'pod: the members’ cgroups are below the pod’s; the pod’s cgroup goes with the pod',
    provided: true,
    async run(env) {
      const s = await pod(env);
      const podCg = s.pause.config.id;
      const under = (text: string, leaf: string): boolean =>
        text.split('\n').some((l) => l.split(':')[2] === `/cellblock/${podCg}/${leaf}`);
      const oneLine = (t: string): string => (/^\d+:[^:]*pids[^:]*:(.*)$/m.exec(t) ?? /^0::(.*)$/m.exec(t))?.[1] ?? '?';
      return (
        podFailure(s) ??
        expectThat(
          under(s.pauseCgroups, podCg) &&
            !!s.web &&
            under(s.webCgroups, s.web.config.id) &&
            (s.podProcs === undefined || s.podProcs.trim() === '') &&
            s.podCgroupsLeft.length === 0,
          `pause in cellblock/${podCg}/${podCg}, web in cellblock/${podCg}/<its id>, no process in the pod’s own cgroup, none of it left after the pod`,
          `pause ${oneLine(s.pauseCgroups)}, web ${oneLine(s.webCgroups)}; pod's cgroup.procs ${JSON.stringify(s.podProcs?.trim() ?? '(v1)')}; left: ${s.podCgroupsLeft.join(' ') || 'nothing'}`,
          'the pod’s containers get their cgroup at cgroupName(config) (Lesson.cgroupParent, core/cgroups)',
        )
      );
    },
  },
  {
    name: 'pod: --pod with --net, --hostname or -p, and a pod name already taken, are rejected before anything exists',
    provided: true,
    async run(env) {
      const s = await pod(env);
      const bad = s.rejects.filter(
        (r) => !(r.t.error?.name === 'ConfigError' && r.t.error.message.includes(r.value) && r.t.spawned === 0),
      );
      return (
        podFailure(s) ??
        expectThat(
          s.rejects.length === 4 && bad.length === 0,
          'a ConfigError naming the clashing option (or the taken id) for each, and no process spawned',
          bad
            .map(
              (r) =>
                `${r.what}: ${r.t.error ? r.t.error.message : `it ran (status ${r.t.status})`} (spawned ${r.t.spawned})`,
            )
            .join('; ') || `${s.rejects.length} of 4 tried`,
          'src/core/pods/pods.ts shareValidations, and the core’s id check: they must run before anything is created',
        )
      );
    },
  },
  {
    name: 'pod --share-pid: members share the pause’s PID namespace; ps shows the pause as PID 1 and the other member',
    provided: true,
    async run(env) {
      const s = await sharedPid(env);
      const ps = s.b?.stdout ?? '';
      const same = s.pidNs.length === 3 && s.pidNs.every(Boolean) && new Set(s.pidNs).size === 1;
      return (
        startFailure(s.pause) ??
        (s.a && startFailure(s.a)) ??
        (s.b && startFailure(s.b)) ??
        (s.error ? expectThat(false, 'the pod scenario runs', s.error, 'read the error') : undefined) ??
        expectThat(
          same && /^\s*1\s+pause\s*$/m.test(ps) && new RegExp(`^\\s*${s.aPid}\\s+sh\\s*$`, 'm').test(ps),
          `one pid inode for pause and both members; ps: "1 pause" and "${s.aPid} sh" (the other member)`,
          `pid: ${s.pidNs.join(' ')}; ps: ${ps.trim().replace(/\s*\n\s*/g, ' | ')}`,
          'a member of a --share-pid pod starts in the pause’s PID namespace (shareNamespaces: pid), and its init is not PID 1 there',
        )
      );
    },
  },
  {
    name: '--net container:NAME naming a container that has ended is rejected before anything exists',
    provided: true,
    async run(env) {
      const s = await scenario(env);
      const t = s.stoppedSharer;
      return (
        startFailure(s.t) ??
        expectThat(
          t?.error?.name === 'ConfigError' && t.error.message.includes(s.name) && t.spawned === 0,
          `a ConfigError naming ${s.name}, and no process spawned`,
          t
            ? t.error
              ? `${t.error.name}: ${t.error.message} (spawned ${t.spawned})`
              : `it ran: status ${t.status}`
            : 'not run',
          'a stopped container has no namespaces left to join: shareValidations must say so first',
        )
      );
    },
  },
  {
    name: 'pod: a member that exits leaves the others running',
    provided: true,
    async run(env) {
      const s = await pod(env);
      return (
        podFailure(s) ??
        expectThat(s.webAfterClient === true, 'web still running after the client exited', String(s.webAfterClient))
      );
    },
  },
]);
