import type { AllowlistSet } from "../allowlist/set.js";
import type { EventCheck, EventEnv, PrefilterHeader } from "../checks/check.js";
import { eventChecks } from "../checks/registry.js";
import type { Config } from "../config/schema.js";
import type { HeaderFilter, IamEvent } from "../model/event.js";
import { type Candidate, type Finding, severityRank } from "../model/finding.js";
import type { Store } from "../store/store.js";
import { latestKey } from "./event-order.js";
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

/** An enabled event check with what it prepared for this run. */
interface Ready {
  check: EventCheck;
  ctx: unknown;
}

function eventEnv(
  config: Config,
  allowlists?: AllowlistSet,
  admins?: Map<string, ReadonlySet<string>>,
): EventEnv {
  return {
    allowlists,
    adminsOf: (account) => admins?.get(account),
    quarantinePolicyName: config.remediation.quarantine.policyName,
  };
}

/** The event checks enabled in config that can run (source-ip needs allowlists), in registry order. */
function readyChecks(config: Config, env: EventEnv): Ready[] {
  const all: Readonly<Record<string, { enabled: boolean } | undefined>> = config.checks;
  const out: Ready[] = [];
  for (const check of eventChecks()) {
    const settings = all[check.name];
    if (!settings?.enabled) continue;
    const ctx = check.prepare(settings, env);
    if (ctx !== undefined) out.push({ check, ctx });
  }
  return out;
}

/** The event checks enabled in config. iam-change runs unless disabled; source-ip needs lists. */
export function enabledEventChecks(config: Config, allowlists?: AllowlistSet): string[] {
  return readyChecks(config, eventEnv(config, allowlists)).map((r) => r.check.name);
}

/**
 * The events the enabled checks could flag, from their pre-filters, for a reader to skip the rest
 * without normalising them (most of a trail: role sessions, AWS services, addresses inside the
 * allowlists). The same settings as runEventChecks, so that nothing it would flag is skipped.
 */
export function eventHeaderFilter(config: Config, allowlists?: AllowlistSet): HeaderFilter {
  const ready = readyChecks(config, eventEnv(config, allowlists));
  return (h: PrefilterHeader) => ready.some((r) => !r.check.prefilter || r.check.prefilter(h, r.ctx));
}

/** The header of an event already normalised, as pre-filters see it ("" when no key signed it). */
function eventHeader(e: IamEvent): PrefilterHeader {
  return {
    provider: e.provider,
    kind: e.kind,
    action: e.action,
    principalType: e.principal.type,
    sourceIp: e.sourceIp || undefined,
    invokedBy: e.principal.invokedBy,
    account: e.account,
    accessKeyId: e.principal.accessKeyId ?? "",
  };
}

interface Pending {
  candidates: Map<string, Candidate & { seen: Set<string> } & Sighting>;
  events: number;
}

/** Where a finding's details and its title come from: its latest event, its headline event. */
interface Sighting {
  details: Record<string, unknown>;
  /** eventKey of the latest event. */
  latest: string;
  /** eventKey of the event whose title and advice the finding shows (`details.headline`). */
  headline: string;
}

const eventIdOf = (e: Record<string, unknown> | undefined) =>
  typeof e?.eventId === "string" ? e.eventId : undefined;

/**
 * Merges two sightings of one finding so that the result does not depend on which was read
 * first: details of the latest event, merged with the earlier's by the check; title and advice of
 * the latest event at the highest severity. `severityOrder`: a's rank minus b's.
 */
function mergeSightings(check: EventCheck, a: Sighting, b: Sighting, severityOrder: number) {
  const bLater = b.latest >= a.latest;
  const [earlier, later] = bLater ? [a, b] : [b, a];
  const titleFromA = severityOrder > 0 || (severityOrder === 0 && a.headline > b.headline);
  const headline = titleFromA ? a.headline : b.headline;
  const merged = check.merge(earlier.details, later.details, titleFromA === bLater);
  return {
    details: { ...later.details, ...merged, headline },
    latest: bLater ? b.latest : a.latest,
    headline,
    titleFromA,
    bLater,
  };
}

