import { type FakeServer, need, parseJson, startFake } from "./server.js";

// A fake PagerDuty Events API v2 (POST /v2/enqueue). Per the docs: routing_key and event_action
// are required; a trigger needs payload.summary (≤1024), payload.source and payload.severity
// (critical|error|warning|info); dedup_key ≤255 and required to resolve. 202 on success; an invalid
// event is a 400 with status "invalid event".

export interface PdEvent {
  routing_key: string;
  event_action: string;
  dedup_key?: string;
  payload?: Record<string, unknown>;
}

export interface FakePagerDuty extends FakeServer {
  enqueueUrl: string;
  events: PdEvent[];
  /** dedup_key → triggered | resolved */
  alerts: Map<string, "triggered" | "resolved">;
}

export async function startFakePagerDuty(opts: { routingKeys: string[] }): Promise<FakePagerDuty> {
  const events: PdEvent[] = [];
  const alerts = new Map<string, "triggered" | "resolved">();
  const invalid = (errors: string[]) => ({
    status: 400,
    body: { status: "invalid event", message: "Event object is invalid", errors },
  });
  const fake = await startFake("pagerduty", (r) => {
    need(r.method === "POST" && r.path === "/v2/enqueue", "events go to POST /v2/enqueue");
    need(
      !r.headers.authorization,
      "the Events API takes no Authorization header (the routing key is in the body)",
    );
    const e = parseJson(r) as unknown as PdEvent;
    const errors: string[] = [];
    if (typeof e.routing_key !== "string" || e.routing_key.length !== 32)
      errors.push("'routing_key' must be 32 characters");
    if (!["trigger", "acknowledge", "resolve"].includes(e.event_action))
      errors.push("'event_action' is invalid");
    if (e.dedup_key !== undefined && (typeof e.dedup_key !== "string" || e.dedup_key.length > 255))
      errors.push("'dedup_key' must be at most 255 characters");
    if (e.event_action !== "trigger" && !e.dedup_key) errors.push("'dedup_key' is required to resolve");
    if (e.event_action === "trigger") {
      const p = e.payload ?? {};
      if (typeof p.summary !== "string" || !p.summary || p.summary.length > 1024)
        errors.push("'payload.summary' is missing or too long");
      if (typeof p.source !== "string" || !p.source) errors.push("'payload.source' is missing");
      if (!["critical", "error", "warning", "info"].includes(String(p.severity)))
        errors.push("'payload.severity' is invalid");
    }
    if (errors.length) return invalid(errors);
    if (!opts.routingKeys.includes(e.routing_key))
      return invalid(["'routing_key' is not a known integration key"]);
    events.push(e);
    const key = e.dedup_key ?? `generated-${events.length}`;
    if (e.event_action === "trigger") alerts.set(key, "triggered");
    if (e.event_action === "resolve" && alerts.get(key) === "triggered") alerts.set(key, "resolved");
    return { status: 202, body: { status: "success", message: "Event processed", dedup_key: key } };
  });
  return Object.assign(fake, { enqueueUrl: `${fake.url}/v2/enqueue`, events, alerts });
}
