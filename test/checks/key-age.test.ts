import { describe, expect, it } from "vitest";
import { keyAge, keyAgeState } from "../../src/checks/key-age.js";
import { key } from "../support/keys.js";
import { snapshot } from "./snapshot.js";

const s = { expireDays: 180, warnDays: 15 };
const k = key({ created: "2026-01-01T00:00:00Z", used: "2026-06-01T00:00:00Z" });
const at = (iso: string) => keyAgeState(k, s, new Date(iso));

describe("key-age", () => {
  it("is ok until expireDays - warnDays, to the minute (UTC)", () => {
    expect(at("2026-06-14T23:59:00Z")).toBe("ok"); // 165 days minus a minute
    expect(at("2026-06-15T00:00:00Z")).toBe("expiring"); // exactly 165 days
  });

  it("is expiring until expireDays and expired from that instant", () => {
    expect(at("2026-06-29T23:59:00Z")).toBe("expiring");
    expect(at("2026-06-30T00:00:00Z")).toBe("expired"); // exactly 180 days
  });

  it("proposes findings for expiring (low) and expired (high) Active keys only, with the expiry date", () => {
    const keys = [
      key({ created: "2026-01-01T00:00:00Z", keyId: "AKIAAAAAAAAAAAAAEXP1" }),
      key({ created: "2026-01-10T00:00:00Z", keyId: "AKIAAAAAAAAAAAAAEXP2" }),
      key({ created: "2026-05-01T00:00:00Z", keyId: "AKIAAAAAAAAAAAAAAOK1" }),
      key({ created: "2020-01-01T00:00:00Z", keyId: "AKIAAAAAAAAAAAAAOFF1", status: "Inactive" }),
    ];
    const out = keyAge.judge(snapshot(keys), s, new Date("2026-07-01T00:00:00Z"));
    expect(out.map((c) => [c.resource, c.severity, c.details.state])).toEqual([
      ["AKIAAAAAAAAAAAAAEXP1", "high", "expired"],
      ["AKIAAAAAAAAAAAAAEXP2", "low", "expiring"],
    ]);
    expect(out[1]?.details).toMatchObject({
      expiresAt: "2026-07-09T00:00:00.000Z",
      daysToExpiry: 8,
      ageDays: 172,
    });
  });

  it("honours other thresholds", () => {
    expect(keyAgeState(k, { expireDays: 90, warnDays: 0 }, new Date("2026-03-31T23:59:00Z"))).toBe("ok");
    expect(keyAgeState(k, { expireDays: 90, warnDays: 0 }, new Date("2026-04-01T00:00:00Z"))).toBe("expired");
  });
});