function addCandidate(p: Pending, c: Candidate, check: EventCheck): void {
  // Pending is per account: check and resource name the finding (hashing waits for the store).
  const id = `${c.check}\0${c.resource}`;
  const eventId = eventIdOf(c.events?.[0]);
  const latest = latestKey(c.events);
  const prev = p.candidates.get(id);
  if (!prev) {
    p.candidates.set(id, {
      ...c,
      details: { ...c.details, headline: latest },
      events: [...(c.events ?? [])],
      seen: new Set(eventId ? [eventId] : []),
      latest,
      headline: latest,
    });
    p.events++;
    return;
  }
  // The same record read twice (overlapping inputs) counts once.
  if (eventId && prev.seen.has(eventId)) return;
  if (eventId) prev.seen.add(eventId);
  const order = severityRank(prev.severity) - severityRank(c.severity);
  const m = mergeSightings(check, prev, { details: c.details, latest, headline: latest }, order);
  if (!m.titleFromA) {
    prev.severity = c.severity;
    prev.title = c.title;
  }
  // Who it is (an IAM user's name or ARN) as the latest event names them.
  if (m.bLater) prev.owner = c.owner;
  prev.details = m.details;
  prev.latest = m.latest;
  prev.headline = m.headline;
  prev.events?.push(...(c.events ?? []));
  p.events++;
}

/**
 * Prepares a batch against what the store holds: drops occurrences the finding already keeps
 * (replaying the same archive twice does not double-count), keeps the highest severity an open
 * finding reached, and lets the check merge what it gathers (addresses, reasons), the details of
 * the latest event last.
 */
function againstExisting(
  candidates: Candidate[],
  existing: Finding[],
  checks: Map<string, EventCheck>,
): Candidate[] {
  const byId = new Map(existing.map((f) => [f.id, f]));
  const out: Candidate[] = [];
  for (const c of candidates) {
    const prev = byId.get(findingId(c.check, c.account, c.resource));
    const check = checks.get(c.check);
    if (!prev || !check) {
      out.push(c);
      continue;
    }
    const stored = (Array.isArray(prev.details.events) ? prev.details.events : []) as Record<
      string,
      unknown
    >[];
    const kept = new Set(stored.map(eventIdOf).filter(Boolean));
    const events = (c.events ?? []).filter((e) => !kept.has(eventIdOf(e)));
    if (!events.length) continue;
    // An open finding keeps the highest severity it reached; a closed one starts again.
    const order = prev.status === "open" ? severityRank(prev.severity) - severityRank(c.severity) : -1;
    // A stored finding of another shape (an older version's) has nothing to merge.
    const parsed = check.details.safeParse(prev.details);
    if (!parsed.success) {
      out.push({ ...c, events });
      continue;
    }
    const latest = latestKey(stored);
    const headline = typeof prev.details.headline === "string" ? prev.details.headline : latest;
    const m = mergeSightings(
      check,
      { details: parsed.data as Record<string, unknown>, latest, headline },
      { details: c.details, latest: latestKey(c.events), headline: String(c.details.headline ?? "") },
      order,
    );
    out.push({
      ...c,
      ...(m.bLater ? {} : { owner: prev.owner }),
      ...(m.titleFromA ? { severity: prev.severity, title: prev.title } : {}),
      details: m.details,
      events,
    });
  }
  return out;
}

/** Runs the enabled event checks over batches of events and reconciles their findings. */
export async function runEventChecks(
  batches: AsyncIterable<IamEvent[]>,
  config: Config,
  deps: EventDeps,
): Promise<EventRunResult> {
  const admins = new Map<string, ReadonlySet<string>>();
  const ready = readyChecks(config, eventEnv(config, deps.allowlists, admins));
  const checks = ready.map((r) => r.check.name);
  const byName = new Map(ready.map((r) => [r.check.name, r.check]));
  const loadAdmins =
    deps.admins && ready.some((r) => r.check.reads.includes("admins")) ? deps.admins : undefined;

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
    const candidates: Candidate[] = [...p.candidates.values()].map(
      ({ seen: _seen, latest: _latest, headline: _headline, ...c }) => c,
    );
    const entries = exceptionsFor(config.exceptions, account);
    const changes = new Map<string, FindingChange>();
    const result = await deps.store.reconcile({ account, checks }, (existing) => {
      const prepared = againstExisting(candidates, existing, byName);
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
      accounts.add(e.account);
      let p: Pending | undefined;
      for (const { check, ctx } of ready) {
        // The admin group is read (an AWS call) only for an account with an event a check
        // reading it could flag: a replay of sign-ins alone makes no call.
        if (
          loadAdmins &&
          !admins.has(e.account) &&
          check.reads.includes("admins") &&
          (!check.prefilter || check.prefilter(eventHeader(e), ctx))
        )
          admins.set(e.account, await loadAdmins(e.account));
        const c = check.judge(e, ctx);
        if (!c) continue;
        c.accountAlias = deps.aliases?.get(e.account);
        p = pending.get(e.account) ?? { candidates: new Map(), events: 0 };
        pending.set(e.account, p);
        addCandidate(p, c, check);
      }
      if (p && p.events >= batchEvents) await flush(e.account);
    }
    deps.onEvents?.(events);
  }
  for (const account of [...pending.keys()]) await flush(account);
  return { events, checks, accounts: [...accounts], summary, findings: [...touched.values()] };
}
