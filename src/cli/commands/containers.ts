/**
 * Detached containers (`run -d`): ps, logs, wait, stop, kill, rm, attach —
 * each a few calls into core/shim, which talks to the container's shim.
 */
import type * as ShimModule from '../../core/shim/index.js';
import { CliError } from '../errors.js';

type Shim = typeof ShimModule;
const shim = (): Promise<Shim> => import('../../core/shim/index.js');

/** "3 minutes ago", as `docker ps` says it. */
function ago(iso: string | undefined): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} hour${h === 1 ? '' : 's'} ago` : `${Math.round(h / 24)} days ago`;
}

function statusText(c: ShimModule.ShimState): string {
  switch (c.status) {
    case 'running':
      return `Up ${ago(c.startedAt).replace(/ ago$/, '')}`;
    case 'created':
      return 'Created';
    case 'exited':
      return `Exited (${c.exitCode ?? 'unknown'}) ${ago(c.finishedAt)}`;
    case 'dead':
      return 'Dead (its shim is gone: `cellblock rm -f` reclaims it)';
  }
}

export async function ps(args: { all: boolean; json: boolean; quiet: boolean }): Promise<number> {
  const all = (await shim()).list({ all: args.all });
  if (args.json) {
    process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    return 0;
  }
  if (args.quiet) {
    for (const c of all) process.stdout.write(`${c.id}\n`);
    return 0;
  }
  const rows = [
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
    ...all.map((c) => [
      c.id,
      c.image ?? '(rootfs)',
      JSON.stringify(c.argv.join(' ').slice(0, 20)),
      ago(c.created),
      statusText(c),
      (c.ports ?? []).map((p) => `127.0.0.1:${p.replace(':', '->')}/tcp`).join(', '),
      c.name ?? '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('   ')
        .trimEnd()}\n`,
    );
  return 0;
}

export async function logs(args: {
  container: string;
  follow: boolean;
  tail?: string;
  timestamps: boolean;
}): Promise<number> {
  const s = await shim();
  let tail: number | undefined;
  if (args.tail !== undefined && args.tail !== 'all') {
    tail = Number(args.tail);
    if (!Number.isInteger(tail) || tail < 0) {
      throw new CliError(
        `--tail ${JSON.stringify(args.tail)} is not a number of lines`,
        125,
        'e.g. --tail 10, or --tail all',
      );
    }
  }
  for await (const e of s.logs(args.container, { follow: args.follow, tail })) {
    const out = e.stream === 'stderr' ? process.stderr : process.stdout;
    out.write(args.timestamps ? `${e.time} ${e.log}` : e.log);
  }
  return 0;
}

/** `wait`: prints the container's exit status and exits 0, as `docker wait` does. */
export async function wait(args: { containers: string[] }): Promise<number> {
  const s = await shim();
  let status = 0;
  for (const ref of args.containers) {
    const end = await s.wait(ref);
    process.stdout.write(`${end?.exitCode ?? 'unknown'}\n`);
    if (end?.exitCode === undefined) status = 1;
  }
  return status;
}

export async function stop(args: { containers: string[]; time: number }): Promise<number> {
  const s = await shim();
  for (const ref of args.containers) {
    await s.stop(ref, { timeoutSec: args.time });
    process.stdout.write(`${ref}\n`);
  }
  return 0;
}

export async function kill(args: { containers: string[]; signal: string }): Promise<number> {
  const s = await shim();
  for (const ref of args.containers) {
    await s.kill(ref, args.signal);
    process.stdout.write(`${ref}\n`);
  }
  return 0;
}

export async function rm(args: { containers: string[]; force: boolean }): Promise<number> {
  const s = await shim();
  let status = 0;
  for (const ref of args.containers) {
    try {
      await s.remove(ref, { force: args.force });
      process.stdout.write(`${ref}\n`);
    } catch (err) {
      if (!(err instanceof s.NoSuchContainer || err instanceof s.ContainerStateError)) throw err;
      process.stderr.write(`cellblock: ${err.message}\n`);
      status = 1;
    }
  }
  return status;
}

/**
 * `attach`: the container's output from now on, stdout and stderr apart, and
 * stdin to it when it was started with -i; exits with its status, as `docker
 * attach` does. Ctrl-C here is the container's (sent to it, as Docker's sig-proxy).
 */
export async function attach(args: { container: string; noStdin: boolean }): Promise<number> {
  const s = await shim();
  const id = s.resolve(args.container);
  const withStdin = !args.noStdin && s.inspect(id)?.openStdin === true;
  const { socket, tty } = await s.attach(id, { stdin: withStdin });
  const reader = new s.FrameReader((stream, payload) =>
    (stream === 'stderr' ? process.stderr : process.stdout).write(payload),
  );
  socket.on('data', (d: Buffer) => (tty ? process.stdout.write(d) : reader.push(d)));
  socket.resume();
  if (withStdin) process.stdin.pipe(socket);
  const forward = (sig: NodeJS.Signals): void => void s.kill(id, sig).catch(() => undefined);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, forward);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  process.stdin.unpipe(socket);
  process.stdin.destroy();
  const end = await s.wait(id, { timeoutMs: 5000 }).catch(() => undefined);
  return end?.exitCode ?? 0;
}
