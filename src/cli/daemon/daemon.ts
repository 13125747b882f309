/**
 * cellblockd: a subset of the Docker Engine API (1.41) on a unix socket, the
 * layer `docker run` talks to. It does what dockerd does with each request —
 * look the image up, turn the create body into a container config, and hand
 * the container to the layer below (a shim per container, as containerd's;
 * see backend.ts) — and it answers in Docker's shapes, so that the real
 * `docker` CLI is its client.
 *
 * One log line per request: method, path, status, milliseconds.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { arch, constants as osConstants, cpus, hostname, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ConfigError, DEFAULT_ENV, type ContainerConfig } from '../../core/config.js';
import { execInContainer, type ExecProcess } from '../../core/host/exec.js';
import type { StdioEntry } from '../../core/host/run.js';
import { Terminal } from '../../core/host/terminal.js';
import { ImageError, ImageStore, refString, type Image } from '../../core/images/store.js';
import type { Backend, BackendState } from './backend.js';
import {
  ApiError,
  flag,
  frame,
  hijack,
  notFound,
  parseJson,
  readBody,
  refuseUpgrade,
  sendError,
  sendJson,
} from './http.js';
import { normalizeImage, translate, type ContainerSpec, type CreateBody } from './translate.js';

export const API_VERSION = '1.41';
const MIN_API_VERSION = '1.24';
const VERSION = '20.10.24-cellblock';

/** What the daemon adds to a container beyond the backend's state: Docker's own view of it. */
interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  spec: ContainerSpec;
}

interface ExecRecord {
  id: string;
  containerId: string;
  cmd: string[];
  env: string[];
  workdir: string | undefined;
  user: string | undefined;
  tty: boolean;
  attachStdin: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  proc?: ExecProcess;
  term?: Terminal;
}

export interface DaemonOptions {
  socket: string;
  /** Where container records (and the backend's logs) are kept. */
  dir: string;
  backend: Backend;
  log: (line: string) => void;
}

type Handler = (req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray, q: URLSearchParams) => Promise<void>;
type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, m: RegExpMatchArray) => Promise<void>;

