/**
 * `cellblock build`: the build file's grammar (errors name file and line, and
 * nothing is created), the layer cache (an unchanged file reuses every layer;
 * changing one step, or a file a COPY reads, rebuilds that step and every one
 * after it, and nothing before), and RUN steps as real containers whose upper
 * directory — whiteouts included — becomes the layer.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { build, type StepRunner } from '../../src/core/images/build.js';
import { BuildFileError, parseBuildFile } from '../../src/core/images/buildfile.js';
import { containerRunner } from '../../src/core/images/runner.js';
import { ImageError, ImageStore } from '../../src/core/images/store.js';
import { BUILD_ID_PREFIX, CONTAINERS_DIR } from '../../src/core/names.js';
import { defaultRootfs } from '../../src/core/paths.js';
import { load } from '../../src/workshop/loader.js';
import { skipBecause } from '../support/skip.js';

/** A RUN step without a container: its "upper directory" holds one file named after the step. */
function fakeRunner(ran: string[]): StepRunner {
  return async ({ command, env, lowerdirs }) => {
    ran.push(command);
    const dir = mkdtempSync(join(tmpdir(), 'cellblock-fake-upper-'));
    writeFileSync(join(dir, `ran-${ran.length}`), `${command}\n${env.join(' ')}\n${lowerdirs.length} layers\n`);
    return { upper: dir, discard: () => rmSync(dir, { recursive: true, force: true }) };
  };
}

const FILE = `# test image
FROM busybox
RUN echo one > /one
COPY app.txt /app/
ENV STAGE=a
RUN echo two > /two
CMD ["cat", "/app/app.txt"]
`;

