/**
 * What dockerd does with a create request: Docker's container config (the
 * JSON body of POST /containers/create) becomes the options of one cellblock
 * container — here the `cellblock run` arguments the lessons declare
 * (--hostname, --net, --memory, --cap-add, …), the same options a learner
 * types.
 *
 * Unknown fields are ignored, as Docker ignores them (every CLI version sends
 * fields the daemon may not know). A field that asks for a feature cellblock
 * does not have is refused by name, before anything exists: silently dropping
 * `-v` or `--network mynet` would run a different container than the one asked for.
 */
import { ApiError } from './http.js';

/** The subset of Docker's ContainerConfig + HostConfig read here (the CLI sends many more). */
export interface CreateBody {
  Image?: unknown;
  Cmd?: unknown;
  Entrypoint?: unknown;
  Env?: unknown;
  WorkingDir?: unknown;
  Hostname?: unknown;
  User?: unknown;
  Tty?: unknown;
  OpenStdin?: unknown;
  StdinOnce?: unknown;
  AttachStdin?: unknown;
  Volumes?: unknown;
  HostConfig?: {
    AutoRemove?: unknown;
    NetworkMode?: unknown;
    Binds?: unknown;
    Mounts?: unknown;
    Memory?: unknown;
    MemorySwap?: unknown;
    NanoCpus?: unknown;
    PidsLimit?: unknown;
    CapAdd?: unknown;
    CapDrop?: unknown;
    Privileged?: unknown;
    Init?: unknown;
    PortBindings?: unknown;
    SecurityOpt?: unknown;
    IpcMode?: unknown;
    UTSMode?: unknown;
    PidMode?: unknown;
    UsernsMode?: unknown;
    VolumesFrom?: unknown;
    Devices?: unknown;
    Runtime?: unknown;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A container as the daemon keeps it: what to run and how. */
export interface ContainerSpec {
  image: string;
  /** Entrypoint + Cmd, resolved against the image's default command. */
  cmd: string[];
  /** Cmd as given (for inspect's Config.Cmd), null when the image's default was used. */
  givenCmd: string[] | null;
  env: string[];
  workdir: string;
  hostname: string | undefined;
  user: string | undefined;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  autoRemove: boolean;
  networkMode: string;
  /** The lesson options: `cellblock run --KEY VALUE`. */
  runOptions: [string, string | true][];
}

const strings = (v: unknown, field: string): string[] | null => {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ApiError(400, `${field}: expected a string or a list of strings, got ${JSON.stringify(v)}`);
};

const unsupported = (option: string, why: string): ApiError =>
  new ApiError(400, `cellblockd does not support ${option}: ${why}`);

/** Docker's `docker.io/library/busybox:latest` is the store's `busybox:latest`. */
export function normalizeImage(ref: string): string {
  let r = ref;
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'library/']) {
    if (r.startsWith(prefix)) r = r.slice(prefix.length);
  }
  if (r.includes('@')) r = r.slice(0, r.indexOf('@'));
  return r.includes(':') ? r : `${r}:latest`;
}

