import { describe, expect, it } from "vitest";
import { userUnused } from "../../src/checks/user-unused.js";
import { runStateChecks } from "../../src/engine/scan.js";
import { key } from "../support/keys.js";
import { asApiRead, cliScan, reportRow, scanInto, snapshot, user } from "./snapshot.js";

const s = { days: 180 };
const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();
const judge = (snap: ReturnType<typeof snapshot>, now: string) => userUnused.judge(snap, s, new Date(now));

describe("user-unused", () => {
  it("is not a finding at exactly N days since the last sign-in, and is one N days + 1 ms after", () => {
    const snap = snapshot([], [user({ passwordUsed: "2026-01-01T00:00:00Z" })]);
    expect(judge(snap, "2026-06-30T00:00:00Z")).toEqual([]); // exactly 180 days
    const [c] = judge(snap, plus("2026-06-30T00:00:00Z", 1));
    expect(c).toMatchObject({
      check: "user-unused",
      resource: "arn:aws:iam::111122223333:user/alice",
      owner: "alice",
      severity: "low",
      title: "IAM user alice unused for 180 days",
      details: {
        lastActivity: "2026-01-01T00:00:00.000Z",
        lastActivityKind: "password",
        daysUnused: 180,
        thresholdDays: 180,
        neverUsed: false,
      },
    });
  });

  it("counts the latest of sign-in and any key's use, inactive keys too", () => {
    const keys = [
      key({ created: "2024-01-01T00:00:00Z", used: "2026-03-01T00:00:00Z", status: "Inactive" }),
      key({ created: "2024-01-01T00:00:00Z", used: "2025-01-01T00:00:00Z", keyId: "AKIAOTHEROTHEROTHER1" }),
    ];
    const snap = snapshot(keys, [user({ passwordUsed: "2026-01-01T00:00:00Z" })]);
    expect(judge(snap, "2026-08-28T00:00:00Z")).toEqual([]); // 180 days after the inactive key's use
    const [c] = judge(snap, plus("2026-08-28T00:00:00Z", 1));
    expect(c?.details).toMatchObject({
      lastActivityKind: "access key",
      lastActivity: "2026-03-01T00:00:00.000Z",
    });
  });

  it("counts a never-used user from its creation, and a new unused key as recent activity", () => {
    const fresh = snapshot([], [user({ created: "2026-01-01T00:00:00Z" })]);
    expect(judge(fresh, "2026-06-30T00:00:00Z")).toEqual([]);
    const [c] = judge(fresh, plus("2026-06-30T00:00:00Z", 1));
    expect(c).toMatchObject({
      title: "IAM user alice never used in 180 days",
      details: { neverUsed: true, lastActivityKind: "creation" },
    });
    const newKey = snapshot(
      [key({ created: "2026-06-01T00:00:00Z" })],
      [user({ created: "2020-01-01T00:00:00Z" })],
    );
    expect(judge(newKey, "2026-07-01T00:00:00Z")).toEqual([]);
  });

  it("does not run on an api read, which does not read inactive keys' last use (so resolves nothing)", () => {
    const snap = snapshot([], [user({ passwordUsed: "2020-01-01T00:00:00Z" })]);
    const now = new Date("2026-01-01T00:00:00Z");
    const checks = { "user-unused": { enabled: true, days: 180 } };
    expect(runStateChecks(snap, checks, now).ran).toEqual(["user-unused"]);
    expect(runStateChecks(asApiRead(snap), checks, now).ran).toEqual([]);
  });

  it("takes its days from config, and an exception for the user suppresses it", async () => {
    // A service user: no password, one key last used 200 days ago.
    const keys = [key({ created: "2024-01-01T00:00:00Z", used: "2025-06-15T00:00:00Z" })];
    const snap = snapshot(keys, [user({ passwordEnabled: false })]);
    const at = "2026-01-01T00:00:00Z";
    const only = "checks:\n  key-inactive: { enabled: false }\n  key-age: { enabled: false }\n";
    expect((await scanInto(snap, only, at)).map((f) => [f.check, f.status])).toEqual([
      ["user-unused", "open"],
    ]);
    expect(await scanInto(snap, `${only}  user-unused: { days: 365 }\n`, at)).toEqual([]);
    const excepted = `${only}exceptions:\n  "111122223333":\n    - { user: alice, check: user-unused, reason: yearly audit job }\n`;
    const [f] = await scanInto(snap, excepted, at);
    expect(f).toMatchObject({
      status: "suppressed",
      statusReason: "exception for user alice: yearly audit job",
    });
  });

  it("appears in scan output", async () => {
    const r = await cliScan(
      [
        reportRow({
          user: "svc-old",
          created: "2024-01-01T00:00:00+00:00",
          password: false,
          mfa: false,
          key1: { created: "2024-01-01T00:00:00+00:00", used: "2025-06-15T00:00:00+00:00" },
        }),
      ],
      "",
      "2026-01-01T00:00:00Z",
    );
    expect(r.stdout).toMatch(/low\s+│ user-unused\s+│ svc-old\s+│ user\s+│ 200d idle/);
    expect(r.code).toBe(0);
  });
});
