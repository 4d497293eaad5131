import { z } from "zod";
import type { Columns } from "../checks/check.js";
import { checkNamed } from "../checks/registry.js";
import type { Finding } from "../model/finding.js";
import { maskKeyId, maskKeyIdsIn } from "../util/mask.js";

const detailsShape = z.record(z.string(), z.unknown());

/** A finding as users see it: access key ids masked unless they asked for them. */
export function presentFinding(f: Finding, showKeyIds: boolean): Finding {
  if (showKeyIds) return f;
  const details = { ...f.details };
  if (typeof details.keyId === "string") details.keyId = maskKeyId(details.keyId);
  return {
    ...f,
    resource: maskKeyIdsIn(f.resource),
    title: maskKeyIdsIn(f.title),
    details: detailsShape.parse(JSON.parse(maskKeyIdsIn(JSON.stringify(details)))),
  };
}

export type Cells = { [K in keyof Columns<unknown>]-?: string };

/**
 * The cells of a finding that depend on its check (table, CSV), from the check's columns; empty
 * where the check has none, or the finding is of no registered check (blast-radius).
 */
export function findingCells(f: Finding): Cells {
  const cells: Cells = { resource: f.resource, age: "", state: "", createDate: "", lastUsed: "" };
  const check = checkNamed(f.check);
  const parsed = check?.details.safeParse(f.details);
  if (!check || !parsed?.success) return cells;
  const d = parsed.data;
  const c = check.columns;
  return {
    resource: c.resource?.(d, f) ?? cells.resource,
    age: c.age?.(d, f) ?? "",
    state: c.state?.(d) ?? "",
    createDate: c.createDate?.(d) ?? "",
    lastUsed: c.lastUsed?.(d) ?? "",
  };
}

/** One line about a finding, in its check's words; the title for findings of no registered check. */
export function findingSummary(f: Finding): string {
  const check = checkNamed(f.check);
  const parsed = check?.details.safeParse(f.details);
  return check && parsed?.success ? check.summary(parsed.data, f) : f.title;
}
