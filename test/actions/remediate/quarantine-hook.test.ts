import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import { runCli } from "../../support/cli.js";
import {
  addUser,
  createState,
  type IamEmulator,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { writeOps } from "../../support/iam-emulator/write-ops.js";

// iam-change with quarantine on: replaying the CloudTrail fixture in which mallory (not an
// admin) puts an admin policy on herself quarantines her through the remediation action.

const ACCOUNT = "123456789012";
const FILE = resolve(
  import.meta.dirname,
  "../../fixtures/cloudtrail/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/16/123456789012_CloudTrail_us-east-1_20240316T1005Z_Q8bLm3ZxT5e2cR7d.json",
);
let emu: IamEmulator;
let dir: string;
const env = {
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE02",
  AWS_SECRET_ACCESS_KEY: "secret",
  AWS_REGION: "us-east-1",
};

beforeAll(async () => {
  // The CLI runs in this process: the SDK's default chain reads these.
  Object.assign(process.env, env);
  const state = createState({ homeAccount: ACCOUNT });
  addUser(state, ACCOUNT, { name: "mallory" });
  addUser(state, ACCOUNT, { name: "ci-deploy" });
  emu = await startIamEmulator({ state, operations: writeOps() });
  dir = mkdtempSync(join(tmpdir(), "iamwarden-qhook-"));
});
afterAll(() => emu.close());

const config = (remediationAccounts: string[]) =>
  [
    `aws: { endpoint: "${emu.url}" }`,
    `accounts: [{ id: "${ACCOUNT}" }]`,
    "checks:",
    "  iam-change: { adminUsers: [alice.admin], quarantine: true }",
    `remediation: { accounts: [${remediationAccounts.map((a) => `"${a}"`).join(", ")}] }`,
  ].join("\n");

async function replay(name: string, remediationAccounts: string[]) {
  const cfg = join(dir, `${name}.yaml`);
  writeFileSync(cfg, config(remediationAccounts));
  const db = join(dir, `${name}.db`);
  const r = await runCli([
    "events",
    "replay",
    "--config",
    cfg,
    "--store",
    db,
    "--now",
    "2024-03-20T00:00:00Z",
    "--commit",
    FILE,
  ]);
  return { r, db };
}

it("quarantines the non-admin IAM user and marks the finding remediated, audit log first", async () => {
  const { r, db } = await replay("on", [ACCOUNT]);
  expect(r.stderr).toContain("quarantine");
  const attached = emu.state.accounts.get(ACCOUNT)?.users.get("mallory");
  expect(JSON.stringify(attached)).toContain("iamwarden-quarantine");
  const store = openSqliteStore(db);
  try {
    const [f] = await store.listFindings({ check: ["iam-change"] });
    expect(f).toMatchObject({ owner: "mallory", status: "remediated" });
    const audit = await store.listAudit({ findingId: f!.id });
    expect(audit.map((a) => [a.action, a.result])).toEqual([
      ["create-policy", "applied"],
      ["attach-user-policy", "applied"],
    ]);
    expect(audit[1]?.outcome).toMatchObject({
      verified: true,
      attachedPolicies: [`arn:aws:iam::${ACCOUNT}:policy/iamwarden-quarantine`],
    });
  } finally {
    await store.close();
  }
});

it("changes nothing in an account outside remediation.accounts, and says so", async () => {
  const before = JSON.stringify(emu.state.accounts.get(ACCOUNT)?.users.get("ci-deploy"));
  const { r, db } = await replay("off", []);
  expect(r.stderr).toContain("not in remediation.accounts");
  const store = openSqliteStore(db);
  try {
    const [f] = await store.listFindings({ check: ["iam-change"] });
    expect(f?.status).toBe("open");
    expect(await store.listAudit()).toEqual([]);
  } finally {
    await store.close();
  }
  expect(JSON.stringify(emu.state.accounts.get(ACCOUNT)?.users.get("ci-deploy"))).toBe(before);
});
