/** `cellblock exec NAME|ID -- CMD…`: a new process inside a running container, its status as ours. */
import { openSync } from 'node:fs';
import { execInContainer } from '../../core/host/exec.js';
import type { StdioEntry } from '../../core/host/run.js';
import { Terminal } from '../../core/host/terminal.js';
import { CliError } from '../errors.js';

interface ExecArgs {
  container: string;
  command?: string[];
  _: (string | number)[];
  interactive: boolean;
  tty: boolean;
  env: string[];
  workdir?: string;
  user?: string;
}

export async function exec(args: ExecArgs): Promise<number> {
  if (args.tty && !process.stdin.isTTY) {
    throw new CliError('-t needs a terminal, and stdin is not one', 125, 'drop -t, or run from an interactive shell');
  }
  const argv = [...(args.command ?? []), ...args._.slice(1)].map(String);
  const term = args.tty ? new Terminal(process.stdout.columns || 80, process.stdout.rows || 24) : undefined;
  const stdio: [StdioEntry, StdioEntry, StdioEntry] = term
    ? [term.slave!, term.slave!, term.slave!]
    : [args.interactive ? 0 : openSync('/dev/null', 'r'), 1, 2];
  let proc;
  try {
    proc = await execInContainer({
      target: args.container,
      argv,
      env: args.env,
      ...(args.workdir !== undefined ? { cwd: args.workdir } : {}),
      ...(args.user !== undefined ? { user: args.user } : {}),
      tty: args.tty,
      stdio,
      ...(term ? { onConsole: (master: number) => term.adopt(master) } : {}),
    });
  } catch (err) {
    term?.close();
    throw err;
  }
  // Signals to `cellblock exec` go to the command, as docker exec's do.
  const forward = (sig: NodeJS.Signals): void => void proc.child.kill(sig);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, forward);
  try {
    if (!term) return await proc.wait();
    term.releaseSlave();
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    const onInput = (d: Buffer): void => term.write(d);
    stdin.on('data', onInput);
    const output = term.pipeTo(process.stdout);
    try {
      const status = await proc.wait();
      await Promise.race([output, new Promise((r) => setTimeout(r, 200))]);
      return status;
    } finally {
      stdin.off('data', onInput);
      stdin.setRawMode(false);
      stdin.pause();
      term.close();
    }
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}
