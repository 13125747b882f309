/** `cellblock images | build | import | rmi | diff`: the local image store (core/images). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { containerDir } from '../../core/names.js';
import { readState } from '../../core/host/state.js';
import { readJson } from '../../core/read.js';
import {
  build as buildImage,
  diffUpper,
  ImageError,
  ImageStore,
  importTarball,
  refString,
  shortId,
  type OverlayRecord,
} from '../../core/images/index.js';
import { containerRunner } from '../../core/images/runner.js';
import { load } from '../../workshop/loader.js';
import { CliError } from '../errors.js';

/** Store errors are the user's to fix: a message and exit status 1, no stack trace. */
async function userErrors<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ImageError) throw new CliError(err.message, 1);
    throw err;
  }
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

export async function images(args: { json: boolean }): Promise<number> {
  const store = new ImageStore();
  const list = await userErrors(() => store.list());
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify(
        list.map((i) => ({ ...i, bytes: store.size(i) })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  const rows = [
    ['IMAGE', 'LAYERS', 'SIZE', 'CMD', 'FROM'],
    ...list.map((i) => [
      refString(i),
      `${i.layers.length} (top ${shortId(i.layers.at(-1) ?? '')})`,
      fmtBytes(store.size(i)),
      JSON.stringify(i.cmd),
      i.source,
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows)
    process.stdout.write(`${r.map((v, c) => (c < r.length - 1 ? v.padEnd(widths[c]!) : v)).join('  ')}\n`);
  return 0;
}

export async function build(args: { context: string; tag: string; file?: string }): Promise<number> {
  const context = resolve(args.context);
  const file = resolve(args.file ?? join(context, 'Cellfile'));
  // RUN steps run on the reference lessons: a build works whatever state your lessons are in.
  const lessons = await load({ kind: 'cumulative', source: 'solutions' });
  const started = performance.now();
  await userErrors(() =>
    buildImage({
      store: new ImageStore(),
      file,
      context,
      tag: args.tag,
      runner: containerRunner(lessons, 1, 2),
      log: (line) => process.stdout.write(`${line}\n`),
    }),
  );
  process.stdout.write(`(${((performance.now() - started) / 1000).toFixed(2)} s)\n`);
  return 0;
}

export async function importImage(args: { tarball: string; image: string; cmd?: string[] }): Promise<number> {
  const r = await userErrors(() =>
    importTarball(
      new ImageStore(),
      resolve(args.tarball),
      args.image,
      args.cmd && args.cmd.length > 0 ? args.cmd : ['sh'],
    ),
  );
  process.stdout.write(`imported ${refString(r.image)}: ${r.entries} entries, layer ${shortId(r.image.layers[0]!)}\n`);
  return 0;
}

export async function rmi(args: { images: string[] }): Promise<number> {
  const store = new ImageStore();
  for (const ref of args.images) {
    const removed = await userErrors(() => store.remove(ref));
    process.stdout.write(
      `removed ${ref}${removed.length > 0 ? `, and ${removed.length} layer${removed.length === 1 ? '' : 's'} nothing else used (${removed.map(shortId).join(', ')})` : ''}\n`,
    );
  }
  return 0;
}

export async function diff(args: { container: string }): Promise<number> {
  const dir = containerDir(args.container);
  const record = readJson<OverlayRecord>(join(dir, 'overlay.json'));
  if (!record) {
    const running = readState(args.container);
    throw new CliError(
      `no upper layer for container ${args.container} in ${dir}`,
      1,
      running
        ? 'it runs, but its overlay lesson recorded no overlay: is that lesson done? (`cellblock status`)'
        : 'diff shows a running container, or one that ran with `cellblock run --keep`',
    );
  }
  if (!existsSync(record.upper))
    throw new CliError(`container ${args.container} has no upper directory ${record.upper}`, 1);
  for (const c of diffUpper(record.upper, record.lower)) process.stdout.write(`${c.kind} ${c.path}\n`);
  return 0;
}
