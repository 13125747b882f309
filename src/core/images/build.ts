/**
 * `cellblock build`: an image from a base and a build file, one layer per
 * RUN or COPY step (ENV and CMD change only the image's config).
 *
 * A RUN step runs `sh -c` in a container whose overlay stacks the layers so
 * far and keeps its upper directory (`--keep`): that upper directory — the
 * step's writes and whiteouts — *is* the new layer. A COPY step writes its
 * files straight into a fresh layer directory.
 *
 * The cache: each step has a key, sha256(previous key, the instruction, and for
 * COPY the content of what it reads); the first key is made from the base
 * image's layer ids. A step whose key is in the cache reuses that layer. So
 * an unchanged build file reuses every layer, and changing one step — or a
 * file one COPY reads — changes its key and every key after it: that step and
 * all the steps above it are built again. Layers themselves are named by their
 * content (tree.ts), so a rebuilt step that produces the same files lands on
 * the same layer.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, join, posix, resolve, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BuildFileError, parseBuildFile, type Step } from './buildfile.js';
import { copyTree, ImageError, parseRef, refString, shortId, type Image, type ImageStore } from './store.js';
import { treeDigest, treeSize } from './tree.js';

export interface RunStepOptions {
  /** Layer directories, top first. */
  lowerdirs: string[];
  command: string;
  env: string[];
}

/**
 * Runs one RUN step in a container and hands back its upper directory (the
 * caller moves it into the store, then calls `discard` for the rest). Throws
 * if the command fails — after removing everything it made.
 */
export type StepRunner = (o: RunStepOptions) => Promise<{ upper: string; discard: () => void }>;

export interface BuildOptions {
  store: ImageStore;
  /** The build file. */
  file: string;
  /** The directory COPY sources are relative to. */
  context: string;
  /** name[:tag] of the result. */
  tag: string;
  runner: StepRunner;
  log?: (line: string) => void;
}

export interface StepReport {
  n: number;
  total: number;
  text: string;
  /** base: FROM; cached / built: a layer; config: ENV or CMD. */
  status: 'base' | 'cached' | 'built' | 'config';
  layer?: string;
  ms: number;
}

export interface BuildResult {
  image: Image;
  steps: StepReport[];
}

const sha = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

/** A COPY source, resolved inside the context, or a BuildFileError naming the line. */
function sourcePath(context: string, src: string, file: string, line: number): string {
  const p = resolve(context, src);
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    throw new BuildFileError(file, line, `COPY: ${src} does not exist in the build context ${context}`);
  }
  const root = realpathSync(context);
  if (real !== root && !real.startsWith(root + sep)) {
    throw new BuildFileError(
      file,
      line,
      `COPY: ${src} leads outside the build context (${real}): copy the file into ${context}`,
    );
  }
  return p;
}