export class Daemon {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly execs = new Map<string, ExecRecord>();
  private readonly store = new ImageStore();
  private server: Server | undefined;
  private readonly routes: [string, RegExp, Handler][];
  private readonly upgrades: [string, RegExp, UpgradeHandler][];
  /** Hijacked connections, so that a stopping daemon can end them. */
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly o: DaemonOptions) {
    const c = '/containers/([^/]+)';
    this.routes = [
      ['GET', /^\/_ping$/, this.ping],
      ['HEAD', /^\/_ping$/, this.ping],
      ['GET', /^\/version$/, this.version],
      ['GET', /^\/info$/, this.info],
      ['GET', /^\/images\/json$/, this.images],
      ['GET', /^\/images\/([^/]+(?:\/[^/]+)*)\/json$/, this.imageInspect],
      ['POST', /^\/images\/create$/, this.pull],
      ['POST', /^\/containers\/create$/, this.create],
      ['GET', /^\/containers\/json$/, this.list],
      ['POST', new RegExp(`^${c}/start$`), this.start],
      ['POST', new RegExp(`^${c}/wait$`), this.wait],
      ['GET', new RegExp(`^${c}/logs$`), this.logs],
      ['POST', new RegExp(`^${c}/stop$`), this.stop],
      ['POST', new RegExp(`^${c}/kill$`), this.kill],
      ['POST', new RegExp(`^${c}/resize$`), this.resize],
      ['GET', new RegExp(`^${c}/json$`), this.inspect],
      ['DELETE', new RegExp(`^${c}$`), this.remove],
      ['POST', new RegExp(`^${c}/exec$`), this.execCreate],
      ['GET', /^\/exec\/([^/]+)\/json$/, this.execInspect],
      ['POST', /^\/exec\/([^/]+)\/resize$/, this.execResize],
    ];
    this.upgrades = [
      ['POST', new RegExp(`^${c}/attach$`), this.attach],
      ['POST', /^\/exec\/([^/]+)\/start$/, this.execStart],
    ];
    this.loadRecords();
  }

  // ---- the socket ---------------------------------------------------------

  /** Listen on the socket: root and group `cellblock` only (mode 0660), as dockerd's group `docker`. */
  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on(
      'upgrade',
      (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head),
    );
    mkdirSync(dirname(this.o.socket), { recursive: true, mode: 0o755 });
    // A socket left by a daemon that was killed: nobody listens on it (the
    // connect test tells; a live daemon's socket is never taken over).
    if (await answers(this.o.socket)) {
      throw new ConfigError([`another daemon listens on ${this.o.socket}: stop it first, or give --socket PATH`]);
    }
    rmSync(this.o.socket, { force: true });
    const old = process.umask(0o117); // created 0660: no window where it is world-writable
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.o.socket, () => resolve());
      });
    } finally {
      process.umask(old);
    }
    chmodSync(this.o.socket, 0o660);
    const gid = groupId('cellblock');
    if (gid !== undefined) chownSync(this.o.socket, 0, gid);
    this.server = server;
  }

  /** Stop listening, end hijacked streams, let the backend stop what cannot outlive us; remove the socket. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    for (const e of this.execs.values()) e.proc?.child.kill('SIGKILL');
    if (server) {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    }
    await this.o.backend.shutdown();
    for (const id of [...this.records.keys()]) if (!this.o.backend.inspect(id)) this.forget(id);
    rmSync(this.o.socket, { force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = Date.now();
    const url = new URL(req.url ?? '/', 'http://cellblockd');
    // Clients put the API version first: /v1.41/containers/json.
    const path = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    res.setHeader('Api-Version', API_VERSION);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `Docker/${VERSION} (linux)`);
    let status = 200;
    try {
      const route = this.routes.find(([m, re]) => m === req.method && re.test(path));
      if (!route) {
        const other = this.routes.some(([, re]) => re.test(path)) || this.upgrades.some(([, re]) => re.test(path));
        throw other ? new ApiError(405, `method ${req.method} not allowed on ${path}`) : notFound('page not found');
      }
      await route[2].call(this, req, res, path.match(route[1])!, url.searchParams);
      status = res.statusCode;
    } catch (err) {
      status = sendError(res, toApiError(err));
    }
    this.o.log(`${req.method} ${url.pathname}${url.search} ${status} ${Date.now() - t0}ms`);
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const t0 = Date.now();
    const url = new URL(req.url ?? '/', 'http://cellblockd');
    const path = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    let status = 101;
    socket.on('error', () => socket.destroy()); // a client gone mid-stream is not the daemon's error
    try {
      const route = this.upgrades.find(([m, re]) => m === req.method && re.test(path));
      if (!route) throw notFound('page not found');
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      await route[2].call(this, req, socket, head, path.match(route[1])!);
    } catch (err) {
      status = refuseUpgrade(socket, toApiError(err));
    }
    this.o.log(`${req.method} ${url.pathname}${url.search} ${status} ${Date.now() - t0}ms (hijacked)`);
  }

  // ---- records ------------------------------------------------------------

  private recordFile(id: string): string {
    return join(this.o.dir, 'containers', `${id}.json`);
  }

  private remember(r: ContainerRecord): void {
    this.records.set(r.id, r);
    mkdirSync(join(this.o.dir, 'containers'), { recursive: true, mode: 0o700 });
    writeFileSync(`${this.recordFile(r.id)}.tmp`, JSON.stringify(r), { mode: 0o600 });
    renameSync(`${this.recordFile(r.id)}.tmp`, this.recordFile(r.id));
  }

  private forget(id: string): void {
    this.records.delete(id);
    rmSync(this.recordFile(id), { force: true });
  }

  /** A restarted daemon: the records of containers the backend still keeps (their shims run on). */
  private loadRecords(): void {
    let files: string[] = [];
    try {
      files = readdirSync(join(this.o.dir, 'containers'));
    } catch {
      return;
    }
    for (const f of files.filter((n) => n.endsWith('.json'))) {
      try {
        const r = JSON.parse(readFileSync(join(this.o.dir, 'containers', f), 'utf8')) as ContainerRecord;
        if (this.o.backend.inspect(r.id)) this.records.set(r.id, r);
        else rmSync(join(this.o.dir, 'containers', f), { force: true });
      } catch {
        rmSync(join(this.o.dir, 'containers', f), { force: true });
      }
    }
  }

  /** A container by full id, unique id prefix or name (with or without Docker's leading "/"). */
  private find(ref: string): { rec: ContainerRecord; state: BackendState } {
    const name = ref.replace(/^\//, '');
    let rec = this.records.get(ref) ?? [...this.records.values()].find((r) => r.name === name);
    if (!rec && ref.length > 0) {
      const byPrefix = [...this.records.values()].filter((r) => r.id.startsWith(ref));
      if (byPrefix.length > 1) throw new ApiError(400, `multiple IDs found with provided prefix: ${ref}`);
      rec = byPrefix[0];
    }
    const state = rec && this.o.backend.inspect(rec.id);
    if (!rec || !state) {
      if (rec) this.forget(rec.id); // the backend removed it (AutoRemove)
      throw notFound(`No such container: ${ref}`);
    }
    return { rec, state };
  }

  // ---- system -------------------------------------------------------------

  private async ping(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '1',
    });
    res.end('OK');
    return Promise.resolve();
  }

  private version(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = {
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: release(),
      Backend: this.o.backend.name,
    };
    sendJson(res, 200, {
      Platform: { Name: 'cellblock' },
      Components: [
        {
          Name: 'Engine',
          Version: VERSION,
          Details: { ...details, GitCommit: 'cellblock', GoVersion: `node${process.versions.node}` },
        },
      ],
      Version: VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: 'cellblock',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: release(),
      BuildTime: '',
    });
    return Promise.resolve();
  }

  private info(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    const states = this.visible();
    sendJson(res, 200, {
      ID: 'cellblock',
      Containers: states.length,
      ContainersRunning: states.filter((s) => s.state.status === 'running').length,
      ContainersPaused: 0,
      ContainersStopped: states.filter((s) => s.state.status !== 'running').length,
      Images: this.store.list().length,
      Driver: 'overlay',
      DriverStatus: [],
      Plugins: { Volume: [], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgroupVersion(),
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: 'cellblock',
      OSVersion: '',
      OSType: 'linux',
      Architecture: arch() === 'x64' ? 'x86_64' : arch(),
      IndexServerAddress: '',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: this.o.dir,
      Name: hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: VERSION,
      Runtimes: { [this.o.backend.name]: { path: this.o.backend.name } },
      DefaultRuntime: this.o.backend.name,
      Swarm: {
        LocalNodeState: 'inactive',
        NodeID: '',
        NodeAddr: '',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: this.o.backend.name !== 'inline',
      Isolation: '',
      InitBinary: '',
      SecurityOptions: ['name=seccomp,profile=default'],
      Warnings: [],
    });
    return Promise.resolve();
  }

  // ---- images -------------------------------------------------------------

  private images(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(
      res,
      200,
      this.store.list().map((img) => imageSummary(img)),
    );
    return Promise.resolve();
  }

  private imageInspect(_req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray): Promise<void> {
    const img = this.image(decodeURIComponent(m[1]!));
    sendJson(res, 200, {
      ...imageSummary(img),
      Config: { Cmd: img.cmd, Env: img.env },
      Os: 'linux',
      Architecture: goArch(),
    });
    return Promise.resolve();
  }

  /** The image, or Docker's 404 "No such image" — looked up locally only: cellblockd never pulls. */
  private image(ref: string): Image {
    const normal = normalizeImage(ref);
    let img: Image | undefined;
    try {
      img = this.store.get(normal);
    } catch (err) {
      if (err instanceof ImageError) throw new ApiError(400, err.message);
      throw err;
    }
    if (!img) throw notFound(`No such image: ${normal}`);
    return img;
  }

  /**
   * `docker run` of an image it does not have asks for a pull. There is no
   * registry here: the answer is Docker's 404, with where images come from.
   */
  private pull(_req: IncomingMessage, res: ServerResponse, _m: RegExpMatchArray, q: URLSearchParams): Promise<void> {
    const ref = `${q.get('fromImage') ?? ''}${q.get('tag') ? `:${q.get('tag')}` : ''}`;
    throw notFound(
      `No such image: ${normalizeImage(ref)} (cellblockd does not pull from registries: \`cellblock images\` lists what it has; \`cellblock build\` or \`cellblock import\` adds one)`,
    );
  }

  // ---- containers ---------------------------------------------------------

  private async create(
    req: IncomingMessage,
    res: ServerResponse,
    _m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const body = parseJson<CreateBody>(await readBody(req));
    const name = q.get('name') ?? '';
    if (name !== '' && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name)) {
      throw new ApiError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const wanted = name.replace(/^\//, '');
    if (wanted !== '') {
      const taken = [...this.records.values()].find((r) => r.name === wanted && this.o.backend.inspect(r.id));
      if (taken) {
        throw new ApiError(
          409,
          `Conflict. The container name "/${wanted}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
    if (typeof body.Image === 'string' && body.Image !== '') this.image(body.Image); // 404 first, as Docker
    const spec = translate(body, (ref) => {
      const img = this.image(ref);
      return { cmd: img.cmd, env: img.env.length > 0 ? img.env : DEFAULT_ENV };
    });
    if (typeof body.User === 'string' && body.User !== '' && body.User !== 'root' && body.User !== '0') {
      throw new ApiError(
        400,
        `cellblockd does not support --user ${body.User}: containers run as root (use \`docker exec -u\`)`,
      );
    }
    // Docker's ids are 64 hex digits; cellblock's fit in 32 (they name cgroups and state files).
    const id = randomBytes(16).toString('hex');
    const finalName = wanted !== '' ? wanted : generatedName(new Set([...this.records.values()].map((r) => r.name)));
    const img = this.image(spec.image);
    const layers = this.store.lowerdirs(img);
    const lessonFields: Record<string, unknown> = {};
    for (const [k, v] of spec.runOptions) {
      if (k === 'publish' || k === 'cap-add' || k === 'cap-drop' || k === 'security-opt') {
        lessonFields[k] = [...((lessonFields[k] as string[] | undefined) ?? []), v];
      } else lessonFields[k] = v;
    }
    const config: ContainerConfig = {
      ...lessonFields,
      image: spec.image,
      layers,
      id,
      // cellblock's --name is also a host name other containers resolve (lesson 04): Docker's names
      // may hold "_", which a host name may not; those stay the daemon's alone.
      ...(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(finalName) ? { name: finalName } : {}),
      hostname: spec.hostname ?? id.slice(0, 12), // Docker's default: the short id
      rootfs: layers.at(-1)!,
      argv: spec.cmd,
      env: spec.tty && !spec.env.some((e) => e.startsWith('TERM=')) ? [...spec.env, 'TERM=xterm'] : spec.env,
      cwd: spec.workdir,
      tty: spec.tty,
    };
    await this.o.backend.create({
      config,
      image: spec.image,
      openStdin: spec.openStdin,
      stdinOnce: spec.stdinOnce,
      autoRemove: spec.autoRemove,
    });
    this.remember({ id, name: finalName, created: new Date().toISOString(), spec });
    sendJson(res, 201, { Id: id, Warnings: [] });
  }

  private async start(_req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    if (state.status === 'running') {
      res.writeHead(304).end();
      return;
    }
    if (state.status !== 'created') {
      throw new ApiError(409, `container ${rec.id} has exited: cellblockd starts a container once (create a new one)`);
    }
    await this.o.backend.start(rec.id);
    res.writeHead(204).end();
  }

  /**
   * Answered with the status once the container exits. `docker run` sends it
   * before /start (condition next-exit, or removed with --rm), so the headers
   * go out now and the body when the exit comes.
   */
  private async wait(
    _req: IncomingMessage,
    res: ServerResponse,
    m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    const condition = q.get('condition') ?? 'not-running';
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders(); // the CLI's ContainerWait returns once it has the headers, and only then starts
    let info;
    if (condition === 'not-running' && state.status !== 'running' && state.status !== 'created') {
      info = { exitCode: state.exitCode ?? 0 };
    } else {
      info = await this.o.backend.wait(rec.id);
    }
    if (condition === 'removed' && rec.spec.autoRemove) {
      // The record goes with the container: a later lookup says "No such container", as Docker's.
      await until(() => !this.o.backend.inspect(rec.id), 10_000);
      this.forget(rec.id);
    }
    res.end(JSON.stringify({ StatusCode: info.exitCode, Error: null }));
  }

  private async logs(
    _req: IncomingMessage,
    res: ServerResponse,
    m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    const stdout = flag(q, 'stdout');
    const stderr = flag(q, 'stderr');
    if (!stdout && !stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
    const tail = q.get('tail');
    const since = Number(q.get('since') ?? 0);
    const timestamps = flag(q, 'timestamps');
    res.writeHead(200, {
      'Content-Type': state.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
    });
    res.flushHeaders();
    let gone = false;
    res.once('close', () => (gone = true));
    for await (const e of this.o.backend.logs(rec.id, {
      follow: flag(q, 'follow'),
      ...(tail !== null && tail !== 'all' && /^\d+$/.test(tail) ? { tail: Number(tail) } : {}),
      ...(since > 0 ? { since } : {}),
    })) {
      if (gone) break;
      if ((e.stream === 'stdout' && !stdout) || (e.stream === 'stderr' && !stderr)) continue;
      const data = Buffer.from(timestamps ? `${e.time} ${e.log}` : e.log);
      res.write(state.tty ? data : frame(e.stream === 'stdout' ? 1 : 2, data));
    }
    res.end();
  }

  private async stop(
    _req: IncomingMessage,
    res: ServerResponse,
    m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    if (state.status !== 'running') {
      res.writeHead(304).end();
      return;
    }
    const t = q.get('t');
    await this.o.backend.stop(rec.id, t !== null && /^-?\d+$/.test(t) ? Math.max(0, Number(t)) : 10);
    res.writeHead(204).end();
  }

  private async kill(
    _req: IncomingMessage,
    res: ServerResponse,
    m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    const sig = parseSignal(q.get('signal') ?? 'SIGKILL');
    if (state.status !== 'running')
      throw new ApiError(409, `Cannot kill container: ${rec.id}: Container ${rec.id} is not running`);
    await this.o.backend.kill(rec.id, sig);
    res.writeHead(204).end();
  }

  private resize(_req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray, q: URLSearchParams): Promise<void> {
    const { rec } = this.find(decodeURIComponent(m[1]!));
    const w = Number(q.get('w'));
    const h = Number(q.get('h'));
    if (w > 0 && h > 0) this.o.backend.resize?.(rec.id, w, h);
    res.writeHead(200).end();
    return Promise.resolve();
  }

  private inspect(_req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    sendJson(res, 200, inspectBody(rec, state));
    return Promise.resolve();
  }

  private async remove(
    _req: IncomingMessage,
    res: ServerResponse,
    m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    if (state.status === 'running' && !flag(q, 'force')) {
      throw new ApiError(
        409,
        `You cannot remove a running container ${rec.id}. Stop the container before attempting removal or force remove`,
      );
    }
    await this.o.backend.remove(rec.id, flag(q, 'force'));
    this.forget(rec.id);
    res.writeHead(204).end();
  }

  private visible(): { rec: ContainerRecord; state: BackendState }[] {
    return [...this.records.values()].flatMap((rec) => {
      const state = this.o.backend.inspect(rec.id);
      return state ? [{ rec, state }] : [];
    });
  }

  private list(_req: IncomingMessage, res: ServerResponse, _m: RegExpMatchArray, q: URLSearchParams): Promise<void> {
    const all = flag(q, 'all');
    const rows = this.visible()
      .filter(({ state }) => all || state.status === 'running')
      .sort((a, b) => b.rec.created.localeCompare(a.rec.created))
      .map(({ rec, state }) => ({
        Id: rec.id,
        Names: [`/${rec.name}`],
        Image: rec.spec.image.replace(/:latest$/, ''),
        ImageID: this.imageId(rec.spec.image),
        Command: rec.spec.cmd.join(' '),
        Created: Math.floor(Date.parse(rec.created) / 1000),
        Ports: [],
        Labels: {},
        State: state.status,
        Status: statusText(state),
        HostConfig: { NetworkMode: rec.spec.networkMode },
        NetworkSettings: { Networks: {} },
        Mounts: [],
      }));
    sendJson(res, 200, rows);
    return Promise.resolve();
  }

  private imageId(ref: string): string {
    try {
      const img = this.store.get(ref);
      return img ? imageSummary(img).Id : '';
    } catch {
      return '';
    }
  }

  /**
   * POST /containers/{id}/attach, hijacked. Attaching never starts or stops
   * anything: a client that goes away mid-stream just stops receiving.
   */
  private async attach(req: IncomingMessage, socket: Duplex, head: Buffer, m: RegExpMatchArray): Promise<void> {
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    const q = new URL(req.url ?? '/', 'http://cellblockd').searchParams;
    const wantStdin = flag(q, 'stdin') && state.openStdin;
    const stream = await this.o.backend.attach(rec.id, { stdin: wantStdin });
    hijack(socket, state.tty);
    if (head.length > 0 && wantStdin) stream.write(head);
    pipeHijacked(socket, stream, wantStdin);
  }

  // ---- exec ---------------------------------------------------------------

  private async execCreate(req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray): Promise<void> {
    const body = parseJson<Record<string, unknown>>(await readBody(req));
    const { rec, state } = this.find(decodeURIComponent(m[1]!));
    if (state.status !== 'running') throw new ApiError(409, `Container ${rec.id} is not running`);
    const cmd = Array.isArray(body['Cmd']) ? (body['Cmd'] as unknown[]).map(String) : [];
    if (cmd.length === 0) throw new ApiError(400, 'No exec command specified');
    if (body['Privileged'] === true) throw new ApiError(400, 'cellblockd does not support exec --privileged');
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, {
      id,
      containerId: rec.id,
      cmd,
      env: Array.isArray(body['Env']) ? (body['Env'] as unknown[]).map(String) : [],
      workdir: typeof body['WorkingDir'] === 'string' && body['WorkingDir'] !== '' ? body['WorkingDir'] : undefined,
      user: typeof body['User'] === 'string' && body['User'] !== '' ? body['User'] : undefined,
      tty: body['Tty'] === true,
      attachStdin: body['AttachStdin'] === true,
      running: false,
      exitCode: null,
      pid: 0,
    });
    sendJson(res, 201, { Id: id });
  }

  private async execStart(req: IncomingMessage, socket: Duplex, head: Buffer, m: RegExpMatchArray): Promise<void> {
    const e = this.execs.get(m[1]!);
    if (!e) throw notFound(`No such exec instance: ${m[1]}`);
    if (e.running || e.exitCode !== null) throw new ApiError(409, `Exec instance ${e.id} has already been started`);
    // The upgraded request's body ({"Detach":false,"Tty":…}) comes first on the socket.
    const length = Number(req.headers['content-length'] ?? 0);
    const { body, rest } = await readExactly(socket, head, length);
    const opts = parseJson<{ Detach?: boolean }>(body);
    const term = e.tty ? new Terminal(80, 24) : undefined;
    const stdio: [StdioEntry, StdioEntry, StdioEntry] = term
      ? [term.slave!, term.slave!, term.slave!]
      : [e.attachStdin ? 'pipe' : openSync('/dev/null', 'r'), 'pipe', 'pipe'];
    let proc: ExecProcess;
    try {
      proc = await execInContainer({
        target: e.containerId,
        argv: e.cmd,
        env: e.env,
        ...(e.workdir !== undefined ? { cwd: e.workdir } : {}),
        ...(e.user !== undefined ? { user: e.user } : {}),
        tty: e.tty,
        stdio,
        ...(term ? { onConsole: (master: number) => term.adopt(master) } : {}),
      });
    } catch (err) {
      term?.close();
      e.exitCode = 126;
      throw err;
    }
    e.proc = proc;
    e.term = term;
    e.running = true;
    e.pid = proc.pid;
    const finished = proc.wait().then((code) => {
      e.exitCode = code;
      e.running = false;
      return code;
    });
    if (opts.Detach) {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n');
      void finished.finally(() => term?.close());
      return;
    }
    hijack(socket, e.tty);
    const toStdin = (d: Buffer): void => {
      if (term) term.write(d);
      else proc.child.stdin?.write(d);
    };
    if (rest.length > 0 && e.attachStdin) toStdin(rest);
    const outputs: Promise<void>[] = [];
    const send = (d: Buffer): void => {
      if (!socket.destroyed) socket.write(d);
    };
    if (term) {
      term.releaseSlave();
      outputs.push(term.pipeTo({ write: (d: Buffer) => (send(d), true) } as unknown as NodeJS.WritableStream));
    } else {
      for (const [n, r] of [
        [1, proc.child.stdout],
        [2, proc.child.stderr],
      ] as const) {
        if (!r) continue;
        r.on('data', (d: Buffer) => send(frame(n, d)));
        outputs.push(new Promise((res) => r.once('close', () => res())));
      }
    }
    if (e.attachStdin) {
      socket.on('data', toStdin);
      socket.on('end', () => {
        if (!term) proc.child.stdin?.end();
      });
    }
    await finished;
    await Promise.race([Promise.all(outputs), new Promise((r) => setTimeout(r, 300))]);
    term?.close();
    socket.end();
  }

  private execInspect(_req: IncomingMessage, res: ServerResponse, m: RegExpMatchArray): Promise<void> {
    const e = this.execs.get(m[1]!);
    if (!e) throw notFound(`No such exec instance: ${m[1]}`);
    sendJson(res, 200, {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: e.tty,
        entrypoint: e.cmd[0],
        arguments: e.cmd.slice(1),
        privileged: false,
        user: e.user ?? '',
      },
      OpenStdin: e.attachStdin,
      OpenStderr: true,
      OpenStdout: true,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: '',
      Pid: e.pid,
    });
    // Docker forgets an exec a while after it ended; here once it has been read after the end.
    if (!e.running && e.exitCode !== null) setTimeout(() => this.execs.delete(e.id), 60_000).unref();
    return Promise.resolve();
  }

  private execResize(
    _req: IncomingMessage,
    res: ServerResponse,
    m: RegExpMatchArray,
    q: URLSearchParams,
  ): Promise<void> {
    const e = this.execs.get(m[1]!);
    if (!e) throw notFound(`No such exec instance: ${m[1]}`);
    const w = Number(q.get('w'));
    const h = Number(q.get('h'));
    if (w > 0 && h > 0) e.term?.resize(w, h);
    res.writeHead(200).end();
    return Promise.resolve();
  }
}

// ---- helpers ---------------------------------------------------------------

/** Copy between a hijacked socket and a container stream; the client leaving ends only the copy. */
function pipeHijacked(socket: Duplex, stream: Duplex, stdin: boolean): void {
  stream.on('data', (d: Buffer) => {
    if (!socket.destroyed) socket.write(d);
  });
  stream.on('end', () => socket.end());
  stream.on('error', () => socket.destroy());
  if (stdin) {
    socket.on('data', (d: Buffer) => stream.write(d));
    socket.on('end', () => stream.end()); // the client's CloseWrite: stdin is over
  }
  socket.on('close', () => stream.destroy());
}

/** The first `length` bytes after an upgraded request's headers (its body), and what came after them. */
async function readExactly(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  let buf = head;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer): void => {
        socket.off('end', onEnd);
        resolve(d);
      };
      const onEnd = (): void => {
        socket.off('data', onData);
        resolve(null);
      };
      socket.once('data', onData);
      socket.once('end', onEnd);
    });
    if (chunk === null) break;
    buf = Buffer.concat([buf, chunk]);
  }
  return { body: buf.subarray(0, length), rest: buf.subarray(length) };
}

