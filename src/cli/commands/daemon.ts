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

interface DaemonArgs {
  socket?: string;
  dir?: string;
  lesson?: string;
}

export const DEFAULT_SOCKET = join(RUN_DIR, 'docker.sock');

export async function daemon(args: DaemonArgs): Promise<number> {
  const socket = args.socket ?? process.env['CELLBLOCK_DOCKER_SOCKET'] ?? DEFAULT_SOCKET;
  const dir = args.dir ?? process.env['CELLBLOCK_DAEMON_DIR'] ?? join(RUN_DIR, 'daemon');
  const log = (line: string): void => void process.stderr.write(`cellblockd: ${line}\n`);
  // The reference lessons (or the learner's N on them, as `run --lesson N`).
  const lessons = await load(runSelection({ lesson: args.lesson, solutions: true }));
  const backend = new InlineBackend(lessons, join(dir, 'logs'), log);
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
  return 0;
}
