import type { AllowlistSet } from "../allowlist/config.js";
import { accountAllowlists } from "../allowlist/config.js";
import {
  DEFAULT_IAM_CHANGE_ACTIONS,
  type IamChangeSettings,
  iamChangeWants,
  judgeIamChange,
} from "../checks/iam-change.js";
import { judgeSourceIp, type SourceIpSettings, sourceIpWants } from "../checks/source-ip.js";
import type { Config } from "../config/schema.js";
import type { IamEvent } from "../model/event.js";
import { type Candidate, type Finding, severityRank } from "../model/finding.js";
import type { RecordFilter } from "../sources/cloudtrail/record.js";
import type { Store } from "../store/store.js";
import { exceptionsFor, matchException } from "./exceptions.js";
import { emptySummary, findingId, type PlanSummary, planReconcile } from "./reconcile.js";
import type { Router } from "./routing.js";

// Runs the event checks over a stream of events and reconciles what they find, per account, in
// batches: one store transaction per account batch, memory bounded by the batch size.

/** What happened to a finding in this run, for the remediation hook. */
export type FindingChange = "opened" | "reopened" | "refreshed" | "suppressed";

/**
 * Called once per finding a batch wrote, after its transaction committed. The remediation
 * engineer's quarantine-user action plugs in here (iam-change findings carry details.quarantine).
 */
export type OnFinding = (finding: Finding, change: FindingChange) => Promise<void> | void;

export interface EventDeps {
  store: Store;
  route: Router;
  now: Date;
  runId: string;
  /** Administrators per account (adminUsers + admin group); defaults to config adminUsers only. */
  admins?: ((account: string) => Promise<ReadonlySet<string>>) | undefined;
  /** Configured allowlists; without them source-ip does not run. */
  allowlists?: AllowlistSet | undefined;
  /** Account id → alias, for findings. */
  aliases?: ReadonlyMap<string, string> | undefined;
  onFinding?: OnFinding | undefined;
  /** Events judged so far (progress). */
  onEvents?: ((n: number) => void) | undefined;
  /** Buffered occurrences per account before its batch is written. */
  batchEvents?: number | undefined;
}

export interface EventRunResult {
  events: number;
  checks: string[];
  accounts: string[];
  summary: PlanSummary;
  /** Findings written by this run, latest state, in the order first touched. */
  findings: Finding[];
}

/** The event checks enabled in config. iam-change runs unless disabled; source-ip needs lists. */
export function enabledEventChecks(config: Config, allowlists?: AllowlistSet): string[] {
  const out: string[] = [];
  if (config.checks["iam-change"]?.enabled ?? true) out.push("iam-change");
  const sip = config.checks["source-ip"];
  if (sip?.enabled && allowlists?.lists.size) out.push("source-ip");
  return out;
}

/**
 * The raw CloudTrail records the enabled checks could flag, for the reader to skip the rest
 * without normalising them (most of a trail: role sessions, AWS services, addresses inside the
 * allowlists). The same settings as runEventChecks, so that nothing it would flag is skipped.
 */
export function eventRecordFilter(config: Config, allowlists?: AllowlistSet): RecordFilter {
  const checks = enabledEventChecks(config, allowlists);
  const iam = checks.includes("iam-change") ? { actions: iamActions(config) } : undefined;
  const sip = checks.includes("source-ip") && allowlists ? sourceIpSettings(allowlists) : undefined;
  return (r) => Boolean((iam && iamChangeWants(r, iam)) || (sip && sourceIpWants(r, sip)));
}

const iamActions = (config: Config): readonly string[] =>
  config.checks["iam-change"]?.actions ?? DEFAULT_IAM_CHANGE_ACTIONS;

