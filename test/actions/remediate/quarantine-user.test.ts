import { afterEach, describe, expect, it } from "vitest";
import { runQuarantine } from "../../../src/actions/remediate/quarantine-run.js";
import {
  quarantineDocument,
  quarantineSettings,
  quarantineUser,
  rollbackQuarantineEntry,
} from "../../../src/actions/remediate/quarantine-user.js";
import { rollbackEntries } from "../../../src/actions/remediate/rollback.js";
import { findingId } from "../../../src/engine/reconcile.js";
import type { Finding } from "../../../src/model/finding.js";
import { addGroup, addPolicy, addUser, addUserToGroup } from "../../support/iam-emulator/index.js";
import { ACCT, type Bench, bench, FAST_VERIFY, NOW, route } from "./fixture.js";

let b: Bench | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

const POLICY_ARN = `arn:aws:iam::${ACCT}:policy/iamwarden-quarantine`;
const acct = (x: Bench) => x.state.accounts.get(ACCT)!;
/** What quarantine may touch, to compare before and after. */
const snapshot = (x: Bench, user: string) => {
  const u = acct(x).users.get(user)!;
  return {
    attached: [...u.attachedPolicies],
    inline: { ...u.inlinePolicies },
    policies: [...acct(x).policies.keys()].sort(),
  };
};

async function iamChangeFinding(x: Bench, user: string): Promise<Finding> {
  const at = "2026-05-31T10:00:00.000Z";
  const f: Finding = {
    id: findingId("iam-change", ACCT, user),
    check: "iam-change",
    account: ACCT,
    resource: user,
    owner: user,
    severity: "high",
    status: "open",
    title: `${user} changed IAM`,
    details: {},
    firstSeen: at,
    lastSeen: at,
    statusChangedAt: at,
    firstReportedAt: at,
    tickets: {},
  };
  await x.store.reconcile({ account: ACCT, checks: ["iam-change"] }, () => ({
    upserts: [f],
    events: [],
    outbox: [],
  }));
  return f;
}

const deps = (x: Bench, clients: Awaited<ReturnType<Bench["clientsFor"]>>) => ({
  store: x.store,
  config: x.config,
  route: route(x.config),
  now: NOW,
  runId: "run-q",
  actor: "tester",
  clients,
  verify: FAST_VERIFY,
});

