/**
 * `cellblock-oci`: runc's command line over the lessons' runtime (core/oci).
 * Its callers — containerd's shim, Podman's conmon — parse its exit status
 * and its log, so both follow runc: status 1 for any error, the message on
 * stderr and, with `--log FILE --log-format json`, one JSON line per entry
 * with "level", "msg" and "time".
 *
 *   cellblock-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]
 *                 [--solutions] COMMAND …
 *
 * Which lessons: the learner's, like `cellblock run`; the reference solutions
 * with `--solutions` or CELLBLOCK_OCI_SOLUTIONS=1 (containerd and Podman let
 * one name only the binary, not its flags).
 */
import { resolve as resolvePath } from 'node:path';
import { appendFileSync, readFileSync } from 'node:fs';
import { CAPABILITIES } from '../native/constants.js';
import { ANNOTATIONS } from '../core/oci/spec.js';
import {
  create,
  afterWait,
  execProcess,
  kill,
  loadLessonFiles,
  mustRead,
  OciError,
  parseSignal,
  remove,
  specState,
  start,
  statusOf,
  type Log,
} from '../core/oci/runtime.js';
import { DEFAULT_OCI_ROOT, listOciIds, OCI_VERSION, readOciState } from '../core/oci/state.js';
import { load, runSelection } from '../workshop/loader.js';
import type { LoadedLesson } from '../core/lesson.js';

interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  solutions: boolean;
}

/** Flags that take a value (everything else given as --flag is a boolean). */
const VALUED = new Set([
  'root',
  'log',
  'log-format',
  'bundle',
  'b',
  'pid-file',
  'console-socket',
  'format',
  'process',
  'p',
  'cwd',
  'env',
  'e',
  'user',
  'u',
  'preserve-fds',
  'criu',
  'rootless',
]);
const ALIASES: Record<string, string> = {
  b: 'bundle',
  d: 'detach',
  a: 'all',
  q: 'quiet',
  t: 'tty',
  e: 'env',
  u: 'user',
  p: 'process',
};

interface Parsed {
  flags: Record<string, string | boolean>;
  rest: string[];
}

/** runc's (urfave/cli) flags: `--x v`, `--x=v`, `-x v`; flags stop at the first non-flag word. */
function parseFlags(args: string[], valued = VALUED): Parsed {
  const flags: Record<string, string | boolean> = {};
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    let value: string | boolean = eq >= 0 ? body.slice(eq + 1) : true;
    if (eq < 0 && valued.has(name)) {
      if (i + 1 >= args.length) throw new OciError(`flag needs an argument: ${a}`);
      value = args[++i]!;
    }
    name = ALIASES[name] ?? name;
    flags[name] = value;
  }
  return { flags, rest: args.slice(i) };
}

