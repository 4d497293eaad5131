import type { Config } from "../config/schema.js";
import type { Candidate, Finding } from "../model/finding.js";
import { DAY_MS } from "../util/time.js";

// Which findings are due for remediation. Pure: findings, settings, the clock and the accounts'
// active key counts in; decisions out. Nothing here reads AWS or the store.

export type KeyAction = "deactivate-key" | "delete-key";

/** The checks whose findings name an access key that remediation may deactivate. */
export const KEY_CHECKS = ["key-inactive", "key-age"] as const;
export type KeyCheck = (typeof KEY_CHECKS)[number];

/** What remediation wrote on a finding it changed (finding.details.remediation). */
export interface RemediationMark {
  action: KeyAction;
  /** When the key was deactivated; delete-after counts from here. */
  at: string;
  runId: string;
  auditId: number;
  deletedAt?: string | undefined;
}

export interface DueItem {
  finding: Finding;
  action: KeyAction;
  user: string;
  keyId: string;
  /** Other findings about the same key (key-age and key-inactive): one change answers them all. */
  also?: Finding[] | undefined;
}

/** Why a finding is not acted on: switched off, out of scope, or waiting (grace, deletion). */
export type NotDueKind = "not-enabled" | "not-in-accounts" | "unknown-key" | "status" | "waiting";

export interface NotDue {
  finding: Finding;
  reason: string;
  kind?: NotDueKind | undefined;
}

export interface BlastBlock {
  account: string;
  reason: string;
  /** Items that would have been remediated; none of them will be. */
  items: DueItem[];
  /** One critical finding per blocked account, for the engine to reconcile (kind event). */
  candidate: Candidate;
}

export interface RemediationPlan {
  due: DueItem[];
  notDue: NotDue[];
  blocked: BlastBlock[];
}

type RemediationSettings = Config["remediation"];

export const remediationMark = (f: Finding): RemediationMark | undefined =>
  f.details.remediation as RemediationMark | undefined;

/** When a rollback undid the remediation; the grace period starts again from here. */
export const rolledBackAt = (f: Finding): string | undefined =>
  (f.details.rollback as { at?: string } | undefined)?.at;

/** A hold a rollback put on the finding: suppressed until lifted (or until `until`). */
export interface Hold {
  by: string;
  at: string;
  until?: string | undefined;
  /** Set when a person lifted it: the grace period starts again from here. */
  liftedAt?: string | undefined;
}

export const holdOf = (f: Finding): Hold | undefined => f.details.hold as Hold | undefined;

/** Whether a finding is on hold at `now`: kept suppressed by scans, skipped by remediation. */
export function onHold(f: Finding, now: Date): boolean {
  const h = holdOf(f);
  if (!h || h.liftedAt) return false;
  return !h.until || now.getTime() < Date.parse(h.until);
}

const isKeyCheck = (check: string): check is KeyCheck => (KEY_CHECKS as readonly string[]).includes(check);

