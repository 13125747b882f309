/**
 * The architecture, enforced: imports run one way (native ← core ← workshop ←
 * cli; lessons and solutions use core and native only), no import cycle, and
 * the runtime core and the CLI never name a lesson — they ask for a declared
 * capability (Lesson.features, superviseCommand, buildStep) instead, so adding
 * a lesson touches nothing else. Each rule is also run against a planted
 * violation, to prove it can fail.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../src/core/paths.js';
import { filesBelow } from '../../src/core/read.js';
import { loadLessons, selectLessons } from '../../src/workshop/loader.js';
import { manifest } from '../../src/workshop/manifest.js';

/** dependency-cruiser with the project's rules (.dependency-cruiser.cjs) over `dirs` of `root`. */
function cruise(root: string, dirs: string[]): { status: number | null; output: string } {
  const r = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'depcruise'),
    ['--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...dirs],
    { cwd: root, encoding: 'utf8', timeout: 60_000 },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Every .ts file below `dir`. */
const tsFiles = (dir: string): string[] => filesBelow(dir).filter((f) => f.endsWith('.ts'));

/** Lines of `files` that name one of `ids` (comments included: a lesson id in the core is a special case waiting). */
function linesNaming(files: string[], ids: string[]): string[] {
  const re = new RegExp(`\\b(${ids.join('|')})\\b`);
  return files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (re.test(line) ? [`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
  );
}

/** Lines of `files` whose code — comments left out — matches `re`. */
function codeLinesMatching(files: string[], re: RegExp): string[] {
  return files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => {
        const code = line.replace(/^\s*(\*|\/\*\*?|\/\/).*$/, '').replace(/\s\/\/ .*$/, '');
        return re.test(code) ? [`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [];
      }),
  );
}

/** Code lines of `files` that read `config.X` or `config['X']` for a field in `fields`. */
function readsOfFields(files: string[], fields: string[]): string[] {
  const names = fields.map((f) => f.replace(/[-]/g, '\\-')).join('|');
  return codeLinesMatching(files, new RegExp(`\\bconfig\\??\\.(${names})\\b|\\bconfig\\[['"](${names})['"]\\]`));
}

describe('architecture', function () {
  this.timeout(120_000);

  describe('imports run one way, with no cycle (dependency-cruiser)', function () {
    it('holds for the whole tree', function () {
      const r = cruise(ROOT, ['src', 'lessons', 'solutions', 'tests']);
      expect(r.status, r.output).to.equal(0);
    });

    it('fails on a planted cycle, an import up the layers and a lesson importing the workshop', function () {
      const dir = mkdtempSync(join(tmpdir(), 'cellblock-layers-'));
      try {
        copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
        const files: Record<string, string> = {
          'tsconfig.json': JSON.stringify({
            compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true },
            include: ['src/**/*.ts', 'lessons/**/*.ts'],
          }),
          // validate.ts ↔ host/run.ts, as it once was: type-only, still a cycle.
          'src/core/validate.ts': "import type { Loaded } from './host/run.js';\nexport type V = Loaded;\n",
          'src/core/host/run.ts': "import type { V } from '../validate.js';\nexport type Loaded = { v?: V };\n",
          'src/core/uses-cli.ts': "import { main } from '../cli/main.js';\nexport const m = main;\n",
          'src/cli/main.ts': 'export function main(): void {}\n',
          'src/workshop/grade.ts': 'export const grade = 1;\n',
          'lessons/01-x/x.ts': "import { grade } from '../../src/workshop/grade.js';\nexport default grade;\n",
        };
        for (const [name, text] of Object.entries(files)) {
          mkdirSync(dirname(join(dir, name)), { recursive: true });
          writeFileSync(join(dir, name), text);
        }
        const r = cruise(dir, ['src', 'lessons']);
        expect(r.status, r.output).to.not.equal(0);
        expect(r.output).to.include('no-cycle');
        expect(r.output).to.include('core-imports-no-workshop-or-cli');
        expect(r.output).to.include('lessons-use-core-and-native-only');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the runtime core and the CLI never name a lesson', function () {
    const ids = manifest().map((l) => l.id);
    const spine = [...tsFiles(join(ROOT, 'src', 'core')), ...tsFiles(join(ROOT, 'src', 'cli'))];

    it('no lesson id in src/core or src/cli (code or comments)', function () {
      expect(linesNaming(spine, ids)).to.deep.equal([]);
    });

    it('no lesson number in what src/core or src/cli say (renumbering must not leave stale advice)', function () {
      expect(codeLinesMatching(spine, /\blessons? \d{2}\b/)).to.deep.equal([]);
    });

    it("the runtime's own files read no lesson's config field", async function () {
      // The kernel areas (core/net, core/cgroups, core/images, core/security, core/pods) define the field
      // types their lesson uses (NetFields, CgroupConfig, OverlayFields, SecurityConfig) and may
      // read them; core/oci translates an OCI config.json into those fields (and adds the seccomp
      // file lesson 09 reads), core/bundle the other way, every field into an OCI bundle's
      // config.json; the runtime itself — config, validation, host, init, the shim — and the CLI
      // pass every lesson field through without looking.
      const runtime = spine.filter(
        (f) => !/\/src\/core\/(net|cgroups|images|security|userns|pods|oci|bundle)\//.test(f),
      );
      const lessons = await loadLessons(selectLessons({ kind: 'cumulative', source: 'solutions' }));
      // A lesson's fields: its flags, and what its steps put on the config (`config.X = …`, as
      // lesson 04's etcHosts) — except the base fields the runtime itself defines (core/config.ts).
      const base = new Set(['id', 'rootfs', 'argv', 'env', 'cwd', 'tty', 'joined', 'cgroupParent', 'callerMounts']);
      const assigned = tsFiles(join(ROOT, 'solutions')).flatMap((f) =>
        [...readFileSync(f, 'utf8').matchAll(/\bconfig\.([A-Za-z]+) = /g)].map((m) => m[1]!),
      );
      const fields = [
        ...new Set(
          lessons.flatMap((l) => [...Object.keys(l.lesson.options ?? {}), ...Object.keys(l.lesson.buildStep ?? {})]),
        ),
        ...new Set(assigned.filter((f) => !base.has(f))),
      ];
      expect(fields).to.include.members(['init', 'net', 'keep', 'hostname', 'etcHosts']);
      expect(readsOfFields(runtime, fields)).to.deep.equal([]);
    });

    it('both scans find a planted lesson id and a planted field read', function () {
      const dir = mkdtempSync(join(tmpdir(), 'cellblock-layers-'));
      try {
        const f = join(dir, 'planted.ts');
        writeFileSync(f, "// see 02-pid\nif (config['init'] === true) run();\nconst n = config.net;\n");
        expect(linesNaming([f], ids)).to.have.length(1);
        expect(readsOfFields([f], ['init', 'net'])).to.have.length(2);
        writeFileSync(f, "// lesson 02 says so\nthrow new Error('see lesson 05');\n");
        expect(codeLinesMatching([f], /\blessons? \d{2}\b/)).to.have.length(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
