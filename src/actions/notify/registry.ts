import type { z } from "zod";
import type { AwsSettings } from "../../config/aws.js";
import { type Finding, severityRank } from "../../model/finding.js";
import type { NotifyEvent } from "../../model/outbox.js";
import type { Channel } from "./channel.js";
import { jiraSettings, pagerdutySettings, slackSettings, snsSettings, webhookSettings } from "./settings.js";

// Every notification channel, one object each: its `notify.<name>` settings, which finding events
// it takes, its re-notify window and how to build it. The config schema, the router
// (engine/routing.ts) and delivery (channels.ts) all read this list; a new channel is one more
// entry here, its settings schema (settings.ts) and its implementation file. Implementations load
// lazily: a command that only routes (or only lists findings) does not pay for the Slack, Jira and
// AWS clients.

/** What a channel implementation may need beyond its own settings. */
export interface ChannelDeps {
  templates: Record<string, string>;
  /** Jira site when Jira is configured, for links to tickets in other channels' messages. */
  jiraUrl?: string | undefined;
  /** For SNS: region, endpoint and retries of the AWS clients. */
  aws: AwsSettings;
  /** Jira Cloud search may lag a create; tests shorten the waits. */
  jiraSearchRetryDelaysMs?: number[] | undefined;
  /** A PagerDuty routing key chosen by the finding (iam-health: per service category). */
  pagerdutyRoutingKeyFor?: ((finding: Finding) => string | undefined) | undefined;
  /** Real clock for what receivers check against their own (webhook signature time). */
  wallClock?: () => number;
}

export interface ChannelDef<S extends z.ZodType = z.ZodType> {
  name: string;
  /** The `notify.<name>` config section. */
  settings: S;
  /** Finding events routed to this channel. */
  events: readonly NotifyEvent[];
  /** Whether the configured section is usable (beyond `enabled: false`). */
  ready?: (settings: z.infer<S>) => boolean;
  /** A further filter on findings (PagerDuty's minSeverity). */
  accepts?: (settings: z.infer<S>, finding: Finding) => boolean;
  /** Hours between reminders of an open finding, for channels that take `reminder`. */
  renotifyHours?: (settings: z.infer<S>) => number;
  /** Setting names holding secrets: shown as *** by `config validate --print`. */
  secrets: readonly string[];
  create(settings: z.infer<S>, deps: ChannelDeps): Promise<Channel>;
}

const define = <S extends z.ZodType>(def: ChannelDef<S>) => def;

const ALL: readonly NotifyEvent[] = [
  "opened",
  "reopened",
  "escalated",
  "suppressed",
  "remediated",
  "resolved",
];

export const channelRegistry = {
  slack: define({
    name: "slack",
    settings: slackSettings,
    events: [...ALL, "reminder"],
    ready: (s) => Boolean(s.token || s.webhookUrl),
    renotifyHours: (s) => s.renotifyHours,
    secrets: ["token", "webhookUrl"],
    create: async (s, deps): Promise<Channel> => (await import("./slack.js")).slackChannel(s, deps),
  }),
  jira: define({
    name: "jira",
    settings: jiraSettings,
    // escalated: the ticket hears that the severity rose (and is created if there is none yet).
    events: ALL,
    secrets: ["token"],
    create: async (s, deps): Promise<Channel> =>
      (await import("./jira.js")).jiraChannel(s, {
        templates: deps.templates,
        searchRetryDelaysMs: deps.jiraSearchRetryDelaysMs,
      }),
  }),
  pagerduty: define({
    name: "pagerduty",
    settings: pagerdutySettings,
    // suppressed, remediated and resolved all resolve the alert: nobody needs paging for them.
    events: ALL,
    // Below the threshold only to resolve an alert raised earlier (the severity may have dropped).
    accepts: (s, f) =>
      severityRank(f.severity) >= severityRank(s.minSeverity) || Boolean(f.tickets.pagerdutyDedupKey),
    secrets: ["routingKey", "routingKeys"],
    create: async (s, deps): Promise<Channel> =>
      (await import("./pagerduty.js")).pagerdutyChannel(s, {
        ...deps,
        routingKeyFor: deps.pagerdutyRoutingKeyFor,
      }),
  }),
  sns: define({
    name: "sns",
    settings: snsSettings,
    events: ALL,
    secrets: [],
    create: async (s, deps): Promise<Channel> => (await import("./sns.js")).snsChannel(s, deps),
  }),
  webhook: define({
    name: "webhook",
    settings: webhookSettings,
    events: ALL,
    secrets: ["secret", "url"],
    create: async (s, deps): Promise<Channel> => (await import("./webhook.js")).webhookChannel(s, deps),
  }),
} as const;

export type ChannelName = keyof typeof channelRegistry;
export const CHANNEL_NAMES = Object.keys(channelRegistry) as ChannelName[];

type SettingsShape = { [K in ChannelName]: z.ZodOptional<(typeof channelRegistry)[K]["settings"]> };

/** `notify.<channel>` sections, as the config schema takes them. */
export const channelSettingsShape = Object.fromEntries(
  CHANNEL_NAMES.map((n) => [n, channelRegistry[n].settings.optional()]),
) as SettingsShape;

/** Configured sections by channel name, after zod. */
export type NotifySettings = { [K in ChannelName]?: z.infer<(typeof channelRegistry)[K]["settings"]> };

/** A configured, enabled and usable channel with its settings: what routing and delivery loop over. */
export interface ActiveChannel {
  def: ChannelDef;
  settings: { enabled: boolean } & Record<string, unknown>;
}

/** The channels that are configured, enabled and usable, in registry order. */
export function activeChannels(notify: NotifySettings): ActiveChannel[] {
  const out: ActiveChannel[] = [];
  for (const name of CHANNEL_NAMES) {
    const settings = notify[name];
    const def = channelRegistry[name] as unknown as ChannelDef;
    if (!settings?.enabled || !(def.ready?.(settings) ?? true)) continue;
    out.push({ def, settings: settings as ActiveChannel["settings"] });
  }
  return out;
}
