/**
 * The security options of `cellblock run`, as Docker spells them, parsed and
 * checked before anything exists: --cap-add/--cap-drop (capability names with
 * or without CAP_, any case, or ALL), --privileged, and --security-opt
 * (no-new-privileges[=true|false], seccomp=unconfined, seccomp=FILE with a
 * profile in Docker's JSON format — the subset described in profile.ts).
 */
import { CAPABILITIES, type CapabilityName } from '../../native/constants.js';
import type { ContainerConfig } from '../config.js';
import type { Validation } from '../lesson.js';
import { readSeccompProfile, type SeccompProfile } from './profile.js';

export type SecurityConfig = ContainerConfig & {
  'cap-add'?: string | string[];
  'cap-drop'?: string | string[];
  privileged?: boolean;
  'security-opt'?: string | string[];
  /** Set on the host (hostAfterSpawn) from seccomp=FILE: the init cannot read host files. */
  seccompProfile?: SeccompProfile;
};

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** 'net_raw', 'CAP_NET_RAW' → 'NET_RAW'; 'all' → 'ALL'; undefined for an unknown name. */
export function capabilityName(name: string): CapabilityName | 'ALL' | undefined {
  const n = name.toUpperCase().replace(/^CAP_/, '');
  if (n === 'ALL') return 'ALL';
  return n in CAPABILITIES ? (n as CapabilityName) : undefined;
}

export interface SecurityOpts {
  noNewPrivs: boolean;
  seccomp: 'default' | 'unconfined' | { file: string };
}

/** --security-opt values → what they ask for; throws an Error naming a bad one. */
export function securityOpts(config: SecurityConfig): SecurityOpts {
  const out: SecurityOpts = { noNewPrivs: true, seccomp: 'default' };
  for (const opt of list(config['security-opt'])) {
    const [key, value] = opt.includes('=')
      ? [opt.slice(0, opt.indexOf('=')), opt.slice(opt.indexOf('=') + 1)]
      : [opt, undefined];
    if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) {
      out.noNewPrivs = value !== 'false';
    } else if (key === 'seccomp' && value !== undefined && value !== '') {
      out.seccomp = value === 'unconfined' ? 'unconfined' : { file: value };
    } else {
      throw new Error(
        `unknown --security-opt ${JSON.stringify(opt)}: use no-new-privileges[=true|false], seccomp=unconfined or seccomp=FILE`,
      );
    }
  }
  return out;
}

export const securityValidations: Validation<SecurityConfig>[] = [
  (config) => {
    const bad = [...list(config['cap-add']), ...list(config['cap-drop'])].filter((n) => !capabilityName(n));
    return bad.length === 0
      ? undefined
      : `unknown capability ${bad.map((b) => JSON.stringify(b)).join(', ')}: use a name from man 7 capabilities without CAP_ (e.g. NET_ADMIN), or ALL`;
  },
  (config) => {
    try {
      const o = securityOpts(config);
      if (typeof o.seccomp === 'object') readSeccompProfile(o.seccomp.file);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
];

/** Docker's default capabilities (CapEff 00000000a80425fb): what a container keeps unless told otherwise. */
export const DOCKER_DEFAULT_CAPS: CapabilityName[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
];
