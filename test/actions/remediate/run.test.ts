import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { promptConfirm } from "../../../src/actions/remediate/confirm.js";
import { liftHold } from "../../../src/actions/remediate/finding-changes.js";
import { rollbackEntries } from "../../../src/actions/remediate/rollback.js";
import { type RemediationDeps, runRemediation } from "../../../src/actions/remediate/run.js";
import { findingId } from "../../../src/engine/reconcile.js";
import { addAccessKey, addUser } from "../../support/iam-emulator/index.js";
import { ACCT, type Bench, bench, FAST_VERIFY, keyStatus, NOW, route, userWithStaleKey } from "./fixture.js";

let b: Bench | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

function deps(x: Bench, over: Partial<RemediationDeps> = {}): RemediationDeps {
  return {
    store: x.store,
    config: x.config,
    now: NOW,
    runId: "run-1",
    actor: "tester",
    route: route(x.config),
    clientsFor: x.clientsFor,
    verify: FAST_VERIFY,
    ...over,
  };
}

/** Users u1..un, each with one stale key and an open finding reported a month ago. */
async function staleUsers(x: Bench, n: number) {
  const out = [];
  for (let i = 1; i <= n; i++) out.push({ user: `u${i}`, ...(await userWithStaleKey(x, `u${i}`)) });
  return out;
}

/** Answers typed on a stdin-like stream, read by the real prompt. */
function typed(answers: string) {
  const input = new PassThrough();
  const output = new PassThrough();
  let asked = "";
  output.on("data", (d) => {
    asked += d;
  });
  input.end(answers);
  return { confirm: promptConfirm(input, output), asked: () => asked };
}

