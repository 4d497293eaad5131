import { z } from "zod";
import { type Allowlist, containsParsed } from "../allowlist/allowlist.js";
import { cidrRange, type ParsedIp, parseAddr, toParsedIp } from "../allowlist/ip.js";
import { type AllowlistSet, accountAllowlists } from "../allowlist/set.js";
import type { IamEvent } from "../model/event.js";
import type { Candidate, Severity } from "../model/finding.js";
import { maskKeyId } from "../util/mask.js";
import { type EventCheck, eventCountColumn, type PrefilterHeader, settingsSchema } from "./check.js";
import { eventSummary } from "./iam-change.js";

// Access from outside the organisation's networks: a console login, a call signed with a
// long-term access key, or an IBM Cloud login, from an address no allowlist of the account covers.

const settings = settingsSchema({
  /** List name → file. */
  allowlists: z.record(z.string(), z.string()).default({}),
  /** The lists of accounts not named below (AWS and IBM). */
  default: z.array(z.string()).default([]),
  accounts: z.record(z.string(), z.array(z.string())).default({}),
}).prefault({});

const details = z.looseObject({
  actor: z.enum(["human", "service-credential"]),
  username: z.string(),
  principalType: z.string(),
  principalArn: z.string().optional(),
  keyId: z.string().optional(),
  mfa: z.boolean().optional(),
  sourceIp: z.string(),
  /** The addresses seen, latest last (at most MAX_IPS). */
  sourceIps: z.array(z.string()),
  /** When each of them was last seen (ISO-8601): the order does not depend on the read order. */
  addressesSeen: z.record(z.string(), z.string()).optional(),
  allowlists: z.array(z.string()),
  suggestedList: z.string().optional(),
  suggestedEntry: z.string().optional(),
  /** The record's address is not an IP address: no list could judge it (flagged, not passed). */
  unparseableSource: z.boolean().optional(),
  advice: z.string(),
});
type Details = z.output<typeof details>;

const MAX_IPS = 20;

/** What judging needs: the lists of each account. */
export interface SourceIpSettings {
  /** The lists of an account, merged, and their names in order; no names means not judged. */
  allowlistsOf: (account: string) => { merged: Allowlist; names: string[] };
  /** Every configured list by name (to suggest which one would cover an address). */
  lists: ReadonlyMap<string, Allowlist>;
  /** For events whose account is not known yet: whether every account's lists cover the address. */
  coveredEverywhere?: ((ip: ParsedIp) => boolean) | undefined;
}

// One per allowlist set, so that the reader's pre-filter and the judge share merged lists.
const prepared = new WeakMap<AllowlistSet, SourceIpSettings>();
export function sourceIpSettings(set: AllowlistSet): SourceIpSettings {
  let s = prepared.get(set);
  if (!s) {
    const allowlistsOf = accountAllowlists(set);
    // "" names no account, so it stands for every account not named (the default lists).
    const sets = ["", ...Object.keys(set.accounts)].map(allowlistsOf).filter((l) => l.names.length);
    s = {
      allowlistsOf,
      lists: set.lists,
      coveredEverywhere: (ip) => sets.every((l) => containsParsed(l.merged, ip)),
    };
    prepared.set(set, s);
  }
  return s;
}

/** Who used the address: a person signing in, or a credential a program holds. */
export type Actor = "human" | "service-credential";

/** Addresses AWS records when it made the call itself. */
export function isAwsServiceSource(ip: string): boolean {
  return ip === "AWS Internal" || ip.endsWith(".amazonaws.com") || ip.endsWith(".amazonaws.com.cn");
}

/** Human vs credential for the events this check judges; undefined for events it leaves alone. */
export function actorOf(e: IamEvent): Actor | undefined {
  if (e.provider === "aws") {
    if (e.kind === "console-login") return "human";
    // Long-term keys only: temporary (ASIA) keys come from roles and sessions that signed in elsewhere.
    if (e.kind === "api-call" && e.principal.accessKeyId?.startsWith("AKIA") && !e.principal.invokedBy)
      return "service-credential";
    return undefined;
  }
  if (e.kind !== "login") return undefined;
  if (
    e.action.endsWith("-apikey.login") ||
    e.principal.type === "serviceid" ||
    e.principal.credential === "apikey"
  )
    return "service-credential";
  return "human";
}

/**
 * Whether an event may be a finding: a console login, a long-term key's call or an IBM login,
 * from an address outside its account's lists. Most of a trail is turned down here without being
 * normalised; judgeSourceIp still decides.
 */
