import { z } from "zod";
import { channelSettingsShape } from "../actions/notify/registry.js";
import { allowlistsSchema } from "../allowlist/apply-config.js";
import { CHECKS } from "../checks/registry.js";
import { awsSchema } from "./aws.js";

// One schema for the whole config. Every key is optional: an empty file (or no file) is valid.

const accountId = z.string().regex(/^\d{12}$/, "an AWS account id is 12 digits");
const isoDate = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const d = v instanceof Date ? v : new Date(v);
  // JavaScript rolls 2027-02-30 over to March 2; a date that does not round-trip is impossible.
  const ymd = typeof v === "string" ? /^(\d{4})-(\d{2})-(\d{2})/.exec(v) : null;
  const day = ymd ? new Date(Date.UTC(+ymd[1]!, +ymd[2]! - 1, +ymd[3]!)) : undefined;
  const rolled = ymd && day && (day.getUTCMonth() !== +ymd[2]! - 1 || day.getUTCDate() !== +ymd[3]!);
  if (Number.isNaN(d.getTime()) || rolled) {
    ctx.addIssue({ code: "custom", message: `not a date: ${String(v)}` });
    return z.NEVER;
  }
  return d;
});

const accountEntry = z.union([
  z
    .object({
      id: accountId,
      alias: z.string().optional(),
      roleArn: z.string().startsWith("arn:").optional(),
      roleName: z.string().optional(),
      externalId: z.string().optional(),
      region: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ids: z.array(accountId).min(1),
      roleName: z.string().optional(),
      externalId: z.string().optional(),
    })
    .strict(),
  z
    .object({
      discover: z.literal("organizations"),
      roleName: z.string().optional(),
      externalId: z.string().optional(),
      exclude: z.array(accountId).default([]),
    })
    .strict(),
]);

/** `checks:` — one key per registered check, each with its own settings schema and defaults. */
type ChecksShape = { [C in (typeof CHECKS)[number] as C["name"]]: C["settings"] };
const checksShape = Object.fromEntries(CHECKS.map((c) => [c.name, c.settings])) as ChecksShape;
const checksSchema = z.strictObject(checksShape).prefault({});

const exceptionObject = z
  .object({
    user: z.string().optional(),
    key: z.string().optional(),
    tag: z.string().optional(),
    check: z.string().optional(),
    until: isoDate.optional(),
    reason: z.string().optional(),
  })
  .strict()
  .refine((e) => e.user || e.key || e.tag, { message: "an exception names a user, a key or a tag" });

/** Also Hammer's whitelist shape: a bare IAM user name or access key id. */
const exceptionEntry = z.union([
  z
    .string()
    .min(1)
    .transform((v): { user?: string; key?: string } =>
      /^A[KS]IA[A-Z0-9]{12,}$/.test(v) ? { key: v } : { user: v },
    )
    .pipe(exceptionObject),
  exceptionObject,
]);

const owner = z
  .object({
    jiraProject: z.string().optional(),
    jiraAssignee: z.string().optional(),
    jiraParent: z.string().optional(),
    slack: z.array(z.string()).optional(),
    email: z.array(z.string()).optional(),
  })
  .strict();

// notify.<channel> sections come from the channel registry; templates are shared by all.
const notifySchema = z
  .object({ ...channelSettingsShape, templates: z.record(z.string(), z.string()).default({}) })
  .strict()
  .default({ templates: {} });

const remediationCheck = z
  .object({
    enabled: z.boolean().default(false),
    graceDays: z.number().min(0).default(14),
    deleteAfterDays: z.number().min(0).optional(),
  })
  .strict();

const remediationSchema = z
  .object({
    accounts: z.array(accountId).default([]),
    "key-inactive": remediationCheck.optional(),
    "key-age": remediationCheck.optional(),
    "iam-change": remediationCheck.optional(),
    maxPerRun: z.number().int().min(0).default(20),
    maxShare: z.number().min(0).max(1).default(0.25),
    quarantine: z
      .object({
        policyName: z.string().default("iamwarden-quarantine"),
        denyAll: z.boolean().default(false),
        breakGlassUsers: z.array(z.string()).default([]),
        /** Users who may be quarantined although they hold AdministratorAccess or IAMFullAccess. */
        allowAdmins: z.array(z.string()).default([]),
      })
      .strict()
      .default({ policyName: "iamwarden-quarantine", denyAll: false, breakGlassUsers: [], allowAdmins: [] }),
  })
  .strict()
  .default({
    accounts: [],
    maxPerRun: 20,
    maxShare: 0.25,
    quarantine: { policyName: "iamwarden-quarantine", denyAll: false, breakGlassUsers: [], allowAdmins: [] },
  });