function listing(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(`${rel}${e.name}`);
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('images: build files', function () {
  const bad: [string, string, RegExp][] = [
    ['an unknown instruction', 'FROM busybox\n\nRUNN true\n', /Cellfile:3: unknown instruction RUNN/],
    ['RUN before FROM', '# c\nRUN true\n', /Cellfile:2: RUN before FROM/],
    ['a second FROM', 'FROM busybox\nFROM busybox\n', /Cellfile:2: a second FROM/],
    ['FROM without an image', 'FROM\n', /Cellfile:1: FROM needs an argument/],
    ['a bad image name', 'FROM Busy Box\n', /Cellfile:1: FROM takes one image name/],
    ['CMD with broken JSON', 'FROM busybox\nCMD ["sh", \'-c\']\n', /Cellfile:2: CMD: .* not one/],
    ['COPY with one argument', 'FROM busybox\nCOPY app.txt\n', /Cellfile:2: COPY needs at least a source/],
    ['COPY from outside the context', 'FROM busybox\nCOPY ../secret /x\n', /Cellfile:2: COPY: source \.\.\/secret/],
    ['ENV without a value', 'FROM busybox\nENV 1X=2\n', /Cellfile:2: ENV: "1X" is not a variable name/],
    ['an empty file', '# nothing\n', /Cellfile:1: the build file is empty/],
  ];
  for (const [what, text, message] of bad) {
    it(`rejects ${what}, naming the line`, function () {
      expect(() => parseBuildFile(text, 'Cellfile')).to.throw(BuildFileError, message);
    });
  }

  it('reads continuations, comments, both CMD forms and both ENV forms', function () {
    const steps = parseBuildFile(
      'FROM busybox\n# comment\nRUN echo a \\\n  && echo b\nENV A=1 B="two"\nENV C three words\nCMD echo hi\nCMD ["x", "y"]\n',
      'Cellfile',
    );
    expect(steps.map((s) => [s.line, s.text])).to.deep.equal([
      [1, 'FROM busybox'],
      [3, 'RUN echo a && echo b'],
      [5, 'ENV A=1 B="two"'],
      [6, 'ENV C three words'],
      [7, 'CMD echo hi'],
      [8, 'CMD ["x", "y"]'],
    ]);
    expect(steps[2]).to.deep.include({
      vars: [
        ['A', '1'],
        ['B', 'two'],
      ],
    });
    expect(steps[3]).to.deep.include({ vars: [['C', 'three words']] });
    expect(steps[4]).to.deep.include({ argv: ['sh', '-c', 'echo hi'] });
    expect(steps[5]).to.deep.include({ argv: ['x', 'y'] });
  });
});

describe('images: the build cache', function () {
  this.timeout(60_000);
  let tmp: string;
  let store: ImageStore;
  let file: string;

  beforeEach(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (layers are owned by root)');
    if (!existsSync(defaultRootfs())) skipBecause(this, `no rootfs at ${defaultRootfs()}: run scripts/setup.sh`);
    tmp = mkdtempSync(join(tmpdir(), 'cellblock-build-'));
    store = new ImageStore(join(tmp, 'store'));
    file = join(tmp, 'Cellfile');
    writeFileSync(file, FILE);
    writeFileSync(join(tmp, 'app.txt'), 'version 1\n');
  });
  afterEach(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const statuses = async (ran: string[] = [], log: string[] = []) =>
    (await build({ store, file, context: tmp, tag: 't', runner: fakeRunner(ran), log: (l) => log.push(l) })).steps.map(
      (s) => s.status,
    );

  it('first build: every RUN and COPY builds a layer; ENV and CMD only change the config', async function () {
    const ran: string[] = [];
    const log: string[] = [];
    expect(await statuses(ran, log)).to.deep.equal(['base', 'built', 'built', 'config', 'built', 'config']);
    expect(ran).to.deep.equal(['echo one > /one', 'echo two > /two']);
    const image = store.get('t')!;
    expect(image.layers).to.have.length(4); // busybox + 3
    expect(image.cmd).to.deep.equal(['cat', '/app/app.txt']);
    expect(image.env).to.include('STAGE=a');
    expect(readFileSync(join(store.layerPath(image.layers[2]!), 'app', 'app.txt'), 'utf8')).to.equal('version 1\n');
    expect(log).to.include('step 3/6: COPY app.txt /app/');
    expect(log.filter((l) => / built layer [0-9a-f]{12} /.test(l))).to.have.length(3);
  });

  it('an unchanged build file reuses every layer ("step N/M: cached"), and runs nothing', async function () {
    await statuses();
    const before = store.get('t')!.layers;
    const ran: string[] = [];
    const log: string[] = [];
    expect(await statuses(ran, log)).to.deep.equal(['base', 'cached', 'cached', 'config', 'cached', 'config']);
    expect(ran).to.deep.equal([]);
    expect(log).to.include.members([
      `step 2/6: cached (layer ${before[1]!.slice(0, 12)})`,
      `step 3/6: cached (layer ${before[2]!.slice(0, 12)})`,
    ]);
    expect(store.get('t')!.layers).to.deep.equal(before);
  });

  it('changing one RUN rebuilds it and every step after it, nothing before', async function () {
    await statuses();
    const before = store.get('t')!.layers;
    writeFileSync(file, FILE.replace('echo one > /one', 'echo ONE > /one'));
    const ran: string[] = [];
    expect(await statuses(ran)).to.deep.equal(['base', 'built', 'built', 'config', 'built', 'config']);
    expect(ran).to.deep.equal(['echo ONE > /one', 'echo two > /two']);
    const after = store.get('t')!.layers;
    expect(after[0]).to.equal(before[0]);
    expect(after[1]).to.not.equal(before[1]);
    // COPY's content is the same, so its layer — named by content — is the same directory again
    expect(after[2]).to.equal(before[2]);
  });

  it('changing a file a COPY reads rebuilds that COPY and what follows; the RUN before stays cached', async function () {
    await statuses();
    writeFileSync(join(tmp, 'app.txt'), 'version 2\n');
    const ran: string[] = [];
    expect(await statuses(ran)).to.deep.equal(['base', 'cached', 'built', 'config', 'built', 'config']);
    expect(ran).to.deep.equal(['echo two > /two']);
    const image = store.get('t')!;
    expect(readFileSync(join(store.layerPath(image.layers[2]!), 'app', 'app.txt'), 'utf8')).to.equal('version 2\n');
  });

  it('changing an ENV rebuilds the RUN after it (it runs with that environment)', async function () {
    await statuses();
    writeFileSync(file, FILE.replace('ENV STAGE=a', 'ENV STAGE=b'));
    const ran: string[] = [];
    expect(await statuses(ran)).to.deep.equal(['base', 'cached', 'cached', 'config', 'built', 'config']);
    expect(ran).to.deep.equal(['echo two > /two']);
  });

  it('changing only CMD rebuilds nothing', async function () {
    await statuses();
    writeFileSync(file, FILE.replace('["cat", "/app/app.txt"]', '["sh"]'));
    expect(await statuses()).to.deep.equal(['base', 'cached', 'cached', 'config', 'cached', 'config']);
    expect(store.get('t')!.cmd).to.deep.equal(['sh']);
  });

  it('bad input — a malformed file, an unknown base, a missing COPY source — is rejected before anything is made', async function () {
    const before = listing(join(tmp, 'store'));
    const attempt = async (text: string) => {
      writeFileSync(file, text);
      const ran: string[] = [];
      const err = await build({ store, file, context: tmp, tag: 't', runner: fakeRunner(ran) }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(ran).to.deep.equal([]);
      return err;
    };
    expect((await attempt('FROM busybox\nRUN true\nBOGUS x\n'))?.message).to.match(
      /Cellfile:3: unknown instruction BOGUS/,
    );
    expect((await attempt('FROM nosuchimage\nRUN true\n'))?.message).to.match(
      /Cellfile:1: FROM: unknown image "nosuchimage"/,
    );
    expect((await attempt('FROM busybox\nRUN true\nCOPY missing.txt /\n'))?.message).to.match(
      /Cellfile:3: COPY: missing.txt does not exist in the build context/,
    );
    // the base image is made on first use; nothing else is
    expect(store.list().map((i) => i.name)).to.deep.equal(['busybox']);
    expect(readdirSync(join(tmp, 'store', 'layers'))).to.have.length(1);
    expect(existsSync(join(tmp, 'store', 'cache'))).to.equal(false);
    expect(existsSync(join(tmp, 'store', 'tmp'))).to.equal(false);
    expect(before.filter((p) => !listing(join(tmp, 'store')).includes(p))).to.deep.equal([]);
  });

  it('a failing RUN fails the build with its step and line, and leaves no layer, cache entry or image', async function () {
    writeFileSync(file, 'FROM busybox\nRUN false\n');
    const failing: StepRunner = async () => {
      throw new ImageError('the command exited with status 1');
    };
    const err = await build({ store, file, context: tmp, tag: 't', runner: failing }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/step 2\/2: RUN false \(.*Cellfile:2\) failed: the command exited with status 1/);
    expect(store.get('t')).to.equal(undefined);
    expect(readdirSync(join(tmp, 'store', 'layers'))).to.have.length(1); // busybox's
    expect(existsSync(join(tmp, 'store', 'cache'))).to.equal(false);
  });
});

describe('images: RUN steps in real containers', function () {
  this.timeout(60_000);
  let tmp: string;

  beforeEach(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (containers)');
    if (!existsSync(defaultRootfs())) skipBecause(this, `no rootfs at ${defaultRootfs()}: run scripts/setup.sh`);
    tmp = mkdtempSync(join(tmpdir(), 'cellblock-build-'));
  });
  afterEach(function () {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the step's upper directory is the layer: new files, and a whiteout for a deleted lower file", async function () {
    const store = new ImageStore(join(tmp, 'store'));
    const file = join(tmp, 'Cellfile');
    writeFileSync(file, 'FROM busybox\nRUN echo hi > /hi && rm /etc/os-release\nRUN cat /hi > /copy\n');
    const lessons = await load({ kind: 'cumulative', source: 'solutions' });
    const { image } = await build({ store, file, context: tmp, tag: 'w', runner: containerRunner(lessons) });
    const [, l1, l2] = image.layers.map((l) => store.layerPath(l));
    expect(readFileSync(join(l1!, 'hi'), 'utf8')).to.equal('hi\n');
    const wh = lstatSync(join(l1!, 'etc', 'os-release'));
    expect(wh.isCharacterDevice() && wh.rdev === 0, 'a whiteout (c 0,0)').to.equal(true);
    // the second step ran on the first one's layer
    expect(readFileSync(join(l2!, 'copy'), 'utf8')).to.equal('hi\n');
    expect(readdirSync(l2!)).to.deep.equal(['copy']);
    // nothing left of the build containers
    expect(readdirSync(CONTAINERS_DIR).filter((d) => d.startsWith(BUILD_ID_PREFIX))).to.deep.equal([]);
  });

  it('a RUN that fails removes its container directory', async function () {
    const lessons = await load({ kind: 'cumulative', source: 'solutions' });
    const run = containerRunner(lessons);
    const err = await run({ lowerdirs: [defaultRootfs()], command: 'echo x > /x; exit 3', env: ['PATH=/bin'] }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal('the command exited with status 3');
    mkdirSync(CONTAINERS_DIR, { recursive: true });
    expect(readdirSync(CONTAINERS_DIR).filter((d) => d.startsWith(BUILD_ID_PREFIX))).to.deep.equal([]);
    expect(spawnSync('ls', [join(defaultRootfs(), 'x')]).status, 'the rootfs is untouched').to.not.equal(0);
  });
});