export function sourceIpWants(h: PrefilterHeader, s: SourceIpSettings): boolean {
  if (h.provider === "aws") {
    if (h.kind !== "console-login") {
      if (h.kind !== "api-call" || h.invokedBy) return false;
      // Temporary (ASIA) keys come from roles and sessions; "" is a call without a key.
      if (h.accessKeyId !== undefined && !h.accessKeyId.startsWith("AKIA")) return false;
    }
  } else if (h.kind !== "login") return false;
  // A missing address is passed on too: the judge flags what it cannot check.
  const ip = h.sourceIp ?? "";
  if (isAwsServiceSource(ip)) return false;
  // Without an account here, the normalised event may still get one: let the judge see it
  // unless every account's lists cover the address.
  if (!h.account) {
    const parsed = s.coveredEverywhere ? parseCached(ip) : undefined;
    return !parsed || !s.coveredEverywhere?.(parsed);
  }
  const { merged, names } = s.allowlistsOf(h.account);
  if (!names.length) return false;
  // An address that cannot be judged is not passed: the judge flags it.
  const parsed = parseCached(ip);
  return !parsed || !containsParsed(merged, parsed);
}

// Event addresses repeat a lot: parse each once. Bounded, and cleared rather than evicted.
const parsedCache = new Map<string, ParsedIp | null>();
function parseCached(ip: string): ParsedIp | null {
  let p = parsedCache.get(ip);
  if (p === undefined) {
    const a = parseAddr(ip);
    p = a ? toParsedIp(a) : null;
    if (parsedCache.size >= 100_000) parsedCache.clear();
    parsedCache.set(ip, p);
  }
  return p;
}

/** The list that would cover an address: one with an entry in the same /24 (/48), else the account's first. */
export function suggestList(
  ip: string,
  names: string[],
  lists: ReadonlyMap<string, Allowlist>,
): string | undefined {
  const a = parseAddr(ip);
  if (!a) return names[0];
  const near = cidrRange(a, a.kind() === "ipv4" ? 24 : 48);
  for (const n of names) {
    const l = lists.get(n);
    if (
      l?.entries.some(
        (e) => e.range.family === near.family && e.range.start <= near.end && e.range.end >= near.start,
      )
    )
      return n;
  }
  return names[0];
}

/** The entry to add for one address: a /32 or /128. */
export const hostEntry = (ip: string) => {
  const a = parseAddr(ip);
  return a ? `${a.toString()}/${a.kind() === "ipv4" ? 32 : 128}` : ip;
};

function severityOf(actor: Actor, e: IamEvent): Severity {
  const ok = e.outcome === "success";
  if (actor === "service-credential") return ok ? "high" : "medium";
  if (e.principal.type === "Root") return ok ? "critical" : "medium";
  return ok ? "medium" : "low";
}

/** One event judged; undefined unless it came from outside every allowlist of its account. */
export function judgeSourceIp(e: IamEvent, s: SourceIpSettings): Candidate<Details> | undefined {
  const actor = actorOf(e);
  const source = e.sourceIp ?? "";
  if (!actor || isAwsServiceSource(source)) return undefined;
  const { merged, names } = s.allowlistsOf(e.account);
  if (!names.length) return undefined;
  const ip = parseCached(source);
  // Fail closed: an address no list can be checked against (`999.1.1.1`, `8.8.8.8:443`, empty)
  // is flagged, never passed.
  if (!ip) return unjudgeable(e, actor, source, names);
  if (containsParsed(merged, ip)) return undefined;

  const { who, keyId, resource, details } = subject(e, actor, e.sourceIp, names);
  const lists = names.join(", ");
  const suggested = actor === "service-credential" ? suggestList(e.sourceIp, names, s.lists) : undefined;
  const file = suggested ? s.lists.get(suggested)?.file : undefined;
  const entry = hostEntry(e.sourceIp);
  const ok = e.outcome === "success";
  const outside = `outside the allowlists (${lists}) of account ${e.account}`;
  const credential = keyId ? `Access key ${maskKeyId(keyId)} of ${who}` : `${who}'s API key`;
  const advice =
    actor === "human"
      ? ok
        ? `${who} signed in from ${e.sourceIp}, ${outside}: sign in through the VPN.`
        : `A sign-in as ${who} failed from ${e.sourceIp}, ${outside}: if it was ${who}, sign in through the VPN; if not, someone outside is trying the password.`
      : `${credential} was ${ok ? "used" : "tried"} from ${e.sourceIp}, ${outside}: if this is the service's address, add ${entry} to allowlist ${suggested}${file ? ` (${file})` : ""}; otherwise rotate the ${keyId ? "key" : "API key"}.`;
  const what =
    actor === "human"
      ? `${ok ? "" : "Failed "}${e.kind === "console-login" ? "console login" : "login"} by ${who}`
      : `${keyId ? `Access key ${maskKeyId(keyId)}` : "API key"} of ${who} ${ok ? "used" : "tried"}`;
  return {
    check: "source-ip",
    account: e.account,
    resource,
    owner: who,
    severity: severityOf(actor, e),
    title: `${what[0]!.toUpperCase()}${what.slice(1)} from ${e.sourceIp}, outside the allowlists`,
    details: {
      ...details,
      ...(e.principal.mfa !== undefined ? { mfa: e.principal.mfa } : {}),
      ...(suggested ? { suggestedList: suggested, suggestedEntry: entry } : {}),
      advice,
    },
    events: [eventSummary(e)],
  };
}