/** What a COPY reads, as one digest: any change to a source file changes the step's key. */
function sourcesDigest(paths: string[]): string {
  return sha(
    ...paths.map((p) => {
      const st = lstatSync(p);
      if (st.isDirectory()) return `dir ${treeDigest(p)}`;
      if (st.isSymbolicLink()) return `link ${readlinkSync(p)}`;
      return `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }),
  );
}

/** The COPY step's layer: sources placed at dest in a fresh staging directory, owned by root. */
function copyLayer(store: ImageStore, paths: string[], dest: string): string {
  const stage = store.staging('copy');
  try {
    const abs = posix.resolve('/', dest);
    const intoDir = dest.endsWith('/') || paths.length > 1 || lstatSync(paths[0]!).isDirectory();
    for (const p of paths) {
      const st = lstatSync(p);
      const target = st.isDirectory() ? join(stage, abs) : intoDir ? join(stage, abs, basename(p)) : join(stage, abs);
      if (st.isDirectory()) copyTree(p, target);
      else {
        copyTree(p, target, true);
      }
    }
    // Files from the build context belong to root in the image, whoever owns them here.
    const r = spawnSync('chown', ['-hR', '0:0', stage]);
    if (r.status !== 0) throw new ImageError(`chown in ${stage} failed`);
    return store.addLayer(stage);
  } finally {
    store.discard(stage);
  }
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const { store, file, context } = opts;
  const log = opts.log ?? (() => undefined);
  // Everything that can be checked is checked before the first step runs.
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ImageError(`cannot read the build file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const steps = parseBuildFile(text, file);
  const ref = parseRef(opts.tag);
  const from = steps[0] as Extract<Step, { kind: 'FROM' }>;
  let base: Image;
  try {
    base = store.resolve(from.ref);
  } catch (err) {
    throw new BuildFileError(file, from.line, `FROM: ${(err as Error).message}`);
  }
  const copies = new Map<Step, string[]>();
  for (const s of steps) {
    if (s.kind === 'COPY')
      copies.set(
        s,
        s.sources.map((src) => sourcePath(context, src, file, s.line)),
      );
  }

  const total = steps.length;
  const reports: StepReport[] = [];
  let layers = [...base.layers];
  let env = [...base.env];
  let cmd = [...base.cmd];
  let key = sha('FROM', ...base.layers, JSON.stringify(base.env), JSON.stringify(base.cmd));

  for (const [i, step] of steps.entries()) {
    const n = i + 1;
    const t0 = performance.now();
    const head = `step ${n}/${total}:`;
    const report = (status: StepReport['status'], layer?: string): StepReport => {
      const r = { n, total, text: step.text, status, ...(layer ? { layer } : {}), ms: performance.now() - t0 };
      reports.push(r);
      return r;
    };
    switch (step.kind) {
      case 'FROM':
        log(`${head} ${step.text} (${base.layers.length} layer${base.layers.length === 1 ? '' : 's'})`);
        report('base');
        continue;
      case 'ENV':
        for (const [k, v] of step.vars) env = [...env.filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
        key = sha(key, step.text);
        log(`${head} ${step.text} (config only)`);
        report('config');
        continue;
      case 'CMD':
        cmd = step.argv;
        key = sha(key, step.text);
        log(`${head} ${step.text} (config only)`);
        report('config');
        continue;
    }
    const sources = copies.get(step);
    key = sha(key, step.text, sources ? sourcesDigest(sources) : '');
    log(`${head} ${step.text}`);
    const hit = store.cacheGet(key);
    if (hit && store.hasLayer(hit.layer)) {
      layers = [...layers, hit.layer];
      log(`${head} cached (layer ${shortId(hit.layer)})`);
      report('cached', hit.layer);
      continue;
    }
    let layer: string;
    if (step.kind === 'COPY') {
      layer = copyLayer(store, sources!, step.dest);
    } else {
      const lowerdirs = layers.map((l) => store.layerPath(l)).reverse();
      let ran: Awaited<ReturnType<StepRunner>>;
      try {
        ran = await opts.runner({ lowerdirs, command: step.command, env });
      } catch (err) {
        throw new ImageError(`${head} ${step.text} (${file}:${step.line}) failed: ${(err as Error).message}`);
      }
      try {
        layer = store.addLayer(ran.upper);
      } finally {
        ran.discard();
      }
    }
    store.cachePut(key, { layer });
    layers = [...layers, layer];
    const size = treeSize(store.layerPath(layer));
    const r = report('built', layer);
    log(
      `${head} built layer ${shortId(layer)} (${size.entries} entries, ${fmtBytes(size.bytes)}) in ${(r.ms / 1000).toFixed(2)} s`,
    );
  }

  const image: Image = {
    ...ref,
    layers,
    cmd,
    env,
    created: new Date().toISOString(),
    source: `build ${resolve(file)}`,
  };
  store.save(image);
  log(`built ${refString(image)}: ${layers.length} layers, top ${shortId(layers.at(-1)!)}`);
  return { image, steps: reports };
}
