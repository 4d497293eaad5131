import {
  cidrRange,
  formatIp,
  hasHostBits,
  type IpRange,
  inRanges,
  mergeRanges,
  type ParsedIp,
  parseAddr,
  parseIp,
  toParsedIp,
} from "./ip.js";

// `.lst` allowlists: one IPv4/IPv6 address, CIDR or `a - b` range per line; `#` starts a comment.

export interface AllowlistEntry {
  /** 1-based line in its file. */
  line: number;
  /** The entry as written, without its comment. */
  text: string;
  /** The comment on the same line, if any (who or what the address is). */
  comment?: string | undefined;
  range: IpRange;
}

export interface Allowlist {
  name: string;
  /** Where it was read from; merged lists have none. */
  file?: string | undefined;
  entries: AllowlistEntry[];
  v4: { start: number; end: number }[];
  v6: { start: bigint; end: bigint }[];
}

export interface AllowlistError {
  file: string;
  line: number;
  reason: string;
}

/** `file:line: reason`, one per bad line. */
export const describeAllowlistError = (e: AllowlistError) => `${e.file}:${e.line}: ${e.reason}`;

/** "10.0.0.0/8 extra": the address is fine, what follows it is not. */
function trailingText(text: string): string | undefined {
  const m = /^(\S+)\s+(.+)$/.exec(text);
  if (!m) return undefined;
  return typeof parseSingle(m[1]!) === "string" ? undefined : `unexpected text after the address: ${m[2]}`;
}

function parseEntry(text: string): IpRange | string {
  const parts = text.split("-");
  if (parts.length === 2) {
    const a = parts[0]!.trim();
    const b = parts[1]!.trim();
    const from = parseAddr(a);
    const to = parseAddr(b);
    // Only a dash between two addresses makes a range; anything else is not an entry at all.
    if (from || to) {
      if (!from) return trailingText(a) ?? `not an address: ${a}`;
      if (!to) return trailingText(b) ?? `not an address: ${b}`;
      if (from.kind() !== to.kind()) return `a range joins two addresses of one family: ${text}`;
      const s = toParsedIp(from).n;
      const e = toParsedIp(to).n;
      if (s > e) return `range runs backwards: ${text}`;
      return { family: from.kind() === "ipv4" ? 4 : 6, start: s, end: e };
    }
  }
  const single = parseSingle(text);
  return typeof single === "string" ? (trailingText(text) ?? single) : single;
}

/** One address or CIDR. */
function parseSingle(text: string): IpRange | string {
  const slash = text.indexOf("/");
  if (slash >= 0) {
    const addrText = text.slice(0, slash);
    const bitsText = text.slice(slash + 1);
    // Kept mapped: ::ffff:192.0.2.0/120 is a /120 of IPv6 that cidrRange turns into a /24.
    const addr = parseAddr(addrText, true);
    if (!addr) return `not an address: ${addrText}`;
    const max = addr.kind() === "ipv4" ? 32 : 128;
    const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : Number.NaN;
    if (!(bits >= 0 && bits <= max)) return `prefix length must be 0-${max}: ${text}`;
    if (hasHostBits(addr, bits)) {
      const r = cidrRange(addr, bits);
      return `host bits set in ${text} (the network is ${formatIp(r.family, r.start)}/${bits})`;
    }
    return cidrRange(addr, bits);
  }
  const addr = parseAddr(text);
  if (!addr) return `not an IPv4/IPv6 address, CIDR or range: ${text}`;
  return cidrRange(addr, addr.kind() === "ipv4" ? 32 : 128);
}

function build(name: string, file: string | undefined, entries: AllowlistEntry[]): Allowlist {
  const v4: { start: number; end: number }[] = [];
  const v6: { start: bigint; end: bigint }[] = [];
  for (const e of entries) {
    if (e.range.family === 4) v4.push({ start: Number(e.range.start), end: Number(e.range.end) });
    else v6.push({ start: BigInt(e.range.start), end: BigInt(e.range.end) });
  }
  return { name, file, entries, v4: mergeRanges(v4), v6: mergeRanges(v6) };
}

/** Parses a list's text; every bad line is an error with its line, the good ones are kept. */
export function parseAllowlist(
  text: string,
  name: string,
  file: string = name,
): { list: Allowlist; errors: AllowlistError[] } {
  const entries: AllowlistEntry[] = [];
  const errors: AllowlistError[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const hash = raw.indexOf("#");
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (!body) continue;
    const r = parseEntry(body);
    if (typeof r === "string") errors.push({ file, line: i + 1, reason: r });
    else
      entries.push({
        line: i + 1,
        text: body,
        comment: hash >= 0 ? raw.slice(hash + 1).trim() || undefined : undefined,
        range: r,
      });
  }
  return { list: build(name, file, entries), errors };
}

/** The whole address space of each family, as a range end. */
const FULL = { 4: 2 ** 32 - 1, 6: (1n << 128n) - 1n } as const;

/**
 * Where a list allows every address of a family (0.0.0.0/0, ::/0, or entries that add up to it),
 * which turns the check off. `entry` is the line that does it alone, when one does.
 */
export function openFamilies(list: Allowlist): { family: 4 | 6; entry?: AllowlistEntry | undefined }[] {
  const out: { family: 4 | 6; entry?: AllowlistEntry | undefined }[] = [];
  for (const family of [4, 6] as const) {
    const merged = family === 4 ? list.v4 : list.v6;
    const all =
      merged.length === 1 && merged[0]!.start === (family === 4 ? 0 : 0n) && merged[0]!.end === FULL[family];
    if (!all) continue;
    const entry = list.entries.find(
      (e) =>
        e.range.family === family &&
        BigInt(e.range.start) === 0n &&
        BigInt(e.range.end) === BigInt(FULL[family]),
    );
    out.push({ family, entry });
  }
  return out;
}

/** Why a list turns the control off, one line per family ("file:line: 0.0.0.0/0 allows …"). */
export function describeOpen(list: Allowlist): string[] {
  return openFamilies(list).map(({ family, entry }) => {
    const every = `every ${family === 4 ? "IPv4" : "IPv6"} address`;
    return entry
      ? `${list.file ?? list.name}:${entry.line}: ${entry.text} allows ${every}, which turns the allowlist off`
      : `${list.file ?? list.name}: its entries together allow ${every}, which turns the allowlist off`;
  });
}

/** One list holding every entry of the given lists (e.g. all lists of an account). */
export function mergeAllowlists(name: string, lists: Allowlist[]): Allowlist {
  return build(
    name,
    undefined,
    lists.flatMap((l) => l.entries),
  );
}

export function containsParsed(list: Allowlist, ip: ParsedIp): boolean {
  return ip.family === 4 ? inRanges(list.v4, ip.n) : inRanges(list.v6, ip.n);
}

/** Whether the list covers an address; false for anything that is not an address. */
export function contains(list: Allowlist, ip: string): boolean {
  const p = parseIp(ip);
  return p ? containsParsed(list, p) : false;
}

/** The entries of a list that cover an address (for `allowlist check`). */
export function matchingEntries(list: Allowlist, ip: string): AllowlistEntry[] {
  const p = parseIp(ip);
  if (!p) return [];
  return list.entries.filter(
    (e) => e.range.family === p.family && p.n >= e.range.start && p.n <= e.range.end,
  );
}
