import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsClientFactory } from "../../src/cloud/aws/clients.js";
import { runDoctor } from "../../src/run/doctor.js";
import { emulatorConfig, useFakeAwsCredentials } from "../sources/aws/setup.js";
import {
  addAccount,
  addRole,
  createState,
  type IamEmulator,
  startIamEmulator,
} from "../support/iam-emulator/index.js";

// doctor against the IAM emulator: one account it can read, one whose IAM denies every call, one
// whose role cannot be assumed, and a PagerDuty key of the wrong shape.

let emu: IamEmulator | undefined;
beforeAll(useFakeAwsCredentials);
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const A = "222222222222";
const B = "333333333333";
const C = "444444444444";

describe("doctor", () => {
  it("reports access and permissions per account and channel settings, each failure with its fix", async () => {
    const state = createState();
    for (const id of [A, B, C]) addAccount(state, { id });
    addRole(state, A, { name: "iamwarden-audit" });
    addRole(state, B, { name: "iamwarden-audit" });
    emu = await startIamEmulator({ state, accessDenied: [B] });
    const config = emulatorConfig(emu.url, {
      accounts: [
        { id: A, alias: "alpha", roleName: "iamwarden-audit" },
        { id: B, roleName: "iamwarden-audit" },
        { id: C, roleName: "no-such-role" },
      ],
      notify: { pagerduty: { routingKey: "too-short" } },
    });
    const report = await runDoctor({
      loaded: { config, baseDir: ".", source: "flag", path: "c.yaml", deferred: [] },
      factory: awsClientFactory(config.aws),
    });
    const row = (area: string, check: string) =>
      report.rows.find((r) => r.area.startsWith(area) && r.check === check);

    expect(row("aws", "credentials")?.verdict).toBe("ok");
    expect(row(`account ${A}`, "assume role")).toMatchObject({ verdict: "ok" });
    expect(row(`account ${A}`, "iam:ListUsers")).toMatchObject({ verdict: "ok" });
    expect(row(`account ${A}`, "iam:GetCredentialReport")).toMatchObject({ verdict: "ok" });
    // No harmless read exists for a write or a per-user call: said, not guessed.
    expect(row(`account ${A}`, "iam:ListAccessKeys")?.verdict).toBe("warn");

    expect(row(`account ${B}`, "iam:ListUsers")).toMatchObject({
      verdict: "fail",
      fix: "grant iam:ListUsers (policy/iamwarden-audit.json)",
    });
    expect(row(`account ${C}`, "assume role")).toMatchObject({ verdict: "fail" });
    expect(row(`account ${C}`, "assume role")?.detail).toMatch(/sts:AssumeRole/);
    expect(report.rows.some((r) => r.area === `account ${C}` && r.check.startsWith("iam:"))).toBe(false);

    expect(row("channel pagerduty", "reach")).toMatchObject({ verdict: "fail" });
    expect(report.failed).toBe(report.rows.filter((r) => r.verdict === "fail").length);
    expect(report.failed).toBeGreaterThanOrEqual(3);
  });
});
