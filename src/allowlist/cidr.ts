import { mergeCidr } from "cidr-tools";
import type { Allowlist } from "./allowlist.js";
import { formatIp } from "./ip.js";

// An allowlist as the fewest CIDRs, for the places that only take CIDRs (IAM policy conditions).

const BITS = { 4: 32n, 6: 128n } as const;

/**
 * A range as CIDRs. cidr-tools merges CIDRs but does not read `a - b` ranges, so a range is cut
 * into the largest aligned blocks first (the usual greedy split; what mergeCidr then joins).
 */
export function rangeToCidrs(family: 4 | 6, start: bigint, end: bigint): string[] {
  const out: string[] = [];
  let s = start;
  while (s <= end) {
    let size = 1n;
    // Grow the block while it stays aligned on s and inside the range.
    while (
      (s & ((size << 1n) - 1n)) === 0n &&
      s + (size << 1n) - 1n <= end &&
      size << 1n <= 1n << BITS[family]
    )
      size <<= 1n;
    let bits = 0n;
    while (1n << bits < size) bits++;
    out.push(`${formatIp(family, family === 4 ? Number(s) : s)}/${BITS[family] - bits}`);
    s += size;
  }
  return out;
}

/** The list's addresses as the fewest CIDRs (adjacent and overlapping entries joined), IPv4 first. */
export function allowlistCidrs(list: Allowlist): { v4: string[]; v6: string[] } {
  const v4 = list.v4.flatMap((r) => rangeToCidrs(4, BigInt(r.start), BigInt(r.end)));
  const v6 = list.v6.flatMap((r) => rangeToCidrs(6, r.start, r.end));
  return { v4: v4.length ? mergeCidr(v4) : [], v6: v6.length ? mergeCidr(v6) : [] };
}