/** Only real key ids can be acted on; report rows not matched to an id are named user#key…. */
const KEY_ID = /^(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$/;

/**
 * The instant from which the grace period counts: first report, else first sight, or later a
 * rollback, the end of its hold, or the moment a person lifted the hold.
 */
export function graceStart(f: Finding): Date {
  const h = holdOf(f);
  const times = [f.firstReportedAt ?? f.firstSeen, rolledBackAt(f), h?.until, h?.liftedAt]
    .filter((t): t is string => Boolean(t))
    .map((t) => Date.parse(t));
  return new Date(Math.max(...times));
}

type Judged = { item: DueItem } | { reason: string; kind: NotDueKind } | undefined;

function judge(f: Finding, settings: RemediationSettings, now: Date): Judged {
  if (!isKeyCheck(f.check)) return undefined;
  const perCheck = settings[f.check];
  if (!perCheck?.enabled) return { reason: `remediation of ${f.check} is not enabled`, kind: "not-enabled" };
  if (!settings.accounts.includes(f.account))
    return { reason: `account ${f.account} is not in remediation.accounts`, kind: "not-in-accounts" };
  const user = (f.details.username as string | undefined) ?? f.owner;
  const keyId = (f.details.keyId as string | undefined) ?? f.resource;
  if (!user || !KEY_ID.test(keyId)) return { reason: "the access key id is not known", kind: "unknown-key" };

  if (f.status === "remediated") {
    const mark = remediationMark(f);
    if (perCheck.deleteAfterDays === undefined || !mark || mark.action !== "deactivate-key" || mark.deletedAt)
      return undefined;
    const at = Date.parse(mark.at) + perCheck.deleteAfterDays * DAY_MS;
    if (now.getTime() < at)
      return {
        reason: `deletion due at ${new Date(at).toISOString()} (${perCheck.deleteAfterDays} days after deactivation)`,
        kind: "waiting",
      };
    return { item: { finding: f, action: "delete-key", user, keyId } };
  }
  if (f.status !== "open") {
    const h = holdOf(f);
    if (f.status === "suppressed" && h && onHold(f, now))
      return {
        reason: `on hold since ${h.at} (rolled back by ${h.by})${h.until ? ` until ${h.until}` : ""}; \`findings unhold\` lifts it`,
        kind: "status",
      };
    return { reason: `finding is ${f.status}`, kind: "status" };
  }
  if (f.check === "key-age" && f.details.state !== "expired")
    return { reason: `key-age state is ${String(f.details.state)}, not expired`, kind: "waiting" };
  const dueAt = graceStart(f).getTime() + perCheck.graceDays * DAY_MS;
  if (now.getTime() < dueAt)
    return { reason: `grace period ends ${new Date(dueAt).toISOString()}`, kind: "waiting" };
  return { item: { finding: f, action: "deactivate-key", user, keyId } };
}

function blastCandidate(
  account: string,
  reason: string,
  items: DueItem[],
  extra: Record<string, unknown>,
): Candidate {
  return {
    check: "blast-radius",
    account,
    resource: account,
    severity: "critical",
    title: `Remediation stopped in ${account}: ${reason}`,
    details: {
      reason,
      wouldRemediate: items.length,
      findings: items.flatMap((i) => [i.finding, ...(i.also ?? [])].map((f) => f.id)),
      ...extra,
    },
    events: [{ reason, wouldRemediate: items.length, ...extra }],
  };
}

/** Which findings are due (grace period, accounts, enabled checks), before any blast-radius limit. */
export function dueFindings(
  findings: Finding[],
  settings: RemediationSettings,
  now: Date,
): { items: DueItem[]; notDue: NotDue[] } {
  // One item per key and action: a key with both an age and an inactivity finding is one change.
  const byKey = new Map<string, DueItem>();
  const notDue: NotDue[] = [];
  for (const f of findings) {
    const r = judge(f, settings, now);
    if (!r) continue;
    if ("reason" in r) {
      notDue.push({ finding: f, reason: r.reason, kind: r.kind });
      continue;
    }
    const k = `${f.account}\0${r.item.action}\0${r.item.keyId}`;
    const first = byKey.get(k);
    if (first) first.also = [...(first.also ?? []), f];
    else byKey.set(k, r.item);
  }
  return { items: [...byKey.values()], notDue };
}

/** Accounts with deactivations due: their active keys must be counted for the share limit. */
export const accountsToCount = (items: DueItem[]): string[] =>
  [...new Set(items.filter((i) => i.action === "deactivate-key").map((i) => i.finding.account))].sort();

/**
 * The blast-radius limit. `activeKeys` maps an account to its number of Active access keys; an
 * account with deactivations due but no known count is blocked (the share cannot be judged, so
 * nothing is done). The run-wide `maxPerRun` is filled account by account in id order; an account
 * that would push the run over it is blocked whole.
 */
export function limitBlastRadius(
  items: DueItem[],
  settings: RemediationSettings,
  activeKeys: ReadonlyMap<string, number>,
): { due: DueItem[]; blocked: BlastBlock[] } {
  const byAccount = new Map<string, DueItem[]>();
  for (const i of items) byAccount.set(i.finding.account, [...(byAccount.get(i.finding.account) ?? []), i]);
  const due: DueItem[] = [];
  const blocked: BlastBlock[] = [];
  let runTotal = 0;
  for (const account of [...byAccount.keys()].sort()) {
    const list = byAccount.get(account)!;
    // Deletions touch keys that are already Inactive: they do not count against the limits.
    // Distinct keys: two findings about one key are one change.
    const deactivations = new Set(list.filter((i) => i.action === "deactivate-key").map((i) => i.keyId)).size;
    const active = activeKeys.get(account);
    const limits = { maxPerRun: settings.maxPerRun, maxShare: settings.maxShare, activeKeys: active ?? null };
    let reason: string | undefined;
    if (deactivations > 0) {
      if (runTotal + deactivations > settings.maxPerRun)
        reason =
          runTotal > 0
            ? `${deactivations} keys due would take this run to ${runTotal + deactivations}, over maxPerRun ${settings.maxPerRun}`
            : `${deactivations} keys due, over maxPerRun ${settings.maxPerRun}`;
      else if (active === undefined) reason = "the number of active keys in the account is unknown";
      else if (deactivations > settings.maxShare * active)
        reason = `${deactivations} of ${active} active keys due, over maxShare ${settings.maxShare}`;
    }
    if (reason) {
      blocked.push({
        account,
        reason,
        items: list,
        candidate: blastCandidate(account, reason, list, limits),
      });
      continue;
    }
    runTotal += deactivations;
    due.push(...list);
  }
  return { due, blocked };
}

/** dueFindings, then limitBlastRadius. */
export function planRemediation(input: {
  findings: Finding[];
  settings: RemediationSettings;
  now: Date;
  activeKeys: ReadonlyMap<string, number>;
}): RemediationPlan {
  const { items, notDue } = dueFindings(input.findings, input.settings, input.now);
  return { ...limitBlastRadius(items, input.settings, input.activeKeys), notDue };
}
