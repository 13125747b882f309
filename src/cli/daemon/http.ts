/**
 * The Docker Engine API's wire conventions, on node:http:
 *
 * - errors are JSON `{"message": "…"}` with the status Docker uses (400 bad
 *   input, 404 no such container/image, 409 conflict, 500 anything else); the
 *   CLI prints "Error response from daemon: <message>";
 * - attach and exec start "hijack" the connection: the client sends
 *   `Connection: Upgrade` / `Upgrade: tcp`, the daemon answers
 *   `101 UPGRADED`, and from then on the socket carries the container's raw
 *   stdin one way and its output the other;
 * - output without a terminal is multiplexed: each chunk goes behind an 8-byte
 *   header — byte 0 the stream (0 stdin, 1 stdout, 2 stderr), bytes 4–7 the
 *   length, big-endian — so stdout and stderr survive one byte stream
 *   (Docker's stdcopy). With a terminal there is only one stream: raw bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, what);

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): number {
  const status = err instanceof ApiError ? err.status : 500;
  const message = err instanceof Error ? err.message : String(err);
  if (!res.headersSent) sendJson(res, status, { message });
  else res.end();
  return status;
}

/** The request body, at most `limit` bytes (a create body is a few kB). */
export function readBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(413, `request body larger than ${limit} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A JSON body, as Go's encoding/json reports a broken one ("invalid character
 * … looking for beginning of value"); an empty body is `{}` as Docker takes it.
 */
export function parseJson<T>(raw: Buffer): T {
  const text = raw.toString('utf8').trim();
  if (text === '') return {} as T;
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new ApiError(400, 'invalid JSON: the body must be a JSON object');
    }
    return v as T;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(400, `invalid JSON: ${(err as Error).message}`);
  }
}

/** The 8-byte stdcopy header + payload. */
export function frame(stream: 1 | 2, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/**
 * Take over an upgraded connection: write Docker's 101 answer. The socket is
 * then ours: the caller pipes the container's streams through it.
 */
export function hijack(socket: Duplex, tty: boolean): void {
  socket.write(
    'HTTP/1.1 101 UPGRADED\r\n' +
      `Content-Type: application/vnd.docker.${tty ? 'raw-stream' : 'multiplexed-stream'}\r\n` +
      'Connection: Upgrade\r\n' +
      'Upgrade: tcp\r\n' +
      '\r\n',
  );
}

/** Write an error on a connection that asked for an upgrade but will not get one. */
export function refuseUpgrade(socket: Duplex, err: unknown): number {
  const status = err instanceof ApiError ? err.status : 500;
  const text = JSON.stringify({ message: err instanceof Error ? err.message : String(err) });
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 409 ? 'Conflict' : 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
  return status;
}

/** Query flags as Docker reads them: "1", "true", "True" are true. */
export function flag(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return ['1', 'true', 'True', 'TRUE'].includes(v);
}
