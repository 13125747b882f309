/** `cellblock hint N`: one more hint each time, from a nudge to the precise step; `--all` repeats those shown so far. */
import { findLesson } from '../../workshop/manifest.js';
import { hintsShown, takeHint } from '../../workshop/progress.js';
import { hintLines } from '../lesson-output.js';

export async function hint(args: { lesson: string; all: boolean }): Promise<void> {
  const entry = findLesson(args.lesson);
  // --all reveals nothing new: it is "every hint so far", as its help says.
  const shown = args.all ? hintsShown(entry) : takeHint(entry);
  if (args.all && shown.number === 0 && shown.of > 0) {
    process.stdout.write(
      `No hint of ${entry.id} shown yet: \`cellblock hint ${entry.id.slice(0, 2)}\` shows the first.\n`,
    );
    return;
  }
  for (const line of hintLines(entry, shown, { all: args.all })) process.stdout.write(`${line}\n`);
}