function toApiError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof ConfigError) return new ApiError(400, err.message);
  if (err instanceof ImageError) return new ApiError(400, err.message);
  return err;
}

function imageSummary(img: Image): Record<string, unknown> & { Id: string } {
  const digest = img.layers.at(-1) ?? '';
  return {
    Id: `sha256:${digest}`,
    ParentId: '',
    RepoTags: [refString(img)],
    RepoDigests: [],
    Created: Math.floor(Date.parse(img.created) / 1000) || 0,
    Size: 0,
    VirtualSize: 0,
    SharedSize: -1,
    Labels: {},
    Containers: -1,
  };
}

function statusText(s: BackendState): string {
  const ago = (iso: string | undefined): string => {
    const secs = Math.max(0, (Date.now() - Date.parse(iso ?? '')) / 1000);
    if (!Number.isFinite(secs) || secs < 1) return 'Less than a second';
    if (secs < 60) return `${Math.floor(secs)} seconds`;
    if (secs < 3600) return `${Math.floor(secs / 60)} minutes`;
    return `${Math.floor(secs / 3600)} hours`;
  };
  if (s.status === 'running') return `Up ${ago(s.startedAt)}`;
  if (s.status === 'created') return 'Created';
  if (s.status === 'dead') return 'Dead';
  return `Exited (${s.exitCode ?? 0}) ${ago(s.finishedAt)} ago`;
}

