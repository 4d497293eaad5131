import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from "@slack/web-api";
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError } from "@slack/webhook";
import type { z } from "zod";
import type { Finding } from "../../model/finding.js";
import type { OutboxItem } from "../../model/outbox.js";
import {
  type Channel,
  type ChannelContext,
  DeliveryError,
  permanentError,
  transientError,
} from "./channel.js";
import { type SlackMessage, slackMessage } from "./messages.js";
import { asDeliveryError, httpError } from "./retry.js";
import type { slackSettings } from "./settings.js";

export type SlackSettings = z.infer<typeof slackSettings>;

export interface SlackOptions {
  templates: Record<string, string>;
  jiraUrl?: string | undefined;
  timeoutMs?: number;
}

// Slack answers most errors with HTTP 200 and ok:false. These few can pass by themselves;
// every other error code (channel_not_found, invalid_auth, not_in_channel…) needs a person.
const TRANSIENT = new Set([
  "ratelimited",
  "rate_limited",
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
  "team_added_to_org",
]);
/** A DM that cannot be sent does not fail the item: the channels still hear about it. */
const DM_UNREACHABLE = new Set([
  "users_not_found",
  "user_not_found",
  "user_disabled",
  "cannot_dm_bot",
  "missing_scope",
]);

function slackFailure(method: string, e: unknown): DeliveryError {
  if (e instanceof WebAPIPlatformError) {
    const code = e.data.error;
    return new DeliveryError(`slack ${method}: ${code}`, !TRANSIENT.has(code), undefined, code);
  }
  if (e instanceof WebAPIRateLimitedError)
    return transientError(`slack ${method}: rate limited`, e.retryAfter * 1000);
  if (e instanceof WebAPIHTTPError)
    return httpError(`slack ${method}`, e.statusCode, String(e.body ?? ""), e.headers["retry-after"]);
  if (e instanceof WebAPIRequestError) return transientError(`slack ${method}: ${e.original.message}`);
  return asDeliveryError(e);
}

/**
 * Progress of one item across several destinations, written before the first post: finding it
 * again for the same item means an earlier attempt may have posted without hearing back.
 */
interface SlackProgress {
  item: number;
  sent: string[];
}

/** The metadata event every message carries, so a retry can find what an earlier try posted. */
export const SLACK_EVENT_TYPE = "iamwarden_notification";
/** How many of a conversation's newest messages are searched before re-posting after a doubt. */
const HISTORY_LIMIT = 100;
const CONVERSATION_ID = /^[CGD][A-Z0-9]{6,}$/;

const SLACK_USER_ID = /^[UW][A-Z0-9]{6,}$/;

/**
 * Slack through the Web API (bot token: owner channels and a DM to the key's owner) or an
 * incoming webhook (one fixed channel). The client never retries by itself: the outbox decides.
 */
