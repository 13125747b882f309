/**
 * `cellblock daemon`: cellblockd in the foreground — the Docker Engine API on
 * /run/cellblock/docker.sock, for the real `docker` CLI
 * (DOCKER_HOST=unix:///run/cellblock/docker.sock). SIGINT/SIGTERM stop it:
 * the socket is removed, and what cannot outlive the daemon is stopped.
 */
import { join } from 'node:path';
import { RUN_DIR } from '../../core/names.js';
import { load, runSelection } from '../../workshop/loader.js';
import { Daemon } from '../daemon/daemon.js';
import { InlineBackend } from '../daemon/inline.js';
import { ShimBackend, SplitBackend } from '../daemon/shim.js';
import { CliError } from '../errors.js';

interface DaemonArgs {
  socket?: string;
  dir?: string;
  lesson?: string;
  /** shim (default): a shim per container, as containerd; inline: inside the daemon (they end with it). */
  backend?: string;
}

export const DEFAULT_SOCKET = join(RUN_DIR, 'docker.sock');

export async function daemon(args: DaemonArgs): Promise<number> {
  const socket = args.socket ?? process.env['CELLBLOCK_DOCKER_SOCKET'] ?? DEFAULT_SOCKET;
  const dir = args.dir ?? process.env['CELLBLOCK_DAEMON_DIR'] ?? join(RUN_DIR, 'daemon');
  const log = (line: string): void => void process.stderr.write(`cellblockd: ${line}\n`);
  // The reference lessons (or the learner's N on them, as `run --lesson N`).
  const lessons = await load(runSelection({ lesson: args.lesson, solutions: true }));
  const kind = args.backend ?? process.env['CELLBLOCK_DAEMON_BACKEND'] ?? 'shim';
  if (kind !== 'shim' && kind !== 'inline') {
    throw new CliError(
      `--backend ${kind} is not a backend`,
      125,
      'give --backend shim (a shim per container) or inline',
    );
  }
  const inline = new InlineBackend(lessons, join(dir, 'logs'), log);
  if (kind === 'shim' && !lessons.some((l) => l.lesson.shim)) {
    throw new CliError(
      'no loaded lesson provides the shim (Lesson.shim)',
      125,
      'run with the lesson that does (lessons/manifest.json), or give --backend inline',
    );
  }
  const backend = kind === 'shim' ? new SplitBackend(new ShimBackend(lessons), inline) : inline;
  const d = new Daemon({ socket, dir, backend, log });
  await d.listen();
  log(`listening on ${socket} (Docker Engine API 1.41; containers: ${backend.name})`);
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      log(`${sig}: stopping`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await d.close();
  log('stopped; socket removed');
  // Requests still open to shims (a client's wait on a container that runs on)
  // would keep the event loop alive: they end with the daemon, the containers do not.
  process.exit(0);
}
