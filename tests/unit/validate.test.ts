/** Config validation: every bad value named, before anything is created. No root needed. */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, type ContainerConfig } from '../../src/core/config.js';
import { validateConfig } from '../../src/core/validate.js';
import { load } from '../../src/workshop/loader.js';
import { testConfig } from '../support/config.js';

describe('config validation', function () {
  let dir: string;
  const base = (over: Partial<ContainerConfig> = {}): ContainerConfig =>
    testConfig({ rootfs: dir, env: ['PATH=/bin'], ...over });
  before(() => (dir = mkdtempSync(join(tmpdir(), 'cellblock-unit-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a good config', function () {
    expect(validateConfig(base(), [])).to.deep.equal([]);
  });

  const cases: [string, Partial<ContainerConfig>, RegExp][] = [
    ['an id with a slash', { id: 'a/b' }, /container id "a\/b" is invalid/],
    ['a relative rootfs', { rootfs: 'rootfs' }, /rootfs "rootfs" must be an absolute path/],
    ['a missing rootfs', { rootfs: '/nonexistent/cellblock' }, /rootfs \/nonexistent\/cellblock does not exist/],
    ['an empty command', { argv: [] }, /no command given/],
    ['an env entry without =', { env: ['JUSTKEY'] }, /"JUSTKEY" is not KEY=VALUE/],
    ['a relative workdir', { cwd: 'tmp' }, /working directory "tmp" must be an absolute path/],
  ];
  for (const [what, over, message] of cases) {
    it(`rejects ${what}, naming the value`, function () {
      const problems = validateConfig(base(over), []);
      expect(problems).to.have.length(1);
      expect(problems[0]).to.match(message);
    });
  }

  it('rejects a rootfs that is a file, naming the path', function () {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    expect(validateConfig(base({ rootfs: file }), [])).to.deep.equal([
      `rootfs ${file} is not a directory: pass the root filesystem's directory`,
    ]);
  });

  it('reports every problem at once', function () {
    const problems = validateConfig(base({ argv: [], cwd: 'x', id: '-x' }), []);
    expect(problems).to.have.length(3);
    expect(new ConfigError(problems).message).to.match(/^invalid config:\n {2}- /);
  });

  it('runs the lessons’ own checks: 01-uts measures the hostname in bytes', async function () {
    const lessons = await load({ kind: 'cumulative', source: 'solutions' });
    expect(validateConfig(base({ hostname: 'h'.repeat(64) }), lessons)).to.deep.equal([]);
    const [problem] = validateConfig(base({ hostname: 'é'.repeat(33) }), lessons);
    expect(problem).to.match(/is 66 bytes long: the kernel allows at most 64/);
  });
});
