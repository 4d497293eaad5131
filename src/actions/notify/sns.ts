import { createHash } from "node:crypto";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { z } from "zod";
import { awsClientFactory } from "../../cloud/aws/clients.js";
import type { AwsSettings } from "../../config/aws.js";
import { type Channel, DeliveryError } from "./channel.js";
import { machineMessage, snsSubject } from "./messages.js";
import type { snsSettings } from "./settings.js";

export type SnsSettings = z.infer<typeof snsSettings>;

const THROTTLED = /Throttl|TooManyRequests|RequestLimitExceeded|KMSThrottling/;

/** SDK errors: throttling, server faults and network errors are retried; other client faults are not. */
function snsError(e: unknown): DeliveryError {
  const err = e as {
    name?: string;
    message?: string;
    $fault?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const name = err.name ?? "Error";
  const message = `sns: ${name}: ${err.message ?? String(e)}`;
  const status = err.$metadata?.httpStatusCode;
  const permanent = err.$fault === "client" && status !== 429 && !THROTTLED.test(name);
  return new DeliveryError(message, permanent, undefined, name);
}

/** The SNS client for the topic's own region; the SDK retries a little, the outbox does the rest. */
export function snsClientFor(topicArn: string, aws: AwsSettings): SNSClient {
  const region = topicArn.split(":")[3] || aws.region;
  const account = topicArn.split(":")[4] ?? "";
  return awsClientFactory({ ...aws, maxAttempts: Math.min(aws.maxAttempts, 3) }).forAccount({
    id: account,
    region,
  }).sns;
}

/**
 * Amazon SNS: one JSON message per notification, with message attributes for subscription filter
 * policies. FIFO topics get a group per finding and a deduplication id per outbox item.
 */
export function snsChannel(
  cfg: SnsSettings,
  opts: {
    aws: AwsSettings;
    templates: Record<string, string>;
    jiraUrl?: string | undefined;
    client?: SNSClient;
  },
): Channel {
  const client = opts.client ?? snsClientFor(cfg.topicArn, opts.aws);
  const fifo = cfg.topicArn.endsWith(".fifo");
  return {
    name: "sns",
    async send(item, finding, ctx) {
      const mo = { now: ctx.now, revealKeyId: false, jiraUrl: opts.jiraUrl, templates: opts.templates };
      const attr = (v: string) => ({ DataType: "String", StringValue: v });
      try {
        const out = await client.send(
          new PublishCommand({
            TopicArn: cfg.topicArn,
            Subject: snsSubject(finding, item, mo),
            Message: JSON.stringify(machineMessage(finding, item, mo)),
            MessageAttributes: {
              event: attr(item.event),
              check: attr(finding.check),
              severity: attr(finding.severity),
              account: attr(finding.account),
            },
            ...(fifo
              ? {
                  MessageGroupId: finding.id.slice(0, 128),
                  MessageDeduplicationId: createHash("sha256").update(item.dedupKey).digest("hex"),
                }
              : {}),
          }),
        );
        return { note: `message ${out.MessageId ?? "?"}` };
      } catch (e) {
        throw snsError(e);
      }
    },
  };
}
