import { containsParsed } from "../allowlist/allowlist.js";
import type { AllowlistSet } from "../allowlist/config.js";
import { accountAllowlists } from "../allowlist/config.js";
import { parseIp } from "../allowlist/ip.js";
import { DEFAULT_IAM_CHANGE_ACTIONS } from "../checks/iam-change.js";
import { isAwsServiceSource } from "../checks/source-ip.js";
import type { Config } from "../config/schema.js";
import type { EventHeader, HeaderFilter, IamEvent } from "../model/event.js";

// The event checks' pre-filters on record headers: false only where no enabled check could flag
// the record, so that readers skip it without normalising it. Each mirrors what its judge
// requires first (action and principal type; an actor and an address outside the lists).

const IAM_QUARANTINE_LIFTS = ["iam:DeleteUserPolicy", "iam:DetachUserPolicy"];
const qualify = (a: string) => (a.includes(":") ? a : `iam:${a}`);

/** The header of an event already normalised. */
export const eventHeader = (e: IamEvent): EventHeader => ({
  provider: e.provider,
  kind: e.kind,
  action: e.action,
  principalType: e.principal.type,
  sourceIp: e.sourceIp || undefined,
  invokedBy: e.principal.invokedBy,
  accessKeyId: e.principal.accessKeyId,
  account: e.account,
});

/** Events iam-change could flag, before administrators are known. */
export function iamChangeHeaderFilter(config: Config): HeaderFilter {
  const ic = config.checks["iam-change"];
  const actions = new Set([
    ...(ic?.actions ?? DEFAULT_IAM_CHANGE_ACTIONS).map(qualify),
    ...IAM_QUARANTINE_LIFTS,
  ]);
  const types = new Set(ic?.principalTypes ?? ["IAMUser"]);
  return (h) =>
    h.provider === "aws" &&
    h.kind === "api-call" &&
    actions.has(h.action) &&
    types.has(h.principalType ?? "Unknown");
}

function sourceIpHeader(allowlists: AllowlistSet): HeaderFilter {
  const listsOf = accountAllowlists(allowlists);
  const parsed = new Map<string, ReturnType<typeof parseIp> | null>();
  const judged = (h: EventHeader) => {
    if (h.provider === "aws")
      return (
        h.kind === "console-login" ||
        (h.kind === "api-call" && h.accessKeyId?.startsWith("AKIA") === true && !h.invokedBy)
      );
    return h.kind === "login";
  };
  return (h) => {
    if (!judged(h)) return false;
    const ip = h.sourceIp;
    if (!ip || isAwsServiceSource(ip)) return false;
    // Without an account here, the normalised event may still get one: let the judge see it.
    if (!h.account) return true;
    let p = parsed.get(ip);
    if (p === undefined) {
      p = parseIp(ip) ?? null;
      if (parsed.size >= 100_000) parsed.clear();
      parsed.set(ip, p);
    }
    if (!p) return false;
    const { merged, names } = listsOf(h.account);
    return names.length > 0 && !containsParsed(merged, p);
  };
}

/** The records the enabled event checks could flag (same settings as runEventChecks). */
export function eventHeaderFilter(config: Config, allowlists?: AllowlistSet): HeaderFilter {
  const filters: HeaderFilter[] = [];
  if (config.checks["iam-change"]?.enabled ?? true) filters.push(iamChangeHeaderFilter(config));
  const sip = config.checks["source-ip"];
  if (sip?.enabled && allowlists?.lists.size) filters.push(sourceIpHeader(allowlists));
  if (filters.length === 1) return filters[0]!;
  return (h) => filters.some((f) => f(h));
}
