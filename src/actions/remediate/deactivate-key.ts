import { DeleteAccessKeyCommand, UpdateAccessKeyCommand } from "@aws-sdk/client-iam";
import { describeAwsError } from "../../cloud/aws/errors.js";
import type { AuditEntry } from "../../model/audit.js";
import { audited, type ChangeOutcome } from "./audited.js";
import { keyState } from "./iam-state.js";
import type { ActionContext, Applied, Planned, Recovered, RollbackResult } from "./types.js";

// deactivate-key: UpdateAccessKey Status=Inactive. delete-key: DeleteAccessKey, a set number of
// days after deactivation; a deleted key cannot be restored, and rollback says so.

export interface KeyRef {
  user: string;
  keyId: string;
}

async function readPlan(ctx: ActionContext, action: string, k: KeyRef) {
  const state = await keyState(ctx.iam, k.user, k.keyId);
  const planned: Planned = {
    action,
    account: ctx.account,
    target: k.keyId,
    user: k.user,
    findingId: ctx.findingId,
    before: state
      ? { user: k.user, keyId: k.keyId, status: state.status, createDate: state.createDate }
      : { user: k.user, keyId: k.keyId, exists: false },
    changes: [],
  };
  return { state, planned };
}

const finish = (planned: Planned, status: Applied["status"], message: string): Applied => ({
  planned,
  status,
  auditIds: [],
  message,
});

/** What an audited key change did: failed in AWS's words, or applied (and whether IAM shows it yet). */
const outcome = (planned: Planned, out: ChangeOutcome<unknown>, message: string): Applied =>
  out.ok
    ? { planned, status: "applied", auditIds: [out.auditId], verified: out.verified, message }
    : { planned, status: "failed", auditIds: [out.auditId], message: describeAwsError(out.error) };

export const deactivateKey = {
  name: "deactivate-key",

  async plan(ctx: ActionContext, k: KeyRef): Promise<Planned> {
    const { state, planned } = await readPlan(ctx, "deactivate-key", k);
    if (!state) planned.noop = "the access key no longer exists";
    else if (state.status === "Inactive") planned.noop = "the access key is already Inactive";
    else
      planned.changes.push(
        `set the access key of ${k.user} from ${state.status} to Inactive (UpdateAccessKey)`,
      );
    return planned;
  },

  async apply(ctx: ActionContext, k: KeyRef): Promise<Applied> {
    const planned = await deactivateKey.plan(ctx, k);
    if (planned.noop) return finish(planned, "noop", planned.noop);
    const out = await audited(ctx, {
      action: "deactivate-key",
      target: k.keyId,
      before: planned.before,
      intent: { api: "UpdateAccessKey", UserName: k.user, AccessKeyId: k.keyId, Status: "Inactive" },
      call: () =>
        ctx.iam.send(
          new UpdateAccessKeyCommand({ UserName: k.user, AccessKeyId: k.keyId, Status: "Inactive" }),
        ),
      verify: async () => {
        const now = await keyState(ctx.iam, k.user, k.keyId);
        return { ok: now?.status === "Inactive", observed: { status: now?.status ?? "absent" } };
      },
    });
    return outcome(
      planned,
      out,
      out.verified ? "deactivated" : "deactivated (not yet visible in IAM; eventual consistency)",
    );
  },
};

export const deleteKey = {
  name: "delete-key",

  async plan(ctx: ActionContext, k: KeyRef): Promise<Planned> {
    const { state, planned } = await readPlan(ctx, "delete-key", k);
    if (!state) planned.noop = "the access key no longer exists";
    // Someone reactivated it after iamwarden deactivated it: deleting now would break a user.
    else if (state.status !== "Inactive")
      planned.blocked = `the access key is ${state.status} again; not deleting it`;
    else
      planned.changes.push(`delete the Inactive access key of ${k.user} (DeleteAccessKey; cannot be undone)`);
    return planned;
  },

  async apply(ctx: ActionContext, k: KeyRef): Promise<Applied> {
    const planned = await deleteKey.plan(ctx, k);
    if (planned.noop) return finish(planned, "noop", planned.noop);
    if (planned.blocked) return finish(planned, "blocked", planned.blocked);
    const out = await audited(ctx, {
      action: "delete-key",
      target: k.keyId,
      before: planned.before,
      intent: { api: "DeleteAccessKey", UserName: k.user, AccessKeyId: k.keyId },
      call: () => ctx.iam.send(new DeleteAccessKeyCommand({ UserName: k.user, AccessKeyId: k.keyId })),
      verify: async () => {
        const now = await keyState(ctx.iam, k.user, k.keyId);
        return { ok: !now, observed: { status: now?.status ?? "absent" } };
      },
    });
    return outcome(planned, out, "deleted");
  },
};

/** Undoes one applied key entry: reactivation for deactivate-key; delete-key cannot be undone. */
export async function rollbackKeyEntry(ctx: ActionContext, entry: AuditEntry): Promise<RollbackResult> {
  const user = String(entry.intent.UserName ?? entry.before.user);
  const keyId = entry.target;
  const result = (status: RollbackResult["status"], message: string, auditId?: number): RollbackResult => ({
    entryId: entry.id,
    action: entry.action,
    target: keyId,
    status,
    message,
    auditId,
  });
  if (entry.action === "delete-key")
    return result(
      "impossible",
      `the access key of ${user} was deleted${entry.finishedAt ? ` on ${entry.finishedAt}` : ""}; a deleted key cannot be restored (the user needs a new one)`,
    );
  const wanted = String(entry.before.status ?? "Active");
  const now = await keyState(ctx.iam, user, keyId);
  if (!now)
    return result("impossible", `the access key of ${user} no longer exists; it cannot be reactivated`);
  if (now.status === wanted)
    return result("nothing-to-undo", `the access key of ${user} is already ${wanted}`);
  const out = await audited(ctx, {
    action: `rollback:${entry.action}`,
    target: keyId,
    before: { user, keyId, status: now.status },
    intent: {
      api: "UpdateAccessKey",
      UserName: user,
      AccessKeyId: keyId,
      Status: wanted,
      rollbackOf: entry.id,
    },
    success: "rolled-back",
    call: () =>
      ctx.iam.send(
        new UpdateAccessKeyCommand({
          UserName: user,
          AccessKeyId: keyId,
          Status: wanted as "Active" | "Inactive",
        }),
      ),
    verify: async () => {
      const k = await keyState(ctx.iam, user, keyId);
      return { ok: k?.status === wanted, observed: { status: k?.status ?? "absent" } };
    },
  });
  return out.ok
    ? result("rolled-back", `access key of ${user} set back to ${wanted}`, out.auditId)
    : result("failed", describeAwsError(out.error), out.auditId);
}

/** What rolling a key entry back would do. */
export function describeKeyRollback(entry: AuditEntry): string {
  const user = String(entry.intent.UserName ?? entry.before.user);
  if (entry.action === "delete-key") return `nothing: the deleted access key of ${user} cannot be restored`;
  return `set the access key of ${user} back to ${String(entry.before.status ?? "Active")} (UpdateAccessKey)`;
}

/** After a crash: whether the key is in the state the pending entry asked for. */
export async function recoverKeyEntry(ctx: ActionContext, entry: AuditEntry): Promise<Recovered> {
  const user = String(entry.intent.UserName ?? entry.before.user);
  const now = await keyState(ctx.iam, user, entry.target);
  const observed = { status: now?.status ?? "absent" };
  if (entry.intent.api === "DeleteAccessKey") return { made: !now, observed };
  return { made: now !== undefined && now.status === entry.intent.Status, observed };
}
