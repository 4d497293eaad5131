import { describe, expect, it } from "vitest";
import { keyInactive } from "../../src/checks/key-inactive.js";
import { key } from "../support/keys.js";
import { snapshot } from "./snapshot.js";

const settings = { days: 90, severity: "medium" as const };
const run = (k: ReturnType<typeof key>, now: string) =>
  keyInactive.judge(snapshot([k]), settings, new Date(now));

describe("key-inactive", () => {
  it("is not a finding at exactly the threshold, and is one minute later (strictly more than N days)", () => {
    const k = key({ created: "2026-01-01T00:00:00Z", used: "2026-06-01T12:00:00Z" });
    expect(run(k, "2026-08-30T12:00:00Z")).toHaveLength(0); // exactly 90 days
    expect(run(k, "2026-08-30T12:01:00Z")).toHaveLength(1);
  });

  it("falls back to the creation date when the key was never used", () => {
    const k = key({ created: "2026-01-01T00:00:00Z" });
    expect(run(k, "2026-03-31T23:59:00Z")).toHaveLength(0); // 89 days 23:59
    const [c] = run(k, "2026-04-01T00:01:00Z");
    expect(c?.details).toMatchObject({ neverUsed: true, daysInactive: 90, lastUsed: null });
    expect(c?.title).toContain("never used");
  });

  it("ignores Inactive keys however old", () => {
    expect(run(key({ created: "2020-01-01T00:00:00Z", status: "Inactive" }), "2026-01-01T00:00:00Z")).toEqual(
      [],
    );
  });

  it("carries the details a ticket needs", () => {
    const k = key({
      created: "2025-01-01T00:00:00Z",
      used: "2025-02-01T08:00:00Z",
      lastUsedService: "s3",
      lastUsedRegion: "eu-west-1",
    });
    const [c] = run(k, "2026-01-01T00:00:00Z");
    expect(c).toMatchObject({
      check: "key-inactive",
      account: "111122223333",
      resource: "AKIAIOSFODNN7EXAMPLE",
      owner: "alice",
      severity: "medium",
      details: {
        username: "alice",
        keyId: "AKIAIOSFODNN7EXAMPLE",
        createDate: "2025-01-01T00:00:00.000Z",
        lastUsed: "2025-02-01T08:00:00.000Z",
        lastUsedService: "s3",
        lastUsedRegion: "eu-west-1",
        daysInactive: 333,
      },
    });
  });
});
