/**
 * The options of `cellblock run`, in one place: yargs builds the help and the
 * error messages from them, and the fast path below parses with the same spec.
 *
 * Why a fast path: loading yargs costs ~55 ms here (string-width's tables,
 * locale files), as much as Node's own start-up, and `cellblock run` is the
 * command whose start-up time matters. yargs-parser is the parser yargs itself
 * uses, so a plain `run` parses the same way in ~1 ms. Anything unusual
 * (--help, an unknown option) goes to yargs for its full treatment.
 */
import parser from 'yargs-parser';
import type { LessonOption } from '../core/lesson.js';

export interface OptionSpec {
  type: 'string' | 'number' | 'boolean' | 'array';
  describe: string;
  alias?: string;
  default?: unknown;
  array?: boolean;
  /** Values per occurrence: `-e A=1 IMAGE` takes one, so IMAGE stays the image. */
  nargs?: number;
}

export function runOptions(lessonOptions: Record<string, LessonOption>): Record<string, OptionSpec> {
  return {
    ...lessonOptions,
    rootfs: { type: 'string', describe: 'root filesystem directory (default: the busybox rootfs)' },
    solutions: { type: 'boolean', default: false, describe: 'use the reference solutions for every lesson' },
    lesson: {
      type: 'string',
      describe: 'your lesson N on the reference of the lessons before it, as `verify N` (later lessons not loaded)',
    },
    interactive: { alias: 'i', type: 'boolean', default: false, describe: 'keep stdin attached' },
    tty: { alias: 't', type: 'boolean', default: false, describe: 'give the container a terminal' },
    env: {
      alias: 'e',
      type: 'string',
      array: true,
      nargs: 1,
      default: [],
      describe: 'KEY=VALUE for the command (repeat -e)',
    },
    workdir: { alias: 'w', type: 'string', default: '/', describe: 'working directory inside' },
    id: { type: 'string', describe: 'container id (default: generated)' },
    detach: {
      alias: 'd',
      type: 'boolean',
      default: false,
      describe: 'run in the background: print the id and return; a shim keeps the container (see `cellblock ps`)',
    },
    rm: { type: 'boolean', default: false, describe: 'with -d: remove the container once it has ended' },
  };
}

const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Parse `run`'s arguments (after the word "run") as yargs would; undefined when
 * yargs must handle them (help, unknown options, a value of the wrong type).
 */
export function parseRunFast(args: string[], spec: Record<string, OptionSpec>): Record<string, unknown> | undefined {
  const lists = { boolean: [] as string[], string: [] as string[], number: [] as string[], array: [] as string[] };
  const alias: Record<string, string[]> = {};
  const defaults: Record<string, unknown> = {};
  const narg: Record<string, number> = {};
  for (const [name, o] of Object.entries(spec)) {
    if (o.type === 'array' || o.array) lists.array.push(name);
    if (o.type !== 'array') lists[o.type].push(name);
    if (o.alias) alias[name] = [o.alias];
    if (o.default !== undefined) defaults[name] = o.default;
    if (o.nargs !== undefined) narg[name] = o.nargs;
  }
  const opts: parser.Options = {
    ...lists,
    alias,
    default: defaults,
    narg,
    configuration: { 'populate--': true, 'strip-aliased': false },
  };
  const parsed = parser.detailed(args, opts);
  if (parsed.error) return undefined;
  const argv = parsed.argv as Record<string, unknown>;
  const known = new Set(['_', '--', 'help', 'h']);
  for (const [name, o] of Object.entries(spec)) {
    known.add(name).add(camel(name));
    if (o.alias) known.add(o.alias);
  }
  if (argv['help'] || argv['h'] || Object.keys(argv).some((k) => !known.has(k))) return undefined;
  // The shape yargs gives `run [image] [command..]`: the words before `--` are
  // the image and then the command, everything after `--` stays in `_`.
  const dashed = ((argv['--'] as (string | number)[] | undefined) ?? []).map(String);
  const [image, ...command] = (argv['_'] as (string | number)[]).map(String);
  return { ...argv, image, command, _: ['run', ...dashed] };
}
