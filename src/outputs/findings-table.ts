import Table from "cli-table3";
import { type Finding, severityRank } from "../model/finding.js";
import { findingCells } from "./present.js";

// No lines between rows: a scan of a real account lists hundreds.
const COMPACT = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" };

/** A findings table for a terminal, most severe first; findings are already presented (masked). */
export function findingsTable(findings: Finding[]): string {
  if (!findings.length) return "No findings.\n";
  const multiAccount = new Set(findings.map((f) => f.account)).size > 1;
  const head = ["severity", "check", "user", "key / resource", "age", "state", "status", "id"];
  if (multiAccount) head.splice(2, 0, "account");
  const table = new Table({ head, chars: COMPACT, style: { head: [], border: [], compact: true } });
  const sorted = [...findings].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.account.localeCompare(b.account) ||
      a.check.localeCompare(b.check) ||
      (a.owner ?? "").localeCompare(b.owner ?? ""),
  );
  for (const f of sorted) {
    const cells = findingCells(f);
    const row = [f.severity, f.check, f.owner ?? "", cells.resource, cells.age, cells.state, f.status, f.id];
    if (multiAccount) row.splice(2, 0, f.accountAlias ?? f.account);
    table.push(row);
  }
  return `${table.toString()}\n`;
}
