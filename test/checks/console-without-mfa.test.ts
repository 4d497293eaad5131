import { describe, expect, it } from "vitest";
import { consoleWithoutMfa } from "../../src/checks/console-without-mfa.js";
import { runStateChecks } from "../../src/engine/scan.js";
import { asApiRead, cliScan, reportRow, scanInto, snapshot, user } from "./snapshot.js";

const judge = (...users: ReturnType<typeof user>[]) =>
  consoleWithoutMfa.judge(snapshot([], users), {}, new Date("2026-01-01T00:00:00Z"));

describe("console-without-mfa", () => {
  it("flags a console password without an active MFA device, as high", () => {
    const [c, ...rest] = judge(
      user({ name: "nomfa", mfaActive: false, passwordUsed: "2025-12-01T00:00:00Z" }),
      user({ name: "withmfa" }),
      user({ name: "svc", passwordEnabled: false, mfaActive: false }),
    );
    expect(rest).toEqual([]);
    expect(c).toMatchObject({
      check: "console-without-mfa",
      resource: "arn:aws:iam::111122223333:user/nomfa",
      owner: "nomfa",
      severity: "high",
      title: "nomfa can sign in to the console without MFA",
      details: { username: "nomfa", passwordLastUsed: "2025-12-01T00:00:00.000Z" },
    });
  });

  it("does not run on an api read, which cannot see passwords or MFA (so resolves nothing)", () => {
    const snap = snapshot([], [user({ mfaActive: false })]);
    const now = new Date("2026-01-01T00:00:00Z");
    const checks = { "console-without-mfa": { enabled: true } };
    expect(runStateChecks(snap, checks, now).ran).toEqual(["console-without-mfa"]);
    expect(runStateChecks(asApiRead(snap), checks, now).ran).toEqual([]);
  });

  it("is no finding once MFA is on, and an exception for the user suppresses it", async () => {
    const at = "2026-01-01T00:00:00Z";
    const used = "2025-12-20T00:00:00Z";
    const snap = snapshot([], [user({ mfaActive: false, passwordUsed: used })]);
    expect((await scanInto(snap, "", at)).map((f) => [f.check, f.status])).toEqual([
      ["console-without-mfa", "open"],
    ]);
    expect(await scanInto(snapshot([], [user({ passwordUsed: used })]), "", at)).toEqual([]);
    const excepted = `exceptions:\n  "111122223333":\n    - { user: alice, reason: hardware key on order }\n`;
    const [f] = await scanInto(snap, excepted, at);
    expect(f).toMatchObject({
      status: "suppressed",
      statusReason: "exception for user alice: hardware key on order",
    });
    expect(await scanInto(snap, "checks:\n  console-without-mfa: { enabled: false }\n", at)).toEqual([]);
  });

  it("appears in scan output", async () => {
    const r = await cliScan(
      [
        reportRow({
          user: "mia",
          created: "2025-01-01T00:00:00+00:00",
          password: true,
          passwordUsed: "2026-01-01T00:00:00+00:00",
          mfa: false,
        }),
      ],
      "",
      "2026-01-02T00:00:00Z",
    );
    expect(r.stdout).toMatch(/high\s+│ console-without-mfa\s+│ mia\s+│ console password\s+│\s+│ no-mfa/);
    expect(r.code).toBe(0);
  });
});
