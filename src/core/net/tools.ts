/**
 * The network lesson's tools: iproute2's `ip`, `ip` inside a container's network
 * namespace (through util-linux `nsenter`), and `iptables`. Each takes an
 * argument array — never a shell string — waits for the command, and throws a
 * NetToolError carrying the command line and what the tool said.
 *
 * They are synchronous on purpose: a lesson step reads top to bottom like the
 * commands you would type, and the steps that must not interleave with another
 * `cellblock run` (ipam.ts: under the network lock) cannot be interrupted by
 * the event loop. Each call costs a process start (≈ 3–8 ms here, far more
 * on a busy machine) — so a runtime step may wrap several calls in
 * `batched(…)`: they are then queued and run as one `ip -batch -` per
 * namespace (iproute2 reads the commands from stdin, one per line, and stops
 * at the first that fails), exactly as if typed one by one.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';

export class NetToolError extends Error {
  override readonly name = 'NetToolError';
  constructor(
    readonly argv: string[],
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${stderr || 'failed'}`);
  }
}

/** How many tool processes this process started, and how long they took (for the bench and the report). */
export const toolStats = { calls: 0, ms: 0 };

function runTool(argv: string[], input?: string): string {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    timeout: 10_000,
    ...(input !== undefined ? { input } : {}),
  });
  toolStats.calls++;
  toolStats.ms += performance.now() - t0;
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NetToolError(
      argv,
      missing ? `${argv[0]} is not installed: run \`bash scripts/setup.sh\`` : r.error.message,
    );
  }
  if (r.status !== 0) throw new NetToolError(argv, r.stderr.trim());
  return r.stdout;
}

/** The names a container's own interfaces have: on the host they are the host's. */
const CONTAINER_SIDE = ['eth0', 'lo'];

/** The device an `ip` command changes: after `dev`, or `ip link set|delete DEV`. */
function deviceOf(args: string[]): string | undefined {
  const i = args.indexOf('dev');
  if (i >= 0) return args[i + 1];
  // `ip -j link set eth0 …`: global options (they start with -) come first.
  const [object, verb, name] = args.filter((a) => !a.startsWith('-'));
  if (object === 'link' && ['set', 'delete', 'del'].includes(verb ?? '')) return name;
  return undefined;
}

/**
 * `ip ARGS…` on the host. A safety rail: commands that would reconfigure the
 * host's own eth0 or lo, or its default route, are refused — they belong in
 * the container (`ipIn`), and on the host they could cut a shared machine off.
 */
export function ip(args: string[]): string {
  const dev = deviceOf(args);
  const defaultRoute = args.find((a) => !a.startsWith('-')) === 'route' && args.includes('default');
  if ((dev !== undefined && CONTAINER_SIDE.includes(dev)) || defaultRoute) {
    throw new NetToolError(
      ['ip', ...args],
      `refused: this would change the host's own ${defaultRoute ? 'default route' : dev} — configure the container's side with ipIn(pid, […])`,
    );
  }
  return queueOrRun(undefined, args);
}

/** Is process `pid` in a network namespace other than this process's (the host's)? */
export function inOwnNetns(pid: number): boolean {
  return readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net');
}

/**
 * `ip ARGS…` inside the network namespace of process `pid`: nsenter opens
 * /proc/<pid>/ns/net, setns()es into it, and execs `ip` there — the host's
 * `ip` binary, the container's network. (CNI plugins do the same from Go.)
 * Refused while that process is still in the host's network namespace.
 */
export function ipIn(pid: number, args: string[]): string {
  if (!inOwnNetns(pid)) {
    throw new NetToolError(
      ['ip', ...args],
      `refused: the container (pid ${pid}) is still in the host's network namespace (${readlinkSync('/proc/self/ns/net')}), so this would change the host. Ask for CLONE_NEWNET in cloneFlags first.`,
    );
  }
  return queueOrRun(pid, args);
}

/** The command line that runs `ip` on the host (pid undefined) or in process pid's network namespace. */
const ipArgv = (pid: number | undefined, args: string[]): string[] =>
  pid === undefined ? ['ip', ...args] : ['nsenter', `--net=/proc/${pid}/ns/net`, '--', 'ip', ...args];

interface Queued {
  pid: number | undefined;
  args: string[];
}
let queue: Queued[] | undefined;

function queueOrRun(pid: number | undefined, args: string[]): string {
  // A global option (-j, -d …) is not a batch line, and its output is wanted now.
  if (!queue || args[0]?.startsWith('-')) return runTool(ipArgv(pid, args));
  queue.push({ pid, args });
  return '';
}

/**
 * Run fn() with every ip()/ipIn() it makes queued, then run the queue: each
 * stretch of commands for one namespace (the host, or one container's) as
 * one `ip -batch -` process, in the order they were made. A failing command
 * throws the same NetToolError as on its own (its command line, what ip
 * said), and the commands after it do not run. Calls return '' in a batch.
 */
export function batched<T>(fn: () => T): T {
  if (queue) return fn();
  const mine: Queued[] = (queue = []);
  let result: T;
  try {
    result = fn();
  } finally {
    queue = undefined;
  }
  for (let i = 0; i < mine.length;) {
    let j = i + 1;
    while (j < mine.length && mine[j]!.pid === mine[i]!.pid) j++;
    runBatch(mine.slice(i, j));
    i = j;
  }
  return result;
}

function runBatch(cmds: Queued[]): void {
  const pid = cmds[0]!.pid;
  if (cmds.length === 1) {
    runTool(ipArgv(pid, cmds[0]!.args));
    return;
  }
  // makeargs (iproute2 lib/utils.c) splits a batch line at blanks and honours double quotes.
  const line = (args: string[]): string => args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  try {
    runTool(ipArgv(pid, ['-batch', '-']), cmds.map((c) => line(c.args)).join('\n') + '\n');
  } catch (err) {
    if (!(err instanceof NetToolError)) throw err;
    // "Command failed -:N": line N of stdin is the command that failed.
    const m = /Command failed -:(\d+)/.exec(err.stderr);
    const failed = m ? cmds[Number(m[1]) - 1] : undefined;
    if (!failed) throw err;
    throw new NetToolError(ipArgv(pid, failed.args), err.stderr.replace(/\n?Command failed -:\d+\s*$/, '').trim());
  }
}

/** `iptables -w ARGS…` (-w: wait for the xtables lock instead of failing when another iptables runs). */
export function iptables(args: string[]): string {
  return runTool(['iptables', '-w', ...args]);
}

/** What the tools say when the thing is already gone. */
const GONE = /Cannot find device|No such file|does not exist|Bad rule|No chain/;

/** Did a tool fail because what it was to change is already gone? */
export function isGone(err: unknown, gone = GONE): boolean {
  return err instanceof NetToolError && gone.test(err.stderr);
}

/** Like fn(), but an error whose message matches `gone` (the thing is already gone) is not one. */
export function unlessGone(fn: () => unknown, gone = GONE): void {
  try {
    fn();
  } catch (err) {
    if (!isGone(err, gone)) throw err;
  }
}
