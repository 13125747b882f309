/** Lesson 06's steps against a recording `sys` and a temp directory: no kernel state needed. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MS_PRIVATE, MS_REC } from '../../src/native/constants.js';
import type { ContainerConfig } from '../../src/core/config.js';
import { runUndoSteps, type UndoFailure, type UndoSteps } from '../../src/core/lesson.js';
import type { OverlayConfig } from '../../src/core/images/overlay.js';
import { overlayValidations, requireOverlayRoot } from '../../src/core/images/overlay.js';
import { containerDir } from '../../src/core/names.js';
import { load } from '../../src/workshop/loader.js';
import { recordingSys } from '../unit/recording-sys.js';
import { testConfig } from '../support/config.js';

const base = (over: Partial<OverlayConfig> = {}): OverlayConfig =>
  testConfig({ id: 'cb-steps06', rootfs: '/rootfs', ...over });

describe('lesson 06 steps (recorded)', function () {
  it('prepareRootfs: private first, then the overlay with the layers top first; config.rootfs becomes merged/', async function () {
    const lessons = await load({ kind: 'verify', id: '06-overlay', source: 'solutions' });
    const lesson = lessons.find((l) => l.id === '06-overlay')!.lesson;
    const { sys, calls } = recordingSys();
    const dir = containerDir('cb-steps06');
    const config = base({
      layers: ['/l/top', '/l/base'],
      overlay: {
        dir,
        lower: ['/l/top', '/l/base'],
        upper: `${dir}/upper`,
        work: `${dir}/work`,
        merged: `${dir}/merged`,
      },
    });
    await lesson.prepareRootfs!(config as ContainerConfig, sys);
    expect(calls).to.deep.equal([
      { name: 'mount', args: [null, '/', null, MS_REC | MS_PRIVATE, null] },
      {
        name: 'mount',
        args: [
          'overlay',
          `${dir}/merged`,
          'overlay',
          0,
          `lowerdir=/l/top:/l/base,upperdir=${dir}/upper,workdir=${dir}/work`,
        ],
      },
    ]);
    expect(config.rootfs).to.equal(`${dir}/merged`);
  });

  it('the rail: an image whose overlay is not the root does not start', function () {
    const dir = '/c';
    const overlay = { dir, lower: ['/l'], upper: '/c/upper', work: '/c/work', merged: '/c/merged' };
    expect(() => requireOverlayRoot(base({ layers: ['/l'], image: 'app', overlay }))).to.throw(
      /TODO: the overlay lesson — nothing is mounted on \/c\/merged: image app needs its layers mounted/,
    );
    expect(() => requireOverlayRoot(base({ layers: ['/l'], overlay, rootfs: '/c/merged' }))).to.not.throw();
    expect(() => requireOverlayRoot(base({ overlay }))).to.not.throw(); // no image: the rootfs directory is fine
  });

  it('validation: missing layers and too many of them are bad input', function () {
    const problems = (c: OverlayConfig) => overlayValidations.map((v) => v(c)).filter(Boolean);
    expect(problems(base({ layers: ['/nonexistent/layer'] }))[0]).to.match(
      /layer directory \/nonexistent\/layer does not exist/,
    );
    expect(problems(base({ layers: ['/a:b'] })).join()).to.match(/":" or ","/);
    const many = Array.from({ length: 60 }, (_, i) => `/${'l'.repeat(90)}/${i}`);
    expect(problems(base({ layers: many })).join()).to.match(
      /60 layers make \d+ bytes of overlay options, more than mount\(2\) takes/,
    );
  });

  it('host steps: the directories are made, recorded, and removed — all but upper/ with keep', async function () {
    const lessons = await load({ kind: 'verify', id: '06-overlay', source: 'solutions' });
    const lesson = lessons.find((l) => l.id === '06-overlay')!.lesson;
    const tmp = mkdtempSync(join(tmpdir(), 'cellblock-steps06-'));
    try {
      for (const keep of [false, true]) {
        const config = base({ id: `cb-steps06-${keep}`, rootfs: tmp, keep });
        const failures: UndoFailure[] = [];
        const ctx = {
          config: config as ContainerConfig,
          pid: 0,
          notes: [],
          undo: (steps: UndoSteps) => runUndoSteps('06-overlay', steps, failures),
        };
        await lesson.hostAfterSpawn!(ctx);
        const o = config.overlay!;
        expect([o.upper, o.work, o.merged, join(o.dir, 'overlay.json')].map(existsSync)).to.deep.equal([
          true,
          true,
          true,
          true,
        ]);
        expect(o.lower).to.deep.equal([tmp]);
        await lesson.hostCleanup!(ctx);
        expect(failures, 'every undo step ran cleanly').to.deep.equal([]);
        expect([o.dir, o.upper, o.work, o.merged].map(existsSync)).to.deep.equal(
          keep ? [true, true, false, false] : [false, false, false, false],
        );
        rmSync(o.dir, { recursive: true, force: true });
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