describe("quarantine-user", () => {
  it("creates the deny policy when missing and attaches it; a second apply does nothing", async () => {
    b = await bench();
    addUser(b.state, ACCT, { name: "mallory" });
    const ctx = await b.ctx();
    const s = quarantineSettings(b.config);
    const planned = await quarantineUser.plan(ctx, "mallory", s);
    expect(planned.changes).toEqual([
      "create the customer-managed policy iamwarden-quarantine (CreatePolicy)",
      "attach iamwarden-quarantine to mallory (AttachUserPolicy)",
    ]);
    expect(acct(b).policies.size).toBe(0);

    const r = await quarantineUser.apply(ctx, "mallory", s);
    expect(r).toMatchObject({ status: "applied", verified: true });
    expect(JSON.parse(acct(b).policies.get(POLICY_ARN)!.document)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Sid: "IamwardenQuarantine", Effect: "Deny", Action: "iam:*", Resource: "*" }],
    });
    expect(acct(b).users.get("mallory")!.attachedPolicies).toEqual([POLICY_ARN]);
    const log = await b.store.listAudit();
    expect(log.map((e) => [e.action, e.result])).toEqual([
      ["create-policy", "applied"],
      ["attach-user-policy", "applied"],
    ]);

    const again = await quarantineUser.apply(ctx, "mallory", s);
    expect(again).toMatchObject({
      status: "noop",
      message: "mallory is already quarantined (iamwarden-quarantine attached)",
    });
    expect(await b.store.listAudit()).toHaveLength(2);
  });

  it("denies everything with denyAll", () => {
    expect(JSON.parse(quarantineDocument(true)).Statement[0].Action).toBe("*");
  });

  it("never quarantines an admin-group member, found on any page of ListGroupsForUser", async () => {
    b = await bench({ emulator: { pageCap: 2 } });
    addUser(b.state, ACCT, { name: "root.ops" });
    for (const g of ["dev", "ci", "readonly", "data", "admins"]) {
      addGroup(b.state, ACCT, { name: g });
      addUserToGroup(b.state, ACCT, "root.ops", g);
    }
    const before = snapshot(b, "root.ops");
    const r = await quarantineUser.apply(await b.ctx(), "root.ops", quarantineSettings(b.config));
    expect(r).toMatchObject({
      status: "blocked",
      message: "root.ops is a member of the admin group admins; admins are never quarantined",
    });
    expect(b.emu.calls.byAction.ListGroupsForUser).toBe(3);
    expect(snapshot(b, "root.ops")).toEqual(before);
    expect(await b.store.listAudit()).toEqual([]);
  });

  it("never quarantines a listed admin or break-glass user, without even asking IAM", async () => {
    b = await bench();
    const ctx = await b.ctx();
    const s = quarantineSettings(b.config);
    expect((await quarantineUser.apply(ctx, "alice.admin", s)).message).toBe(
      "alice.admin is a listed admin user; admins are never quarantined",
    );
    expect((await quarantineUser.apply(ctx, "break.glass", s)).message).toBe(
      "break.glass is a listed break-glass user; never quarantined",
    );
    expect(b.emu.calls.byAction.ListGroupsForUser).toBeUndefined();
  });

  it("compares admin, break-glass and admin-group names as IAM does: case-insensitively", async () => {
    b = await bench({ config: { remediation: { quarantine: { breakGlassUsers: ["break-glass"] } } } });
    const s = quarantineSettings(b.config);
    const ctx = await b.ctx();
    for (const name of ["ALICE.ADMIN", "Break-Glass", "ops"]) addUser(b.state, ACCT, { name });
    addGroup(b.state, ACCT, { name: "Admins" });
    addUserToGroup(b.state, ACCT, "ops", "Admins");
    expect((await quarantineUser.apply(ctx, "ALICE.ADMIN", s)).message).toBe(
      "ALICE.ADMIN is a listed admin user; admins are never quarantined",
    );
    expect((await quarantineUser.apply(ctx, "Break-Glass", s)).message).toBe(
      "Break-Glass is a listed break-glass user; never quarantined",
    );
    expect((await quarantineUser.apply(ctx, "ops", s)).message).toBe(
      "ops is a member of the admin group admins; admins are never quarantined",
    );
    expect(await b.store.listAudit()).toEqual([]);
  });

  it("protects the group `admins` when no admin group is configured", async () => {
    b = await bench({ config: { checks: { "iam-change": { adminUsers: [] } } } });
    addUser(b.state, ACCT, { name: "ops" });
    addGroup(b.state, ACCT, { name: "admins" });
    addUserToGroup(b.state, ACCT, "ops", "admins");
    const r = await quarantineUser.apply(await b.ctx(), "ops", quarantineSettings(b.config));
    expect(r).toMatchObject({
      status: "blocked",
      message: "ops is a member of the admin group admins; admins are never quarantined",
    });
    expect(acct(b).users.get("ops")!.attachedPolicies).toEqual([]);
  });

  it("never quarantines a holder of AdministratorAccess or IAMFullAccess, direct or through any group, unless allowed", async () => {
    b = await bench();
    const admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    const iamFull = "arn:aws:iam::aws:policy/IAMFullAccess";
    addUser(b.state, ACCT, { name: "direct" });
    acct(b).users.get("direct")!.attachedPolicies.push(admin);
    addUser(b.state, ACCT, { name: "viagroup" });
    const g = addGroup(b.state, ACCT, { name: "platform" });
    g.attachedPolicies.push(iamFull);
    addUserToGroup(b.state, ACCT, "viagroup", "platform");
    const f = await iamChangeFinding(b, "direct");
    const d = deps(b, await b.clientsFor(ACCT));
    const out = await runQuarantine(d, { account: ACCT, user: "direct", findingId: f.id, apply: true });
    expect(out.applied).toMatchObject({
      status: "blocked",
      message:
        "direct holds AdministratorAccess; administrators are never quarantined (list direct in remediation.quarantine.allowAdmins to allow it)",
    });
    // Refused automatically, so a person must look now.
    expect(await b.store.getFinding(f.id)).toMatchObject({ severity: "critical", status: "open" });
    const s = quarantineSettings(b.config);
    expect((await quarantineUser.apply(await b.ctx(), "viagroup", s)).message).toBe(
      "viagroup holds IAMFullAccess through the group platform; administrators are never quarantined (list viagroup in remediation.quarantine.allowAdmins to allow it)",
    );
    expect(acct(b).users.get("viagroup")!.attachedPolicies).toEqual([]);
    expect(await b.store.listAudit()).toEqual([]);
    // Allowed by name (as IAM compares names): quarantined like anyone else.
    const allowed = await quarantineUser.apply(await b.ctx(), "viagroup", {
      ...s,
      allowAdmins: ["ViaGroup"],
    });
    expect(allowed.status).toBe("applied");
    expect(acct(b).users.get("viagroup")!.attachedPolicies).toEqual([POLICY_ARN]);
  });

  it("does nothing when group membership cannot be read, and raises the finding to critical", async () => {
    b = await bench();
    addUser(b.state, ACCT, { name: "mallory" });
    const f = await iamChangeFinding(b, "mallory");
    b.emu.options.fault = (c) =>
      c.action === "ListGroupsForUser"
        ? { code: "AccessDenied", message: "not authorized to perform: iam:ListGroupsForUser", status: 403 }
        : undefined;
    const before = snapshot(b, "mallory");
    const out = await runQuarantine(deps(b, await b.clientsFor(ACCT)), {
      account: ACCT,
      user: "mallory",
      findingId: f.id,
      apply: true,
    });
    expect(out.applied?.status).toBe("blocked");
    expect(out.applied?.message).toMatch(
      /^cannot read the groups of mallory \(access denied: .*\); not quarantined/,
    );
    expect(snapshot(b, "mallory")).toEqual(before);
    expect(await b.store.listAudit()).toEqual([]);
    const raised = await b.store.getFinding(f.id);
    expect(raised).toMatchObject({ severity: "critical", status: "open" });
    expect(raised?.statusReason).toContain("remediation blocked: cannot read the groups of mallory");
    expect((await b.store.listOutbox({ findingId: f.id })).map((o) => [o.event, o.channel])).toEqual([
      ["escalated", "slack"],
    ]);
    // The same block on the next run is not news.
    await runQuarantine(deps(b, await b.clientsFor(ACCT)), {
      account: ACCT,
      user: "mallory",
      findingId: f.id,
      apply: true,
    });
    expect(await b.store.listOutbox({ findingId: f.id })).toHaveLength(1);
  });

  it("puts the same document inline when the user is at the managed-policy quota, and rolls back exactly", async () => {
    b = await bench();
    addUser(b.state, ACCT, { name: "busy" });
    for (let i = 0; i < 10; i++) {
      const p = addPolicy(b.state, ACCT, { name: `team-${i}` });
      acct(b).users.get("busy")!.attachedPolicies.push(p.arn);
    }
    const before = snapshot(b, "busy");
    const f = await iamChangeFinding(b, "busy");
    const out = await runQuarantine(deps(b, await b.clientsFor(ACCT)), {
      account: ACCT,
      user: "busy",
      findingId: f.id,
      apply: true,
    });
    expect(out.applied).toMatchObject({
      status: "applied",
      message: "iamwarden-quarantine put inline (managed-policy quota reached)",
    });
    expect(JSON.parse(acct(b).users.get("busy")!.inlinePolicies["iamwarden-quarantine"]!)).toEqual(
      JSON.parse(quarantineDocument(false)),
    );
    const log = await b.store.listAudit();
    expect(log.map((e) => [e.action, e.result])).toEqual([
      ["create-policy", "applied"],
      ["attach-user-policy", "failed"],
      ["put-user-policy", "applied"],
    ]);
    expect(log[1]?.outcome?.error).toContain("LimitExceeded");
    // A full quota is final: no retrying it as if it were throttling.
    expect(b.emu.calls.byAction.AttachUserPolicy).toBe(1);
    expect((await b.store.getFinding(f.id))?.status).toBe("remediated");

    const rb = await rollbackEntries(
      {
        store: b.store,
        route: route(b.config),
        now: NOW,
        runId: "run-rb",
        actor: "tester",
        clientsFor: b.clientsFor,
        verify: FAST_VERIFY,
      },
      await b.store.listAudit({ findingId: f.id }),
    );
    expect(rb.results.map((r) => [r.action, r.status])).toEqual([
      ["put-user-policy", "rolled-back"],
      ["create-policy", "rolled-back"],
    ]);
    expect(snapshot(b, "busy")).toEqual(before);
    expect(rb.held).toEqual([f.id]);
    // On hold: suppressed, so that nothing quarantines the user again behind the person's back.
    expect((await b.store.getFinding(f.id))?.status).toBe("suppressed");
  });

  it("refuses to attach a policy of that name that says something else", async () => {
    b = await bench();
    addUser(b.state, ACCT, { name: "mallory" });
    addPolicy(b.state, ACCT, {
      name: "iamwarden-quarantine",
      document: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
      }),
    });
    const r = await quarantineUser.apply(await b.ctx(), "mallory", quarantineSettings(b.config));
    expect(r.status).toBe("blocked");
    expect(r.message).toContain("exists with a different document");
    expect(acct(b).users.get("mallory")!.attachedPolicies).toEqual([]);
  });

  it("keeps the shared policy on rollback while another user is quarantined with it", async () => {
    b = await bench();
    addUser(b.state, ACCT, { name: "u1" });
    addUser(b.state, ACCT, { name: "u2" });
    const ctx = await b.ctx();
    const s = quarantineSettings(b.config);
    await quarantineUser.apply({ ...ctx, runId: "run-1" }, "u1", s);
    await quarantineUser.apply({ ...ctx, runId: "run-2" }, "u2", s);
    const first = await b.store.listAudit({ runId: "run-1" });
    const results = [];
    for (const e of [...first].reverse())
      results.push(await rollbackQuarantineEntry({ ...ctx, runId: "run-rb" }, e));
    expect(results.map((r) => r.status)).toEqual(["rolled-back", "kept"]);
    expect(results[1]?.message).toContain("still attached to 1 other principals");
    expect(acct(b).users.get("u1")!.attachedPolicies).toEqual([]);
    expect(acct(b).users.get("u2")!.attachedPolicies).toEqual([POLICY_ARN]);
    expect(acct(b).policies.has(POLICY_ARN)).toBe(true);
  });

  it("acts only in remediation accounts", async () => {
    b = await bench();
    await expect(
      runQuarantine(deps(b, await b.clientsFor(ACCT)), { account: "999999999999", user: "x", apply: true }),
    ).rejects.toThrow("account 999999999999 is not in remediation.accounts");
  });
});
