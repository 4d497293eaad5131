import type {
  DeliveryReport as ChannelsReport,
  DeliveryOutcome,
  DeliverySummary,
} from "../actions/notify/deliver.js";
import type { OutboxItem } from "../model/outbox.js";
import type { RunContext } from "./context.js";

export interface DeliveryOptions {
  /** Most items taken in one run. */
  limit?: number | undefined;
  /** Put permanently failed items back in the queue first (after their cause was fixed). */
  retryFailed?: boolean | undefined;
  /** Also send items waiting for a later retry, now. */
  all?: boolean | undefined;
  onOutcome?: ((o: DeliveryOutcome) => void) | undefined;
}

export interface DeliveryReport {
  now: string;
  whatIf: boolean;
  /** Failed items put back in the queue (retryFailed). */
  requeued: number;
  /** Totals, and per channel with what is not yet due (absent in a what-if). */
  summary: DeliverySummary & Partial<Omit<ChannelsReport, "requeued">>;
  outcomes: DeliveryOutcome[];
  /** In a what-if: the items that would have been tried (nothing is sent). */
  wouldDeliver: OutboxItem[];
}

/** Pending items whose next attempt is due at the run's clock: what a delivery would try. */
export async function dueItems(ctx: RunContext): Promise<OutboxItem[]> {
  const now = ctx.now.toISOString();
  return (await ctx.store.listOutbox({ status: ["pending"] })).filter((o) => o.nextAttemptAt <= now);
}

/**
 * Delivers due outbox items at the run's clock (`outbox flush`, a service's delivery tick). In a
 * what-if nothing is sent: the report lists what would be tried.
 */
export async function runDelivery(ctx: RunContext, opts: DeliveryOptions = {}): Promise<DeliveryReport> {
  const { deliverOutbox } = await import("../actions/notify/deliver.js");
  const { channelsFromConfig } = await import("../actions/notify/channels.js");
  // Config mistakes (templates, channels) surface before the store is touched.
  const channels = await channelsFromConfig(ctx.config);
  const now = ctx.now.toISOString();
  let requeued = 0;
  if (opts.retryFailed) {
    for (const o of await ctx.store.listOutbox({ status: ["failed"] })) {
      await ctx.store.markFailed(o.id, o.lastError ?? "requeued", now, false);
      requeued++;
    }
  }
  const report: DeliveryReport = {
    now,
    whatIf: ctx.whatIf,
    requeued,
    summary: { delivered: 0, failed: 0, pending: 0 },
    outcomes: [],
    wouldDeliver: [],
  };
  if (ctx.whatIf) {
    const due = await dueItems(ctx);
    report.wouldDeliver = opts.limit ? due.slice(0, opts.limit) : due;
    report.summary.pending = report.wouldDeliver.length;
    return report;
  }
  const { requeued: _r, ...delivered } = await deliverOutbox(ctx.store, ctx.config, {
    now: ctx.now,
    limit: opts.limit,
    all: opts.all,
    channels,
    baseDir: ctx.loaded.baseDir,
    onOutcome: (o) => {
      report.outcomes.push(o);
      opts.onOutcome?.(o);
    },
  });
  report.summary = delivered;
  return report;
}

/**
 * The delivery that ends a scan or an event run: at the run's clock, unless the caller keeps
 * notifications queued (--no-notify) or the run is a what-if (then it says how many would go).
 */
export async function deliverAfterRun(
  ctx: RunContext,
  notify: boolean,
): Promise<{ delivery?: ChannelsReport | undefined; wouldNotify?: number | undefined }> {
  if (ctx.whatIf) return { wouldNotify: notify ? (await dueItems(ctx)).length : 0 };
  if (!notify) return {};
  const { deliverOutbox } = await import("../actions/notify/deliver.js");
  return {
    delivery: await deliverOutbox(ctx.store, ctx.config, { now: ctx.now, baseDir: ctx.loaded.baseDir }),
  };
}
