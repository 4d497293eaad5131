import { cloudTrailHeader, eventTimeMs } from "../../cloudtrail/record.js";
import { CLOUDTRAIL_DETAIL_TYPES, fromEventBridge, isEventBridgeEnvelope } from "../../eventbridge.js";
import { type EventFormat, problemAt } from "../format.js";

// EventBridge envelopes of CloudTrail records (a rule's target: SQS, HTTP, a file of them): one
// envelope, an array of them or JSON lines. Envelopes of other detail types are not ours: skipped.

type Envelope = { "detail-type"?: unknown; account?: unknown; detail?: unknown };
const DETAIL_TYPES = new Set<unknown>(CLOUDTRAIL_DETAIL_TYPES);

export const eventBridge: EventFormat = {
  name: "eventbridge",
  detect: isEventBridgeEnvelope,
  header(v) {
    const env = v as Envelope;
    if (!DETAIL_TYPES.has(env["detail-type"])) return undefined;
    return cloudTrailHeader(env.detail, typeof env.account === "string" ? env.account : undefined);
  },
  timeMs(v) {
    const t = ((v as Envelope).detail as { eventTime?: unknown } | null)?.eventTime;
    return typeof t === "string" ? eventTimeMs(t) : Number.NaN;
  },
  normalise(v, where) {
    const e = fromEventBridge(v);
    return typeof e === "string" ? problemAt(where, e) : e;
  },
};