// One per allowlist set, so that the reader's filter and the checks share merged lists.
const sipCache = new WeakMap<AllowlistSet, SourceIpSettings>();
function sourceIpSettings(allowlists: AllowlistSet): SourceIpSettings {
  let s = sipCache.get(allowlists);
  if (!s) {
    s = { allowlistsOf: accountAllowlists(allowlists), lists: allowlists.lists };
    sipCache.set(allowlists, s);
  }
  return s;
}

interface Pending {
  candidates: Map<string, Candidate & { seen: Set<string> }>;
  events: number;
}

function addCandidate(p: Pending, c: Candidate): void {
  // Pending is per account: check and resource name the finding (hashing waits for the store).
  const id = `${c.check}\0${c.resource}`;
  const ev = c.events?.[0];
  const eventId = typeof ev?.eventId === "string" ? ev.eventId : undefined;
  const prev = p.candidates.get(id);
  if (!prev) {
    p.candidates.set(id, { ...c, events: [...(c.events ?? [])], seen: new Set(eventId ? [eventId] : []) });
    p.events++;
    return;
  }
  // The same record read twice (overlapping inputs) counts once.
  if (eventId && prev.seen.has(eventId)) return;
  if (eventId) prev.seen.add(eventId);
  const lower = severityRank(c.severity) < severityRank(prev.severity);
  if (!lower) {
    prev.severity = c.severity;
    prev.title = c.title;
  }
  // Merged in place: this runs once per occurrence, and most are of a few busy principals.
  const d = prev.details;
  const advice = d.advice;
  const criticalReason = d.criticalReason ?? c.details.criticalReason;
  const ips = (d.sourceIps as string[] | undefined) ?? [];
  Object.assign(d, c.details);
  if (lower) d.advice = advice;
  if (criticalReason) d.criticalReason = criticalReason;
  for (const ip of (c.details.sourceIps as string[] | undefined) ?? []) {
    if (ips.includes(ip)) continue;
    ips.push(ip);
    if (ips.length > 20) ips.shift();
  }
  if (ips.length) d.sourceIps = ips;
  prev.events!.push(...(c.events ?? []));
  p.events++;
}

/**
 * Prepares a batch against what the store holds: drops occurrences the finding already keeps
 * (replaying the same archive twice does not double-count), keeps the highest severity an open
 * finding reached, and keeps the addresses seen earlier.
 */
function againstExisting(candidates: Candidate[], existing: Finding[]): Candidate[] {
  const byId = new Map(existing.map((f) => [f.id, f]));
  const out: Candidate[] = [];
  for (const c of candidates) {
    const prev = byId.get(findingId(c.check, c.account, c.resource));
    if (!prev) {
      out.push(c);
      continue;
    }
    const kept = new Set(
      ((prev.details.events as { eventId?: string }[] | undefined) ?? [])
        .map((e) => e.eventId)
        .filter(Boolean),
    );
    const events = (c.events ?? []).filter((e) => !kept.has(e.eventId as string));
    if (!events.length) continue;
    const keepPrev = prev.status === "open" && severityRank(prev.severity) > severityRank(c.severity);
    const ips = [
      ...((prev.details.sourceIps as string[] | undefined) ?? []),
      ...((c.details.sourceIps as string[] | undefined) ?? []),
    ];
    const criticalReason = c.details.criticalReason ?? prev.details.criticalReason;
    const details = {
      ...c.details,
      ...(keepPrev ? { advice: prev.details.advice } : {}),
      ...(criticalReason ? { criticalReason } : {}),
      ...(ips.length ? { sourceIps: [...new Set(ips)].slice(-20) } : {}),
    };
    out.push({ ...c, ...(keepPrev ? { severity: prev.severity, title: prev.title } : {}), details, events });
  }
  return out;
}

