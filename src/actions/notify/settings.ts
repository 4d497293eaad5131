import { z } from "zod";
import { SEVERITIES } from "../../model/finding.js";

// Each channel's `notify.<name>` settings. A module of their own: the registry (and through it the
// config schema) and the channel implementations, which the registry loads lazily, both read them.

const severity = z.enum(SEVERITIES);

export const slackSettings = z
  .object({
    enabled: z.boolean().default(true),
    token: z.string().optional(),
    webhookUrl: z.url().optional(),
    channel: z.string().optional(),
    dmOwners: z.boolean().default(true),
    renotifyHours: z.number().min(0).default(24),
    apiUrl: z.url().optional(),
  })
  .strict();

export const jiraSettings = z
  .object({
    enabled: z.boolean().default(true),
    url: z.url(),
    email: z.string().optional(),
    token: z.string(),
    apiVersion: z.union([z.literal(2), z.literal(3)]).default(3),
    project: z.string().optional(),
    issueType: z.string().default("Task"),
    labels: z.array(z.string()).default(["iamwarden"]),
    parent: z.string().optional(),
    onReopen: z.enum(["reopen", "recreate"]).default("reopen"),
  })
  .strict();

export const pagerdutySettings = z
  .object({
    enabled: z.boolean().default(true),
    routingKey: z.string(),
    routingKeys: z.record(z.string(), z.string()).default({}),
    minSeverity: severity.default("high"),
    url: z.url().default("https://events.pagerduty.com/v2/enqueue"),
  })
  .strict();

export const snsSettings = z
  .object({ enabled: z.boolean().default(true), topicArn: z.string().startsWith("arn:") })
  .strict();

export const webhookSettings = z
  .object({
    enabled: z.boolean().default(true),
    url: z.url(),
    secret: z.string().optional(),
    timeoutMs: z.number().int().min(100).default(10_000),
  })
  .strict();
