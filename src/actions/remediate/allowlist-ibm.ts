import { parseAllowlist } from "../../allowlist/allowlist.js";
import { allowlistCidrs } from "../../allowlist/cidr.js";
import { type IbmIamClient, isPreconditionFailed } from "../../cloud/ibm/iam.js";
import type { AuditEntry } from "../../model/audit.js";
import type { Store } from "../../store/store.js";
import { audited } from "./audited.js";
import type { RollbackResult } from "./types.js";
import { rollbackResultOf } from "./types.js";

// allowlist-ibm: an IBM Cloud account's IAM setting `allowed_ip_addresses` (a comma-separated
// string of addresses, CIDRs and ranges). Written with If-Match set to the entity_tag read just
// before; a 412 means someone else changed the setting in between: the change stops there and
// says so, it never writes over what it has not seen.

export interface IbmAllowlistContext {
  ibm: IbmIamClient;
  store: Store;
  account: string;
  runId: string;
  actor: string;
}

export interface IbmAllowlistPlan {
  provider: "ibm";
  account: string;
  current: string;
  entityTag: string;
  desired: string;
  currentCidrs: string[];
  desiredCidrs: string[];
  changes: string[];
  blocked?: string | undefined;
}

/** The setting's addresses as CIDRs, so that "a,b" and "b, a" and a range compare equal. */
export function ibmSettingCidrs(value: string): string[] {
  const { list } = parseAllowlist(value.split(",").join("\n"), "ibm");
  const c = allowlistCidrs(list);
  return [...c.v4, ...c.v6];
}

export async function planIbmAllowlist(
  ctx: IbmAllowlistContext,
  desiredCidrs: string[],
): Promise<IbmAllowlistPlan> {
  const now = await ctx.ibm.getIdentitySettings(ctx.account);
  const currentCidrs = ibmSettingCidrs(now.allowed_ip_addresses);
  const desired = desiredCidrs.join(",");
  const same = currentCidrs.join(",") === desired;
  return {
    provider: "ibm",
    account: ctx.account,
    current: now.allowed_ip_addresses,
    entityTag: now.entity_tag,
    desired,
    currentCidrs,
    desiredCidrs,
    changes: same
      ? []
      : [
          `set allowed_ip_addresses of ${ctx.account} (${desiredCidrs.length} CIDRs; If-Match ${now.entity_tag})`,
        ],
  };
}

export async function applyIbmAllowlist(
  ctx: IbmAllowlistContext,
  plan: IbmAllowlistPlan,
): Promise<{ auditIds: number[]; failed?: string | undefined }> {
  if (!plan.changes.length) return { auditIds: [] };
  const o = await audited(ctx, {
    action: "allowlist-ibm-set",
    target: `ibm:${ctx.account}`,
    before: { allowed_ip_addresses: plan.current, entity_tag: plan.entityTag },
    intent: { allowed_ip_addresses: plan.desired },
    call: () =>
      ctx.ibm.putIdentitySettings(ctx.account, plan.entityTag, { allowed_ip_addresses: plan.desired }),
    verify: async () => {
      const now = await ctx.ibm.getIdentitySettings(ctx.account);
      return {
        ok: ibmSettingCidrs(now.allowed_ip_addresses).join(",") === plan.desiredCidrs.join(","),
        observed: { entity_tag: now.entity_tag },
      };
    },
  });
  if (o.ok) return { auditIds: [o.auditId] };
  if (isPreconditionFailed(o.error)) {
    const now = await ctx.ibm.getIdentitySettings(ctx.account);
    return {
      auditIds: [o.auditId],
      failed: `the setting changed since it was read (entity_tag ${plan.entityTag} → ${now.entity_tag}, now "${now.allowed_ip_addresses}"); nothing written: run allowlist plan again`,
    };
  }
  return { auditIds: [o.auditId], failed: (o.error as Error).message };
}

/** Puts the previous value back, only when the setting still holds what the entry wrote. */
export async function rollbackIbmEntry(ctx: IbmAllowlistContext, entry: AuditEntry): Promise<RollbackResult> {
  const result = rollbackResultOf(entry);
  const wrote = String(entry.intent.allowed_ip_addresses ?? "");
  const previous = String(entry.before.allowed_ip_addresses ?? "");
  const now = await ctx.ibm.getIdentitySettings(ctx.account);
  if (ibmSettingCidrs(now.allowed_ip_addresses).join(",") === ibmSettingCidrs(previous).join(","))
    return result("nothing-to-undo", "the setting already holds the previous value");
  if (ibmSettingCidrs(now.allowed_ip_addresses).join(",") !== ibmSettingCidrs(wrote).join(","))
    return result(
      "impossible",
      `the setting changed since (now "${now.allowed_ip_addresses}"); not overwritten`,
    );
  const o = await audited(ctx, {
    action: "rollback-allowlist-ibm-set",
    target: entry.target,
    before: { allowed_ip_addresses: now.allowed_ip_addresses, entity_tag: now.entity_tag },
    intent: { allowed_ip_addresses: previous, rollbackOf: entry.id },
    call: () => ctx.ibm.putIdentitySettings(ctx.account, now.entity_tag, { allowed_ip_addresses: previous }),
    verify: async () => ({
      ok: (await ctx.ibm.getIdentitySettings(ctx.account)).allowed_ip_addresses === previous,
      observed: {},
    }),
    success: "rolled-back",
  });
  return o.ok
    ? result("rolled-back", `allowed_ip_addresses back to "${previous}"`, o.auditId)
    : result("failed", (o.error as Error).message, o.auditId);
}