/** Runs the enabled event checks over batches of events and reconciles their findings. */
export async function runEventChecks(
  batches: AsyncIterable<IamEvent[]>,
  config: Config,
  deps: EventDeps,
): Promise<EventRunResult> {
  const checks = enabledEventChecks(config, deps.allowlists);
  const ic = config.checks["iam-change"];
  const runIamChange = checks.includes("iam-change");
  const runSourceIp = checks.includes("source-ip");
  const adminUsers = new Set(ic?.adminUsers ?? []);
  const admins = new Map<string, ReadonlySet<string>>();
  const iamSettings: IamChangeSettings = {
    actions: iamActions(config),
    principalTypes: ic?.principalTypes ?? ["IAMUser"],
    adminsOf: (a) => admins.get(a) ?? adminUsers,
    adminGroup: ic?.adminGroup,
    quarantinePolicyName: config.remediation.quarantine.policyName,
    quarantine: ic?.quarantine ?? false,
  };
  const sipSettings = runSourceIp && deps.allowlists ? sourceIpSettings(deps.allowlists) : undefined;

  const batchEvents = deps.batchEvents ?? 2000;
  const pending = new Map<string, Pending>();
  const touched = new Map<string, Finding>();
  const summary = emptySummary();
  const accounts = new Set<string>();
  let events = 0;

  const flush = async (account: string) => {
    const p = pending.get(account);
    pending.delete(account);
    if (!p?.candidates.size) return;
    const candidates: Candidate[] = [...p.candidates.values()].map(({ seen: _seen, ...c }) => c);
    const entries = exceptionsFor(config.exceptions, account);
    const changes = new Map<string, FindingChange>();
    const result = await deps.store.reconcile({ account, checks }, (existing) => {
      const prepared = againstExisting(candidates, existing);
      const plan = planReconcile(existing, {
        account,
        checks,
        kind: "event",
        complete: false,
        candidates: prepared,
        suppress: (c) => matchException(c, { entries, exemptTags: config.exemptTags }, deps.now),
        route: deps.route,
        renotifyHours: config.notify.slack?.renotifyHours ?? 24,
        now: deps.now,
        runId: deps.runId,
      });
      // Should the store run this again (a retried transaction), only the last view counts.
      changes.clear();
      const before = new Map(existing.map((f) => [f.id, f.status]));
      for (const f of plan.upserts) {
        const was = before.get(f.id);
        changes.set(
          f.id,
          f.status === "suppressed"
            ? "suppressed"
            : !was
              ? "opened"
              : was !== "open"
                ? "reopened"
                : "refreshed",
        );
      }
      return plan;
    });
    const s = (result as { summary?: PlanSummary }).summary;
    if (s) for (const k of Object.keys(summary) as (keyof PlanSummary)[]) summary[k] += s[k];
    for (const f of result.upserts) {
      touched.delete(f.id);
      touched.set(f.id, f);
      await deps.onFinding?.(f, changes.get(f.id) ?? "refreshed");
    }
  };

  for await (const batch of batches) {
    for (const e of batch) {
      events++;
      if (!accounts.has(e.account)) {
        accounts.add(e.account);
        if (runIamChange && deps.admins) admins.set(e.account, await deps.admins(e.account));
      }
      let p: Pending | undefined;
      if (runIamChange) {
        const c = judgeIamChange(e, iamSettings);
        if (c) {
          c.accountAlias = deps.aliases?.get(e.account);
          p = pending.get(e.account) ?? { candidates: new Map(), events: 0 };
          pending.set(e.account, p);
          addCandidate(p, c);
        }
      }
      if (sipSettings) {
        const c = judgeSourceIp(e, sipSettings);
        if (c) {
          c.accountAlias = deps.aliases?.get(e.account);
          p = pending.get(e.account) ?? { candidates: new Map(), events: 0 };
          pending.set(e.account, p);
          addCandidate(p, c);
        }
      }
      if (p && p.events >= batchEvents) await flush(e.account);
    }
    deps.onEvents?.(events);
  }
  for (const account of [...pending.keys()]) await flush(account);
  return { events, checks, accounts: [...accounts], summary, findings: [...touched.values()] };
}
