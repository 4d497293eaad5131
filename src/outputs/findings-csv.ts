import { stringify } from "csv-stringify/sync";
import type { Finding } from "../model/finding.js";
import { findingCells } from "./present.js";

const COLUMNS = [
  "id",
  "check",
  "account",
  "account_alias",
  "user",
  "resource",
  "severity",
  "status",
  "title",
  "create_date",
  "last_used",
  "first_seen",
  "last_seen",
  "resolved_at",
  "jira",
] as const;

export function findingsCsv(findings: Finding[]): string {
  const rows = findings.map((f) => {
    const cells = findingCells(f);
    return [
      f.id,
      f.check,
      f.account,
      f.accountAlias ?? "",
      f.owner ?? "",
      f.resource,
      f.severity,
      f.status,
      f.title,
      cells.createDate,
      cells.lastUsed,
      f.firstSeen,
      f.lastSeen,
      f.resolvedAt ?? "",
      f.tickets.jiraKey ?? "",
    ];
  });
  return stringify([[...COLUMNS], ...rows]);
}
