import type { Finding } from "../model/finding.js";
import { maskKeyId, maskKeyIdsIn } from "../util/mask.js";

/** A finding as users see it: access key ids masked unless they asked for them. */
export function presentFinding(f: Finding, showKeyIds: boolean): Finding {
  if (showKeyIds) return f;
  const details = { ...f.details };
  if (typeof details.keyId === "string") details.keyId = maskKeyId(details.keyId);
  return {
    ...f,
    resource: maskKeyIdsIn(f.resource),
    title: maskKeyIdsIn(f.title),
    details: JSON.parse(maskKeyIdsIn(JSON.stringify(details))) as Record<string, unknown>,
  };
}

/** The one-word "how old / how idle" figure a table shows for a finding. */
export function findingAge(f: Finding): string {
  const d = f.details;
  if (typeof d.daysInactive === "number") return `${d.daysInactive}d idle`;
  if (typeof d.ageDays === "number") return `${d.ageDays}d old`;
  if (typeof d.eventCount === "number") return `${d.eventCount} events`;
  return "";
}
