/**
 * A rootless container's network: slirp4netns, as rootless Podman uses.
 *
 * Without root there is no veth: creating one, or moving it into another
 * namespace, needs CAP_NET_ADMIN in the host's network namespace. slirp4netns
 * instead joins the container's user and network namespaces, creates a tap
 * device there (the container's root may), and forwards its packets through
 * ordinary sockets of the host — a user-mode TCP/IP stack, NAT included:
 * eth0 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3.
 *
 * Its life is tied to the runtime's by --exit-fd: a pipe whose other end only
 * this process holds. When the runtime ends — cleanly or SIGKILLed — the pipe
 * closes and slirp4netns exits: it cannot be left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { onPath } from '../host/userns.js';

const running = new Map<string, ChildProcess>();

/** The tool, when installed. */
export function slirp4netns(): string | undefined {
  return onPath('slirp4netns');
}

/**
 * Start slirp4netns for the container `id` whose init is `pid`; resolves once
 * it has configured eth0 (its --ready-fd says "1"), rejects if it exits first.
 */
export async function startSlirp(id: string, pid: number, path: string): Promise<void> {
  const child = spawn(
    path,
    [
      '--configure',
      '--mtu=65520',
      '--disable-host-loopback', // the container must not reach the host's 127.0.0.1 services
      `--userns-path=/proc/${pid}/ns/user`,
      '--exit-fd=3',
      '--ready-fd=4',
      String(pid),
      'eth0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  running.set(id, child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    (child.stdio[4] as Readable).once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`slirp4netns exited (${signal ?? code}) before the network was up: ${stderr.trim()}`)),
    );
  });
}

/** Stop the container's slirp4netns, if it has one: close its exit fd, and wait for it. */
export async function stopSlirp(id: string): Promise<void> {
  const child = running.get(id);
  running.delete(id);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  (child.stdio[3] as NodeJS.WritableStream | null)?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
  await exited;
  clearTimeout(timer);
}
