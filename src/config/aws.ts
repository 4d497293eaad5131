import { z } from "zod";

// The `aws` section: how AWS is reached. Its own module, below the config schema, so that the
// AWS clients and the SNS channel (which the schema's channel registry loads) can name its type.

export const awsSchema = z
  .object({
    region: z.string().default("us-east-1"),
    endpoint: z.url().optional(),
    mode: z.enum(["api", "credential-report", "auto"]).default("auto"),
    profile: z.string().optional(),
    maxAttempts: z.number().int().min(1).max(20).default(8),
    /** Concurrent API calls within one account. */
    concurrency: z.number().int().min(1).max(64).default(8),
    /** Accounts scanned at once. */
    accountConcurrency: z.number().int().min(1).max(64).default(4),
    /** Remediation's key count in auto mode: above this many users, count from the credential report. */
    reportThreshold: z.number().int().min(0).default(200),
  })
  .strict();

export type AwsSettings = z.infer<typeof awsSchema>;
