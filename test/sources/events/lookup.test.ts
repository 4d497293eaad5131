import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudTrailClient } from "@aws-sdk/client-cloudtrail";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IamEvent, InputProblem } from "../../../src/model/event.js";
import { LOOKUP_MIN_INTERVAL_MS, lookupEvents } from "../../../src/sources/cloudtrail/lookup.js";

// A local stand-in for CloudTrail's LookupEvents (AWS JSON 1.1: POST / with
// X-Amz-Target: CloudTrail_20131101.LookupEvents): at most one
// LookupAttribute, MaxResults 1-50, StartTime/EndTime as epoch seconds, NextToken pagination,
// EventTime as epoch seconds and the record as a JSON string in CloudTrailEvent. Its rate limit
// is a token bucket of one request per pacing interval, with a burst of two (network jitter).

const A = "123456789012";
// The service shape name with the operation; older references prefix the full namespace.
const TARGETS = [
  "CloudTrail_20131101.LookupEvents",
  "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
];
const INTERVAL = 150;

interface Call {
  at: number;
  body: Record<string, unknown>;
}
const calls: Call[] = [];
const rejected: string[] = [];
let throttleNext = 0;
let server: Server;
let endpoint: string;

function record(i: number, source: string) {
  const name = source === "signin.amazonaws.com" ? "ConsoleLogin" : "CreateUser";
  return {
    eventVersion: "1.09",
    userIdentity: {
      type: "IAMUser",
      arn: `arn:aws:iam::${A}:user/u${i}`,
      accountId: A,
      userName: `u${i}`,
      accessKeyId: "AKIAEXAMPLE000000001",
    },
    eventTime: `2024-03-15T09:${String(i).padStart(2, "0")}:00Z`,
    eventSource: source,
    eventName: name,
    awsRegion: "us-east-1",
    sourceIPAddress: "203.0.113.5",
    userAgent: "aws-cli/2",
    requestParameters: name === "CreateUser" ? { userName: `new${i}` } : null,
    responseElements: name === "ConsoleLogin" ? { ConsoleLogin: "Success" } : null,
    additionalEventData: name === "ConsoleLogin" ? { MFAUsed: "No" } : undefined,
    eventID: `${source}-${i}`,
    recipientAccountId: A,
  };
}

// 120 IAM events (3 pages of 50/50/20) and 2 sign-in events, one of them unreadable.
const HISTORY: Record<string, { CloudTrailEvent?: string; EventId: string }[]> = {
  "iam.amazonaws.com": Array.from({ length: 120 }, (_, i) => ({
    EventId: `iam.amazonaws.com-${i}`,
    CloudTrailEvent: JSON.stringify(record(i % 60, "iam.amazonaws.com")),
  })),
  "signin.amazonaws.com": [
    { EventId: "signin-0", CloudTrailEvent: JSON.stringify(record(1, "signin.amazonaws.com")) },
    { EventId: "signin-1", CloudTrailEvent: "{not json" },
  ],
};

