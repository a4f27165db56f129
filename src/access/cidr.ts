// IPv4 and IPv6 addresses and CIDR ranges as bigints, for source-IP allowlists.
// IPv4-mapped IPv6 addresses (::ffff:1.2.3.4) are treated as the IPv4 address they carry,
// both as client addresses and inside CIDRs, so either notation matches.

export interface ParsedIp {
  version: 4 | 6;
  value: bigint;
}

export interface Cidr {
  version: 4 | 6;
  network: bigint;
  bits: number;
}

const MAPPED_PREFIX = 0xffffn;

function parseV4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^(?:0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function groupsOf(text: string): number[] | null {
  if (text === '') return [];
  const out: number[] = [];
  for (const g of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

function parseV6(input: string): bigint | null {
  let s = input;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return null;
  if (s.slice(lastColon + 1).includes('.')) {
    // Embedded IPv4 in the low 32 bits (::ffff:1.2.3.4, 64:ff9b::1.2.3.4).
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = groupsOf(halves[0] ?? '');
  const rest = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (head === null || rest === null) return null;
  const explicit = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (explicit > 7) return null;
    groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  } else {
    if (explicit !== 8) return null;
    groups = [...head, ...tail];
  }
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(g);
  return n;
}

export function parseIp(text: string): ParsedIp | null {
  const s = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (!s.includes(':')) {
    const v = parseV4(s);
    return v === null ? null : { version: 4, value: v };
  }
  const v = parseV6(s.replace(/%.*$/, ''));
  if (v === null) return null;
  if (v >> 32n === MAPPED_PREFIX) return { version: 4, value: v & 0xffffffffn };
  return { version: 6, value: v };
}

const maskOf = (bits: number, width: number): bigint => (bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(width - bits));

export function parseCidr(text: string): Cidr | null {
  const [addr, bitsText, extra] = text.trim().split('/');
  if (addr === undefined || extra !== undefined) return null;
  const isV6 = addr.includes(':');
  const width = isV6 ? 128 : 32;
  let bits = width;
  if (bitsText !== undefined) {
    if (!/^\d{1,3}$/.test(bitsText)) return null;
    bits = Number(bitsText);
    if (bits > width) return null;
  }
  if (!isV6) {
    const v = parseV4(addr);
    return v === null ? null : { version: 4, network: v & maskOf(bits, 32), bits };
  }
  const v = parseV6(addr.replace(/%.*$/, ''));
  if (v === null) return null;
  // ::ffff:a.b.c.d/n with n >= 96 is an IPv4 range in IPv6 clothing.
  if (v >> 32n === MAPPED_PREFIX && bits >= 96) {
    const b4 = bits - 96;
    return { version: 4, network: (v & 0xffffffffn) & maskOf(b4, 32), bits: b4 };
  }
  return { version: 6, network: v & maskOf(bits, 128), bits };
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.version !== ip.version) {
    // An IPv6 range that covers the mapped space (e.g. ::/0) also covers IPv4 clients.
    if (cidr.version === 6 && ip.version === 4) {
      const mapped = (MAPPED_PREFIX << 32n) | ip.value;
      return (mapped & maskOf(cidr.bits, 128)) === cidr.network;
    }
    return false;
  }
  const width = ip.version === 4 ? 32 : 128;
  return (ip.value & maskOf(cidr.bits, width)) === cidr.network;
}
