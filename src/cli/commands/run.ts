/** `cellblock run`: one container, stdio attached, its exit status as ours. */
import { openSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, DEFAULT_ENV, newContainerId, type ContainerConfig } from '../../core/config.js';
import { startContainer, undoFailuresOf, type RunningContainer, type StdioEntry } from '../../core/host/run.js';
import { Terminal } from '../../core/host/terminal.js';
import { defaultRootfs } from '../../core/paths.js';
import { describeUndoFailure, missingFeature, type LoadedLesson, type UndoFailure } from '../../core/lesson.js';
import { load, runSelection } from '../../workshop/loader.js';
import { CliError } from '../errors.js';

interface RunArgs {
  /** `cellblock run IMAGE …`: the first word before `--`. */
  image?: string;
  command?: string[];
  _: (string | number)[];
  rootfs?: string;
  solutions: boolean;
  /** `--lesson N`: the learner's N on the reference of the lessons before it. */
  lesson?: string;
  interactive: boolean;
  tty: boolean;
  env: string[];
  workdir: string;
  id?: string;
  detach?: boolean;
  rm?: boolean;
  [lessonOption: string]: unknown;
}

/** How long a container may take to end after SIGINT before we say it seems to ignore it. */
const IGNORED_AFTER_MS = 300;

// Signals a user or supervisor sends to "the container": passed on, as docker's sig-proxy does.
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function run(args: RunArgs): Promise<number> {
  if (args.detach) return runDetached(args);
  if (args.tty && !process.stdin.isTTY) {
    throw new CliError('-t needs a terminal, and stdin is not one', 125, 'drop -t, or run from an interactive shell');
  }
  const lessons = await load(runSelection({ lesson: args.lesson, solutions: args.solutions }));
  const config = await buildConfig(args, lessons);

  const term = args.tty ? new Terminal(process.stdout.columns || 80, process.stdout.rows || 24) : undefined;
  return runAttached(args, lessons, config, term);
}

/**
 * `run -d`: the same config, as an OCI bundle, handed to a shim that runs the
 * OCI runtime (core/shim); prints the id and returns while the container runs.
 */
async function runDetached(args: RunArgs): Promise<number> {
  const lessons = await load(runSelection({ lesson: args.lesson, solutions: args.solutions }));
  const config = await buildConfig(args, lessons);
  const shim = await import('../../core/shim/index.js');
  // The runtime runs the same lessons: the reference ones when every container lesson loaded is the reference's.
  const runtimeSolutions = lessons.filter((l) => !l.lesson.shim).every((l) => l.file.includes('/solutions/'));
  const created = await shim.create({
    config,
    lessons,
    openStdin: args.interactive,
    autoRemove: args.rm === true,
    runtimeSolutions,
  });
  try {
    await shim.start(created.id);
  } catch (err) {
    await shim.remove(created.id, { force: true }).catch(() => undefined);
    throw err;
  }
  process.stdout.write(`${created.id}\n`);
  return 0;
}

/** The container config from `run`'s options: what `run` starts itself, and what `run -d` writes as a bundle. */
async function buildConfig(args: RunArgs, lessons: LoadedLesson[]): Promise<ContainerConfig> {
  // The fields lessons add (--hostname, …): exactly the options they declared.
  const lessonArgs = Object.fromEntries(
    lessons
      .flatMap((l) => Object.keys(l.lesson.options ?? {}))
      .filter((k) => args[k] !== undefined)
      .map((k) => [k, args[k]]),
  );
  // yargs leaves everything after `--` in `_` (after the command name itself).
  const command = [...(args.command ?? []), ...args._.slice(1)].map(String);
  const image = args.image !== undefined ? await imageFields(String(args.image), args, lessons) : undefined;
  const config: ContainerConfig = {
    ...lessonArgs,
    ...image?.fields,
    id: args.id ?? newContainerId(),
    rootfs: image?.rootfs ?? resolve(args.rootfs ?? defaultRootfs()),
    argv: command.length > 0 ? command : (image?.cmd ?? []),
    env: mergeEnv([
      ...(image?.env ?? DEFAULT_ENV),
      ...(args.tty ? [`TERM=${process.env['TERM'] ?? 'xterm'}`] : []),
      ...args.env,
    ]),
    cwd: args.workdir,
    tty: args.tty,
  };
  return config;
}