function makeLog(g: Globals): Log & { error(msg: string): void } {
  const write = (level: string, msg: string): void => {
    const time = new Date().toISOString();
    // Without --log, runc logs to stderr in its text form (Podman reads `level=error msg="…"` from it).
    const json = g.log !== undefined && g.logFormat === 'json';
    const line = json
      ? JSON.stringify({ level, msg, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    if (g.log === undefined) {
      process.stderr.write(`${line}\n`);
      return;
    }
    try {
      appendFileSync(g.log, `${line}\n`);
    } catch {
      process.stderr.write(`${line}\n`);
    }
  };
  return {
    warn: (m) => write('warning', m),
    debug: (m) => {
      if (g.debug) write('debug', m);
    },
    error: (m) => write('error', m),
  };
}

const USAGE = `usage: cellblock-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--solutions] COMMAND
commands:
  create --bundle DIR [--pid-file F] [--console-socket SOCK] ID
  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
  run --bundle DIR [--pid-file F] [--console-socket SOCK] [--detach] ID
  exec [--detach] [--pid-file F] [--console-socket SOCK] (--process P.json | [-t] [--cwd D] [-e K=V] [-u UID[:GID]]) ID [CMD…]
  ps [--format table|json] ID | list [--format table|json] [--quiet] | features | --version
root: ${DEFAULT_OCI_ROOT} by default ($CELLBLOCK_OCI_ROOT). Reference lessons: --solutions or CELLBLOCK_OCI_SOLUTIONS=1.`;

/** Run the command; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  // CELLBLOCK_OCI_ROOT: the default --root (the inventories look there too: core/inventories.ts).
  const defaultRoot = process.env['CELLBLOCK_OCI_ROOT'] || DEFAULT_OCI_ROOT;
  let g: Globals = { root: defaultRoot, logFormat: 'text', debug: false, solutions: false };
  let log = makeLog(g);
  try {
    const { flags, rest } = parseFlags(argv);
    g = {
      // Absolute, as runc makes it: the FIFO's path is recorded in the state and
      // read by later commands run from other directories.
      root: resolvePath(typeof flags['root'] === 'string' ? flags['root'] : defaultRoot),
      ...(typeof flags['log'] === 'string' ? { log: flags['log'] } : {}),
      logFormat: flags['log-format'] === 'json' ? 'json' : 'text',
      debug: flags['debug'] === true,
      solutions: flags['solutions'] === true || process.env['CELLBLOCK_OCI_SOLUTIONS'] === '1',
    };
    log = makeLog(g);
    if (flags['log-format'] !== undefined && !['text', 'json'].includes(String(flags['log-format']))) {
      throw new OciError(`invalid log format ${JSON.stringify(flags['log-format'])}: use text or json`);
    }
    if (flags['version'] === true || flags['v'] === true) {
      process.stdout.write(`cellblock-oci version 0.1.0\nspec: ${OCI_VERSION}\n`);
      return 0;
    }
    if (flags['help'] === true || flags['h'] === true || rest.length === 0) {
      process.stdout.write(`${USAGE}\n`);
      return rest.length === 0 && flags['help'] !== true && flags['h'] !== true ? 1 : 0;
    }
    if (flags['systemd-cgroup'] === true) {
      throw new OciError(
        '--systemd-cgroup is not supported: cellblock manages cgroupfs cgroups (cgroup_manager = cgroupfs)',
      );
    }
    const [command, ...args] = rest;
    log.debug(`${command} ${args.join(' ')}`);
    return await dispatch(command!, args, g, log);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // As runc: the error in the log (stderr without --log), and the message alone on stderr.
    log.error(msg);
    process.stderr.write(`${msg}\n`);
    if (g.debug && err instanceof Error && !(err instanceof OciError)) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/**
 * The lessons a create runs: the learner's, or the reference with
 * --solutions. CELLBLOCK_OCI_LESSONS (a JSON list of {id, file}) names the
 * files outright — how the OCI lesson’s checks run the learner's file on the
 * reference of the lessons before it, as `verify` does.
 */
async function selectedLessons(g: Globals): Promise<LoadedLesson[]> {
  const named = process.env['CELLBLOCK_OCI_LESSONS'];
  if (named !== undefined && named !== '') {
    return loadLessonFiles(JSON.parse(named) as { id: string; file: string }[]);
  }
  return load(runSelection({ solutions: g.solutions }));
}

function one(args: string[], what: string): string {
  if (args.length !== 1) throw new OciError(`${what} requires exactly 1 argument: the container id`);
  return args[0]!;
}

async function dispatch(command: string, argv: string[], g: Globals, log: Log): Promise<number> {
  switch (command) {
    case 'create':
    case 'run': {
      const { flags, rest } = parseFlags(argv);
      const id = one(rest, command);
      for (const f of Object.keys(flags)) {
        if (
          !['bundle', 'pid-file', 'console-socket', 'detach', 'no-pivot', 'no-new-keyring', 'preserve-fds'].includes(f)
        ) {
          throw new OciError(`flag provided but not defined: -${f}`);
        }
      }
      if (flags['preserve-fds'] !== undefined && flags['preserve-fds'] !== '0') {
        throw new OciError('--preserve-fds is not implemented by cellblock-oci');
      }
      const lessons = await selectedLessons(g);
      const created = await create({
        root: g.root,
        id,
        bundle: typeof flags['bundle'] === 'string' ? flags['bundle'] : '.',
        ...(typeof flags['pid-file'] === 'string' ? { pidFile: flags['pid-file'] } : {}),
        ...(typeof flags['console-socket'] === 'string' ? { consoleSocket: flags['console-socket'] } : {}),
        lessons,
        log,
      });
      if (command === 'create') return 0;
      // run: start, then (without --detach) wait as runc run does, passing signals on.
      const { container, state } = created;
      const forward = (sig: NodeJS.Signals): void => {
        try {
          process.kill(state.pid, sig);
        } catch {
          // gone
        }
      };
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
      for (const s of signals) process.on(s, forward);
      try {
        await start(g.root, id, log);
      } catch (err) {
        container.kill('SIGKILL');
        await container.wait().catch(() => undefined);
        await afterWait(g.root, state, container, log);
        throw err;
      }
      if (flags['detach'] === true) return 0;
      // This process is the init's parent: its exit status is ours, and its cleanup runs
      // here — in wait() (the lessons' host steps), then the OCI runtime's own.
      const status = await container.wait();
      for (const s of signals) process.off(s, forward);
      await afterWait(g.root, state, container, log);
      return status;
    }
    case 'start':
      await start(g.root, one(argv, 'start'), log);
      return 0;
    case 'state': {
      const state = mustRead(g.root, one(argv, 'state'));
      const lessons = await loadLessonFiles(state.lessons);
      process.stdout.write(`${JSON.stringify(specState(state, statusOf(state, lessons)), null, 2)}\n`);
      return 0;
    }
    case 'kill': {
      const { flags, rest } = parseFlags(argv);
      if (rest.length < 1 || rest.length > 2) throw new OciError('kill requires 1 or 2 arguments: ID [SIGNAL]');
      await kill(g.root, rest[0]!, parseSignal(rest[1] ?? 'SIGTERM'), flags['all'] === true);
      return 0;
    }
    case 'delete': {
      const { flags, rest } = parseFlags(argv);
      await remove(g.root, one(rest, 'delete'), flags['force'] === true || flags['f'] === true, log);
      return 0;
    }
    case 'ps': {
      const { flags, rest } = parseFlags(argv);
      const state = mustRead(g.root, one(rest.slice(0, 1), 'ps'));
      const { cgroupName, openCgroup } = await import('../core/cgroups/index.js');
      let pids: number[] = [];
      try {
        // Its cgroup: cellblock/<cellblock id>, or where linux.cgroupsPath put it.
        pids = openCgroup(cgroupName({ ...state.config, id: state.cellblockId })).procs();
      } catch {
        pids = [];
      }
      if (flags['format'] === 'json') process.stdout.write(`${JSON.stringify(pids)}\n`);
      else process.stdout.write(`PID\n${pids.join('\n')}${pids.length ? '\n' : ''}`);
      return 0;
    }
    case 'list': {
      const { flags } = parseFlags(argv);
      const rows = [];
      for (const id of listOciIds(g.root)) {
        const s = readOciState(g.root, id);
        if (!s) continue;
        const lessons = await loadLessonFiles(s.lessons);
        rows.push({ ...specState(s, statusOf(s, lessons)), owner: 'root' });
      }
      if (flags['quiet'] === true) process.stdout.write(rows.map((r) => `${r.id}\n`).join(''));
      else if (flags['format'] === 'json') process.stdout.write(`${JSON.stringify(rows)}\n`);
      else {
        const lines = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
        for (const r of rows) lines.push([r.id, String(r.pid), r.status, r.bundle, r.created, r.owner]);
        const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
        for (const l of lines)
          process.stdout.write(
            `${l
              .map((c, i) => c.padEnd(widths[i]!))
              .join('   ')
              .trimEnd()}\n`,
          );
      }
      return 0;
    }
    case 'features':
      process.stdout.write(`${JSON.stringify(features(), null, 2)}\n`);
      return 0;
    case 'exec': {
      const { flags, rest } = parseFlags(argv);
      if (rest.length < 1) throw new OciError('exec requires at least 1 argument: the container id');
      const [id, ...cmd] = rest;
      let proc: unknown;
      if (typeof flags['process'] === 'string') {
        try {
          proc = JSON.parse(readFileSync(flags['process'], 'utf8'));
        } catch (err) {
          throw new OciError(`exec: cannot read the process file ${flags['process']}: ${(err as Error).message}`);
        }
      } else {
        if (cmd.length === 0) throw new OciError('exec: give --process FILE or a command after the id');
        proc = {
          args: cmd,
          env: typeof flags['env'] === 'string' ? [flags['env']] : [],
          terminal: flags['tty'] === true,
          ...(typeof flags['cwd'] === 'string' ? { cwd: flags['cwd'] } : {}),
          ...(typeof flags['user'] === 'string'
            ? {
                user: {
                  uid: Number(flags['user'].split(':')[0]),
                  gid: Number(flags['user'].split(':')[1] ?? flags['user'].split(':')[0]),
                },
              }
            : {}),
        };
      }
      return execProcess({
        root: g.root,
        id: id!,
        process: proc,
        detach: flags['detach'] === true,
        ...(typeof flags['pid-file'] === 'string' ? { pidFile: flags['pid-file'] } : {}),
        ...(typeof flags['console-socket'] === 'string' ? { consoleSocket: flags['console-socket'] } : {}),
        log,
      });
    }
    default:
      throw new OciError(`no such command: ${command}\n${USAGE}`);
  }
}

/** runtime-spec features.md: what this runtime implements. */
function features(): object {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'poststart', 'poststop'],
    mountOptions: ['bind', 'rbind', 'ro', 'rw', 'nosuid', 'nodev', 'noexec', 'private', 'rprivate', 'slave', 'rslave'],
    linux: {
      namespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup'],
      capabilities: Object.keys(CAPABILITIES).map((c) => `CAP_${c}`),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: [
          'SCMP_ACT_ALLOW',
          'SCMP_ACT_ERRNO',
          'SCMP_ACT_KILL',
          'SCMP_ACT_KILL_PROCESS',
          'SCMP_ACT_KILL_THREAD',
          'SCMP_ACT_TRAP',
          'SCMP_ACT_LOG',
        ],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: Object.fromEntries(Object.keys(ANNOTATIONS).map((k) => [k, 'see the cellblock README'])),
  };
}
