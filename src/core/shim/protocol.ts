/**
 * What travels on a shim's control socket, and the runtime's error log.
 *
 * Requests and replies are one JSON line each. After an attach reply, the
 * shim sends the container's output in Docker's stream format — the one
 * `docker attach`/`docker logs` read from the Engine API when there is no
 * terminal: an 8-byte header (byte 0 the stream, 1 stdout or 2 stderr; bytes
 * 4–7 the payload's length, big-endian) before each chunk. With a terminal
 * there is one stream and no header, as in Docker.
 */
import { readText } from '../read.js';
import type { LogStream } from '../lesson.js';

export const STREAM_ID: Record<LogStream, number> = { stdout: 1, stderr: 2 };

/** One chunk of output with its 8-byte header. */
export function frame(stream: LogStream, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_ID[stream];
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/**
 * Splits a framed byte stream back into chunks; feed it what arrives, get
 * each whole frame once (a frame may arrive in pieces, several in one piece).
 */
export class FrameReader {
  private buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: LogStream, payload: Buffer) => void) {}

  push(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    while (this.buffer.length >= 8) {
      const size = this.buffer.readUInt32BE(4);
      if (this.buffer.length < 8 + size) return;
      this.onFrame(this.buffer[0] === 2 ? 'stderr' : 'stdout', this.buffer.subarray(8, 8 + size));
      this.buffer = this.buffer.subarray(8 + size);
    }
  }
}

/** The last error the runtime logged (runc's and cellblock-oci's --log-format json: {"level","msg"}). */
export function runtimeError(logFile: string): string | undefined {
  const lines = readText(logFile).trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) return entry.msg;
    } catch {
      if (line.trim()) return line.trim();
    }
  }
  return undefined;
}
