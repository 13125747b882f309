/**
 * A container run by an ordinary user, for lesson 08's rootless check: the
 * check (root) starts this script as an unprivileged uid, and looks at it from
 * the host while it runs. It is the runtime itself — startContainer with the
 * very lesson files the check was given — not a copy of its logic.
 *
 *   node rootless-run.js LESSONS_JSON -- COMMAND…
 *     LESSONS_JSON  [{"id": "00-process", "file": "/…/process.js"}, …]
 *
 * The container's stdin, stdout and stderr are this script's; its notes go to
 * stderr as `note: …`; the exit status is the container's (125: it did not start).
 */
import { pathToFileURL } from 'node:url';
import { DEFAULT_ENV, newContainerId } from '../../src/core/config.js';
import { startContainer } from '../../src/core/host/run.js';
import type { Lesson, LoadedLesson } from '../../src/core/lesson.js';
import { defaultRootfs } from '../../src/core/paths.js';

const [spec, dashes, ...argv] = process.argv.slice(2);
if (spec === undefined || dashes !== '--' || argv.length === 0) {
  process.stderr.write('usage: rootless-run.js LESSONS_JSON -- COMMAND…\n');
  process.exit(2);
}
const refs = JSON.parse(spec) as { id: string; file: string }[];
const lessons: LoadedLesson[] = await Promise.all(
  refs.map(async (r) => ({
    ...r,
    lesson: ((await import(pathToFileURL(r.file).href)) as { default: Lesson }).default,
  })),
);
try {
  const c = await startContainer(
    { id: newContainerId(), rootfs: defaultRootfs(), argv, env: DEFAULT_ENV, cwd: '/', tty: false },
    { lessons, stdio: [0, 1, 2] },
  );
  const status = await c.wait();
  for (const note of c.notes) process.stderr.write(`note: ${note}\n`);
  if (c.cleanupError) process.stderr.write(`rootless-run: cleanup: ${String(c.cleanupError)}\n`);
  process.exit(status);
} catch (err) {
  process.stderr.write(`rootless-run: ${(err as Error).name}: ${(err as Error).message}\n`);
  process.exit(125);
}
