import {
  type CloudTrailClient,
  LookupEventsCommand,
  type LookupEventsCommandOutput,
} from "@aws-sdk/client-cloudtrail";
import type { IamEvent, InputProblem } from "../../model/event.js";
import { fromCloudTrailRecord } from "./record.js";

// CloudTrail event history (LookupEvents): the last 90 days of management events of one account
// and region. IAM and sign-in events are global and recorded in us-east-1. LookupEvents allows two
// requests per second per account and region, and one lookup attribute per request.

/** Event sources looked up by default: the ones the event checks judge most. */
export const DEFAULT_LOOKUP_SOURCES = ["iam.amazonaws.com", "signin.amazonaws.com"];

/** 2 requests per second. */
export const LOOKUP_MIN_INTERVAL_MS = 500;

export interface LookupOptions {
  since?: Date | undefined;
  until?: Date | undefined;
  /** One pass per event source; an empty list looks up every management event. */
  eventSources?: readonly string[] | undefined;
  minIntervalMs?: number | undefined;
  onProblem: (p: InputProblem) => void;
  /** Called with each request's start time (tests check the pacing). */
  onRequest?: ((at: number) => void) | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits so that calls start at least `interval` ms apart. */
function pacer(interval: number) {
  let next = 0;
  return async () => {
    const now = Date.now();
    if (next > now) await sleep(next - now);
    next = Math.max(now, next) + interval;
  };
}

/** Events of one account from its event history, a page (≤ 50 events) at a time. */
export async function* lookupEvents(
  client: CloudTrailClient,
  account: string,
  opts: LookupOptions,
): AsyncGenerator<IamEvent[]> {
  const pace = pacer(opts.minIntervalMs ?? LOOKUP_MIN_INTERVAL_MS);
  const sources = opts.eventSources ?? DEFAULT_LOOKUP_SOURCES;
  const passes: (string | undefined)[] = sources.length ? [...sources] : [undefined];
  const name = `lookup-events:${account}`;
  let index = 0;
  for (const source of passes) {
    let token: string | undefined;
    do {
      await pace();
      opts.onRequest?.(Date.now());
      const page: LookupEventsCommandOutput = await client.send(
        new LookupEventsCommand({
          ...(source ? { LookupAttributes: [{ AttributeKey: "EventSource", AttributeValue: source }] } : {}),
          ...(opts.since ? { StartTime: opts.since } : {}),
          ...(opts.until ? { EndTime: opts.until } : {}),
          MaxResults: 50,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      const events: IamEvent[] = [];
      for (const ev of page.Events ?? []) {
        const i = index++;
        if (!ev.CloudTrailEvent) {
          opts.onProblem({
            file: name,
            record: i,
            error: `event ${ev.EventId ?? "?"} has no CloudTrailEvent`,
          });
          continue;
        }
        let rec: unknown;
        try {
          rec = JSON.parse(ev.CloudTrailEvent);
        } catch (e) {
          opts.onProblem({
            file: name,
            record: i,
            error: `CloudTrailEvent is not JSON: ${(e as Error).message}`,
          });
          continue;
        }
        const n = fromCloudTrailRecord(rec, account);
        if (typeof n === "string") opts.onProblem({ file: name, record: i, error: n });
        else events.push(n);
      }
      if (events.length) yield events;
      token = page.NextToken || undefined;
    } while (token);
  }
}
