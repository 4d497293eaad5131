import type { ExceptionEntry } from "../config/schema.js";
import type { Candidate } from "../model/finding.js";
import { sameIamName } from "../util/iam-name.js";

export interface ExceptionContext {
  /** Exceptions of the candidate's account (and "*" for every account). */
  entries: ExceptionEntry[];
  /** Tags of the candidate's IAM user, when known. */
  userTags?: Record<string, string> | undefined;
  /** Tag keys that exempt a user whatever their value (except "false"). */
  exemptTags: string[];
}

/** Why a candidate is suppressed, or undefined. Pure: `now` decides whether `until` has passed. */
export function matchException(c: Candidate, ctx: ExceptionContext, now: Date): string | undefined {
  const user = (c.details.username as string | undefined) ?? c.owner;
  const keyId = c.details.keyId as string | undefined;
  for (const e of ctx.entries) {
    if (e.until && e.until.getTime() < now.getTime()) continue;
    if (e.check && e.check !== c.check) continue;
    const why = e.reason ? `: ${e.reason}` : "";
    // IAM user names are unique case-insensitively: `Break-Glass` is the listed `break-glass`.
    if (e.user && sameIamName(e.user, user)) return `exception for user ${e.user}${why}`;
    if (e.key && (e.key === keyId || e.key === c.resource))
      return `exception for key …${e.key.slice(-4)}${why}`;
    if (e.tag && ctx.userTags && e.tag in ctx.userTags) return `exception for users tagged ${e.tag}${why}`;
  }
  for (const tag of ctx.exemptTags) {
    const v = ctx.userTags?.[tag];
    if (v !== undefined && v.toLowerCase() !== "false") return `user tagged ${tag}=${v}`;
  }
  return undefined;
}

export function exceptionsFor(all: Record<string, ExceptionEntry[]>, account: string): ExceptionEntry[] {
  return [...(all[account] ?? []), ...(all["*"] ?? [])];
}
