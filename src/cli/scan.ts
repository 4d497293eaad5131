import { type Command, Option } from "commander";
import type { Config } from "../config/schema.js";
import { EXIT } from "../errors.js";
import { SEVERITIES, type Severity, severityRank } from "../model/finding.js";
import { deliveryLine } from "../outputs/delivery.js";
import { findingTotals } from "../outputs/findings-table.js";
import { FINDING_FORMAT_NAMES, renderFindings } from "../outputs/formats.js";
import { influxLines } from "../outputs/influx.js";
import { presentFinding } from "../outputs/present.js";
import { readCredentialReport, runScan, type ScanInput, type ScanReport } from "../run/scan.js";
import { safeText } from "../util/terminal.js";
import { VERSION } from "../version.js";
import { collect, formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";
import { accountBar } from "./progress.js";

interface ScanFlags {
  account?: string[];
  mode?: Config["aws"]["mode"];
  credentialReport?: string;
  format: string;
  notify: boolean;
  quiet?: boolean;
  failOn?: Severity;
}

function exitCode(r: ScanReport, failOn?: Severity): number {
  const failed = r.accounts.filter((a) => !a.ok).length;
  if (failed) return failed === r.accounts.length ? EXIT.error : EXIT.partial;
  if (failOn && r.findings.some((f) => severityRank(f.severity) >= severityRank(failOn)))
    return EXIT.findings;
  return EXIT.ok;
}

function summaryLine(r: ScanReport): string {
  const t = r.accounts.reduce(
    (a, x) => ({
      opened: a.opened + x.summary.opened + x.summary.reopened,
      resolved: a.resolved + x.summary.resolved,
      suppressed: a.suppressed + x.summary.suppressed,
    }),
    { opened: 0, resolved: 0, suppressed: 0 },
  );
  const failed = r.accounts.filter((a) => !a.ok).length;
  const n = r.accounts.length;
  const open = r.findings.length;
  return (
    `Scanned ${n} account${n === 1 ? "" : "s"}${failed ? ` (${failed} failed)` : ""}: ` +
    `${open} open finding${open === 1 ? "" : "s"}, ` +
    `${t.opened} new, ${t.resolved} resolved, ${t.suppressed} newly suppressed.`
  );
}

function render(cli: Cli, r: ScanReport, flags: ScanFlags, showKeyIds: boolean, config: Config) {
  const { format } = flags;
  for (const a of r.accounts) {
    if (!a.ok) cli.stderr.write(`iamwarden: account ${a.account.id}: ${safeText(a.error ?? "failed")}\n`);
    for (const w of a.warnings) cli.stderr.write(`iamwarden: account ${a.account.id}: ${safeText(w)}\n`);
  }
  const shown = r.findings.map((f) => presentFinding(f, showKeyIds));
  if (format === "influx") {
    cli.stdout.write(influxLines(r.keys, config.checks["key-age"], new Date(r.now)));
  } else if (format === "json") {
    const doc = {
      runId: r.runId,
      now: r.now,
      ...(r.whatIf ? { whatIf: true, wouldNotify: r.wouldNotify } : {}),
      accounts: r.accounts.map((a) => ({
        id: a.account.id,
        alias: a.account.alias,
        ok: a.ok,
        error: a.error,
        summary: a.summary,
      })),
      findings: shown,
      delivery: r.delivery,
    };
    cli.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    cli.stdout.write(
      renderFindings(format, shown, {
        now: new Date(r.now),
        version: VERSION,
        region: config.aws.region,
        width: cli.stdout.isTTY ? cli.stdout.columns : undefined,
      }),
    );
    if (format === "table" && !flags.quiet) {
      if (shown.length > 10) cli.stderr.write(findingTotals(shown));
      cli.stderr.write(`${summaryLine(r)}\n`);
      if (deliveryLine(r.delivery ?? {})) cli.stderr.write(`${deliveryLine(r.delivery ?? {})}\n`);
    }
  }
  if (r.whatIf && format !== "json") {
    const n = r.wouldNotify ?? 0;
    cli.stderr.write(
      whatIfLine(new Date(r.now), n ? ` (${n} notification${n === 1 ? "" : "s"} would have been sent)` : ""),
    );
  }
}

export function register(program: Command, cli: Cli): void {
  program
    .command("scan")
    .description("read accounts, judge their access keys, and reconcile findings in the store")
    .option("-a, --account <id>", "scan only this account (repeatable)", collect)
    .addOption(new Option("--mode <mode>", "how to read IAM").choices(["api", "credential-report", "auto"]))
    .option("--credential-report <file>", "judge a saved credential report offline (no AWS access)")
    .addOption(formatOption([...FINDING_FORMAT_NAMES, "influx"]))
    .option("--no-notify", "queue notifications but do not deliver them now")
    .option("-q, --quiet", "no progress bar, totals or summary on stderr (errors still)")
    .addOption(
      new Option(
        "--fail-on <severity>",
        "exit 1 when an open finding is at or above this severity (account errors exit 2 or 3 first)",
      ).choices([...SEVERITIES]),
    )
    .action(async (flags: ScanFlags, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      // Parse offline input fully before the store is opened: bad input leaves the store untouched.
      const input: ScanInput = flags.credentialReport
        ? {
            kind: "snapshots",
            snapshots: readCredentialReport(flags.credentialReport, s.loaded.config, flags.account),
          }
        : { kind: "aws", accounts: flags.account, mode: flags.mode };
      const bar = await accountBar(cli, input.kind === "aws" && flags.format !== "influx" && !flags.quiet);
      const report = await withRun(cli, s, "write", async (ctx) => {
        try {
          return await runScan(ctx, input, {
            notify: flags.notify,
            onStart: (n) => bar?.start(n),
            onAccount: () => bar?.increment(),
          });
        } finally {
          bar?.stop();
        }
      });
      render(cli, report, flags, s.showKeyIds, s.loaded.config);
      cli.exitCode = exitCode(report, flags.failOn);
    });
}
