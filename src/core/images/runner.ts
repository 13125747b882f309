/**
 * The real StepRunner: a RUN step is a container — the given lessons (the CLI
 * passes the reference solutions, so a build works whatever state the
 * learner's lessons are in) on the layers so far. The lessons' buildStep
 * fields keep its upper directory, which outlives it and becomes the step's
 * layer, and give it the host's network, as `docker build --network host`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerConfig } from '../config.js';
import { startContainer, type StdioEntry } from '../host/run.js';
import { buildStepFields, missingFeature, type LoadedLesson } from '../lesson.js';
import { BUILD_ID_PREFIX, containerDir } from '../names.js';
import type { StepRunner } from './build.js';
import type { OverlayFields } from './overlay.js';
import { ImageError } from './store.js';

export function containerRunner(
  lessons: LoadedLesson[],
  out: StdioEntry = 'ignore',
  err: StdioEntry = 'ignore',
): StepRunner {
  const missing = missingFeature(lessons, 'image-layers', 'building an image (each step’s writes become a layer)');
  if (missing) throw new ImageError(missing);
  // How the lessons want their own fields for a build step (Lesson.buildStep):
  // the overlay keeps the step's upper directory, the network is the host's.
  const stepFields = buildStepFields(lessons);
  return async ({ lowerdirs, command, env }) => {
    const id = `${BUILD_ID_PREFIX}${randomBytes(4).toString('hex')}`;
    const dir = containerDir(id);
    const discard = (): void => rmSync(dir, { recursive: true, force: true });
    const config: ContainerConfig & OverlayFields = {
      ...stepFields,
      id,
      rootfs: lowerdirs.at(-1)!,
      layers: lowerdirs,
      argv: ['sh', '-c', command],
      env,
      cwd: '/',
      tty: false,
    };
    const stdin = openSync('/dev/null', 'r');
    let status: number;
    try {
      const c = await startContainer(config, { lessons, stdio: [stdin, out, err] });
      status = await c.wait();
      if (c.cleanupError) throw c.cleanupError;
    } catch (e) {
      discard();
      throw e;
    } finally {
      closeSync(stdin);
    }
    const upper = join(dir, 'upper');
    if (status !== 0 || !existsSync(upper)) {
      discard();
      throw new ImageError(
        status !== 0 ? `the command exited with status ${status}` : `no upper directory was kept in ${dir}`,
      );
    }
    return { upper, discard };
  };
}
