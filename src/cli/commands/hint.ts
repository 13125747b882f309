/** `cellblock hint N`: one more hint each time, from a nudge to the precise step. */
import { findLesson } from '../../workshop/manifest.js';
import { takeHint } from '../../workshop/progress.js';
import { hintLines } from '../lesson-output.js';

export async function hint(args: { lesson: string; all: boolean }): Promise<void> {
  const entry = findLesson(args.lesson);
  const shown = takeHint(entry);
  for (const line of hintLines(entry, shown, { all: args.all })) process.stdout.write(`${line}\n`);
}