describe("remediate run", () => {
  it("plans without changing anything, then applies what it planned", async () => {
    b = await bench();
    const users = await staleUsers(b, 2);
    const plan = await runRemediation(deps(b), { apply: false });
    expect(plan.items.map((r) => [r.item.user, r.status])).toEqual([
      ["u1", "planned"],
      ["u2", "planned"],
    ]);
    expect(plan.items[0]?.message).toBe("set the access key of u1 from Active to Inactive (UpdateAccessKey)");
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual(["Active", "Active"]);
    expect(await b.store.listAudit()).toEqual([]);
    expect(b.emu.calls.byAction.UpdateAccessKey).toBeUndefined();
    expect(b.emu.calls.byAction.AssumeRole).toBe(1);

    const run = await runRemediation(deps(b, { runId: "run-2" }), { apply: true });
    expect(run.items.map((r) => r.status)).toEqual(["applied", "applied"]);
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual(["Inactive", "Inactive"]);
    const f = await b.store.getFinding(users[0]!.finding.id);
    expect(f).toMatchObject({ status: "remediated", statusChangedAt: NOW.toISOString() });
    expect(f?.details.remediation).toMatchObject({
      action: "deactivate-key",
      at: NOW.toISOString(),
      runId: "run-2",
    });
    const outbox = await b.store.listOutbox({ findingId: f!.id });
    expect(outbox.map((o) => o.dedupKey)).toEqual([`${f!.id}|remediated|slack|${NOW.toISOString()}`]);
    expect((await b.store.findingEvents(f!.id)).at(-1)).toMatchObject({
      from: "open",
      to: "remediated",
      runId: "run-2",
    });
    expect((await b.store.listRuns()).find((r) => r.id === "run-2")?.summary).toMatchObject({ applied: 2 });

    // Applying again is a no-op: nothing is due any more, nothing is called.
    const again = await runRemediation(deps(b, { runId: "run-3" }), { apply: true });
    expect(again.items).toEqual([]);
    expect(b.emu.calls.byAction.UpdateAccessKey).toBe(2);
    expect(await b.store.listAudit()).toHaveLength(2);
  });

  it("asks before each change: y, n, all (empty is no)", async () => {
    b = await bench();
    const users = await staleUsers(b, 5);
    const t = typed("y\n\nmaybe\nn\nall\n");
    const r = await runRemediation(deps(b, { confirm: t.confirm }), { apply: true });
    expect(r.items.map((i) => [i.item.user, i.status])).toEqual([
      ["u1", "applied"],
      ["u2", "declined"],
      ["u3", "declined"],
      ["u4", "applied"],
      ["u5", "applied"],
    ]);
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual([
      "Inactive",
      "Active",
      "Active",
      "Inactive",
      "Inactive",
    ]);
    // Four questions (u5 is covered by "all"), one repeated after an unknown answer.
    expect(t.asked().match(/\[y\/N\/all\/quit\]/g)).toHaveLength(5);
    expect(t.asked()).toContain("please answer y, n, all or quit");
    expect(t.asked()).toContain(`finding ${users[0]!.finding.id}?`);
  });

  it("stops on quit, and at the end of input, leaving the rest untouched", async () => {
    b = await bench();
    const users = await staleUsers(b, 3);
    const quit = await runRemediation(deps(b, { confirm: typed("y\nquit\n").confirm }), { apply: true });
    expect(quit.items.map((i) => i.status)).toEqual(["applied", "not-attempted", "not-attempted"]);
    expect(quit.stopped).toBe("quit");
    const eof = await runRemediation(deps(b, { runId: "run-2", confirm: typed("").confirm }), {
      apply: true,
    });
    expect(eof.items.map((i) => i.status)).toEqual(["not-attempted", "not-attempted"]);
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual(["Inactive", "Active", "Active"]);
  });

  it("records exactly what was and was not done when a change fails half-way through a batch", async () => {
    b = await bench();
    const users = await staleUsers(b, 5);
    const failing = users[2]!.keyId;
    b.emu.options.fault = (c) =>
      c.action === "UpdateAccessKey" && c.params.AccessKeyId === failing
        ? { code: "AccessDenied", message: "explicit deny in a service control policy", status: 403 }
        : undefined;
    const r = await runRemediation(deps(b), { apply: true });
    expect(r.items.map((i) => [i.item.user, i.status])).toEqual([
      ["u1", "applied"],
      ["u2", "applied"],
      ["u3", "failed"],
      ["u4", "not-attempted"],
      ["u5", "not-attempted"],
    ]);
    const log = await b.store.listAudit({ runId: "run-1" });
    expect(log.map((e) => [e.target, e.result])).toEqual([
      [users[0]!.keyId, "applied"],
      [users[1]!.keyId, "applied"],
      [failing, "failed"],
    ]);
    expect(log[2]?.outcome?.error).toContain("explicit deny in a service control policy");
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual([
      "Inactive",
      "Inactive",
      "Active",
      "Active",
      "Active",
    ]);
    const statuses = await Promise.all(
      users.map(async (u) => (await b!.store.getFinding(u.finding.id))?.status),
    );
    expect(statuses).toEqual(["remediated", "remediated", "open", "open", "open"]);
    expect((await b.store.listRuns())[0]?.summary).toMatchObject({
      applied: 2,
      failed: 1,
      "not-attempted": 2,
    });
  });

  it("remediates nothing in an account over the blast-radius limit, and raises one critical finding", async () => {
    b = await bench({ config: { remediation: { maxShare: 0.5 } } });
    const users = await staleUsers(b, 3);
    // 3 keys due of 5 active: over half.
    addUser(b.state, ACCT, { name: "healthy" });
    for (const d of ["2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"])
      addAccessKey(b.state, ACCT, "healthy", { createDate: new Date(d) });
    const r = await runRemediation(deps(b), { apply: true });
    expect(r.items).toEqual([]);
    expect(r.blocked.map((x) => x.reason)).toEqual(["3 of 5 active keys due, over maxShare 0.5"]);
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual(["Active", "Active", "Active"]);
    expect(await b.store.listAudit()).toEqual([]);
    const blast = await b.store.getFinding(findingId("blast-radius", ACCT, ACCT));
    expect(blast).toMatchObject({ check: "blast-radius", severity: "critical", status: "open" });
    expect((await b.store.listOutbox({ findingId: blast!.id })).map((o) => o.event)).toEqual(["opened"]);
    // A dry run reports the block but raises nothing.
    const dry = await runRemediation(deps(b, { runId: "run-2" }), { apply: false });
    expect(dry.blocked).toHaveLength(1);
    expect(await b.store.listOutbox({ findingId: blast!.id })).toHaveLength(1);
  });

  it("counts a large account's active keys from its credential report", async () => {
    b = await bench({
      emulator: { reportDelayMs: 0 },
      config: { aws: { mode: "auto", reportThreshold: 3 }, remediation: { maxShare: 0.5 } },
    });
    await staleUsers(b, 3);
    addUser(b.state, ACCT, { name: "healthy" });
    for (const d of ["2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"])
      addAccessKey(b.state, ACCT, "healthy", { createDate: new Date(d) });
    // Inactive keys and the root user's keys are not in the denominator.
    addUser(b.state, ACCT, { name: "retired" });
    addAccessKey(b.state, ACCT, "retired", {
      createDate: new Date("2026-01-01T00:00:00Z"),
      status: "Inactive",
    });
    b.state.accounts.get(ACCT)!.rootKeys.push({ active: true, createDate: new Date("2020-01-01T00:00:00Z") });
    const r = await runRemediation(deps(b), { apply: false });
    expect(r.blocked.map((x) => x.reason)).toEqual(["3 of 5 active keys due, over maxShare 0.5"]);
    expect(b.emu.calls.byAction.GetCredentialReport).toBe(1);
    // Only the plan read keys one by one.
    expect(b.emu.calls.byAction.ListAccessKeys ?? 0).toBe(0);
  });

  it("leaves accounts outside remediation.accounts alone", async () => {
    b = await bench();
    const other = "210987654321";
    const { keyId } = await userWithStaleKey(b, "eve", { account: other });
    const r = await runRemediation(deps(b), { apply: true });
    expect(r.items).toEqual([]);
    expect(r.notDue.map((n) => n.reason)).toEqual([`account ${other} is not in remediation.accounts`]);
    expect(keyStatus(b, "eve", keyId, other)).toBe("Active");
  });

  it("rolls a whole run back from the audit log; the findings stay on hold until lifted, then wait a new grace period", async () => {
    b = await bench();
    const users = await staleUsers(b, 3);
    await runRemediation(deps(b), { apply: true });
    const rbDeps = {
      store: b.store,
      route: route(b.config),
      now: NOW,
      runId: "run-rb",
      actor: "tester",
      clientsFor: b.clientsFor,
      verify: FAST_VERIFY,
    };
    const rb = await rollbackEntries(rbDeps, await b.store.listAudit({ runId: "run-1" }));
    expect(rb.results.map((r) => r.status)).toEqual(["rolled-back", "rolled-back", "rolled-back"]);
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual(["Active", "Active", "Active"]);
    expect(rb.held.sort()).toEqual(users.map((u) => u.finding.id).sort());
    const f = await b.store.getFinding(users[0]!.finding.id);
    expect(f).toMatchObject({
      status: "suppressed",
      statusReason: `rolled back by tester at ${NOW.toISOString()}`,
      details: { rollback: { at: NOW.toISOString(), by: "tester" }, hold: { by: "tester" } },
    });
    expect(f?.details.remediation).toBeUndefined();
    // On hold: a month later, no run plans the same keys again.
    const later = new Date(NOW.getTime() + 30 * 86_400_000);
    const next = await runRemediation(deps(b, { runId: "run-4", now: later }), { apply: true });
    expect(next.items).toEqual([]);
    expect(next.notDue[0]?.reason).toMatch(
      /^on hold since 2026-06-01T12:00:00.000Z \(rolled back by tester\)/,
    );
    expect(users.map((u) => keyStatus(b!, u.user, u.keyId))).toEqual(["Active", "Active", "Active"]);
    // A second rollback of the same run finds nothing left to undo.
    const twice = await rollbackEntries(
      { ...rbDeps, runId: "run-rb2" },
      await b.store.listAudit({ runId: "run-1" }),
    );
    expect(twice.results).toEqual([]);
    // Lifted by hand: open again, and the 14-day grace period starts from the lift.
    await liftHold({ ...rbDeps, runId: "run-unhold", now: later }, users[0]!.finding.id);
    expect((await b.store.getFinding(users[0]!.finding.id))?.status).toBe("open");
    const after = await runRemediation(deps(b, { runId: "run-5", now: later }), { apply: false });
    expect(after.notDue.find((n) => n.finding.id === users[0]!.finding.id)?.reason).toBe(
      "grace period ends 2026-07-15T12:00:00.000Z",
    );
  });

  it("a hold ends at --until, and the grace period counts from there", async () => {
    b = await bench();
    const [u] = await staleUsers(b, 1);
    await runRemediation(deps(b), { apply: true });
    const until = new Date("2026-06-10T00:00:00.000Z");
    await rollbackEntries(
      {
        store: b.store,
        route: route(b.config),
        now: NOW,
        runId: "run-rb",
        actor: "tester",
        clientsFor: b.clientsFor,
        verify: FAST_VERIFY,
        holdUntil: until,
      },
      await b.store.listAudit({ runId: "run-1" }),
    );
    const f = await b.store.getFinding(u!.finding.id);
    expect(f?.statusReason).toBe(
      `rolled back by tester at ${NOW.toISOString()} (on hold until ${until.toISOString()})`,
    );
    const held = await runRemediation(deps(b, { runId: "r2", now: new Date("2026-06-09T00:00:00Z") }), {
      apply: false,
    });
    expect(held.notDue[0]?.reason).toContain("until 2026-06-10T00:00:00.000Z");
  });

  it("completes the audit entries a crashed run left pending, and records the remediation it finds", async () => {
    b = await bench();
    const [done, notDone, inFlight] = await staleUsers(b, 3);
    // A run killed between UpdateAccessKey and its audit record: the key is Inactive, the entry pending.
    const pending = async (u: typeof done, at: string) =>
      b!.store.appendAudit({
        runId: "run-crashed",
        at,
        actor: "cron",
        findingId: u!.finding.id,
        action: "deactivate-key",
        account: ACCT,
        target: u!.keyId,
        before: { user: u!.user, keyId: u!.keyId, status: "Active" },
        intent: { api: "UpdateAccessKey", UserName: u!.user, AccessKeyId: u!.keyId, Status: "Inactive" },
      });
    const id1 = await pending(done, "2026-05-31T03:00:00.000Z");
    b.state.accounts.get(ACCT)!.users.get(done!.user)!.keys[0]!.status = "Inactive";
    // Killed before the call: the key is still Active.
    const id2 = await pending(notDone, "2026-05-31T03:00:01.000Z");
    // Written a moment ago: a run may still be making this call; it is left to that run.
    const id3 = await pending(inFlight, new Date().toISOString());

    const r = await runRemediation(deps(b, { runId: "run-next" }), { apply: true });
    expect(r.recovered?.map((x) => [x.entryId, x.result, x.remediated])).toEqual([
      [id1, "applied", true],
      [id2, "failed", undefined],
    ]);
    const log = await b.store.listAudit();
    expect(log.find((e) => e.id === id1)).toMatchObject({
      result: "applied",
      outcome: { recovered: true, recoveredBy: "run-next", made: true, status: "Inactive" },
    });
    expect(log.find((e) => e.id === id2)).toMatchObject({ result: "failed", outcome: { made: false } });
    expect(log.find((e) => e.id === id3)?.result).toBe("pending");
    const f = await b.store.getFinding(done!.finding.id);
    expect(f).toMatchObject({ status: "remediated", details: { remediation: { auditId: id1 } } });
    expect((await b.store.findingEvents(f!.id)).at(-1)?.cause).toContain(
      "completed after an interrupted run",
    );
    // The key found Inactive is not deactivated again; the one not done is, in this run; the one
    // in flight is left to its run.
    expect(r.items.map((i) => [i.item.user, i.status, i.message])).toEqual([
      [inFlight!.user, "blocked", `another run is changing this (audit entry ${id3} is pending); left to it`],
      [notDone!.user, "applied", "deactivated"],
    ]);
    expect(b.emu.calls.byAction.UpdateAccessKey).toBe(1);
  });

  it("counts a key with both an age and an inactivity finding once: planned once, asked once, both remediated", async () => {
    b = await bench({ config: { remediation: { maxShare: 0.5 } } });
    const { keyId, finding } = await userWithStaleKey(b, "bob");
    const age = {
      ...finding,
      id: findingId("key-age", ACCT, keyId),
      check: "key-age",
      details: { ...finding.details, state: "expired" },
    };
    await b.store.reconcile({ account: ACCT, checks: ["key-age"] }, () => ({
      upserts: [age],
      events: [],
      outbox: [],
    }));
    // One more Active key: 1 of 2 is within maxShare 0.5; counted twice it would not be.
    addUser(b.state, ACCT, { name: "healthy" });
    addAccessKey(b.state, ACCT, "healthy", { createDate: new Date("2026-05-01T00:00:00Z") });
    const t = typed("y\n");
    const r = await runRemediation(deps(b, { confirm: t.confirm }), { apply: true });
    expect(r.blocked).toEqual([]);
    expect(r.items.map((i) => [i.item.keyId, i.status])).toEqual([[keyId, "applied"]]);
    expect(t.asked().match(/\[y\/N\/all\/quit\]/g)).toHaveLength(1);
    expect(b.emu.calls.byAction.UpdateAccessKey).toBe(1);
    expect((await b.store.getFinding(finding.id))?.status).toBe("remediated");
    expect((await b.store.getFinding(age.id))?.status).toBe("remediated");
    // Rolled back: both findings go on hold, so neither brings the key back into a plan.
    const rb = await rollbackEntries(
      {
        store: b.store,
        route: route(b.config),
        now: NOW,
        runId: "rb",
        actor: "tester",
        clientsFor: b.clientsFor,
        verify: FAST_VERIFY,
      },
      await b.store.listAudit({ runId: "run-1" }),
    );
    expect(rb.held.sort()).toEqual([finding.id, age.id].sort());
  });
});
