/**
 * Validation: a list of small checks, each about one field, run *before* any
 * kernel object is created, so bad input changes nothing. Every problem is
 * reported at once, naming the value and how to fix it.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { ContainerConfig } from './config.js';
import { ID_PATTERN } from './config.js';
import { readState } from './host/state.js';
import type { LoadedLesson, Validation } from './lesson.js';

export const coreValidations: Validation<ContainerConfig>[] = [
  ({ id }) =>
    ID_PATTERN.test(id)
      ? undefined
      : `container id ${JSON.stringify(id)} is invalid: use 1–32 characters from a-z 0-9 _ . - starting with a letter or digit`,
  ({ id }) => {
    const running = readState(id);
    return running && existsSync(`/proc/${running.pid}`)
      ? `container id ${id} is already running (pid ${running.pid}): choose another --id`
      : undefined;
  },
  ({ rootfs }) => {
    if (!isAbsolute(rootfs)) return `rootfs ${JSON.stringify(rootfs)} must be an absolute path`;
    let st;
    try {
      st = statSync(rootfs);
    } catch {
      return `rootfs ${rootfs} does not exist: build the default one with \`bash scripts/setup.sh\`, or pass --rootfs DIR`;
    }
    return st.isDirectory() ? undefined : `rootfs ${rootfs} is not a directory: pass the root filesystem's directory`;
  },
  ({ argv }) =>
    argv.length > 0 && argv[0] !== '' ? undefined : 'no command given: put it after --, e.g. `cellblock run -- sh`',
  ({ env }) => {
    const bad = env.find((e) => !/^[^=]+=/.test(e));
    return bad === undefined ? undefined : `environment entry ${JSON.stringify(bad)} is not KEY=VALUE`;
  },
  ({ cwd }) => (isAbsolute(cwd) ? undefined : `working directory ${JSON.stringify(cwd)} must be an absolute path`),
];

export function validateConfig(config: ContainerConfig, lessons: LoadedLesson[]): string[] {
  const checks = [...coreValidations, ...lessons.flatMap((l) => l.lesson.validate ?? [])];
  const problems = checks.map((check) => check(config)).filter((p): p is string => p !== undefined);
  return [...problems, ...sharingProblems(config, lessons)];
}

/**
 * `--net container:NAME` (and --ipc, --uts, --pid, as Docker spells them) asks
 * to start in a running container's namespaces. Only a lesson that declares
 * Lesson.shareNamespaces can do that; without one the option would be read
 * as "a namespace of my own" — an empty network namespace, silently. So the
 * value is refused, naming the option and — when the caller knows it (the
 * CLI reads the manifest) — the lesson `provider` that brings the sharing.
 */
export function sharingProblems(config: ContainerConfig, lessons: LoadedLesson[], provider?: string): string[] {
  if (lessons.some((l) => l.lesson.shareNamespaces)) return [];
  const loaded = lessons.map((l) => l.id);
  const range = loaded.length > 1 ? `${loaded[0]} … ${loaded.at(-1)}` : (loaded[0] ?? 'none');
  const where = provider
    ? `lesson ${provider} provides it, and it is not loaded (lessons loaded: ${range}) — run with \`--lesson ${provider}\` or without --lesson once it is done`
    : `no loaded lesson provides it (Lesson.shareNamespaces; loaded: ${range}) — lessons/manifest.json lists the lesson that does`;
  return Object.entries(config)
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].startsWith('container:'))
    .map(([key, value]) => `--${key} ${value}: starting in another container's namespaces — ${where}`);
}
