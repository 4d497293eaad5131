import { findingChange } from "../engine/finding-change.js";
import { noRoutes } from "../engine/routing.js";
import { UserError } from "../errors.js";
import type { Finding, FindingStatus, Severity } from "../model/finding.js";
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

export interface FindingQuery {
  status?: FindingStatus[] | undefined;
  check?: string[] | undefined;
  /** Account ids or aliases (from the config or as findings recorded them). */
  account?: string[] | undefined;
  severity?: Severity[] | undefined;
  /** IAM user or principal, compared as IAM compares names: case-insensitively. */
  user?: string[] | undefined;
  /** Only findings seen at or after this time. */
  since?: Date | undefined;
  limit?: number | undefined;
}

/** Account ids for ids or aliases; an unknown alias is an error rather than an empty list. */
export async function accountIds(
  ctx: Pick<RunContext, "config" | "store">,
  names: string[],
): Promise<string[]> {
  const aliases = new Map<string, string>();
  for (const a of ctx.config.accounts) if ("id" in a && a.alias) aliases.set(a.alias.toLowerCase(), a.id);
  const out: string[] = [];
  for (const n of names) {
    if (/^\d{12}$/.test(n)) out.push(n);
    else {
      const id =
        aliases.get(n.toLowerCase()) ??
        (await ctx.store.listFindings({})).find((f) => f.accountAlias?.toLowerCase() === n.toLowerCase())
          ?.account;
      if (!id) throw new UserError(`--account ${n}: not an account id nor a known alias`);
      out.push(id);
    }
  }
  return out;
}

/** The findings a listing asks for; user and time filters apply after the store's own. */
export async function queryFindings(
  ctx: Pick<RunContext, "config" | "store">,
  q: FindingQuery,
): Promise<Finding[]> {
  const account = q.account?.length ? await accountIds(ctx, q.account) : undefined;
  const inMemory = Boolean(q.user?.length || q.since);
  const rows = await ctx.store.listFindings({
    status: q.status,
    check: q.check,
    account,
    severity: q.severity,
    limit: inMemory ? undefined : q.limit,
  });
  if (!inMemory) return rows;
  const users = new Set(q.user?.map((u) => u.toLowerCase()));
  const since = q.since?.getTime();
  const kept = rows.filter(
    (f) =>
      (!users.size || (f.owner !== undefined && users.has(f.owner.toLowerCase()))) &&
      (since === undefined || Date.parse(f.lastSeen) >= since),
  );
  return q.limit ? kept.slice(0, q.limit) : kept;
}
