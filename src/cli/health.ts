import type { Command } from "commander";
import { routerFromConfig } from "../engine/routing.js";
import { EXIT, UserError } from "../errors.js";
import { findingsTable } from "../outputs/findings-table.js";
import { presentFinding } from "../outputs/present.js";
import { type HealthReport, runHealth } from "../run/health.js";
import { context, formatOption, type GlobalOptions } from "./context.js";

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

export function register(program: Command): void {
  program
    .command("health")
    .description("evaluate the iam-health check once (Prometheus) and page the owning team")
    .addOption(formatOption(["table", "json"]))
    .option("--no-notify", "queue notifications but do not deliver them now")
    .action(async (opts: { format: string; notify: boolean }, cmd: Command) => {
      const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
      const config = ctx.loaded.config;
      const settings = config.checks["iam-health"];
      if (!settings?.enabled)
        throw new UserError("the iam-health check is not configured (checks.iam-health)");
      const store = await ctx.openStore();
      try {
        const report = await runHealth(settings, {
          store,
          route: routerFromConfig(config.notify),
          now: ctx.now,
          runId: ctx.runId,
          actor: ctx.actor,
        });
        let delivery: { delivered: number; failed: number; pending: number } | undefined;
        if (opts.notify && report.status !== "error") {
          const { deliverOutbox } = await import("../actions/notify/deliver.js");
          delivery = await deliverOutbox(store, config, { now: ctx.now, baseDir: ctx.loaded.baseDir });
        }
        const shown = report.open.map((f) => presentFinding(f, ctx.showKeyIds));
        if (opts.format === "json")
          process.stdout.write(`${JSON.stringify({ ...report, open: shown, delivery }, null, 2)}\n`);
        else {
          if (shown.length) process.stdout.write(findingsTable(shown));
          process.stderr.write(`${statusLine(report)}\n`);
          if (delivery?.failed || delivery?.pending)
            process.stderr.write(
              `iamwarden: notifications: ${delivery.delivered} delivered, ${delivery.failed} failed, ${delivery.pending} pending\n`,
            );
        }
        process.exitCode = exitCode(report, Boolean(delivery && (delivery.failed || delivery.pending)));
      } finally {
        await store.close();
      }
    });
}
