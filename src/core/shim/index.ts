/**
 * Detached containers and their shims: the module cellblock's commands and
 * cellblockd use (see client.ts; the shim process itself is main.ts).
 */
export {
  attach,
  ContainerStateError,
  create,
  defaultRuntime,
  inspect,
  kill,
  list,
  logs,
  NoSuchContainer,
  reclaim,
  remove,
  resolve,
  ShimError,
  start,
  stop,
  wait,
  type CreateOptions,
  type ExitInfo,
  type LogEntry,
  type ShimState,
  type ShimStatus,
} from './client.js';
export { FrameReader, frame } from './protocol.js';
export { ociSpec, writeBundle, type OciSpec } from '../bundle/spec.js';
