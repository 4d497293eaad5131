import Table from "cli-table3";
import type { Command } from "commander";
import type { DeliveryOutcome } from "../actions/notify/deliver.js";
import { EXIT, UserError } from "../errors.js";
import type { OutboxItem, OutboxStatus } from "../model/outbox.js";
import { commaList, context, formatOption, type GlobalOptions } from "./context.js";

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

export function register(program: Command): void {
  const outbox = program.command("outbox").description("notifications waiting, failed or delivered");

  outbox
    .command("list")
    .description("list outbox items (pending and failed by default)")
    .option("--status <status>", "pending, failed, delivered (repeatable or comma-separated)", commaList)
    .option("--finding <id>", "only this finding's notifications")
    .option("--channel <name>", "only this channel (repeatable)", commaList)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts, cmd: Command) => {
      const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
      const status = statuses(opts.status);
      const store = await ctx.openStore();
      try {
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
        if (opts.format === "json") process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        else process.stdout.write(outboxTable(items));
      } finally {
        await store.close();
      }
    });

  outbox
    .command("flush")
    .description("deliver due notifications now (at --now)")
    .option("--limit <n>", "at most this many items", positiveInt("--limit"))
    .option("--retry-failed", "put permanently failed items back in the queue first (after fixing the cause)")
    .addOption(formatOption(["table", "json"]))
    .action(async (opts, cmd: Command) => {
      const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
      const config = ctx.loaded.config;
      const { deliverOutbox } = await import("../actions/notify/deliver.js");
      const { channelsFromConfig } = await import("../actions/notify/channels.js");
      // Config mistakes (templates, channels) surface before the store is touched.
      const channels = channelsFromConfig(config);
      const store = await ctx.openStore();
      try {
        const now = ctx.now.toISOString();
        let requeued = 0;
        if (opts.retryFailed) {
          for (const o of await store.listOutbox({ status: ["failed"] })) {
            await store.markFailed(o.id, o.lastError ?? "requeued", now, false);
            requeued++;
          }
        }
        const outcomes: DeliveryOutcome[] = [];
        const summary = await deliverOutbox(store, config, {
          now: ctx.now,
          limit: opts.limit,
          channels,
          baseDir: ctx.loaded.baseDir,
          onOutcome: (o) => {
            outcomes.push(o);
            if (opts.format !== "json") process.stderr.write(`${outcomeLine(o)}\n`);
          },
        });
        if (opts.format === "json") {
          const items = outcomes.map((o) => ({
            id: o.item.id,
            channel: o.item.channel,
            event: o.item.event,
            findingId: o.item.findingId,
            result: o.result,
            note: o.note,
            error: o.error,
            nextAttemptAt: o.nextAttemptAt,
          }));
          process.stdout.write(`${JSON.stringify({ now, requeued, ...summary, items }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `${summary.delivered} delivered, ${summary.failed} failed, ${summary.pending} still pending${requeued ? ` (${requeued} requeued)` : ""}.\n`,
          );
        }
        process.exitCode = summary.failed || summary.pending ? EXIT.partial : EXIT.ok;
      } finally {
        await store.close();
      }
    });
}
