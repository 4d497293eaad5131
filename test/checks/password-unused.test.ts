import { describe, expect, it } from "vitest";
import { passwordUnused } from "../../src/checks/password-unused.js";
import { runStateChecks } from "../../src/engine/scan.js";
import { asApiRead, cliScan, reportRow, scanInto, snapshot, user } from "./snapshot.js";

const s = { days: 90 };
const judge = (u: ReturnType<typeof user>, now: string) =>
  passwordUnused.judge(snapshot([], [u]), s, new Date(now));
const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

describe("password-unused", () => {
  it("is not a finding at exactly N days since the last sign-in, and is one N days + 1 ms after", () => {
    const u = user({ passwordUsed: "2026-01-01T00:00:00Z" });
    expect(judge(u, "2026-04-01T00:00:00Z")).toEqual([]); // exactly 90 days
    const [c] = judge(u, plus("2026-04-01T00:00:00Z", 1));
    expect(c).toMatchObject({
      check: "password-unused",
      resource: "arn:aws:iam::111122223333:user/alice",
      owner: "alice",
      severity: "medium",
      title: "Console password of alice unused for 90 days",
      details: {
        username: "alice",
        passwordLastUsed: "2026-01-01T00:00:00.000Z",
        daysUnused: 90,
        thresholdDays: 90,
        neverUsed: false,
      },
    });
  });

  it("counts a never-used password from when it was set, else from the user's creation", () => {
    const set = user({ created: "2020-01-01T00:00:00Z", passwordChanged: "2026-01-01T00:00:00Z" });
    expect(judge(set, "2026-04-01T00:00:00Z")).toEqual([]);
    const [c] = judge(set, plus("2026-04-01T00:00:00Z", 1));
    expect(c?.title).toBe("Console password of alice never used in 90 days");
    expect(c?.details).toMatchObject({ neverUsed: true, passwordLastUsed: null });
    const created = user({ created: "2026-01-01T00:00:00Z" });
    expect(judge(created, "2026-04-01T00:00:00Z")).toEqual([]);
    expect(judge(created, plus("2026-04-01T00:00:00Z", 1))).toHaveLength(1);
  });

  it("ignores users without a console password, however old", () => {
    expect(judge(user({ passwordEnabled: false }), "2030-01-01T00:00:00Z")).toEqual([]);
  });

  it("does not run on an api read, which cannot know passwords (so resolves nothing)", () => {
    const snap = snapshot([], [user({ passwordUsed: "2020-01-01T00:00:00Z" })]);
    const now = new Date("2026-01-01T00:00:00Z");
    const checks = { "password-unused": { enabled: true, days: 90 } };
    expect(runStateChecks(snap, checks, now).ran).toEqual(["password-unused"]);
    expect(runStateChecks(asApiRead(snap), checks, now).ran).toEqual([]);
  });

  it("takes its days from config, and an exception for the user suppresses it", async () => {
    const snap = snapshot([], [user({ passwordUsed: "2026-01-01T00:00:00Z" })]);
    const at = "2026-02-15T00:00:00Z"; // 45 days
    expect(await scanInto(snap, "", at)).toEqual([]);
    const cfg = "checks:\n  password-unused: { days: 30 }\n";
    expect((await scanInto(snap, cfg, at)).map((f) => [f.check, f.status])).toEqual([
      ["password-unused", "open"],
    ]);
    const excepted = `${cfg}exceptions:\n  "111122223333":\n    - { user: alice, check: password-unused, reason: shared console }\n`;
    const [f] = await scanInto(snap, excepted, at);
    expect(f).toMatchObject({
      status: "suppressed",
      statusReason: "exception for user alice: shared console",
    });
    const off = "checks:\n  password-unused: { enabled: false, days: 30 }\n";
    expect(await scanInto(snap, off, at)).toEqual([]);
  });

  it("appears in scan output", async () => {
    const r = await cliScan(
      [
        reportRow({
          user: "olaf",
          created: "2025-01-01T00:00:00+00:00",
          password: true,
          passwordUsed: "2026-01-01T00:00:00+00:00",
          mfa: true,
        }),
      ],
      "checks:\n  password-unused: { days: 30 }\n",
      "2026-03-01T00:00:00Z",
    );
    expect(r.stdout).toMatch(/medium\s+│ password-unused\s+│ olaf\s+│ console password\s+│ 59d idle/);
    expect(r.code).toBe(0);
  });
});
