import pLimit from "p-limit";
import type { Config } from "../../config/schema.js";
import type { OutboxItem } from "../../model/outbox.js";
import type { Store } from "../../store/store.js";
import { maskKeyIdsIn } from "../../util/mask.js";
import type { Channel, ChannelContext, DeliveryError, NotifyLog } from "./channel.js";
import { permanentError, silentLog } from "./channel.js";
import { channelsFromConfig } from "./channels.js";
import { loadOwnerMap, type OwnerMap, recipientsFor } from "./owners.js";
import { asDeliveryError, backoffMs } from "./retry.js";

export type DeliverySummary = { delivered: number; failed: number; pending: number };

/**
 * One channel's share of a delivery run. pending: tried and waiting for a retry, held back behind
 * an earlier item, or due but beyond the run's limit; notYetDue: waiting for a later attempt
 * (backoff or Retry-After) and not tried in this run (`all` sends them now).
 */
export interface ChannelTally extends DeliverySummary {
  notYetDue: number;
}

/** What a delivery run did, in total and per channel (every configured one, and any an item names). */
export interface DeliveryReport extends ChannelTally {
  /** Permanently failed items put back in the queue first (retryFailed). */
  requeued: number;
  channels: Record<string, ChannelTally>;
}

export interface DeliveryOutcome {
  item: OutboxItem;
  /** retry: failed, tried again later; deferred: not tried (an earlier item or the channel is waiting). */
  result: "delivered" | "failed" | "retry" | "deferred";
  note?: string | undefined;
  error?: string | undefined;
  nextAttemptAt?: string | undefined;
}

export interface DeliverOptions {
  /** The run's clock (--now): what is due, and when retries are. */
  now: Date;
  /** Send items waiting for a later attempt now too (also items leased by a worker still running). */
  all?: boolean;
  /** Put permanently failed items back in the queue first (after fixing their cause). */
  retryFailed?: boolean;
  /** Most items taken in one run. */
  limit?: number;
  /** By channel name; built from config when absent. */
  channels?: Record<string, Channel>;
  log?: NotifyLog;
  /** Where relative paths in the config (owners.users) resolve: the config file's folder. */
  baseDir?: string | undefined;
  /** Findings×channels delivered at once; items of one finding on one channel go in order. */
  concurrency?: number;
  onOutcome?: (o: DeliveryOutcome) => void;
}

/** After this many retryable failures in a row a channel is left alone until the next run. */
const PAUSE_AFTER = 3;
const MAX_ERROR_CHARS = 1000;

const cleanError = (e: DeliveryError) => maskKeyIdsIn(e.message).slice(0, MAX_ERROR_CHARS);
/** Later than any next attempt: `all` takes every pending item. */
const END_OF_TIME = "9999-12-31T23:59:59.999Z";

/**
 * Delivers due outbox items: at least once, in order per finding and channel, each marked
 * delivered or failed (permanently, or with its next attempt after exponential backoff or the
 * service's Retry-After). Items are claimed with a lease (store.dueOutbox), so an item left
 * untried here (deferred) or held by a worker that died is due again when the lease runs out.
 * Errors of the store itself are not caught: channels are idempotent, so a later run finishes.
 */
