import type { AccountClients } from "../../cloud/aws/account-clients.js";
import type { Config } from "../../config/schema.js";
import type { Router } from "../../engine/routing.js";
import { UserError } from "../../errors.js";
import type { Store } from "../../store/store.js";
import { markRemediated, raiseToCritical } from "./finding-changes.js";
import { quarantineUserAction } from "./registry.js";
import type { ActionContext, Applied, Planned, VerifySettings } from "./types.js";

export interface QuarantineDeps {
  store: Store;
  config: Config;
  route: Router;
  now: Date;
  runId: string;
  actor: string;
  clients: AccountClients;
  verify?: VerifySettings | undefined;
}

export interface QuarantineRequest {
  account: string;
  user: string;
  /** The finding that calls for it (iam-change), if any: marked remediated, or raised. */
  findingId?: string | undefined;
  apply: boolean;
}

/**
 * Plans or applies a quarantine and records it on the finding. Only in remediation.accounts.
 * When a guard cannot be evaluated (group membership unreadable), nothing is done and the
 * finding is raised to critical with the reason.
 */
export async function runQuarantine(
  deps: QuarantineDeps,
  req: QuarantineRequest,
): Promise<{ planned: Planned; applied?: Applied | undefined }> {
  if (!deps.config.remediation.accounts.includes(req.account))
    throw new UserError(
      `account ${req.account} is not in remediation.accounts: iamwarden changes nothing there`,
    );
  const ctx: ActionContext = {
    iam: deps.clients.iam,
    partition: deps.clients.partition,
    store: deps.store,
    account: req.account,
    runId: deps.runId,
    actor: deps.actor,
    now: deps.now,
    findingId: req.findingId,
    verify: deps.verify,
    config: deps.config,
  };
  const changeDeps = {
    store: deps.store,
    route: deps.route,
    now: deps.now,
    runId: deps.runId,
    actor: deps.actor,
  };
  const planned = await quarantineUserAction.plan(ctx, req.user);
  if (!req.apply) return { planned };
  const applied = await quarantineUserAction.apply(ctx, planned);
  if (req.findingId) {
    if (applied.status === "applied")
      await markRemediated(changeDeps, req.findingId, {
        action: "quarantine-user",
        auditId: applied.auditIds.at(-1)!,
        description: `${req.user} quarantined`,
      });
    else if (applied.status === "blocked" && applied.planned.raiseToCritical)
      await raiseToCritical(changeDeps, req.findingId, applied.message);
  }
  return { planned: applied.planned, applied };
}
