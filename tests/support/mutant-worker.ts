/**
 * One worker of the mutation test's first pass (tests/support/mutants.ts,
 * inWorkers): it is sent `{ dir, worker, mutants: [{ index, mutant }] }` over
 * the IPC channel, runs them one after the other — each on its own rootfs
 * copy below `dir`, with this process's CELLBLOCK_ROOTFS — and sends
 * `{ index, outcome }` for each as it ends, then exits.
 */
import { join } from 'node:path';
import { runMutant, type Mutant } from './mutants.js';

interface Job {
  dir: string;
  worker: number;
  mutants: { index: number; mutant: Mutant }[];
}

const send = (msg: unknown): Promise<void> =>
  new Promise((resolve, reject) => process.send!(msg, undefined, {}, (err) => (err ? reject(err) : resolve())));

process.once('message', (job: Job) => {
  void (async () => {
    try {
      let n = 0;
      for (const { index, mutant } of job.mutants) {
        const outcome = await runMutant(mutant, join(job.dir, `rootfs-w${job.worker}-${n++}`));
        await send({ index, outcome });
      }
    } catch (err) {
      await send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    // Everything is sent (each send waited for): the harness's timers must not keep this process.
    process.exit(0);
  })();
});
