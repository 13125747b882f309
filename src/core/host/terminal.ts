/**
 * A terminal for `run -t`: a pty pair whose slave end becomes the container's
 * stdin/stdout/stderr (and, through setsid + TIOCSCTTY in the init, its
 * controlling terminal), while the host copies bytes between its own terminal
 * and the master end.
 *
 * node-pty's spawn() cannot be used: it starts a thread, and a thread born
 * inside the namespace window fails (pending PID namespace). So we only borrow
 * its openpty() and resize(); the spawn is ours.
 */
import { closeSync, write } from 'node:fs';
import { createRequire } from 'node:module';
import tty from 'node:tty';

interface PtyNative {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}
const ptyNative = (createRequire(import.meta.url)('node-pty') as { native: PtyNative }).native;

/** TIOCSWINSZ on a pty master (the kernel sends SIGWINCH to the slave's foreground group). */
export function resizePty(master: number, cols: number, rows: number): void {
  ptyNative.resize(master, cols, rows);
}

export class Terminal {
  master: number;
  /** The fd to give the container as stdio; close it here once the container has it. */
  slave: number | undefined;
  private reader: tty.ReadStream;
  private pending = Promise.resolve();
  private size: [number, number];

  constructor(cols = 80, rows = 24) {
    this.size = [cols, rows];
    const { master, slave } = ptyNative.open(cols, rows);
    this.master = master;
    this.slave = slave;
    this.reader = new tty.ReadStream(master);
  }

  /** The container has its copy of the slave: ours must go, or the master never sees EOF. */
  releaseSlave(): void {
    if (this.slave !== undefined) closeSync(this.slave);
    this.slave = undefined;
  }

  resize(cols: number, rows: number): void {
    this.size = [cols, rows];
    ptyNative.resize(this.master, cols, rows); // TIOCSWINSZ: the kernel sends SIGWINCH inside
  }

  /**
   * Go on with another pty master — a console opened in the container's own
   * devpts (console.ts) — at the same window size. Before pipeTo().
   */
  adopt(master: number): void {
    this.reader.destroy(); // closes our first master: its slave is about to be dropped inside
    this.master = master;
    this.reader = new tty.ReadStream(master);
    ptyNative.resize(master, ...this.size);
  }

  /** Bytes typed on the host, to the container (queued: the master is non-blocking). */
  write(data: Buffer | string): void {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    this.pending = this.pending.then(() => writeAll(this.master, buf));
  }

  /** Copy the container's output to `out`; resolves when the container side has closed. */
  pipeTo(out: NodeJS.WritableStream): Promise<void> {
    return new Promise((resolve) => {
      this.reader.on('data', (d) => out.write(d));
      // EIO on read is how Linux says "the slave side is closed": the end, not an error.
      this.reader.on('error', () => resolve());
      this.reader.on('end', () => resolve());
      this.reader.on('close', () => resolve());
    });
  }

  close(): void {
    this.releaseSlave();
    this.reader.destroy();
  }
}

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const step = (off: number): void => {
      if (off >= buf.length) return resolve();
      write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') return setTimeout(() => step(off), 5);
        if (err) return resolve(); // the container is gone
        step(off + n);
      });
    };
    step(0);
  });
}
