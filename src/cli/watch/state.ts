/**
 * What `cellblock watch` knows and how each key changes it — as data: a
 * reducer from (state, event) to the next state and the effects to carry out
 * (run checks, show a hint, ask before a reset…). No terminal, no timers, no
 * files: tests feed it keys and read what it asks for.
 */
import { findLesson, lessonNumber, type LessonEntry } from '../../workshop/manifest.js';
import { nextLesson, type Progress } from '../../workshop/progress.js';

export interface WatchState {
  readonly lessons: readonly LessonEntry[];
  /** The lesson on screen, as an index into `lessons`. */
  readonly index: number;
  /** Whether the last finished run of checks found its lesson done (the farewell says so). */
  readonly lastDone?: boolean;
  /** A reset was asked for: the next key answers it. */
  readonly confirming: boolean;
  /** Digits of a lesson number typed so far: "1" may still become 10, 11… */
  readonly digits: string;
}

export type WatchEvent =
  | { type: 'key'; key: string }
  /** No second digit came in time: go with the digits typed. */
  | { type: 'digits-timeout' }
  /** A run of the lesson's checks finished. */
  | { type: 'checked'; done: boolean }
  /** stdin ended, or SIGINT/SIGTERM. */
  | { type: 'end'; code: number };

export type Effect =
  /** Check the lesson on screen (a newer request stops the running one). */
  | { type: 'check'; reason: string }
  | { type: 'check-all' }
  | { type: 'hint' }
  | { type: 'list' }
  | { type: 'ask-reset' }
  | { type: 'reset' }
  | { type: 'not-reset' }
  | { type: 'last-lesson' }
  /** Wait for another digit, then send 'digits-timeout'. */
  | { type: 'wait-for-digit' }
  | { type: 'quit'; code: number };

export interface Step {
  state: WatchState;
  effects: Effect[];
}

/** Where watch starts: the lesson asked for (`--lesson`, looked up like every other), else the learner's next. */
export function startState(lessons: readonly LessonEntry[], progress: Progress, lesson?: string): WatchState {
  const entry = lesson ? findLesson(lesson) : nextLesson(progress, lessons);
  return { lessons, index: Math.max(0, lessons.indexOf(entry)), confirming: false, digits: '' };
}

export function current(s: WatchState): LessonEntry {
  return s.lessons[s.index]!;
}

const QUIT_KEYS = new Set(['q', '\x03', '\x04']); // q, Ctrl-C and Ctrl-D in raw mode

export function step(s: WatchState, e: WatchEvent): Step {
  switch (e.type) {
    case 'end':
      return { state: s, effects: [{ type: 'quit', code: e.code }] };
    case 'checked':
      return { state: { ...s, lastDone: e.done }, effects: [] };
    case 'digits-timeout':
      return jump({ ...s, digits: '' }, s.digits);
    case 'key':
      return onKey(s, e.key);
  }
}

function onKey(s: WatchState, k: string): Step {
  if (s.confirming) {
    const yes = k === 'y' || k === 'Y';
    return { state: { ...s, confirming: false }, effects: [{ type: yes ? 'reset' : 'not-reset' }] };
  }
  if (/^[0-9]$/.test(k)) {
    const digits = s.digits + k;
    // Wait for a second digit only when a longer lesson number starts with these (1 → 10, 11…).
    const typed = String(Number(digits));
    const longer = s.lessons.some((l) => {
      const n = String(lessonNumber(l));
      return n !== typed && n.startsWith(typed);
    });
    if (longer) return { state: { ...s, digits }, effects: [{ type: 'wait-for-digit' }] };
    return jump({ ...s, digits: '' }, digits);
  }
  if (QUIT_KEYS.has(k)) return { state: s, effects: [{ type: 'quit', code: 0 }] };
  switch (k) {
    case 'n':
      return s.index + 1 < s.lessons.length ? go(s, s.index + 1) : { state: s, effects: [{ type: 'last-lesson' }] };
    case 'h':
      return { state: s, effects: [{ type: 'hint' }] };
    case 'l':
      return { state: s, effects: [{ type: 'list' }] };
    case 'c':
      return { state: s, effects: [{ type: 'check-all' }] };
    case 'r':
      return { state: { ...s, confirming: true }, effects: [{ type: 'ask-reset' }] };
    default:
      return { state: s, effects: [] };
  }
}

/** To the lesson numbered `digits`; a number no lesson has is ignored. */
function jump(s: WatchState, digits: string): Step {
  const i = digits ? s.lessons.findIndex((l) => lessonNumber(l) === Number(digits)) : -1;
  return i >= 0 ? go(s, i) : { state: s, effects: [] };
}

function go(s: WatchState, index: number): Step {
  const state: WatchState = { ...s, index };
  return { state, effects: [{ type: 'check', reason: `lesson ${current(state).id}` }] };
}
