import pLimit from "p-limit";
import { snapshotKnows } from "../checks/check.js";
import { stateChecks } from "../checks/registry.js";
import { describeAwsError } from "../cloud/aws/errors.js";
import type { AccountTarget } from "../cloud/target.js";
import type { Config } from "../config/schema.js";
import type { Candidate } from "../model/finding.js";
import type { AccountSnapshot } from "../model/observations.js";
import type { AccountReader } from "../sources/account-reader.js";
import type { Store } from "../store/store.js";
import { exceptionsFor, matchException } from "./exceptions.js";
import { emptySummary, type PlanSummary, planReconcile } from "./reconcile.js";
import type { Router } from "./routing.js";

export interface AccountResult {
  account: AccountTarget;
  ok: boolean;
  error?: string | undefined;
  snapshot?: AccountSnapshot | undefined;
  summary: PlanSummary;
  candidates: number;
}

export interface ScanDeps {
  store: Store;
  route: Router;
  now: Date;
  runId: string;
  /** Called as each account finishes (progress bars, logs). */
  onAccount?: (r: AccountResult) => void;
}

/** Settings of every check by name, as config holds them. */
export type ChecksSettings = Readonly<Record<string, { enabled: boolean } | undefined>>;

/**
 * The state checks enabled in config, applied to one snapshot. Pure. A check that reads what the
 * snapshot cannot know (root keys, logins in an api read) does not run, so it resolves nothing.
 */
export function runStateChecks(snapshot: AccountSnapshot, checks: ChecksSettings, now: Date) {
  const ran: string[] = [];
  const candidates: Candidate[] = [];
  for (const check of stateChecks()) {
    const settings = checks[check.name];
    if (!settings?.enabled || !check.reads.every((o) => snapshotKnows(snapshot, o))) continue;
    ran.push(check.name);
    candidates.push(...check.judge(snapshot, settings, now));
  }
  return { ran, candidates };
}

/**
 * Judges one account's snapshot and reconciles its findings in one transaction. A snapshot that
 * is not complete never resolves anything.
 */
export async function reconcileSnapshot(
  snapshot: AccountSnapshot,
  config: Config,
  deps: ScanDeps,
): Promise<{ summary: PlanSummary; candidates: number }> {
  const { ran, candidates } = runStateChecks(snapshot, config.checks, deps.now);
  // Tags decide exemptions; the reader sets them on the snapshot's users.
  const tags = new Map(snapshot.users.map((u) => [u.name, u.tags]));
  const entries = exceptionsFor(config.exceptions, snapshot.account.id);
  const result = await deps.store.reconcile({ account: snapshot.account.id, checks: ran }, (existing) =>
    planReconcile(existing, {
      account: snapshot.account.id,
      checks: ran,
      kind: "state",
      complete: snapshot.complete,
      candidates,
      suppress: (c) =>
        matchException(
          c,
          { entries, userTags: c.owner ? tags.get(c.owner) : undefined, exemptTags: config.exemptTags },
          deps.now,
        ),
      route: deps.route,
      renotifyHours: config.notify.slack?.renotifyHours ?? 24,
      now: deps.now,
      runId: deps.runId,
    }),
  );
  return {
    summary: (result as { summary?: PlanSummary }).summary ?? emptySummary(),
    candidates: candidates.length,
  };
}

/** Scans accounts with bounded concurrency; one account failing never stops the others. */
export async function scanAccounts(
  targets: AccountTarget[],
  reader: AccountReader,
  config: Config,
  deps: ScanDeps,
): Promise<AccountResult[]> {
  const limit = pLimit(config.aws.accountConcurrency);
  return Promise.all(
    targets.map((target) =>
      limit(async (): Promise<AccountResult> => {
        let result: AccountResult;
        try {
          const snapshot = await reader.read(target, { knownKeys: deps.store });
          const r = await reconcileSnapshot(snapshot, config, deps);
          result = { account: target, ok: true, snapshot, ...r };
        } catch (e) {
          result = {
            account: target,
            ok: false,
            error: describeAwsError(e),
            summary: emptySummary(),
            candidates: 0,
          };
        }
        deps.onAccount?.(result);
        return result;
      }),
    ),
  );
}
