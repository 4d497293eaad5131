import { readFileSync } from "node:fs";
import type { DeliveryReport as DeliverySummary } from "../actions/notify/deliver.js";
import type { AccountTarget } from "../cloud/target.js";
import type { Config } from "../config/schema.js";
import { type AccountResult, reconcileSnapshot, scanAccounts } from "../engine/scan.js";
import { UserError } from "../errors.js";
import type { Finding } from "../model/finding.js";
import type { AccessKey, AccountSnapshot } from "../model/observations.js";
import { parseCredentialReport, reportText, snapshotsFromReport } from "../sources/credential-report.js";
import type { RunContext } from "./context.js";
import { deliverAfterRun } from "./delivery.js";

export type ScanInput =
  /** Read accounts through AWS (all configured accounts, or only these). */
  | { kind: "aws"; accounts?: string[] | undefined; mode?: Config["aws"]["mode"] | undefined }
  /** Judge snapshots already read (an offline credential report). */
  | { kind: "snapshots"; snapshots: AccountSnapshot[] }
  /** Read these resolved accounts through AWS (a queued job). */
  | { kind: "targets"; targets: AccountTarget[] };

export interface ScanOptions {
  /** Deliver the outbox at the end (false: queue only, --no-notify). */
  notify: boolean;
  /** The run record's command name. */
  command?: string | undefined;
  /** Told how many accounts will be read, before any is (progress). */
  onStart?: ((accounts: number) => void) | undefined;
  onAccount?: ((r: AccountResult) => void) | undefined;
}

export interface ScanAccountReport {
  account: AccountTarget;
  ok: boolean;
  error?: string | undefined;
  summary: AccountResult["summary"];
  warnings: string[];
}

export interface ScanReport {
  runId: string;
  now: string;
  whatIf: boolean;
  accounts: ScanAccountReport[];
  /** Open findings of the accounts read successfully. */
  findings: Finding[];
  /** Keys observed, for metrics outputs (influx). */
  keys: AccessKey[];
  /** Delivered/failed/pending after the run's delivery; absent when nothing was delivered. */
  delivery?: DeliverySummary | undefined;
  /** In a what-if: notifications that would have been sent. */
  wouldNotify?: number | undefined;
}

/**
 * Reads an offline credential report into snapshots, before any store is opened: bad input
 * leaves the store untouched.
 */
export function readCredentialReport(file: string, config: Config, only?: string[]): AccountSnapshot[] {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const aliases: Record<string, string | undefined> = {};
  for (const a of config.accounts) if ("id" in a) aliases[a.id] = a.alias;
  const snapshots = snapshotsFromReport(parseCredentialReport(reportText(raw, file), file), aliases);
  if (!only?.length) return snapshots;
  for (const id of only) {
    if (!snapshots.some((s) => s.account.id === id))
      throw new UserError(`unknown account ${id}: not in ${file}`);
  }
  return snapshots.filter((s) => only.includes(s.account.id));
}

async function scanSnapshots(ctx: RunContext, snapshots: AccountSnapshot[], opts: ScanOptions) {
  const results: AccountResult[] = [];
  opts.onStart?.(snapshots.length);
  for (const snapshot of snapshots) {
    // Offline there is no ListAccessKeys to learn key ids from: say so on every finding.
    for (const k of snapshot.keys) k.matchNote ??= "offline credential report: the report carries no key ids";
    const r = await reconcileSnapshot(snapshot, ctx.config, {
      store: ctx.store,
      route: ctx.route,
      now: ctx.now,
      runId: ctx.runId,
    });
    const result: AccountResult = { account: snapshot.account, ok: true, snapshot, ...r };
    results.push(result);
    opts.onAccount?.(result);
  }
  return results;
}

async function scanAws(
  ctx: RunContext,
  input: Exclude<ScanInput, { kind: "snapshots" }>,
  opts: ScanOptions,
): Promise<AccountResult[]> {
  const config: Config =
    input.kind === "aws" && input.mode
      ? { ...ctx.config, aws: { ...ctx.config.aws, mode: input.mode } }
      : ctx.config;
  const factory = await ctx.aws();
  const { awsAccountReader } = await import("../sources/aws/reader.js");
  let targets: AccountTarget[];
  if (input.kind === "targets") targets = input.targets;
  else {
    const { resolveTargets } = await import("../cloud/aws/targets.js");
    targets = await resolveTargets(config, factory, { only: input.accounts });
  }
  opts.onStart?.(targets.length);
  return scanAccounts(targets, awsAccountReader(config, factory), config, {
    store: ctx.store,
    route: ctx.route,
    now: ctx.now,
    runId: ctx.runId,
    onAccount: opts.onAccount,
  });
}

/**
 * A scan: read the accounts (or take snapshots), judge their keys, reconcile findings, deliver
 * the outbox, all inside one run record.
 */
export async function runScan(ctx: RunContext, input: ScanInput, opts: ScanOptions): Promise<ScanReport> {
  const { store } = ctx;
  await store.startRun({
    id: ctx.runId,
    command: opts.command ?? "scan",
    actor: ctx.actor,
    startedAt: ctx.now.toISOString(),
  });
  const results =
    input.kind === "snapshots"
      ? await scanSnapshots(ctx, input.snapshots, opts)
      : await scanAws(ctx, input, opts);
  const read = results.filter((r) => r.ok).map((r) => r.account.id);
  const findings = read.length ? await store.listFindings({ account: read, status: ["open"] }) : [];
  const { delivery, wouldNotify } = await deliverAfterRun(ctx, opts.notify);
  await store.finishRun(ctx.runId, new Date().toISOString(), {
    accounts: results.map((r) => ({ id: r.account.id, ok: r.ok, error: r.error, ...r.summary })),
    delivery,
  });
  return {
    runId: ctx.runId,
    now: ctx.now.toISOString(),
    whatIf: ctx.whatIf,
    accounts: results.map((r) => ({
      account: r.account,
      ok: r.ok,
      error: r.error,
      summary: r.summary,
      warnings: r.snapshot?.warnings ?? [],
    })),
    findings,
    keys: results.flatMap((r) => r.snapshot?.keys ?? []),
    delivery,
    wouldNotify,
  };
}
