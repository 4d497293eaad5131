import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import { useFakeAwsCredentials } from "../../sources/aws/setup.js";
import { runCli } from "../../support/cli.js";
import {
  addAccount,
  addRole,
  addUser,
  createState,
  startIamEmulator,
} from "../../support/iam-emulator/index.js";
import { writeOps } from "../../support/iam-emulator/write-ops.js";
import { ACCT, type Bench, keyStatus, NOW, ROLE, userWithStaleKey } from "./fixture.js";

// The commands as a user runs them: the real CLI (in process), against the IAM emulator.

const dir = mkdtempSync(join(tmpdir(), "iamwarden-remediate-cli-"));
const storePath = join(dir, "iamwarden.db");
const configPath = join(dir, "iamwarden.yaml");
let b: Bench;

beforeAll(async () => {
  useFakeAwsCredentials();
  const state = createState();
  addAccount(state, { id: ACCT, name: "prod" });
  addRole(state, ACCT, { name: ROLE });
  const emu = await startIamEmulator({ state, operations: writeOps() });
  writeFileSync(
    configPath,
    stringify({
      store: "./iamwarden.db",
      aws: { endpoint: emu.url, region: "us-east-1", maxAttempts: 2 },
      accounts: [{ id: ACCT, alias: "prod", roleName: ROLE }],
      checks: { "iam-change": { adminGroup: "admins", adminUsers: ["alice.admin"] } },
      remediation: { accounts: [ACCT], "key-inactive": { enabled: true, graceDays: 14 }, maxShare: 1 },
    }),
  );
  const store = openSqliteStore(storePath);
  b = {
    emu,
    state,
    store,
    config: undefined as never,
    clientsFor: undefined as never,
    ctx: undefined as never,
    close: async () => {},
  };
  await userWithStaleKey(b, "bob");
  await userWithStaleKey(b, "carol");
  // key-age is not enabled for remediation in this config.
  await userWithStaleKey(b, "dave", { check: "key-age" });
  addUser(state, ACCT, { name: "mallory" });
  await store.close();
});

afterAll(async () => {
  await b.emu.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], input?: string) =>
  runCli(["--config", configPath, "--now", NOW.toISOString(), "--commit", ...args], { input });

const keyOf = (user: string) => b.state.accounts.get(ACCT)!.users.get(user)!.keys[0]!.id;

