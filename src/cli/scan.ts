import { readFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { type Command, Option } from "commander";
import type { AccountTarget } from "../cloud/target.js";
import type { Config } from "../config/schema.js";
import { noRoutes, routerFromConfig } from "../engine/routing.js";
import { type AccountResult, reconcileSnapshot, scanAccounts } from "../engine/scan.js";
import { EXIT, UserError } from "../errors.js";
import { type Finding, SEVERITIES, type Severity, severityRank } from "../model/finding.js";
import type { AccessKey, AccountSnapshot } from "../model/observations.js";
import { findingsCsv } from "../outputs/findings-csv.js";
import { findingsTable } from "../outputs/findings-table.js";
import { influxLines } from "../outputs/influx.js";
import { presentFinding } from "../outputs/present.js";
import { parseCredentialReport, reportText, snapshotsFromReport } from "../sources/credential-report.js";
import type { Store } from "../store/store.js";
import { collect, context, formatOption, type GlobalOptions, type RunContext } from "./context.js";

interface ScanOptions {
  account?: string[];
  mode?: Config["aws"]["mode"];
  credentialReport?: string;
  format: "table" | "json" | "csv" | "influx";
  notify: boolean;
  failOn?: Severity;
}

/** Reads an offline credential report before anything touches the store. */
function readReport(file: string, config: Config, only?: string[]): AccountSnapshot[] {
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

async function scanOffline(snapshots: AccountSnapshot[], ctx: RunContext, store: Store, route = noRoutes) {
  const results: AccountResult[] = [];
  for (const snapshot of snapshots) {
    // Offline there is no ListAccessKeys to learn key ids from: say so on every finding.
    for (const k of snapshot.keys) k.matchNote ??= "offline credential report: the report carries no key ids";
    const r = await reconcileSnapshot(snapshot, ctx.loaded.config, {
      store,
      route,
      now: ctx.now,
      runId: ctx.runId,
    });
    results.push({ account: snapshot.account, ok: true, snapshot, ...r });
  }
  return results;
}

async function scanOnline(ctx: RunContext, store: Store, opts: ScanOptions, route = noRoutes) {
  const config: Config = opts.mode
    ? { ...ctx.loaded.config, aws: { ...ctx.loaded.config.aws, mode: opts.mode } }
    : ctx.loaded.config;
  const { awsClientFactory } = await import("../cloud/aws/clients.js");
  const { resolveTargets } = await import("../cloud/aws/targets.js");
  const { awsAccountReader } = await import("../sources/aws/reader.js");
  const factory = awsClientFactory(config.aws);
  const targets: AccountTarget[] = await resolveTargets(config, factory, { only: opts.account });
  const bar =
    targets.length > 1 && process.stderr.isTTY && opts.format !== "influx"
      ? new SingleBar({
          stream: process.stderr,
          format: "scanning {bar} {value}/{total} accounts {eta_formatted}",
        })
      : undefined;
  bar?.start(targets.length, 0);
  try {
    return await scanAccounts(targets, awsAccountReader(config, factory), config, {
      store,
      route,
      now: ctx.now,
      runId: ctx.runId,
      onAccount: () => bar?.increment(),
    });
  } finally {
    bar?.stop();
  }
}

function exitCode(results: AccountResult[], open: Finding[], failOn?: Severity): number {
  const failed = results.filter((r) => !r.ok).length;
  if (failed) return failed === results.length ? EXIT.error : EXIT.partial;
  if (failOn && open.some((f) => severityRank(f.severity) >= severityRank(failOn))) return EXIT.findings;
  return EXIT.ok;
}

function summaryLine(results: AccountResult[], open: Finding[]): string {
  const t = results.reduce(
    (a, r) => ({
      opened: a.opened + r.summary.opened + r.summary.reopened,
      resolved: a.resolved + r.summary.resolved,
      suppressed: a.suppressed + r.summary.suppressed,
    }),
    { opened: 0, resolved: 0, suppressed: 0 },
  );
  const failed = results.filter((r) => !r.ok).length;
  return (
    `Scanned ${results.length} account${results.length === 1 ? "" : "s"}` +
    `${failed ? ` (${failed} failed)` : ""}: ${open.length} open finding${open.length === 1 ? "" : "s"}, ` +
    `${t.opened} new, ${t.resolved} resolved, ${t.suppressed} newly suppressed.`
  );
}

export function register(program: Command): void {
  program
    .command("scan")
    .description("read accounts, judge their access keys, and reconcile findings in the store")
    .option("-a, --account <id>", "scan only this account (repeatable)", collect)
    .addOption(new Option("--mode <mode>", "how to read IAM").choices(["api", "credential-report", "auto"]))
    .option("--credential-report <file>", "judge a saved credential report offline (no AWS access)")
    .addOption(formatOption(["table", "json", "csv", "influx"]))
    .option("--no-notify", "queue notifications but do not deliver them now")
    .addOption(
      new Option("--fail-on <severity>", "exit 1 when an open finding is at or above").choices([
        ...SEVERITIES,
      ]),
    )
    .action(async (opts: ScanOptions, cmd: Command) => {
      const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
      const config = ctx.loaded.config;
      // Parse offline input fully before the store is opened: bad input leaves the store untouched.
      const offline = opts.credentialReport
        ? readReport(opts.credentialReport, config, opts.account)
        : undefined;
      const route = routerFromConfig(config.notify);
      const store = await ctx.openStore();
      try {
        await store.startRun({
          id: ctx.runId,
          command: "scan",
          actor: ctx.actor,
          startedAt: ctx.now.toISOString(),
        });
        const results = offline
          ? await scanOffline(offline, ctx, store, route)
          : await scanOnline(ctx, store, opts, route);
        const accounts = results.filter((r) => r.ok).map((r) => r.account.id);
        const open = accounts.length ? await store.listFindings({ account: accounts, status: ["open"] }) : [];
        let delivery: Record<string, number> | undefined;
        if (opts.notify) {
          const { deliverOutbox } = await import("../actions/notify/deliver.js");
          delivery = await deliverOutbox(store, config, { now: ctx.now, baseDir: ctx.loaded.baseDir });
        }
        await store.finishRun(ctx.runId, new Date().toISOString(), {
          accounts: results.map((r) => ({ id: r.account.id, ok: r.ok, error: r.error, ...r.summary })),
          delivery,
        });

        for (const r of results) {
          if (!r.ok) process.stderr.write(`iamwarden: account ${r.account.id}: ${r.error}\n`);
          for (const w of r.snapshot?.warnings ?? [])
            process.stderr.write(`iamwarden: account ${r.account.id}: ${w}\n`);
        }
        const shown = open.map((f) => presentFinding(f, ctx.showKeyIds));
        if (opts.format === "influx") {
          const keys: AccessKey[] = results.flatMap((r) => r.snapshot?.keys ?? []);
          process.stdout.write(influxLines(keys, config.checks["key-age"], ctx.now));
        } else if (opts.format === "json") {
          const doc = {
            runId: ctx.runId,
            now: ctx.now.toISOString(),
            accounts: results.map((r) => ({
              id: r.account.id,
              alias: r.account.alias,
              ok: r.ok,
              error: r.error,
              summary: r.summary,
            })),
            findings: shown,
            delivery,
          };
          process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        } else if (opts.format === "csv") {
          process.stdout.write(findingsCsv(shown));
        } else {
          process.stdout.write(findingsTable(shown));
          process.stderr.write(`${summaryLine(results, open)}\n`);
        }
        process.exitCode = exitCode(results, open, opts.failOn);
      } finally {
        await store.close();
      }
    });
}
