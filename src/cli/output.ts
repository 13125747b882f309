/**
 * Everything the CLI prints about errors. chalk turns colour off by itself when
 * stdout is not a terminal (and honours NO_COLOR / FORCE_COLOR).
 */
import chalk from 'chalk';
import { ConfigError } from '../core/config.js';
import { InitError } from '../core/init/protocol.js';
import { SyscallError } from '../native/errors.js';
import { CgroupError } from '../core/cgroups/fs.js';
import { UnknownLessonError } from '../workshop/manifest.js';
import { CliError } from './errors.js';

export { CliError } from './errors.js';

/** Print an error the way a learner can act on it; returns the exit status to use. */
export function printError(err: unknown): number {
  const line = (s: string): boolean => process.stderr.write(`${s}\n`);
  if (err instanceof ConfigError) {
    for (const p of err.problems) line(`${chalk.red('cellblock: invalid input:')} ${p}`);
    line(chalk.dim('nothing was created.'));
    return 125;
  }
  if (err instanceof InitError) {
    line(`${chalk.red('cellblock: container failed to start:')} ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof SyscallError) {
    line(`${chalk.red('cellblock:')} ${err.message}`);
    return 125;
  }
  if (err instanceof CgroupError) {
    // A cgroup file the kernel refused: the message names the file, the value, the errno and the fix.
    line(`${chalk.red('cellblock: cgroup:')} ${err.message}`);
    return 125;
  }
  if (err instanceof UnknownLessonError) {
    // A bad command line, like any other (2), never a lesson picked by a guess.
    line(`${chalk.red('cellblock:')} ${err.message}`);
    if (err.suggestion) line(chalk.dim(`  → did you mean ${err.suggestion}?`));
    return 2;
  }
  if (err instanceof CliError) {
    line(`${chalk.red('cellblock:')} ${err.message}`);
    if (err.hint) line(chalk.dim(`  → ${err.hint}`));
    return err.exitCode;
  }
  // Detached containers (core/shim): "No such container" and a state that forbids it exit 1, as docker's; a failed runtime 125.
  if (err instanceof Error && ['NoSuchContainer', 'ContainerStateError', 'ShimError'].includes(err.name)) {
    line(`${chalk.red('cellblock:')} ${err.message}`);
    return (err as Error & { exitCode?: number }).exitCode ?? 125;
  }
  if (err instanceof Error && err.message.startsWith('TODO')) {
    line(`${chalk.red('cellblock: a lesson is not finished yet:')} ${err.message}`);
    line(chalk.dim('  → finish it (`cellblock status` shows which), or run with --solutions to use the reference'));
    return 125;
  }
  // A plain Error (or a subclass: NetToolError, ImageError…) from a runtime
  // step carries a message written for the user; TypeError & co. are bugs,
  // and a bug report needs the stack.
  const bug = err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError;
  if (err instanceof Error && !bug && !process.env['CELLBLOCK_DEBUG']) {
    line(`${chalk.red('cellblock:')} ${err.message}`);
    line(chalk.dim('  (CELLBLOCK_DEBUG=1 shows where it came from)'));
    return 125;
  }
  line(
    `${chalk.red('cellblock: unexpected error:')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  return 125;
}