describe("remediate, audit, rollback and quarantine commands", () => {
  it("exits non-zero when the blast-radius limit blocks a run, says what to do, and names checks that are off", async () => {
    const strict = join(dir, "strict.yaml");
    writeFileSync(
      strict,
      stringify({
        store: "./iamwarden.db",
        aws: { endpoint: b.emu.url, region: "us-east-1", maxAttempts: 2 },
        accounts: [{ id: ACCT, alias: "prod", roleName: ROLE }],
        remediation: { accounts: [ACCT], "key-inactive": { enabled: true, graceDays: 14 }, maxShare: 0.1 },
      }),
    );
    const r = await runCli(["--config", strict, "--now", NOW.toISOString(), "remediate", "--apply", "--yes"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(
      `Blast-radius limit: nothing remediated in ${ACCT}: 2 of 3 active keys due, over maxShare 0.1 (2 keys). Review them (iamwarden findings list --account ${ACCT}), then remediate in smaller batches (--check, --account) or raise remediation.maxShare / remediation.maxPerRun.`,
    );
    expect(r.stdout).toContain(
      "1 key-age findings: remediation of key-age is not enabled (remediation.key-age.enabled).",
    );
    expect(r.stdout).not.toContain("not due yet");
    expect(keyStatus(b, "bob", keyOf("bob"))).toBe("Active");
  }, 120_000);

  it("refuses to apply without --yes when stdin is not a terminal", async () => {
    const r = await cli(["remediate", "--apply"], "y\ny\n");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "iamwarden: --apply asks before each change, but stdin is not a terminal; pass --yes to apply without asking\n",
    );
    expect(keyStatus(b, "bob", keyOf("bob"))).toBe("Active");
    expect((await cli(["remediate", "--check", "iam-change"])).stderr).toContain(
      "--check: remediation acts on key-inactive, key-age, not iam-change",
    );
  });

  let runId = "";
  it("prints the plan, then applies with --yes; key ids stay masked", async () => {
    const plan = await cli(["remediate", "--format", "json"]);
    expect(plan.code).toBe(0);
    const doc = JSON.parse(plan.stdout);
    expect(doc.items.map((i: { user: string; status: string }) => [i.user, i.status])).toEqual([
      ["bob", "planned"],
      ["carol", "planned"],
    ]);
    expect(plan.stdout).not.toContain(keyOf("bob"));
    expect(doc.items[0].keyId).toBe(`AKIA…${keyOf("bob").slice(-4)}`);

    const table = await cli(["remediate"]);
    expect(table.stdout).toContain("Plan only: run with --apply to make these changes.");

    const applied = await cli(["remediate", "--apply", "--yes", "--format", "json"]);
    expect(applied.code).toBe(0);
    const out = JSON.parse(applied.stdout);
    runId = out.runId;
    expect(out.items.map((i: { status: string }) => i.status)).toEqual(["applied", "applied"]);
    expect(keyStatus(b, "bob", keyOf("bob"))).toBe("Inactive");
    expect(keyStatus(b, "carol", keyOf("carol"))).toBe("Inactive");
  });

  it("lists the audit log as JSON and as a table, masked", async () => {
    const json = await cli(["audit", "--run", runId, "--format", "json"]);
    const entries = JSON.parse(json.stdout);
    expect(entries.map((e: { action: string; result: string }) => [e.action, e.result])).toEqual([
      ["deactivate-key", "applied"],
      ["deactivate-key", "applied"],
    ]);
    expect(json.stdout).not.toContain(keyOf("bob"));
    const table = await cli(["audit", "--since", "2000-01-01T00:00:00Z"]);
    expect(table.stdout).toContain("UpdateAccessKey");
    expect(table.stdout).not.toContain(keyOf("carol"));
    const shown = await cli(["--show-key-ids", "audit", "--format", "json"]);
    expect(shown.stdout).toContain(keyOf("carol"));
    expect((await cli(["audit", "--since", "yesterday"])).stderr).toContain("--since: not an ISO date-time");
  });

  it("rolls the run back (asking, or --yes) and puts its findings on hold until unhold", async () => {
    expect((await cli(["rollback"])).stderr).toContain("name a finding id or pass --run <run-id>");
    // Like remediate --apply: no silent rollback from a pipe.
    const piped = await cli(["rollback", "--run", runId], "y\ny\n");
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain("pass --yes to roll back without asking");
    expect(keyStatus(b, "bob", keyOf("bob"))).toBe("Inactive");
    const r = await cli(["rollback", "--run", runId, "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rolled-back/);
    expect(r.stdout).toMatch(/is on hold: no remediation redoes it until `iamwarden findings unhold/);
    expect(keyStatus(b, "bob", keyOf("bob"))).toBe("Active");
    expect(keyStatus(b, "carol", keyOf("carol"))).toBe("Active");
    const again = await cli(["rollback", "--run", runId, "--yes"]);
    expect(again.stdout).toContain("Nothing left to undo");
  }, 120_000);

  it("does not redo a rolled-back change, says why, and `findings unhold` lifts the hold", async () => {
    const next = await cli(["remediate", "--format", "json"]);
    const doc = JSON.parse(next.stdout);
    expect(doc.items).toEqual([]);
    const held = doc.notDue.filter((n: { check: string }) => n.check === "key-inactive");
    expect(held.map((n: { reason: string }) => n.reason)).toEqual([
      expect.stringMatching(/^on hold since/),
      expect.stringMatching(/^on hold since/),
    ]);
    const id = held[0].finding;
    const lifted = await cli(["findings", "unhold", id]);
    expect(lifted.stdout).toBe(`Hold lifted: ${id} is open again.\n`);
    expect((await cli(["findings", "unhold", id])).stderr).toContain("is not on hold");
  }, 120_000);

  it("quarantines a user by hand, and never an admin", async () => {
    const plan = await cli(["quarantine", "mallory", "--account", ACCT]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("attach iamwarden-quarantine to mallory (AttachUserPolicy)");
    expect(b.state.accounts.get(ACCT)!.users.get("mallory")!.attachedPolicies).toEqual([]);
    const piped = await cli(["quarantine", "mallory", "--account", ACCT, "--apply"], "y\n");
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain("pass --yes to apply without asking");
    expect(b.state.accounts.get(ACCT)!.users.get("mallory")!.attachedPolicies).toEqual([]);
    const applied = await cli(["quarantine", "mallory", "--account", ACCT, "--apply", "--yes"]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("applied: iamwarden-quarantine attached");
    expect(b.state.accounts.get(ACCT)!.users.get("mallory")!.attachedPolicies).toEqual([
      `arn:aws:iam::${ACCT}:policy/iamwarden-quarantine`,
    ]);
    const admin = await cli(["quarantine", "alice.admin", "--account", ACCT, "--apply", "--yes"]);
    expect(admin.code).toBe(2);
    expect(admin.stdout).toContain("blocked: alice.admin is a listed admin user");
    const elsewhere = await cli(["quarantine", "mallory", "--account", "999999999999"]);
    expect(elsewhere.stderr).toContain("account 999999999999 is not in remediation.accounts");
  }, 120_000);
});
