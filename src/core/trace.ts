/**
 * CELLBLOCK_TRACE=1: one line on stderr per phase of a container start, with
 * the wall-clock time since this process began — how scripts/bench.mjs and a
 * curious learner see where a start-up goes. Off by default: it costs one
 * environment lookup.
 */
const on = process.env['CELLBLOCK_TRACE'] === '1';

export function trace(what: string): void {
  if (!on) return;
  const now = performance.timeOrigin + performance.now();
  process.stderr.write(
    `[trace ${process.pid}] ${(now % 100_000).toFixed(1)} +${performance.now().toFixed(1)} ${what}\n`,
  );
}