let last = 0;
let tokens = 2;
beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
    });
    req.on("end", () => {
      const now = Date.now();
      const fail = (status: number, type: string, message: string) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ __type: type, message }));
      };
      const problems: string[] = [];
      if (req.method !== "POST" || req.url !== "/") problems.push(`${req.method} ${req.url}`);
      if (!TARGETS.includes(String(req.headers["x-amz-target"])))
        problems.push(`target ${req.headers["x-amz-target"]}`);
      if (!String(req.headers["content-type"]).startsWith("application/x-amz-json-1.1"))
        problems.push("content-type");
      if (
        !/^AWS4-HMAC-SHA256 Credential=AKIDCTTEST\/\d{8}\/us-east-1\/cloudtrail\/aws4_request, /.test(
          req.headers.authorization ?? "",
        )
      )
        problems.push("authorization");
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      const attrs =
        (body.LookupAttributes as { AttributeKey: string; AttributeValue: string }[] | undefined) ?? [];
      if (attrs.length > 1) problems.push("more than one lookup attribute");
      const max = body.MaxResults as number | undefined;
      if (max !== undefined && (max < 1 || max > 50)) problems.push("MaxResults out of 1-50");
      if (body.StartTime !== undefined && typeof body.StartTime !== "number")
        problems.push("StartTime not epoch seconds");
      if (problems.length) {
        rejected.push(...problems);
        return fail(400, "InvalidParameterException", problems.join("; "));
      }
      calls.push({ at: now, body });
      tokens = Math.min(2, tokens + (now - last) / INTERVAL);
      last = now;
      if (throttleNext > 0 || tokens < 1) {
        throttleNext = Math.max(0, throttleNext - 1);
        return fail(400, "ThrottlingException", "Rate exceeded");
      }
      tokens -= 1;
      const source = attrs[0]?.AttributeValue ?? "iam.amazonaws.com";
      const all = HISTORY[source] ?? [];
      const start = body.NextToken ? Number(body.NextToken) : 0;
      const page = all.slice(start, start + (max ?? 50));
      const next = start + page.length < all.length ? String(start + page.length) : undefined;
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(
        JSON.stringify({
          Events: page.map((e) => ({
            ...e,
            EventName: "x",
            EventTime: 1710493200,
            ReadOnly: "false",
            Resources: [],
          })),
          ...(next ? { NextToken: next } : {}),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const client = () =>
  new CloudTrailClient({
    region: "us-east-1",
    endpoint,
    maxAttempts: 5,
    retryMode: "adaptive",
    credentials: { accessKeyId: "AKIDCTTEST", secretAccessKey: "test-secret" },
  });

describe("LookupEvents", () => {
  it("paces at 2 requests per second by default", () => {
    expect(LOOKUP_MIN_INTERVAL_MS).toBe(500);
  });

  it("looks up IAM and sign-in events, page by page, paced, and reports unreadable records", async () => {
    calls.length = 0;
    rejected.length = 0;
    const problems: InputProblem[] = [];
    const events: IamEvent[] = [];
    const starts: number[] = [];
    for await (const page of lookupEvents(client(), A, {
      since: new Date("2024-03-15T00:00:00Z"),
      minIntervalMs: INTERVAL,
      onProblem: (p) => problems.push(p),
      onRequest: (t) => starts.push(t),
    }))
      events.push(...page);
    expect(rejected).toEqual([]);
    // 3 IAM pages + 1 sign-in page, none throttled: the pacing kept the server happy.
    expect(calls).toHaveLength(4);
    for (let i = 1; i < starts.length; i++)
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(INTERVAL - 5);
    expect(
      calls.map((c) => (c.body.LookupAttributes as { AttributeValue: string }[])[0]!.AttributeValue),
    ).toEqual(["iam.amazonaws.com", "iam.amazonaws.com", "iam.amazonaws.com", "signin.amazonaws.com"]);
    expect(calls[0]!.body).toMatchObject({ MaxResults: 50, StartTime: 1710460800 });
    expect(calls[1]!.body.NextToken).toBe("50");
    expect(events).toHaveLength(121);
    expect(events[0]).toMatchObject({ action: "iam:CreateUser", account: A, target: { user: "new0" } });
    expect(events[120]).toMatchObject({
      action: "signin:ConsoleLogin",
      kind: "console-login",
      principal: { mfa: false },
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: `lookup-events:${A}` });
    expect(problems[0]!.error).toMatch(/^CloudTrailEvent is not JSON/);
  });

  it("recovers from throttling through the SDK's retries", async () => {
    calls.length = 0;
    throttleNext = 1;
    const events: IamEvent[] = [];
    for await (const page of lookupEvents(client(), A, {
      eventSources: ["signin.amazonaws.com"],
      minIntervalMs: INTERVAL,
      onProblem: () => {},
    }))
      events.push(...page);
    expect(calls.length).toBe(2);
    expect(events).toHaveLength(1);
  });
});