/** The body's fields → a spec; `imageDefaults` is the image's own command and environment. */
export function translate(
  body: CreateBody,
  imageDefaults: (image: string) => { cmd: string[]; env: string[] },
): ContainerSpec {
  if (typeof body.Image !== 'string' || body.Image === '') {
    throw new ApiError(400, 'Config.Image is required: the image to create the container from');
  }
  const hc = body.HostConfig ?? {};
  // Refused by name: features that would silently change what runs.
  const binds = strings(hc.Binds, 'HostConfig.Binds');
  if (binds && binds.length > 0)
    throw unsupported(`volumes (-v ${binds[0]})`, 'bind mounts and volumes are not implemented');
  if (Array.isArray(hc.Mounts) && hc.Mounts.length > 0) {
    throw unsupported('--mount', 'bind mounts and volumes are not implemented');
  }
  if (body.Volumes && typeof body.Volumes === 'object' && Object.keys(body.Volumes).length > 0) {
    throw unsupported('volumes', 'anonymous volumes are not implemented');
  }
  if (Array.isArray(hc.VolumesFrom) && hc.VolumesFrom.length > 0) {
    throw unsupported('--volumes-from', 'volumes are not implemented');
  }
  if (Array.isArray(hc.Devices) && hc.Devices.length > 0) throw unsupported('--device', 'not implemented');
  if (typeof hc.PidMode === 'string' && hc.PidMode !== '') {
    throw unsupported(`--pid ${hc.PidMode}`, 'a container always has its own PID namespace here');
  }
  if (typeof hc.Runtime === 'string' && hc.Runtime !== '' && hc.Runtime !== 'runc') {
    throw unsupported(`--runtime ${hc.Runtime}`, 'cellblockd runs one runtime');
  }
  const opts: [string, string | true][] = [];
  const mode = typeof hc.NetworkMode === 'string' && hc.NetworkMode !== '' ? hc.NetworkMode : 'default';
  if (mode === 'default' || mode === 'bridge') {
    // cellblock's bridge, cellblock0
  } else if (mode === 'none' || mode === 'host') {
    opts.push(['net', mode]);
  } else if (mode.startsWith('container:')) {
    opts.push(['net', mode]);
  } else {
    throw unsupported(`--network ${mode}`, 'the networks are bridge, none, host and container:NAME');
  }
  const ports = hc.PortBindings;
  if (ports && typeof ports === 'object') {
    for (const [key, binds] of Object.entries(ports as Record<string, unknown>)) {
      const [cport, proto = 'tcp'] = key.split('/');
      if (proto !== 'tcp') throw unsupported(`-p ${key}`, 'only TCP ports are published');
      for (const b of (Array.isArray(binds) ? binds : []) as { HostIp?: string; HostPort?: string }[]) {
        if (!b.HostPort) throw unsupported(`-p ${cport}`, 'give the host port: -p HOSTPORT:CONTAINERPORT');
        opts.push(['publish', `${b.HostPort}:${cport}`]);
      }
    }
  }
  if (typeof hc.Memory === 'number' && hc.Memory > 0) opts.push(['memory', `${hc.Memory}b`]);
  if (typeof hc.MemorySwap === 'number' && hc.MemorySwap !== 0) {
    opts.push(['memory-swap', hc.MemorySwap < 0 ? '-1' : `${hc.MemorySwap}b`]);
  }
  if (typeof hc.NanoCpus === 'number' && hc.NanoCpus > 0) opts.push(['cpus', String(hc.NanoCpus / 1e9)]);
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit !== 0) opts.push(['pids-limit', String(hc.PidsLimit)]);
  for (const c of strings(hc.CapAdd, 'HostConfig.CapAdd') ?? []) opts.push(['cap-add', c]);
  for (const c of strings(hc.CapDrop, 'HostConfig.CapDrop') ?? []) opts.push(['cap-drop', c]);
  for (const s of strings(hc.SecurityOpt, 'HostConfig.SecurityOpt') ?? []) opts.push(['security-opt', s]);
  if (hc.Privileged === true) opts.push(['privileged', true]);
  if (hc.Init === true) opts.push(['init', true]);
  if (typeof hc.IpcMode === 'string' && hc.IpcMode.startsWith('container:')) opts.push(['ipc', hc.IpcMode]);
  else if (typeof hc.IpcMode === 'string' && !['', 'private', 'shareable'].includes(hc.IpcMode)) {
    throw unsupported(`--ipc ${hc.IpcMode}`, 'the IPC modes are private and container:NAME');
  }
  if (typeof hc.UTSMode === 'string' && hc.UTSMode !== '') {
    throw unsupported(`--uts ${hc.UTSMode}`, 'a container has its own UTS namespace here');
  }
  if (typeof hc.UsernsMode === 'string' && hc.UsernsMode !== '' && hc.UsernsMode !== 'host') {
    throw unsupported(`--userns ${hc.UsernsMode}`, 'the user namespace mode is host');
  }

  const image = normalizeImage(body.Image);
  const defaults = imageDefaults(image);
  const entrypoint = strings(body.Entrypoint, 'Config.Entrypoint');
  const givenCmd = strings(body.Cmd, 'Config.Cmd');
  // Docker: Entrypoint + Cmd; an empty Entrypoint clears the image's (busybox has none).
  const cmd = [...(entrypoint ?? []), ...(givenCmd ?? (entrypoint && entrypoint.length > 0 ? [] : defaults.cmd))];
  if (cmd.length === 0) throw new ApiError(400, 'No command specified');
  const env = [...defaults.env];
  for (const e of strings(body.Env, 'Config.Env') ?? []) {
    if (!e.includes('=')) continue; // `-e NAME` with NAME unset on the client: Docker drops it too
    const key = e.split('=', 1)[0]!;
    const at = env.findIndex((x) => x.split('=', 1)[0] === key);
    if (at >= 0) env[at] = e;
    else env.push(e);
  }
  return {
    image,
    cmd,
    givenCmd,
    env,
    workdir: typeof body.WorkingDir === 'string' && body.WorkingDir !== '' ? body.WorkingDir : '/',
    hostname: typeof body.Hostname === 'string' && body.Hostname !== '' ? body.Hostname : undefined,
    user: typeof body.User === 'string' && body.User !== '' ? body.User : undefined,
    tty: body.Tty === true,
    openStdin: body.OpenStdin === true,
    stdinOnce: body.StdinOnce === true,
    autoRemove: hc.AutoRemove === true,
    networkMode: mode,
    runOptions: opts,
  };
}
