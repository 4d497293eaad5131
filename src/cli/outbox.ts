import Table from "cli-table3";
import type { Command } from "commander";
import type { DeliveryOutcome } from "../actions/notify/deliver.js";
import { EXIT, UserError } from "../errors.js";
import type { OutboxItem, OutboxStatus } from "../model/outbox.js";
import { deliveryLine } from "../outputs/delivery.js";
import { runDelivery } from "../run/delivery.js";
import { commaList, formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";

const STATUSES: readonly OutboxStatus[] = ["pending", "failed", "delivered"];
const COMPACT = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" };

function statuses(values: string[] | undefined): OutboxStatus[] {
  for (const v of values ?? []) {
    if (!STATUSES.includes(v as OutboxStatus))
      throw new UserError(`--status: ${v} is not one of ${STATUSES.join(", ")}`);
  }
  return values?.length ? (values as OutboxStatus[]) : ["pending", "failed"];
}

const positiveInt = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag}: not a positive whole number: ${v}`);
  return n;
};

/** One row per item: what it is, where it stands, and why when it is stuck. */
function outboxTable(items: OutboxItem[]): string {
  if (!items.length) return "Nothing in the outbox.\n";
  const table = new Table({
    head: [
      "id",
      "status",
      "channel",
      "event",
      "attempts",
      "next attempt / delivered",
      "finding",
      "last error",
    ],
    chars: COMPACT,
    style: { head: [], border: [], compact: true },
  });
  for (const o of items) {
    table.push([
      String(o.id),
      o.status,
      o.channel,
      o.event,
      String(o.attempts),
      o.status === "delivered" ? (o.deliveredAt ?? "") : o.status === "pending" ? o.nextAttemptAt : "",
      o.findingId,
      (o.lastError ?? "").slice(0, 120),
    ]);
  }
  return `${table.toString()}\n`;
}

function outcomeLine(o: DeliveryOutcome): string {
  const what = `#${o.item.id} ${o.item.channel} ${o.item.event} ${o.item.findingId}`;
  if (o.result === "delivered") return `delivered ${what}${o.note ? `: ${o.note}` : ""}`;
  if (o.result === "failed") return `FAILED    ${what}: ${o.error}`;
  if (o.result === "retry") return `retry     ${what} at ${o.nextAttemptAt}: ${o.error}`;
  return `deferred  ${what}: ${o.note}`;
}

export function register(program: Command, cli: Cli): void {
  const outbox = program.command("outbox").description("notifications waiting, failed or delivered");

  outbox
    .command("list")
    .description("list outbox items (pending and failed by default)")
    .option("--status <status>", "pending, failed, delivered (repeatable or comma-separated)", commaList)
    .option("--finding <id>", "only this finding's notifications")
    .option("--channel <name>", "only this channel (repeatable)", commaList)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const status = statuses(opts.status);
      await withRun(cli, s, "read", async ({ store }) => {
        let findingId: string | undefined;
        if (opts.finding) {
          const f = await store.getFinding(opts.finding);
          if (!f) throw new UserError(`no finding matches ${opts.finding}`);
          findingId = f.id;
        }
        const channels: string[] | undefined = opts.channel;
        const items = (await store.listOutbox({ status, findingId })).filter(
          (o) => !channels?.length || channels.includes(o.channel),
        );
        if (opts.format === "json") cli.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        else cli.stdout.write(outboxTable(items));
      });
    });

  outbox
    .command("flush")
    .description("deliver due notifications now (at --now)")
    .option("--limit <n>", "at most this many items", positiveInt("--limit"))
    .option("--retry-failed", "put permanently failed items back in the queue first (after fixing the cause)")
    .option("--all", "also send items waiting for a later retry, now")
    .addOption(formatOption(["table", "json"]))
    .action(async (opts, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const report = await withRun(cli, s, "change", (ctx) =>
        runDelivery(ctx, {
          limit: opts.limit,
          all: Boolean(opts.all),
          retryFailed: opts.retryFailed,
          onOutcome: (o) => {
            if (opts.format !== "json") cli.stderr.write(`${outcomeLine(o)}\n`);
          },
        }),
      );
      const { now, requeued, summary } = report;
      if (opts.format === "json") {
        const items = report.outcomes.map((o) => ({
          id: o.item.id,
          channel: o.item.channel,
          event: o.item.event,
          findingId: o.item.findingId,
          result: o.result,
          note: o.note,
          error: o.error,
          nextAttemptAt: o.nextAttemptAt,
        }));
        const whatIf = report.whatIf
          ? {
              whatIf: true,
              wouldDeliver: report.wouldDeliver.map((o) => ({
                id: o.id,
                channel: o.channel,
                event: o.event,
                findingId: o.findingId,
              })),
            }
          : {};
        cli.stdout.write(`${JSON.stringify({ now, ...whatIf, requeued, ...summary, items }, null, 2)}\n`);
      } else if (report.whatIf) {
        for (const o of report.wouldDeliver)
          cli.stderr.write(`would send #${o.id} ${o.channel} ${o.event} ${o.findingId}\n`);
        cli.stdout.write(
          `${report.wouldDeliver.length} would be sent${requeued ? ` (${requeued} requeued)` : ""}.\n`,
        );
        cli.stderr.write(whatIfLine(s.now));
      } else {
        const later = summary.notYetDue ? `; ${summary.notYetDue} not yet due (--all sends them now)` : "";
        cli.stdout.write(
          `${summary.delivered} delivered, ${summary.failed} failed, ${summary.pending} still pending${requeued ? ` (${requeued} requeued)` : ""}${later}.\n`,
        );
        if (deliveryLine(summary)) cli.stdout.write(`${deliveryLine(summary)}\n`);
      }
      cli.exitCode = summary.failed || (summary.pending && !report.whatIf) ? EXIT.partial : EXIT.ok;
    });
}