export function slackChannel(cfg: SlackSettings, opts: SlackOptions): Channel {
  const timeout = opts.timeoutMs ?? 15_000;
  const messageOpts = (now: Date, revealKeyId: boolean) => ({
    now,
    revealKeyId,
    jiraUrl: opts.jiraUrl,
    templates: opts.templates,
  });

  if (!cfg.token) {
    if (!cfg.webhookUrl) throw new Error("slack needs a token or a webhookUrl");
    // The webhook client keeps no response headers: capture Retry-After through its fetch hook.
    let retryAfter: string | null = null;
    const webhook = new IncomingWebhook(cfg.webhookUrl, {
      timeout,
      retryConfig: { retries: 0 },
      fetch: async (input: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(input, init);
        retryAfter = res.headers.get("retry-after");
        return res;
      },
    });
    return {
      name: "slack",
      async send(item, finding, ctx) {
        const msg = slackMessage(finding, item, messageOpts(ctx.now, false));
        try {
          await webhook.send({ text: msg.text, blocks: msg.blocks as never });
        } catch (e) {
          if (e instanceof IncomingWebhookHTTPError)
            throw httpError("slack webhook", e.statusCode, e.body, retryAfter);
          if (e instanceof IncomingWebhookRequestError)
            throw transientError(`slack webhook: ${e.original.message}`);
          throw asDeliveryError(e);
        }
        return {};
      },
    };
  }

  const client = new WebClient(cfg.token, {
    ...(cfg.apiUrl ? { slackApiUrl: cfg.apiUrl } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout,
    logLevel: LogLevel.ERROR,
  });
  const userIds = new Map<string, string | null>();
  const dmChannels = new Map<string, string>();

  async function call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw slackFailure(method, e);
    }
  }

  /** The Slack user id of the key's owner: given, or looked up by email (cached per run). */
  async function ownerId(ctx: ChannelContext): Promise<string | undefined> {
    const user = ctx.recipients.user;
    if (!user) return undefined;
    if (user.slack && SLACK_USER_ID.test(user.slack)) return user.slack;
    if (!user.email) return undefined;
    if (userIds.has(user.email)) return userIds.get(user.email) ?? undefined;
    try {
      const res = await call("users.lookupByEmail", () => client.users.lookupByEmail({ email: user.email! }));
      const id = res.user?.id ?? null;
      userIds.set(user.email, id);
      return id ?? undefined;
    } catch (e) {
      if (e instanceof DeliveryError && DM_UNREACHABLE.has(e.code ?? "")) {
        userIds.set(user.email, null);
        ctx.log.warn({ user: user.name }, "no Slack user for the key owner's email; channels only");
        return undefined;
      }
      throw e;
    }
  }

  async function dmChannel(userId: string): Promise<string> {
    const known = dmChannels.get(userId);
    if (known) return known;
    const res = await call("conversations.open", () => client.conversations.open({ users: userId }));
    const id = res.channel?.id;
    if (!id) throw transientError("slack conversations.open: no channel in the answer");
    dmChannels.set(userId, id);
    return id;
  }

  /** Conversation ids by the name or id a destination is configured with (learned from posts too). */
  const conversationIds = new Map<string, string>();

  async function conversationId(dest: string): Promise<string | undefined> {
    if (dest.startsWith("dm:")) return dmChannel(dest.slice(3));
    if (CONVERSATION_ID.test(dest)) return dest;
    const name = dest.replace(/^#/, "");
    if (conversationIds.has(name)) return conversationIds.get(name);
    let cursor: string | undefined;
    do {
      const res = await call("conversations.list", () =>
        client.conversations.list({
          types: "public_channel,private_channel",
          exclude_archived: true,
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        }),
      );
      for (const c of res.channels ?? []) if (c.name && c.id) conversationIds.set(c.name, c.id);
      cursor = res.response_metadata?.next_cursor || undefined;
    } while (cursor && !conversationIds.has(name));
    return conversationIds.get(name);
  }

  /**
   * Whether an earlier attempt already posted this item to `dest`: its message metadata names the
   * outbox item. When the history cannot be read, the answer is "no" (post again, at least once).
   */
  async function alreadyPosted(dest: string, item: OutboxItem, ctx: ChannelContext): Promise<boolean> {
    try {
      const id = await conversationId(dest);
      if (!id) return false;
      const res = await call("conversations.history", () =>
        client.conversations.history({ channel: id, limit: HISTORY_LIMIT, include_all_metadata: true }),
      );
      return (res.messages ?? []).some((m) => {
        const meta = (m as { metadata?: { event_type?: string; event_payload?: Record<string, unknown> } })
          .metadata;
        return meta?.event_type === SLACK_EVENT_TYPE && meta.event_payload?.delivery === item.dedupKey;
      });
    } catch (e) {
      ctx.log.warn(
        { channel: dest, error: (e as Error).message },
        "cannot read the Slack history to rule out a duplicate; posting again",
      );
      return false;
    }
  }

  async function post(channel: string, msg: SlackMessage, item: OutboxItem, finding: Finding): Promise<void> {
    const res = await call("chat.postMessage", () =>
      client.chat.postMessage({
        channel,
        text: msg.text,
        blocks: msg.blocks as never,
        unfurl_links: false,
        unfurl_media: false,
        metadata: {
          event_type: SLACK_EVENT_TYPE,
          event_payload: { finding_id: finding.id, event: item.event, delivery: item.dedupKey },
        },
      }),
    );
    if (res.channel && !CONVERSATION_ID.test(channel))
      conversationIds.set(channel.replace(/^#/, ""), res.channel);
  }

  return {
    name: "slack",
    async send(item: OutboxItem, finding: Finding, ctx: ChannelContext) {
      const previous = finding.tickets.slackProgress as SlackProgress | null | undefined;
      // Tried before (a failure, a lost response, or a crash after the progress mark): a message
      // may be in Slack already, so each destination's history is checked before posting again.
      const uncertain = previous?.item === item.id || item.attempts > 0;
      const sent = new Set(previous?.item === item.id ? previous.sent : []);
      const channels = [...new Set(ctx.recipients.slack)];
      const failures: DeliveryError[] = [];
      let progressed = false;
      if (previous?.item !== item.id)
        await ctx.mergeTickets({ slackProgress: { item: item.id, sent: [...sent] } });

      const attempt = async (dest: string, fn: () => Promise<void>) => {
        if (sent.has(dest)) return;
        try {
          if (uncertain && (await alreadyPosted(dest, item, ctx))) {
            ctx.log.info(
              { channel: dest, outbox: item.id },
              "already in Slack from an earlier attempt; not posted again",
            );
          } else {
            await fn();
          }
          sent.add(dest);
          progressed = true;
        } catch (e) {
          failures.push(e instanceof DeliveryError ? e : slackFailure("chat.postMessage", e));
        }
      };

      const channelMsg = slackMessage(finding, item, messageOpts(ctx.now, false));
      for (const ch of channels) await attempt(ch, () => post(ch, channelMsg, item, finding));

      let dmTarget: string | undefined;
      if (cfg.dmOwners) {
        try {
          const id = await ownerId(ctx);
          if (id) dmTarget = id;
        } catch (e) {
          failures.push(e as DeliveryError);
        }
      }
      if (dmTarget) {
        const target = dmTarget;
        // Addressed to the key's owner: the key id is shown in full so the commands can be pasted.
        const dmMsg = slackMessage(finding, item, messageOpts(ctx.now, true));
        await attempt(`dm:${target}`, async () => {
          try {
            await post(await dmChannel(target), dmMsg, item, finding);
          } catch (e) {
            const code = e instanceof DeliveryError ? (e.code ?? "") : "";
            if (!DM_UNREACHABLE.has(code) && code !== "channel_not_found") throw e;
            ctx.log.warn(
              { user: ctx.recipients.user?.name, error: code },
              "cannot DM the key owner on Slack",
            );
          }
        });
      }

      if (!channels.length && !dmTarget && !failures.length)
        throw permanentError(
          "slack: nowhere to post (set notify.slack.channel, owners.*.slack or a Slack id for the key's owner)",
        );
      if (failures.length) {
        if (progressed) await ctx.mergeTickets({ slackProgress: { item: item.id, sent: [...sent] } });
        const worst = failures.find((f) => !f.permanent) ?? failures[0]!;
        const done = [...sent].join(", ");
        const message = `${failures.map((f) => f.message).join("; ")}${done ? ` (already posted to ${done})` : ""}`;
        throw new DeliveryError(message, worst.permanent, worst.retryAfterMs, worst.code);
      }
      return { tickets: { slackProgress: null }, note: `posted to ${[...sent].join(", ")}` };
    },
  };
}