export async function deliverOutbox(
  store: Store,
  config: Config,
  opts: DeliverOptions,
): Promise<DeliveryReport> {
  const nowIso = opts.now.toISOString();
  const dueBy = opts.all ? END_OF_TIME : nowIso;
  const log = opts.log ?? silentLog;
  // Config mistakes (templates, the owners file) surface before any item is claimed.
  const channels = opts.channels ?? (await channelsFromConfig(config));
  const owners: OwnerMap = loadOwnerMap(config.owners.users, opts.baseDir ?? ".");

  const summary: DeliveryReport = {
    delivered: 0,
    failed: 0,
    pending: 0,
    notYetDue: 0,
    requeued: 0,
    channels: {},
  };
  const tally = (channel: string): ChannelTally =>
    (summary.channels[channel] ??= { delivered: 0, failed: 0, pending: 0, notYetDue: 0 });
  for (const name of Object.keys(channels)) tally(name);

  if (opts.retryFailed) {
    for (const o of await store.listOutbox({ status: ["failed"] })) {
      await store.markFailed(o.id, o.lastError ?? "requeued", nowIso, false);
      summary.requeued++;
    }
  }
  // What waits before this run claims anything: the not-yet-due part is reported as such.
  const waiting = await store.listOutbox({ status: ["pending"] });
  const due = await store.dueOutbox(nowIso, opts.limit ?? 500, dueBy);
  const claimed = new Set(due.map((o) => o.id));
  for (const o of waiting) {
    if (claimed.has(o.id)) continue;
    const later = o.nextAttemptAt > dueBy;
    const t = tally(o.channel);
    if (later) t.notYetDue++;
    else t.pending++;
    if (later) summary.notYetDue++;
    else summary.pending++;
  }
  if (!due.length) return summary;
  const report = (o: DeliveryOutcome) => {
    const t = tally(o.item.channel);
    const key = o.result === "delivered" ? "delivered" : o.result === "failed" ? "failed" : "pending";
    t[key]++;
    summary[key]++;
    opts.onOutcome?.(o);
  };

  // A channel in trouble is paused for the rest of the run instead of being hammered.
  const streak = new Map<string, number>();
  const paused = new Map<string, string>();

  const groups = new Map<string, OutboxItem[]>();
  for (const item of due) {
    const k = `${item.findingId}\0${item.channel}`;
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }

  const fail = async (item: OutboxItem, e: DeliveryError): Promise<"failed" | "retry"> => {
    const error = cleanError(e);
    if (e.permanent) {
      await store.markFailed(item.id, error, nowIso, true);
      report({ item, result: "failed", error });
      log.warn({ outbox: item.id, channel: item.channel, event: item.event, error }, "notification failed");
      return "failed";
    }
    const delay = e.retryAfterMs ?? backoffMs(item.attempts);
    const next = new Date(opts.now.getTime() + delay).toISOString();
    await store.markFailed(item.id, error, next, false);
    report({ item, result: "retry", error, nextAttemptAt: next });
    log.warn(
      { outbox: item.id, channel: item.channel, event: item.event, error, next },
      "notification will be retried",
    );
    const n = (streak.get(item.channel) ?? 0) + 1;
    streak.set(item.channel, n);
    if (e.retryAfterMs !== undefined || n >= PAUSE_AFTER) paused.set(item.channel, error);
    return "retry";
  };

  const deliverGroup = async (items: OutboxItem[]) => {
    const first = items[0]!;
    // An earlier item of this finding on this channel still waiting (not due yet) goes first.
    const earlier = (await store.listOutbox({ status: ["pending"], findingId: first.findingId })).some(
      (o) => o.channel === first.channel && o.id < first.id,
    );
    let blocked = earlier ? "an earlier notification of this finding is waiting for its retry" : undefined;
    for (const item of items) {
      const pause = paused.get(item.channel);
      if (blocked || pause) {
        report({ item, result: "deferred", note: blocked ?? `${item.channel} is failing: ${pause}` });
        continue;
      }
      const finding = await store.getFinding(item.findingId);
      if (!finding || finding.id !== item.findingId) {
        await fail(item, permanentError(`finding ${item.findingId} is not in the store`));
        continue;
      }
      const channel = channels[item.channel];
      if (!channel) {
        await fail(item, permanentError(`channel ${item.channel} is not configured or not enabled`));
        continue;
      }
      const ctx: ChannelContext = {
        now: opts.now,
        recipients: recipientsFor(finding, config, owners),
        log,
        mergeTickets: async (patch) => {
          await store.mergeTickets(finding.id, patch);
          finding.tickets = { ...finding.tickets, ...patch };
        },
      };
      let outcome: { tickets?: Record<string, unknown>; note?: string };
      try {
        outcome = await channel.send(item, finding, ctx);
      } catch (e) {
        if ((await fail(item, asDeliveryError(e))) === "retry") blocked = "an earlier notification failed";
        continue;
      }
      streak.set(item.channel, 0);
      if (outcome.tickets) await store.mergeTickets(finding.id, outcome.tickets);
      await store.markDelivered(item.id, nowIso);
      report({ item, result: "delivered", note: outcome.note });
      log.info({ outbox: item.id, channel: item.channel, event: item.event, note: outcome.note }, "notified");
    }
  };

  const limit = pLimit(opts.concurrency ?? 4);
  await Promise.all([...groups.values()].map((items) => limit(() => deliverGroup(items))));
  return summary;
}
