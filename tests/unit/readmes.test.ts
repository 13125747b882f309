/**
 * The lesson READMEs show what a learner's VM prints, not the machine the
 * workshop was written on: no trace of the development sandbox (its PID 1,
 * its bind mounts, its network devices and documentation-range addresses,
 * its checkout paths). And every `hint:` line of a sample has the shape of a
 * hint its lesson's checks can still print — a string literal of the checks
 * file, with its `${…}` holes as wildcards — so a reworded hint cannot leave
 * a stale sample behind. Each README also states its expected time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { manifest, ROOT } from '../../src/workshop/manifest.js';

/** What only the development machine shows. */
const DEV_MARKERS: [RegExp, string][] = [
  [/process_api/, "the dev sandbox's PID 1 (a VM shows systemd)"],
  [/\/mnt\/sandboxing/, "the dev sandbox's bind mounts"],
  [/\bifb\d\b/, "the dev sandbox's ifb devices"],
  [/\b192\.0\.2\.\d/, "the dev sandbox's documentation-range address"],
  [/\/work\/(?:main|wt)\b/, "the dev machine's checkout (the VM's is /workshop)"],
];

const readme = (id: string): string => readFileSync(join(ROOT, 'lessons', id, 'README.md'), 'utf8');

/** A string literal of the checks file as a pattern: `${…}` holes and `…` match anything. */
function literalPatterns(source: string): RegExp[] {
  const out: RegExp[] = [];
  const re = /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g;
  for (const m of source.matchAll(re)) {
    const body = m[0].slice(1, -1).replace(/\\(['"`\\])/g, '$1');
    const parts = body.split(/\$\{(?:[^{}]|\{[^{}]*\})*\}/);
    if (parts.join('').trim().length < 12) continue; // too little fixed text to say anything
    const esc = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    out.push(new RegExp(esc.join('.*')));
  }
  return out;
}

describe('lesson READMEs', function () {
  for (const entry of manifest()) {
    describe(entry.id, function () {
      it('carry nothing of the development machine', function () {
        const text = readme(entry.id);
        const found = DEV_MARKERS.filter(([re]) => re.test(text)).map(([re, what]) => `${re.source}: ${what}`);
        expect(found, `lessons/${entry.id}/README.md`).to.deep.equal([]);
      });

      it('state the expected time', function () {
        expect(readme(entry.id)).to.match(/_Expected time: \d+ minutes/);
      });

      it('quote only hints its checks can print', function () {
        const patterns = literalPatterns(readFileSync(join(ROOT, 'tests', `${entry.id}.checks.ts`), 'utf8'));
        const stale = readme(entry.id)
          .split('\n')
          .filter((l) => /^\s+hint:\s/.test(l))
          .map((l) => l.replace(/^\s+hint:\s+/, '').trim())
          .filter((hint) => !patterns.some((p) => p.test(hint)));
        expect(stale, `hint lines of lessons/${entry.id}/README.md that no check prints any more`).to.deep.equal([]);
      });
    });
  }
});