function inspectBody(rec: ContainerRecord, s: BackendState): Record<string, unknown> {
  const zero = '0001-01-01T00:00:00Z';
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.spec.cmd[0],
    Args: rec.spec.cmd.slice(1),
    State: {
      Status: s.status,
      Running: s.status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: s.oomKilled ?? false,
      Dead: s.status === 'dead',
      Pid: s.status === 'running' ? (s.pid ?? 0) : 0,
      ExitCode: s.exitCode ?? 0,
      Error: s.error ?? '',
      StartedAt: s.startedAt ?? zero,
      FinishedAt: s.finishedAt ?? zero,
    },
    Image: rec.spec.image,
    Name: `/${rec.name}`,
    RestartCount: 0,
    Driver: 'overlay',
    Platform: 'linux',
    HostConfig: {
      AutoRemove: rec.spec.autoRemove,
      NetworkMode: rec.spec.networkMode,
      LogConfig: { Type: 'json-file', Config: {} },
    },
    Config: {
      Hostname: rec.spec.hostname ?? rec.id.slice(0, 12),
      User: '',
      AttachStdin: false,
      Tty: rec.spec.tty,
      OpenStdin: rec.spec.openStdin,
      StdinOnce: rec.spec.stdinOnce,
      Env: rec.spec.env,
      Cmd: rec.spec.givenCmd ?? rec.spec.cmd,
      Image: rec.spec.image,
      WorkingDir: rec.spec.workdir,
      Entrypoint: null,
      Labels: {},
    },
    NetworkSettings: { Networks: {}, Ports: {} },
    Mounts: [],
  };
}