/**
 * Who a finding is about and what every source-ip finding holds: credentials are judged per key
 * (the fix is per key), people per identity.
 */
function subject(e: IamEvent, actor: Actor, source: string, names: string[]) {
  const who = e.principal.name ?? e.principal.arn ?? e.principal.id ?? "unknown principal";
  const keyId = e.principal.accessKeyId;
  const resource =
    actor === "service-credential"
      ? (keyId ?? `${e.principal.id ?? who}#apikey`)
      : (e.principal.arn ?? `${e.principal.type}/${who}`);
  const details = {
    actor,
    username: who,
    principalType: e.principal.type,
    principalArn: e.principal.arn,
    ...(keyId ? { keyId } : {}),
    sourceIp: source,
    sourceIps: [source],
    addressesSeen: { [source]: e.time.toISOString() },
    allowlists: names,
  };
  return { who, keyId, resource, details };
}

/** A finding for an event whose source address cannot be parsed, so no allowlist can judge it. */
function unjudgeable(e: IamEvent, actor: Actor, source: string, names: string[]): Candidate<Details> {
  const { who, keyId, resource, details } = subject(e, actor, source, names);
  const shown = source === "" ? "an empty address" : JSON.stringify(source);
  const what =
    actor === "human"
      ? `${e.kind === "console-login" ? "Console login" : "Login"} by ${who}`
      : `${keyId ? `Access key ${maskKeyId(keyId)}` : "API key"} of ${who} used`;
  return {
    check: "source-ip",
    account: e.account,
    resource,
    owner: who,
    // Treated as outside every list, one step up: a forged or mangled address is itself news.
    severity: e.outcome === "success" ? "high" : "medium",
    title: `${what} from ${shown}, which is not an IP address: the allowlists cannot judge it`,
    details: {
      ...details,
      unparseableSource: true,
      advice: `The record's source address ${shown} is not an IP address iamwarden can check against the allowlists (${names.join(", ")}); look at the raw record (event ${e.eventId}) to see where the call came from.`,
    },
    events: [eventSummary(e)],
  };
}

/**
 * The latest MAX_IPS addresses of both, each at the time it was last seen (addresses of a finding
 * stored before times were kept count as oldest).
 */
function mergeAddresses(a: Details, b: Details): Pick<Details, "sourceIps" | "addressesSeen"> {
  const seen = new Map<string, string>();
  for (const d of [a, b])
    for (const ip of d.sourceIps) {
      const t = d.addressesSeen?.[ip] ?? "";
      if (t >= (seen.get(ip) ?? "")) seen.set(ip, t);
    }
  const latest = [...seen]
    .sort((x, y) => (x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(-MAX_IPS);
  return { sourceIps: latest.map(([ip]) => ip), addressesSeen: Object.fromEntries(latest) };
}

export const sourceIp: EventCheck<"source-ip", typeof settings, Details, SourceIpSettings> = {
  name: "source-ip",
  kind: "event",
  description:
    "a console login, a long-term access key's call or an IBM Cloud login from an address outside the account's IP allowlists",
  settings,
  details,
  permissions: [],
  reads: ["events"],
  subject: "principal",
  prepare: (_s, env) => (env.allowlists?.lists.size ? sourceIpSettings(env.allowlists) : undefined),
  prefilter: sourceIpWants,
  judge: judgeSourceIp,
  merge(earlier, later, keepAdvice) {
    return { ...(keepAdvice ? { advice: earlier.advice } : {}), ...mergeAddresses(earlier, later) };
  },
  summary: (d) =>
    `${d.actor === "human" ? "sign-in" : "credential use"} by ${d.username} from ${d.sourceIp}, outside ${d.allowlists.join(", ")}`,
  columns: { age: eventCountColumn },
};
