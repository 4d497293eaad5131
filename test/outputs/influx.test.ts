import { describe, expect, it } from "vitest";
import { influxLine, influxLines } from "../../src/outputs/influx.js";
import { key } from "../support/keys.js";

const s = { expireDays: 180, warnDays: 15 };
const now = new Date("2026-07-01T00:00:00Z");

describe("influx line protocol", () => {
  it("keeps Lacework's measurement, tags and age field", () => {
    const line = influxLine(key({ created: "2026-06-01T00:00:00Z", used: "2026-06-30T00:00:00Z" }), s, now);
    expect(line).toBe("iam,name=alice,key=AMPLE,status=ok,accountAlias=test age=30,idle=1");
  });

  it("escapes commas, equals signs and spaces that IAM user names may hold", () => {
    const line = influxLine(key({ created: "2025-01-01T00:00:00Z", user: "a,b=c d+e@x.com" }), s, now);
    expect(line).toBe(
      "iam,name=a\\,b\\=c\\ d+e@x.com,key=AMPLE,status=expired,accountAlias=test age=546,idle=546",
    );
  });

  it("writes every key, including inactive ones", () => {
    const out = influxLines(
      [
        key({ created: "2026-06-01T00:00:00Z" }),
        key({ created: "2026-01-10T00:00:00Z" }),
        key({ created: "2020-01-01T00:00:00Z", status: "Inactive" }),
      ],
      s,
      now,
    );
    expect(
      out
        .trim()
        .split("\n")
        .map((l) => /status=(\w+)/.exec(l)?.[1]),
    ).toEqual(["ok", "expiring", "inactive"]);
  });
});
