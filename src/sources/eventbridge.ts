import { z } from "zod";
import type { IamEvent } from "../model/event.js";
import { fromCloudTrailRecord } from "./cloudtrail/record.js";

// EventBridge envelopes of CloudTrail records. Only the parser lives here: the transport (a file,
// stdin, an HTTP endpoint later) hands it parsed JSON values.

/** Detail types whose `detail` is a CloudTrail record. */
export const CLOUDTRAIL_DETAIL_TYPES = [
  "AWS API Call via CloudTrail",
  "AWS Console Signin via CloudTrail",
  // Seen in older documentation and some forwarders.
  "AWS Console Sign In via CloudTrail",
  "AWS Console Action via CloudTrail",
  "AWS Service Event via CloudTrail",
] as const;

export const eventBridgeEnvelopeSchema = z.object({
  "detail-type": z.string(),
  source: z.string().optional(),
  account: z.string().optional(),
  region: z.string().optional(),
  time: z.string().optional(),
  id: z.string().optional(),
  detail: z.record(z.string(), z.unknown()),
});

const DETAIL_TYPES = new Set<string>(CLOUDTRAIL_DETAIL_TYPES);

/** True when a JSON value looks like an EventBridge envelope (has `detail-type` and `detail`). */
export function isEventBridgeEnvelope(v: unknown): boolean {
  return typeof v === "object" && v !== null && "detail-type" in v && "detail" in v;
}

/**
 * Normalises one envelope: an IamEvent, a string saying why it is unreadable, or null for an
 * envelope that carries no CloudTrail record (another detail type: not ours, not an error).
 */
export function fromEventBridge(v: unknown): IamEvent | string | null {
  const parsed = eventBridgeEnvelopeSchema.safeParse(v);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `EventBridge envelope: ${issue.path.join(".") || "event"}: ${issue.message}`;
  }
  const env = parsed.data;
  if (!DETAIL_TYPES.has(env["detail-type"])) return null;
  const e = fromCloudTrailRecord(env.detail, env.account);
  return typeof e === "string" ? `detail: ${e}` : e;
}
