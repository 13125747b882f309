/**
 * IPv4 addresses and subnets, as plain numbers: parsing, membership, overlap.
 * Pure functions — the validations and the lease allocator build on them, and
 * unit tests need no root.
 */
import { networkInterfaces } from 'node:os';

/**
 * The bridge's subnet when neither --subnet nor CELLBLOCK_SUBNET says otherwise.
 * Private (RFC 1918), and not one of the well-known defaults (Docker's
 * 172.17.0.0/16, Podman's 10.88.0.0/16, k3s' 10.42.0.0/16, VirtualBox's
 * 10.0.2.0/24), so it collides with nothing a learner's VM usually has.
 */
export const DEFAULT_SUBNET = '10.217.0.0/24';

export function defaultSubnet(): string {
  return process.env['CELLBLOCK_SUBNET'] ?? DEFAULT_SUBNET;
}

export interface Subnet {
  /** '10.217.0.0/24', as given. */
  cidr: string;
  network: number;
  prefix: number;
  /** The first address: the bridge's, the containers' default gateway. */
  gateway: string;
  broadcast: number;
}

/** '10.0.0.1' → 167772161, or undefined if it is not a dotted-quad IPv4 address. */
export function parseIp(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

/** The RFC 1918 ranges, as [network, prefix]. */
const PRIVATE: [number, number][] = [
  [parseIp('10.0.0.0')!, 8],
  [parseIp('172.16.0.0')!, 12],
  [parseIp('192.168.0.0')!, 16],
];

/**
 * A subnet for the bridge, or a problem naming the value. It must be a
 * network address (host bits zero), private, and leave room for the gateway
 * and at least one container (prefix 8–30).
 */
export function parseSubnet(text: string): Subnet | string {
  const bad = `subnet ${JSON.stringify(text)}`;
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  const base = m ? parseIp(m[1]!) : undefined;
  if (!m || base === undefined)
    return `${bad} is not an IPv4 subnet: write it as ADDRESS/PREFIX, e.g. ${DEFAULT_SUBNET}`;
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 30) {
    return `${bad} has prefix /${prefix}: use /8 to /30 (a /30 holds the gateway and one container)`;
  }
  const network = (base & mask(prefix)) >>> 0;
  if (network !== base) {
    return `${bad} has host bits set: did you mean ${formatIp(network)}/${prefix}?`;
  }
  const privateRange = PRIVATE.some(([net, p]) => (network & mask(p)) >>> 0 === net && prefix >= p);
  if (!privateRange) {
    return `${bad} is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): containers would shadow real addresses`;
  }
  return { cidr: text, network, prefix, gateway: formatIp(network + 1), broadcast: (network | ~mask(prefix)) >>> 0 };
}

/** Is `address` a usable container address of `subnet` (not the network, the gateway or the broadcast)? */
export function usableIn(address: number, subnet: Subnet): boolean {
  return address > subnet.network + 1 && address < subnet.broadcast;
}

/** Are `a` and `b` in the same /prefix network? */
export function sameNetwork(a: string, b: string, prefix: number): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && (x & mask(prefix)) >>> 0 === (y & mask(prefix)) >>> 0;
}

export function contains(subnet: Subnet, address: number): boolean {
  return (address & mask(subnet.prefix)) >>> 0 === subnet.network;
}

/** The host's own IPv4 networks that overlap `subnet`, as 'eth0 192.168.1.7/24' — except on `skip` (the bridge). */
export function overlappingHostNetworks(subnet: Subnet, skip: string): string[] {
  const out: string[] = [];
  for (const [dev, addrs] of Object.entries(networkInterfaces())) {
    if (dev === skip) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const ip = parseIp(a.address)!;
      const prefix = Number(a.cidr?.split('/')[1] ?? 32);
      const p = Math.min(prefix, subnet.prefix);
      if ((ip & mask(p)) >>> 0 === (subnet.network & mask(p)) >>> 0) out.push(`${dev} ${a.cidr ?? a.address}`);
    }
  }
  return out;
}

/** The bridge's IPv4 address as 'a.b.c.d/p', if it exists and has one. */
export function bridgeAddress(bridge: string): string | undefined {
  return networkInterfaces()[bridge]?.find((a) => a.family === 'IPv4')?.cidr ?? undefined;
}
