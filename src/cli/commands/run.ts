/** `cellblock run`: one container, stdio attached, its exit status as ours. */
import { openSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_ENV, newContainerId, type ContainerConfig } from '../../core/config.js';
import { startContainer, type RunningContainer, type StdioEntry } from '../../core/host/run.js';
import { Terminal } from '../../core/host/terminal.js';
import { defaultRootfs } from '../../core/paths.js';
import { load } from '../../workshop/loader.js';
import { CliError } from '../output.js';

interface RunArgs {
  command?: string[];
  _: (string | number)[];
  rootfs?: string;
  solutions: boolean;
  interactive: boolean;
  tty: boolean;
  env: string[];
  workdir: string;
  id?: string;
  [lessonOption: string]: unknown;
}

// Signals a user or supervisor sends to "the container": passed on, as docker's sig-proxy does.
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function run(args: RunArgs): Promise<number> {
  if (args.tty && !process.stdin.isTTY) {
    throw new CliError('-t needs a terminal, and stdin is not one', 125, 'drop -t, or run from an interactive shell');
  }
  const lessons = await load({ kind: 'cumulative', source: args.solutions ? 'solutions' : 'lessons' });
  // The fields lessons add (--hostname, …): exactly the options they declared.
  const lessonArgs = Object.fromEntries(
    lessons
      .flatMap((l) => Object.keys(l.lesson.options ?? {}))
      .filter((k) => args[k] !== undefined)
      .map((k) => [k, args[k]]),
  );
  const config: ContainerConfig = {
    ...lessonArgs,
    id: args.id ?? newContainerId(),
    rootfs: resolve(args.rootfs ?? defaultRootfs()),
    // yargs leaves everything after `--` in `_` (after the command name itself).
    argv: [...(args.command ?? []), ...args._.slice(1)].map(String),
    env: [...DEFAULT_ENV, ...(args.tty ? [`TERM=${process.env['TERM'] ?? 'xterm'}`] : []), ...args.env],
    cwd: args.workdir,
    tty: args.tty,
  };

  const term = args.tty ? new Terminal(process.stdout.columns || 80, process.stdout.rows || 24) : undefined;
  const stdio: [StdioEntry, StdioEntry, StdioEntry] = term
    ? [term.slave!, term.slave!, term.slave!]
    : [args.interactive ? 0 : openSync('/dev/null', 'r'), 1, 2];

  // Handlers go in before the container exists: a signal that arrives while it
  // starts is held and passed on once there is a process to pass it to.
  const proxy = term ? undefined : new SignalProxy();
  let container: RunningContainer;
  try {
    container = await startContainer(config, { lessons, stdio });
  } catch (err) {
    term?.close();
    proxy?.stop();
    throw err;
  }
  if (term) return attachTerminal(container, term);
  try {
    proxy!.attach(container);
    return await container.wait();
  } finally {
    proxy!.stop();
  }
}

/** Signals sent to `cellblock run` go to the container, as docker's sig-proxy does. */
class SignalProxy {
  private container: RunningContainer | undefined;
  private pending: NodeJS.Signals[] = [];
  private interrupts = 0;
  private readonly handler = (sig: NodeJS.Signals): void => this.forward(sig);

  constructor() {
    for (const s of FORWARDED) process.on(s, this.handler);
  }

  attach(c: RunningContainer): void {
    this.container = c;
    for (const sig of this.pending.splice(0)) this.forward(sig);
  }

  stop(): void {
    for (const s of FORWARDED) process.off(s, this.handler);
  }

  private forward(sig: NodeJS.Signals): void {
    const c = this.container;
    if (!c) {
      this.pending.push(sig);
      return;
    }
    // A PID 1 without a handler ignores SIGINT/SIGTERM (lesson 02): after the
    // third Ctrl-C, stop asking.
    if (sig === 'SIGINT' && ++this.interrupts >= 3) {
      process.stderr.write('cellblock: killing the container (SIGKILL)\n');
      return c.kill('SIGKILL');
    }
    if (sig === 'SIGINT' && this.interrupts === 1) {
      process.stderr.write('cellblock: SIGINT sent to the container; press Ctrl-C twice more to kill it\n');
    }
    c.kill(sig);
  }
}

async function attachTerminal(c: RunningContainer, term: Terminal): Promise<number> {
  term.releaseSlave();
  const stdin = process.stdin;
  stdin.setRawMode(true); // every key, ^C included, goes to the container's terminal
  stdin.resume();
  const onInput = (d: Buffer): void => term.write(d);
  const onResize = (): void => term.resize(process.stdout.columns, process.stdout.rows);
  stdin.on('data', onInput);
  process.stdout.on('resize', onResize);
  const output = term.pipeTo(process.stdout);
  try {
    const status = await c.wait();
    await Promise.race([output, new Promise((r) => setTimeout(r, 200))]);
    return status;
  } finally {
    stdin.off('data', onInput);
    process.stdout.off('resize', onResize);
    stdin.setRawMode(false);
    stdin.pause();
    term.close();
  }
}
