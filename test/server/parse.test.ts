import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { presentedToken, tokenMatches } from "../../src/server/auth.js";
import { parseDocument } from "../../src/server/intake/parse.js";
import { stringToSign } from "../../src/server/intake/sns.js";
import { envelope } from "./events-fixture.js";

// What the intake reads out of a body, and how it recognises the token.

const FIXTURES = resolve(import.meta.dirname, "../fixtures");

describe("intake bodies", () => {
  it("reads a CloudTrail file, an array, JSON lines and IBM events; names bad lines", () => {
    const trail = readFileSync(
      join(
        FIXTURES,
        "cloudtrail/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/16/123456789012_CloudTrail_us-east-1_20240316T1005Z_Q8bLm3ZxT5e2cR7d.json",
      ),
      "utf8",
    );
    expect(parseDocument(trail, "body")).toMatchObject({ problems: [], ignored: 0 });
    expect(parseDocument(trail, "body").events.map((e) => e.action)).toEqual(
      JSON.parse(trail).Records.map(
        (r: { eventSource: string; eventName: string }) => `${r.eventSource.split(".")[0]}:${r.eventName}`,
      ),
    );
    const arr = parseDocument(JSON.stringify([envelope("a", "1"), envelope("b", "2")]), "body");
    expect(arr.events.map((e) => e.principal.name)).toEqual(["a", "b"]);
    const ibm = parseDocument(readFileSync(join(FIXTURES, "ibm/activity-tracker.jsonl"), "utf8"), "body");
    expect(ibm.events.length).toBeGreaterThan(0);
    expect(ibm.events.every((e) => e.provider === "ibm")).toBe(true);

    const other = { "detail-type": "EC2 Instance State-change Notification", detail: {} };
    const lines = [
      JSON.stringify(envelope("c", "3")),
      "",
      JSON.stringify(other),
      "{oops",
      JSON.stringify({ hello: 1 }),
    ];
    const doc = parseDocument(lines.join("\n"), "body");
    expect(doc.events).toHaveLength(1);
    expect(doc.ignored).toBe(1);
    expect(doc.problems.map((p) => [p.line, p.error.slice(0, 12)])).toEqual([
      [4, "invalid JSON"],
      [5, "not a CloudT"],
    ]);
    expect(parseDocument("  ", "body").problems).toEqual([{ file: "body", error: "empty body" }]);
    expect(parseDocument("{nope", "body").problems[0]?.error).toMatch(/^invalid JSON/);
  });
});

describe("token", () => {
  it("takes Bearer, the API key header and Basic's password, compared in constant time", () => {
    expect(presentedToken({ authorization: "Bearer abc" })).toBe("abc");
    expect(presentedToken({ "x-api-key": "abc" })).toBe("abc");
    expect(presentedToken({ authorization: `Basic ${Buffer.from("sns:abc:def").toString("base64")}` })).toBe(
      "abc:def",
    );
    expect(presentedToken({})).toBeUndefined();
    expect(tokenMatches("abc", "abc")).toBe(true);
    expect(tokenMatches("abc", "abd")).toBe(false);
    expect(tokenMatches("abc", undefined)).toBe(false);
  });
});

describe("SNS string to sign", () => {
  it("signs Subject only when present, and the confirmation fields of a SubscriptionConfirmation", () => {
    const base = {
      MessageId: "m",
      TopicArn: "arn:aws:sns:us-east-1:1:t",
      Message: "hi",
      Timestamp: "T",
      SignatureVersion: "2" as const,
      Signature: "s",
      SigningCertURL: "https://sns.us-east-1.amazonaws.com/c.pem",
    };
    expect(stringToSign({ ...base, Type: "Notification" })).toBe(
      "Message\nhi\nMessageId\nm\nTimestamp\nT\nTopicArn\narn:aws:sns:us-east-1:1:t\nType\nNotification\n",
    );
    expect(stringToSign({ ...base, Type: "Notification", Subject: "S" })).toContain(
      "MessageId\nm\nSubject\nS\nTimestamp",
    );
    expect(
      stringToSign({
        ...base,
        Type: "SubscriptionConfirmation",
        Token: "k",
        SubscribeURL: "https://sns.us-east-1.amazonaws.com/?A=1",
      }),
    ).toBe(
      "Message\nhi\nMessageId\nm\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?A=1\nTimestamp\nT\nToken\nk\nTopicArn\narn:aws:sns:us-east-1:1:t\nType\nSubscriptionConfirmation\n",
    );
  });
});
