/**
 * The `cellblock` command line. Each command is a plain async function in its
 * own module, imported only when used; commands throw, and only this file
 * prints errors and sets the exit code.
 */
import type { Argv, Options } from 'yargs';
import { parseRunFast, runOptions } from './run-options.js';
import { CliError, printError } from './output.js';
import type { LessonOption } from '../core/lesson.js';

/** The options lessons add to `run` (--hostname, …), read from the lesson files themselves. */
async function lessonOptions(argv: string[]): Promise<Record<string, LessonOption>> {
  const { load } = await import('../workshop/loader.js');
  const source = argv.includes('--solutions') ? 'solutions' : 'lessons';
  const lessons = await load({ kind: 'cumulative', source });
  return Object.assign({}, ...lessons.map((l) => l.lesson.options ?? {})) as Record<string, LessonOption>;
}

export async function main(argv: string[]): Promise<void> {
  // `cellblock verify | head`: a closed pipe ends the output, not the program with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  const runSpec = runOptions(argv[0] === 'run' ? await lessonOptions(argv).catch(() => ({})) : {});
  if (argv[0] === 'run') {
    const fast = parseRunFast(argv.slice(1), runSpec);
    if (fast) {
      try {
        const { run } = await import('./commands/run.js');
        process.exitCode = await run(fast as never);
      } catch (err) {
        process.exitCode = printError(err);
      }
      return;
    }
  }
  const { default: yargs } = await import('yargs');
  const cli: Argv = yargs(argv)
    .scriptName('cellblock')
    .usage('$0 <command>\n\nA container runtime you build yourself, one kernel feature per lesson.')
    .command(
      'run [command..]',
      'run a container from the lessons (yours, or the reference with --solutions)',
      (y) =>
        y
          .options(runSpec as Record<string, Options>)
          .positional('command', { type: 'string', array: true, describe: 'the command, after --' })
          .example('$0 run --solutions --hostname box -- hostname', 'prints box')
          .example('$0 run -it -- sh', 'an interactive shell'),
      async (args) => {
        const { run } = await import('./commands/run.js');
        process.exitCode = await run(args as never);
      },
    )
    .command(
      'verify [lesson]',
      'check a lesson: yours (default), or the reference with --solutions',
      (y) =>
        y
          .positional('lesson', { type: 'string', describe: 'lesson number or id (default: your next one)' })
          .option('solutions', { type: 'boolean', default: false })
          .option('json', { type: 'boolean', default: false, describe: 'machine-readable report' }),
      async (args) => {
        const { verify } = await import('./commands/verify.js');
        process.exitCode = await verify(args as never);
      },
    )
    .command(
      'status',
      'every lesson, done or not, and what is next',
      (y) => y.option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { status } = await import('./commands/status.js');
        await status(args as never);
      },
    )
    .command(
      'hint <lesson>',
      'the next hint for a lesson (each call shows one more)',
      (y) =>
        y
          .positional('lesson', { type: 'string', demandOption: true })
          .option('all', { type: 'boolean', default: false, describe: 'every hint so far' }),
      async (args) => {
        const { hint } = await import('./commands/hint.js');
        await hint(args as never);
      },
    )
    .command(
      'doctor',
      'check this machine for everything the workshop needs',
      (y) => y.option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { doctor } = await import('./commands/doctor.js');
        process.exitCode = await doctor(args as never);
      },
    )
    .demandCommand(1, 'give a command: run, verify, status, hint or doctor')
    .strict()
    .parserConfiguration({ 'populate--': false, 'unknown-options-as-args': false, 'halt-at-non-option': false })
    .help()
    .version(false)
    .fail((msg, err) => {
      throw err ?? new CliError(msg, 2, 'see `cellblock --help`');
    });

  try {
    await cli.parseAsync();
  } catch (err) {
    process.exitCode = printError(err);
  }
}