async function runAttached(
  args: RunArgs,
  lessons: LoadedLesson[],
  config: ContainerConfig,
  term: Terminal | undefined,
): Promise<number> {
  const stdio: [StdioEntry, StdioEntry, StdioEntry] = term
    ? [term.slave!, term.slave!, term.slave!]
    : [args.interactive ? 0 : openSync('/dev/null', 'r'), 1, 2];

  // Handlers go in before the container exists: a signal that arrives while it
  // starts is held and passed on once there is a process to pass it to. With a
  // terminal too: Node's default for SIGTERM/SIGHUP would end this process
  // without its cleanup (cgroup, veth, lease, directories would stay).
  const proxy = new SignalProxy();
  let container: RunningContainer;
  try {
    container = await startContainer(config, {
      lessons,
      stdio,
      prespawn: true, // the init starts while we validate: a bad input kills it, nothing is left
      ...(term ? { onConsole: (master: number) => term.adopt(master) } : {}),
    });
  } catch (err) {
    term?.close();
    proxy.stop();
    const undone = undoFailuresOf(err);
    reportUndo(config.id, undone.failures, undone.removed);
    throw err;
  }
  proxy.attach(container);
  try {
    return term ? await attachTerminal(container, term) : await container.wait();
  } finally {
    proxy.stop();
    for (const note of container.notes) process.stderr.write(`cellblock: ${config.id}: ${note}\n`);
    reportUndo(config.id, container.undoFailures, container.leftoversRemoved);
  }
}

/** Signals sent to `cellblock run` go to the container, as docker's sig-proxy does. */
class SignalProxy {
  private container: RunningContainer | undefined;
  private pending: NodeJS.Signals[] = [];
  private interrupts = 0;
  private exitedSaid = false;
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
    // It has ended and its cleanup runs: there is nothing left to signal, and
    // this process must not die half way through the cleanup.
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      if (sig === 'SIGINT' && !this.exitedSaid) {
        this.exitedSaid = true;
        process.stderr.write('cellblock: the container has already exited; removing what it used\n');
      }
      return;
    }
    // The terminal is gone: nobody is left to end the container by hand, and a
    // PID 1 may ignore SIGHUP. Ask, then make sure.
    if (sig === 'SIGHUP') {
      c.kill('SIGHUP');
      setTimeout(() => c.kill('SIGKILL'), 2000).unref();
      return;
    }
    // A PID 1 without a handler ignores SIGINT/SIGTERM (lesson 02): after the
    // third Ctrl-C, stop asking.
    if (sig === 'SIGINT' && ++this.interrupts >= 3) {
      process.stderr.write('cellblock: killing the container (SIGKILL)\n');
      return c.kill('SIGKILL');
    }
    c.kill(sig);
    // Only once it is clear the container did not end of it: the terminal's
    // Ctrl-C reaches the container too, and it usually exits at once.
    if (sig === 'SIGINT' && this.interrupts === 1) {
      setTimeout(() => {
        if (c.child.exitCode === null && c.child.signalCode === null) {
          process.stderr.write('cellblock: SIGINT sent to the container; press Ctrl-C twice more to kill it\n');
        }
      }, IGNORED_AFTER_MS).unref();
    }
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

/** KEY=VALUE entries, a later one replacing an earlier one with the same key (in its place). */
function mergeEnv(entries: string[]): string[] {
  const byKey = new Map<string, string>();
  for (const e of entries) {
    const key = e.split('=', 1)[0]!;
    byKey.delete(key);
    byKey.set(key, e);
  }
  return [...byKey.values()];
}

/**
 * `cellblock run IMAGE`: the image's layers become the config's `layers`
 * (a lesson with the image-layers feature stacks them), its command and environment the defaults.
 * An unknown image is bad input: rejected before anything exists.
 */
async function imageFields(
  ref: string,
  args: RunArgs,
  lessons: LoadedLesson[],
): Promise<{ fields: Record<string, unknown>; rootfs: string; cmd: string[]; env: string[] }> {
  const missing = missingFeature(lessons, 'image-layers', `running image ${ref}`);
  if (missing) throw new CliError(missing, 125);
  if (args.rootfs !== undefined) {
    throw new ConfigError([`both an image (${ref}) and --rootfs ${args.rootfs}: give one of them`]);
  }
  const { ImageStore, ImageError } = await import('../../core/images/store.js');
  const store = new ImageStore();
  try {
    const img = store.resolve(ref);
    const layers = store.lowerdirs(img);
    return { fields: { image: ref, layers }, rootfs: layers.at(-1)!, cmd: img.cmd, env: img.env };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    const hint = /^[a-z0-9][\w.-]*$/.test(ref)
      ? ` (to run the command ${ref} on the default rootfs, put it after --: \`cellblock run -- ${ref}\`)`
      : '';
    throw new ConfigError([`${err.message}${hint}`]);
  }
}

/** Each undo step that threw, once, by name; then what the runtime removed in its place. */
function reportUndo(id: string, failures: UndoFailure[], removed: string[]): void {
  for (const f of failures) process.stderr.write(`cellblock: ${id}: ${describeUndoFailure(f)}\n`);
  if (failures.length === 0) return;
  process.stderr.write(
    removed.length > 0
      ? `cellblock: ${id}: so the runtime removed what was left: ${removed.join(', ')}\n`
      : `cellblock: ${id}: \`cellblock cleanup\` removes anything left\n`,
  );
}
