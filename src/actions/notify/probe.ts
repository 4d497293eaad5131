import { GetTopicAttributesCommand, type SNSClient } from "@aws-sdk/client-sns";
import { LogLevel, WebClient } from "@slack/web-api";
import { Version2Client, Version3Client } from "jira.js";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { Config } from "../../config/schema.js";
import { jiraClientConfig } from "./jira.js";

// Can iamwarden reach each configured channel? Each probe reads, never posts: Slack auth.test,
// Jira's /myself, SNS GetTopicAttributes. PagerDuty and webhooks have no read, so their settings
// are checked for shape only.

export interface ChannelProbe {
  channel: string;
  verdict: "ok" | "fail" | "unknown";
  detail: string;
  /** What to do about a failure. */
  fix?: string | undefined;
}

const TIMEOUT_MS = 10_000;

function message(e: unknown): string {
  const err = e as { data?: { error?: string }; status?: number; message?: string };
  return err.data?.error ?? (err.status ? `HTTP ${err.status}` : (err.message ?? String(e)));
}

async function probeSlack(s: NonNullable<Config["notify"]["slack"]>): Promise<ChannelProbe> {
  if (!s.token)
    return {
      channel: "slack",
      verdict: s.webhookUrl ? "unknown" : "fail",
      detail: s.webhookUrl
        ? "incoming webhook: cannot be checked without posting"
        : "no token and no webhookUrl",
    };
  const client = new WebClient(s.token, {
    ...(s.apiUrl ? { slackApiUrl: s.apiUrl } : {}),
    retryConfig: { retries: 0 },
    timeout: TIMEOUT_MS,
    logLevel: LogLevel.ERROR,
  });
  try {
    const r = await client.auth.test();
    return { channel: "slack", verdict: "ok", detail: `auth.test: ${r.team ?? "?"} as ${r.user ?? "?"}` };
  } catch (e) {
    return {
      channel: "slack",
      verdict: "fail",
      detail: `auth.test: ${message(e)}`,
      fix: "check notify.slack.token (a bot token, xoxb-…) and apiUrl",
    };
  }
}

async function probeJira(j: NonNullable<Config["notify"]["jira"]>): Promise<ChannelProbe> {
  const common = jiraClientConfig(j, TIMEOUT_MS);
  try {
    const me =
      j.apiVersion === 3
        ? await new Version3Client(common).myself.getCurrentUser()
        : await new Version2Client(common).myself.getCurrentUser();
    const who = (me as { displayName?: string; emailAddress?: string }).displayName ?? "?";
    return { channel: "jira", verdict: "ok", detail: `myself: ${who}` };
  } catch (e) {
    return {
      channel: "jira",
      verdict: "fail",
      detail: `myself: ${message(e)}`,
      fix: "check notify.jira.url, email and token (Cloud: email + API token; Server/DC: a personal access token and apiVersion: 2)",
    };
  }
}

function probePagerduty(p: NonNullable<Config["notify"]["pagerduty"]>): ChannelProbe {
  const bad = [p.routingKey, ...Object.values(p.routingKeys)].filter((k) => !/^[A-Za-z0-9]{32}$/.test(k));
  return bad.length
    ? {
        channel: "pagerduty",
        verdict: "fail",
        detail: `${bad.length} routing key(s) are not 32 letters and digits`,
        fix: "use the Events API v2 integration key of the service",
      }
    : {
        channel: "pagerduty",
        verdict: "ok",
        detail: "routing keys well formed (the Events API has no read)",
      };
}

async function probeSns(
  s: NonNullable<Config["notify"]["sns"]>,
  sns: () => SNSClient,
): Promise<ChannelProbe> {
  try {
    await sns().send(new GetTopicAttributesCommand({ TopicArn: s.topicArn }));
    return { channel: "sns", verdict: "ok", detail: `topic ${s.topicArn} readable` };
  } catch (e) {
    return {
      channel: "sns",
      verdict: "fail",
      detail: describeAwsError(e),
      fix: "grant sns:Publish and sns:GetTopicAttributes on the topic",
    };
  }
}

/** One probe per configured and enabled channel. */
export async function probeChannels(notify: Config["notify"], sns: () => SNSClient): Promise<ChannelProbe[]> {
  const out: Promise<ChannelProbe>[] = [];
  if (notify.slack?.enabled) out.push(probeSlack(notify.slack));
  if (notify.jira?.enabled) out.push(probeJira(notify.jira));
  if (notify.pagerduty?.enabled) out.push(Promise.resolve(probePagerduty(notify.pagerduty)));
  if (notify.sns?.enabled) out.push(probeSns(notify.sns, sns));
  if (notify.webhook?.enabled)
    out.push(
      Promise.resolve({
        channel: "webhook",
        verdict: notify.webhook.url.startsWith("https://") ? "ok" : "unknown",
        detail: notify.webhook.url.startsWith("https://")
          ? "HTTPS URL (not called: it would deliver)"
          : "plain HTTP: signatures protect integrity, not confidentiality",
      } satisfies ChannelProbe),
    );
  return Promise.all(out);
}
