import { afterEach, describe, expect, it } from "vitest";
import { deactivateKey, deleteKey, rollbackKeyEntry } from "../../../src/actions/remediate/deactivate-key.js";
import { undoable } from "../../../src/actions/remediate/rollback.js";
import { type Bench, bench, keyStatus, userWithStaleKey } from "./fixture.js";

let b: Bench | undefined;
afterEach(async () => {
  await b?.close();
  b = undefined;
});

describe("deactivate-key", () => {
  it("plans from the key's current state and changes nothing", async () => {
    b = await bench();
    const { keyId, finding } = await userWithStaleKey(b, "bob");
    const planned = await deactivateKey.plan(await b.ctx({ findingId: finding.id }), { user: "bob", keyId });
    expect(planned).toMatchObject({
      action: "deactivate-key",
      target: keyId,
      before: { user: "bob", keyId, status: "Active", createDate: "2025-01-01T00:00:00.000Z" },
      changes: ["set the access key of bob from Active to Inactive (UpdateAccessKey)"],
    });
    expect(keyStatus(b, "bob", keyId)).toBe("Active");
    expect(b.emu.calls.byAction.UpdateAccessKey).toBeUndefined();
    expect(await b.store.listAudit()).toEqual([]);
  });

  it("writes the intent, deactivates, reads back and records the result; a second apply does nothing", async () => {
    b = await bench();
    const { keyId, finding } = await userWithStaleKey(b, "bob");
    const ctx = await b.ctx({ findingId: finding.id });
    const first = await deactivateKey.apply(ctx, { user: "bob", keyId });
    expect(first).toMatchObject({ status: "applied", verified: true });
    expect(keyStatus(b, "bob", keyId)).toBe("Inactive");
    const [entry, ...others] = await b.store.listAudit();
    expect(others).toEqual([]);
    expect(entry).toMatchObject({
      id: first.auditIds[0],
      runId: "run-test",
      actor: "tester",
      findingId: finding.id,
      action: "deactivate-key",
      account: "123456789012",
      target: keyId,
      before: { status: "Active", user: "bob" },
      intent: { api: "UpdateAccessKey", UserName: "bob", AccessKeyId: keyId, Status: "Inactive" },
      result: "applied",
      outcome: { verified: true, status: "Inactive" },
    });
    const second = await deactivateKey.apply(ctx, { user: "bob", keyId });
    expect(second).toMatchObject({
      status: "noop",
      message: "the access key is already Inactive",
      auditIds: [],
    });
    expect(b.emu.calls.byAction.UpdateAccessKey).toBe(1);
    expect(await b.store.listAudit()).toHaveLength(1);
  });

  it("waits for IAM's eventual consistency before calling the change verified", async () => {
    b = await bench({ write: { staleReads: 2 } });
    const { keyId } = await userWithStaleKey(b, "bob");
    const r = await deactivateKey.apply(await b.ctx(), { user: "bob", keyId });
    expect(r.verified).toBe(true);
    // One read for the plan, two stale reads, then the one that shows Inactive.
    expect(b.emu.calls.byAction.ListAccessKeys).toBe(4);
  });

  it("says when the change is accepted but not yet visible", async () => {
    b = await bench({ write: { staleReads: 50 } });
    const { keyId } = await userWithStaleKey(b, "bob");
    const r = await deactivateKey.apply(await b.ctx({ verify: { attempts: 2, delayMs: 1 } }), {
      user: "bob",
      keyId,
    });
    expect(r).toMatchObject({ status: "applied", verified: false });
    expect(r.message).toContain("not yet visible");
    expect((await b.store.listAudit())[0]).toMatchObject({
      result: "applied",
      outcome: { verified: false, status: "Active" },
    });
  });

  it("records a refused call as failed, with AWS's error", async () => {
    b = await bench();
    const { keyId } = await userWithStaleKey(b, "bob");
    b.emu.options.fault = (c) =>
      c.action === "UpdateAccessKey"
        ? { code: "AccessDenied", message: "not authorized to perform: iam:UpdateAccessKey", status: 403 }
        : undefined;
    const r = await deactivateKey.apply(await b.ctx(), { user: "bob", keyId });
    expect(r.status).toBe("failed");
    expect(r.message).toContain("access denied: the role lacks iam:UpdateAccessKey");
    expect(keyStatus(b, "bob", keyId)).toBe("Active");
    expect((await b.store.listAudit())[0]).toMatchObject({
      result: "failed",
      outcome: { error: expect.stringContaining("access denied") },
    });
  });

  it("rolls back to exactly the previous state, once", async () => {
    b = await bench();
    const { keyId } = await userWithStaleKey(b, "bob");
    const ctx = await b.ctx();
    await deactivateKey.apply(ctx, { user: "bob", keyId });
    const [entry] = await b.store.listAudit();
    const r = await rollbackKeyEntry({ ...ctx, runId: "run-rollback" }, entry!);
    expect(r).toMatchObject({ status: "rolled-back" });
    expect(keyStatus(b, "bob", keyId)).toBe("Active");
    const log = await b.store.listAudit();
    expect(log[1]).toMatchObject({
      runId: "run-rollback",
      action: "rollback:deactivate-key",
      intent: { Status: "Active", rollbackOf: entry!.id },
      result: "rolled-back",
    });
    // The log now says it is undone: nothing is left to roll back.
    expect(await undoable(b.store, log)).toEqual([]);
  });

  it("deletes an Inactive key, and says a deleted key cannot be rolled back", async () => {
    b = await bench();
    const { keyId } = await userWithStaleKey(b, "bob");
    const ctx = await b.ctx();
    expect((await deleteKey.plan(ctx, { user: "bob", keyId })).blocked).toBe(
      "the access key is Active again; not deleting it",
    );
    await deactivateKey.apply(ctx, { user: "bob", keyId });
    const del = await deleteKey.apply(ctx, { user: "bob", keyId });
    expect(del).toMatchObject({ status: "applied", verified: true });
    expect(keyStatus(b, "bob", keyId)).toBe("absent");
    const [deact, deleted] = await b.store.listAudit();
    expect(deleted).toMatchObject({
      action: "delete-key",
      before: { status: "Inactive" },
      intent: { api: "DeleteAccessKey" },
    });
    const r1 = await rollbackKeyEntry(ctx, deleted!);
    expect(r1.status).toBe("impossible");
    expect(r1.message).toContain("a deleted key cannot be restored");
    const r2 = await rollbackKeyEntry(ctx, deact!);
    expect(r2).toMatchObject({
      status: "impossible",
      message: "the access key of bob no longer exists; it cannot be reactivated",
    });
    expect(await b.store.listAudit()).toHaveLength(2);
    expect((await deleteKey.apply(ctx, { user: "bob", keyId })).status).toBe("noop");
  });
});
