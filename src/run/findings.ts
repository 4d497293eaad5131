import { findingChange } from "../engine/finding-change.js";
import { noRoutes } from "../engine/routing.js";
import { UserError } from "../errors.js";
import type { Finding } from "../model/finding.js";
import type { RunContext } from "./context.js";

/** Resolves a finding by hand, with who and why in its history; its resolution is reported. */
export async function resolveFinding(ctx: RunContext, id: string, reason: string): Promise<Finding> {
  const { store } = ctx;
  const f = await store.getFinding(id);
  if (!f) throw new UserError(`no finding matches ${id}`);
  if (f.status === "resolved") throw new UserError(`${f.id} is already resolved`);
  const cause = `resolved by ${ctx.actor}: ${reason}`;
  return store.applyChange(f.id, (cur) => {
    // Only a finding that was reported gets its resolution reported.
    const deps = { route: cur.firstReportedAt ? ctx.route : noRoutes, now: ctx.now, runId: ctx.runId };
    const c = findingChange(deps, cur, "resolved", cause, "resolved", { reason: cause });
    return { ...c, finding: { ...c.finding, resolvedAt: ctx.now.toISOString() } };
  });
}
