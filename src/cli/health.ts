import type { Command } from "commander";
import { EXIT, UserError } from "../errors.js";
import { findingsTable } from "../outputs/findings-table.js";
import { presentFinding } from "../outputs/present.js";
import { deliverAfterRun } from "../run/delivery.js";
import { type HealthReport, runHealth } from "../run/health.js";
import { formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";

// `iamwarden health`: one evaluation of the iam-health check. Exit 0 healthy, 1 an open
// iam-health finding (a failing category or no data), 2 the evaluation failed (Prometheus
// unreachable or answering an error: nothing was resolved), 3 evaluated but a page failed.

function exitCode(report: HealthReport, deliveryFailed: boolean): number {
  if (report.status === "error") return EXIT.error;
  if (deliveryFailed) return EXIT.partial;
  return report.open.length ? EXIT.findings : EXIT.ok;
}

function statusLine(r: HealthReport): string {
  const s = r.summary;
  const changes = `${s.opened + s.reopened} opened, ${s.resolved} resolved`;
  switch (r.status) {
    case "error":
      return `IAM health: evaluation failed, nothing changed: ${r.error}`;
    case "no-data":
      return `IAM health: no data (${r.emptyStreak} empty evaluation${r.emptyStreak === 1 ? "" : "s"} in a row); ${changes}.`;
    case "failing":
      return `IAM health: failing (${r.series} series); ${changes}.`;
    default:
      return `IAM health: healthy (${r.series} series); ${changes}.`;
  }
}

export function register(program: Command, cli: Cli): void {
  program
    .command("health")
    .description("evaluate the iam-health check once (Prometheus) and page the owning team")
    .addOption(formatOption(["table", "json"]))
    .option("--no-notify", "queue notifications but do not deliver them now")
    .action(async (opts: { format: string; notify: boolean }, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const check = s.loaded.config.checks["iam-health"];
      if (!check.enabled)
        throw new UserError("the iam-health check is not configured (checks.iam-health.prometheus)");
      const { report, delivery, wouldNotify } = await withRun(cli, s, "write", async (ctx) => {
        const report = await runHealth(check, ctx);
        // A failed evaluation changed nothing: there is nothing new to page about.
        const d = report.status === "error" ? {} : await deliverAfterRun(ctx, opts.notify);
        return { report, ...d };
      });
      const shown = report.open.map((f) => presentFinding(f, s.showKeyIds));
      if (opts.format === "json")
        cli.stdout.write(`${JSON.stringify({ ...report, open: shown, delivery, wouldNotify }, null, 2)}\n`);
      else {
        if (shown.length) cli.stdout.write(findingsTable(shown));
        cli.stderr.write(`${statusLine(report)}\n`);
        if (delivery?.failed || delivery?.pending)
          cli.stderr.write(
            `iamwarden: notifications: ${delivery.delivered} delivered, ${delivery.failed} failed, ${delivery.pending} pending\n`,
          );
        if (s.whatIf) cli.stderr.write(whatIfLine(s.now));
      }
      cli.exitCode = exitCode(report, Boolean(delivery && (delivery.failed || delivery.pending)));
    });
}
