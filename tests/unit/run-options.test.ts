/** `run`'s fast parser gives the same image / command split as yargs, the one that shows help and errors. */
import { expect } from 'chai';
import yargs from 'yargs';
import { parseRunFast, runOptions } from '../../src/cli/run-options.js';

const spec = runOptions({ keep: { type: 'boolean', describe: 'keep' } });

async function viaYargs(args: string[]): Promise<{ image?: string; argv: string[] }> {
  let out: { image?: string; argv: string[] } = { argv: [] };
  await yargs(['run', ...args])
    .command(
      'run [image] [command..]',
      'run',
      (y) =>
        y
          .options(spec as never)
          .positional('image', { type: 'string' })
          .positional('command', { type: 'string', array: true }),
      (a) => {
        const command = ((a['command'] as string[] | undefined) ?? []).map(String);
        out = { ...(a['image'] ? { image: String(a['image']) } : {}), argv: [...command, ...a._.slice(1).map(String)] };
      },
    )
    .parserConfiguration({ 'populate--': false, 'unknown-options-as-args': false, 'halt-at-non-option': false })
    .parseAsync();
  return out;
}

function viaFast(args: string[]): { image?: string; argv: string[] } {
  const a = parseRunFast(args, spec)!;
  return {
    ...(a['image'] ? { image: String(a['image']) } : {}),
    argv: [...(a['command'] as string[]), ...(a['_'] as string[]).slice(1)],
  };
}

describe('run: image and command, fast path = yargs', function () {
  const cases: [string[], { image?: string; argv: string[] }][] = [
    [['--', 'sh', '-c', 'echo x'], { argv: ['sh', '-c', 'echo x'] }],
    [['--keep', 'hello', '--', 'sh', '-c', 'x'], { image: 'hello', argv: ['sh', '-c', 'x'] }],
    [['hello'], { image: 'hello', argv: [] }],
    [['alpine:3.20', 'ls', '/'], { image: 'alpine:3.20', argv: ['ls', '/'] }],
    [['-e', 'A=1', 'hello', '--', 'env'], { image: 'hello', argv: ['env'] }],
    [['-e', 'A=1', '-e', 'B=2', '--', 'env'], { argv: ['env'] }],
  ];
  for (const [args, want] of cases) {
    it(`cellblock run ${args.join(' ')}`, async function () {
      expect(viaFast(args)).to.deep.equal(want);
      expect(await viaYargs(args)).to.deep.equal(want);
    });
  }
});