/** SIGTERM, TERM, 15 → what process.kill takes. */
export function parseSignal(text: string): NodeJS.Signals | number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 64) throw new ApiError(400, `Invalid signal: ${text}`);
    return n;
  }
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  // os.constants.signals knows every name Linux has.
  if (!(name in osConstants.signals)) throw new ApiError(400, `Invalid signal: ${text}`);
  return name as NodeJS.Signals;
}

function goArch(): string {
  return arch() === 'x64' ? 'amd64' : arch();
}

function cgroupVersion(): string {
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers');
    return '2';
  } catch {
    return '1';
  }
}

function groupId(name: string): number | undefined {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}

/** Does something accept connections on this unix socket? */
async function answers(path: string): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function until(test: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'keen', 'quiet', 'swift', 'tidy', 'wise', 'bold', 'merry'];
const NAMES = ['curie', 'hopper', 'lovelace', 'ritchie', 'thompson', 'torvalds', 'turing', 'knuth', 'liskov', 'pike'];

/** Docker's adjective_surname names, not already in use. */
function generatedName(taken: Set<string>): string {
  for (;;) {
    const n = `${ADJECTIVES[randomBytes(1)[0]! % ADJECTIVES.length]}_${NAMES[randomBytes(1)[0]! % NAMES.length]}`;
    const name = taken.has(n) ? `${n}${randomBytes(1)[0]}` : n;
    if (!taken.has(name)) return name;
  }
}
