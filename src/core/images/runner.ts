/**
 * The real StepRunner: a RUN step is a container — the given lessons (the CLI
 * passes the reference solutions, so a build works whatever state the
 * learner's lessons are in) on the layers so far, with --keep, so its upper
 * directory outlives it and becomes the step's layer.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerConfig } from '../config.js';
import { startContainer, type LoadedLesson, type StdioEntry } from '../host/run.js';
import { BUILD_ID_PREFIX, containerDir } from '../names.js';
import type { StepRunner } from './build.js';
import type { OverlayFields } from './overlay.js';
import { ImageError } from './store.js';

export function containerRunner(
  lessons: LoadedLesson[],
  out: StdioEntry = 'ignore',
  err: StdioEntry = 'ignore',
): StepRunner {
  if (!lessons.some((l) => l.id === '06-overlay')) {
    throw new ImageError(
      'building needs lesson 06-overlay (its overlay keeps each step’s writes): it is not in the manifest',
    );
  }
  return async ({ lowerdirs, command, env }) => {
    const id = `${BUILD_ID_PREFIX}${randomBytes(4).toString('hex')}`;
    const dir = containerDir(id);
    const discard = (): void => rmSync(dir, { recursive: true, force: true });
    const config: ContainerConfig & OverlayFields = {
      id,
      rootfs: lowerdirs.at(-1)!,
      layers: lowerdirs,
      keep: true,
      // The host's network, as `docker build --network host`: no veth to wire
      // for a step, and nothing of lesson 04's (an /etc/hosts mount point, a
      // /run/cellblock tmpfs directory) ends up in the step's layer.
      net: 'host',
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