/** `serve`: the long-running service (schedule, event intake, /metrics, API, dashboard). */
const cronJob = z.union([
  z.string().min(1),
  z.object({ cron: z.string().min(1), zone: z.string().optional() }).strict(),
]);

/** SNS signing certificates are served from sns.<region>.amazonaws.com(.cn) over https. */
export const SNS_CERT_URL = "^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[^?#]*\\.pem$";

export const serveSchema = z
  .object({
    /** host:port, or a bare port (all interfaces). */
    listen: z.string().default("127.0.0.1:9464"),
    /** Bearer token (or API key header) for the JSON API and event intake. */
    token: z.string().min(16, "serve.token: use at least 16 characters").optional(),
    /** Leave /metrics and /healthz open without the token (for scrapers and probes). */
    openMetrics: z.boolean().default(true),
    openHealth: z.boolean().default(true),
    /** Largest request body accepted, in bytes. */
    bodyLimit: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    /** Cron expressions (UTC unless a zone is given); a job without one does not run. */
    schedule: z
      .object({
        scan: cronJob.optional(),
        remediate: cronJob.optional(),
        deliver: cronJob.optional(),
        events: cronJob.optional(),
      })
      .strict()
      .default({}),
    intake: z
      .object({
        sqs: z
          .object({
            queueUrl: z.url(),
            /** A message received more often than this is moved aside (0: left to the redrive policy). */
            maxReceives: z.number().int().min(0).max(1000).default(5),
            /** Where moved-aside messages go; without it they stay for the queue's redrive policy. */
            deadLetterQueueUrl: z.url().optional(),
            visibilityTimeout: z.number().int().min(10).max(43_200).default(60),
            waitTimeSeconds: z.number().int().min(0).max(20).default(20),
            batchSize: z.number().int().min(1).max(10).default(10),
          })
          .strict()
          .optional(),
        http: z.boolean().default(true),
        sns: z
          .object({
            /** Topics whose messages are taken; others are refused (any topic can be signed by SNS). */
            topicArns: z.array(z.string().startsWith("arn:")).default([]),
            /** Where signing certificates may come from (a regular expression over the URL). */
            certUrlPattern: z.string().default(SNS_CERT_URL),
          })
          .strict()
          .default({ topicArns: [], certUrlPattern: SNS_CERT_URL }),
      })
      .strict()
      .default({
        http: true,
        sns: { topicArns: [], certUrlPattern: SNS_CERT_URL },
      }),
    /** Per-replica workers for account scans (PostgreSQL store). */
    scanConcurrency: z.number().int().min(1).max(64).default(2),
    /** How long a stop may take before in-flight work is given up (it is released, not lost). */
    shutdownSeconds: z.number().int().min(1).max(600).default(30),
  })
  .strict();

export const configSchema = z
  .object({
    store: z.string().default("./iamwarden.db"),
    aws: awsSchema.default(awsSchema.parse({})),
    accounts: z.array(accountEntry).default([]),
    checks: checksSchema,
    exceptions: z.record(z.string(), z.array(exceptionEntry)).default({}),
    /** IAM user tag keys that exempt a user (e.g. iamwarden:exempt). */
    exemptTags: z.array(z.string()).default(["iamwarden:exempt"]),
    notify: notifySchema,
    owners: z
      .object({
        default: owner.optional(),
        accounts: z.record(z.string(), owner).default({}),
        users: z.union([z.string(), z.record(z.string(), z.record(z.string(), z.string()))]).optional(),
        userTags: z.array(z.string()).default(["email", "slack"]),
      })
      .strict()
      .default({ accounts: {}, userTags: ["email", "slack"] }),
    remediation: remediationSchema,
    /** How the source-ip allowlists are applied to accounts (`iamwarden allowlist apply`). */
    allowlists: allowlistsSchema,
    serve: serveSchema.default(serveSchema.parse({})),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type AccountEntry = z.infer<typeof accountEntry>;
export type ExceptionEntry = z.infer<typeof exceptionEntry>;
export type OwnerEntry = z.infer<typeof owner>;
export type ChecksConfig = Config["checks"];
export type ServeConfig = Config["serve"];
