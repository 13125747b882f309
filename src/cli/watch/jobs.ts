/**
 * One job at a time for `watch` (a build, then a check process): a newer
 * request stops the running check process at once and makes the queued jobs
 * moot — a save while the checks run means their answer is already stale.
 */
import type { WorkerOutcome, WorkerRun } from '../../workshop/runner.js';

export interface Job {
  /** False once a newer job was scheduled: stop, print nothing more. */
  live(): boolean;
  /** Wait for a check process, as the one to stop when a newer job comes. */
  track(run: WorkerRun): Promise<WorkerOutcome>;
}

export class LatestJob {
  private seq = 0;
  private running: WorkerRun | undefined;
  private queue: Promise<void> = Promise.resolve();
  private interrupted = false;

  constructor(
    /** Removes what a stopped check process's containers left (cellblock cleanup). */
    private readonly tidy: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  schedule(job: (j: Job) => Promise<void>): void {
    const seq = ++this.seq;
    if (this.running) {
      this.running.stop();
      this.interrupted = true;
    }
    const j: Job = {
      live: () => seq === this.seq,
      track: async (run) => {
        this.running = run;
        const outcome = await run.done;
        if (this.running === run) this.running = undefined;
        return outcome;
      },
    };
    this.queue = this.queue
      .then(async () => {
        if (!j.live()) return;
        if (this.interrupted) {
          this.interrupted = false;
          await this.tidy().catch(() => undefined);
        }
        if (j.live()) await job(j);
      })
      .catch(this.onError);
  }

  /** Stop what runs, tidy after it, and wait for the queue to drain. */
  async close(): Promise<void> {
    this.seq++;
    const run = this.running;
    if (run) {
      run.stop();
      await run.done;
      await this.tidy().catch(() => undefined);
    }
    await this.queue;
  }
}
