import ipaddr from "ipaddr.js";

// Addresses as integers, so that lists become sorted ranges searched in O(log n). Parsing and
// CIDR math are ipaddr.js's; IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as the IPv4 address.

export type ParsedIp = { family: 4; n: number } | { family: 6; n: bigint };

export interface IpRange {
  family: 4 | 6;
  start: number | bigint;
  end: number | bigint;
}

function v4Number(a: ipaddr.IPv4): number {
  const [b0, b1, b2, b3] = a.octets as [number, number, number, number];
  return ((b0 << 24) >>> 0) + (b1 << 16) + (b2 << 8) + b3;
}

function v6Number(a: ipaddr.IPv6): bigint {
  let n = 0n;
  for (const p of a.parts) n = (n << 16n) | BigInt(p);
  return n;
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Parses an address strictly: dotted-quad IPv4 (not "10.1" or "0x0a…", which ipaddr.js also
 * accepts) or IPv6 without a zone. Returns undefined for anything else, e.g. `iam.amazonaws.com`.
 */
export function parseAddr(text: string, keepMapped = false): Addr | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(":") || text.includes("%") || !ipaddr.IPv6.isValid(text)) return undefined;
  // An embedded IPv4 tail is held to the same rule: `::ffff:010.8.8.8` is not read as 10.8.8.8.
  const tail = text.slice(text.lastIndexOf(":") + 1);
  if (tail.includes(".") && !ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
  const a = ipaddr.IPv6.parse(text);
  return a.isIPv4MappedAddress() && !keepMapped ? a.toIPv4Address() : a;
}

export function toParsedIp(a: Addr): ParsedIp {
  return a.kind() === "ipv4"
    ? { family: 4, n: v4Number(a as ipaddr.IPv4) }
    : { family: 6, n: v6Number(a as ipaddr.IPv6) };
}

export function parseIp(text: string): ParsedIp | undefined {
  const a = parseAddr(text.trim());
  return a ? toParsedIp(a) : undefined;
}

/** IPv4-mapped IPv6 prefixes (::ffff:0:0/96 and longer) are IPv4 prefixes. */
function unmap(addr: Addr, bits: number): [Addr, number] {
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return [addr, bits];
}

/** The range a CIDR covers. */
export function cidrRange(cidrAddr: Addr, cidrBits: number): IpRange {
  const [addr, bits] = unmap(cidrAddr, cidrBits);
  const p = toParsedIp(addr);
  if (p.family === 4) {
    const size = 2 ** (32 - bits);
    const start = Math.floor(p.n / size) * size;
    return { family: 4, start, end: start + size - 1 };
  }
  const host = (1n << BigInt(128 - bits)) - 1n;
  const start = p.n & ~host;
  return { family: 6, start, end: start | host };
}

/** Whether a CIDR's address has bits set beyond its prefix (10.0.0.1/24). */
export function hasHostBits(addr: Addr, bits: number): boolean {
  return toParsedIp(unmap(addr, bits)[0]).n !== cidrRange(addr, bits).start;
}

export function formatIp(family: 4 | 6, n: number | bigint): string {
  if (family === 4) {
    const v = Number(n);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  }
  const parts: number[] = [];
  let x = BigInt(n);
  for (let i = 0; i < 8; i++) {
    parts.unshift(Number(x & 0xffffn));
    x >>= 16n;
  }
  return new ipaddr.IPv6(parts).toString();
}

/** Sorted, non-overlapping ranges (adjacent ones joined), for binary search. */
export function mergeRanges<T extends number | bigint>(
  ranges: { start: T; end: T }[],
): { start: T; end: T }[] {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: T; end: T }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    // biome-ignore lint/suspicious/noExplicitAny: number and bigint both add 1 to themselves
    if (last && r.start <= (last.end as any) + (typeof last.end === "bigint" ? 1n : 1)) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

export function inRanges<T extends number | bigint>(ranges: { start: T; end: T }[], n: T): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (n < r.start) hi = mid - 1;
    else if (n > r.end) lo = mid + 1;
    else return true;
  }
  return false;
}
