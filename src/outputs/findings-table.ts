import Table from "cli-table3";
import { type Finding, SEVERITIES, severityRank } from "../model/finding.js";
import { safeText } from "../util/terminal.js";
import { findingCells } from "./present.js";

// No lines between rows: a scan of a real account lists hundreds.
const COMPACT = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" };

export interface TableOptions {
  /** Terminal width: long cells are cut with … so rows never wrap. None: nothing is cut. */
  width?: number | undefined;
  /** Show the account (alias) column even for one account (findings list does). */
  account?: boolean | undefined;
}

/** First and last occurrence of an event finding, as the events recorded them (not when seen). */
export function eventTimes(f: Finding): { first?: string; last?: string } {
  const events = f.details.events;
  if (!Array.isArray(events) || !events.length) return {};
  const times = events
    .map((e) => (e && typeof e === "object" ? (e as { time?: unknown }).time : undefined))
    .filter((t): t is string => typeof t === "string")
    .sort();
  return times.length ? { first: times[0], last: times[times.length - 1] } : {};
}

const minute = (iso: string | undefined) => (iso ? iso.slice(0, 16).replace("T", " ") : "");

/**
 * Column widths that fit `width`: the widest columns give up characters first, none below `min`.
 * Each width includes cli-table3's one-space padding either side; columns in `keep` are never cut.
 */
export function fitWidths(
  natural: number[],
  width: number,
  keep: ReadonlySet<number> = new Set(),
  min = 6,
): number[] {
  const w = [...natural];
  const total = () => w.reduce((a, b) => a + b, 0) + w.length + 1;
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < w.length; i++) if (!keep.has(i) && (widest < 0 || w[i]! > w[widest]!)) widest = i;
    if (widest < 0 || w[widest]! <= min) break;
    w[widest]!--;
  }
  return w;
}

/** A findings table for a terminal, most severe first; findings are already presented (masked). */
export function findingsTable(findings: Finding[], opts: TableOptions = {}): string {
  if (!findings.length) return "No findings.\n";
  const showAccount = opts.account || new Set(findings.map((f) => f.account)).size > 1;
  const hasEvents = findings.some((f) => eventTimes(f).first);
  const head = ["severity", "check", "user", "key / resource", "age", "state", "status"];
  if (showAccount) head.splice(2, 0, "account");
  // Event findings: when the calls happened, next to when iamwarden last saw them.
  if (hasEvents) head.push("events (first → last)", "seen");
  head.push("id");
  const sorted = [...findings].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.account.localeCompare(b.account) ||
      a.check.localeCompare(b.check) ||
      (a.owner ?? "").localeCompare(b.owner ?? ""),
  );
  const rows = sorted.map((f) => {
    const cells = findingCells(f);
    const row = [f.severity, f.check, f.owner ?? "", cells.resource, cells.age, cells.state, f.status];
    if (showAccount) row.splice(2, 0, f.accountAlias ? `${f.accountAlias} (${f.account})` : f.account);
    if (hasEvents) {
      const t = eventTimes(f);
      row.push(t.first ? `${minute(t.first)} → ${minute(t.last)}` : "", minute(f.lastSeen));
    }
    row.push(f.id);
    // Names come from reports and logs anyone may have written: never let them drive the terminal.
    return row.map(safeText);
  });
  const natural = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  // The id is what a user copies into `findings show`: it is never cut.
  const colWidths = opts.width ? fitWidths(natural, opts.width, new Set([head.length - 1])) : undefined;
  const table = new Table({
    head,
    chars: COMPACT,
    style: { head: [], border: [], compact: true },
    ...(colWidths ? { colWidths, wordWrap: false, truncate: "…" } : {}),
  });
  for (const r of rows) table.push(r);
  return `${table.toString()}\n`;
}

/** Totals by severity, check and account: the last lines of a long listing. */
export function findingTotals(findings: Finding[]): string {
  const count = (key: (f: Finding) => string) => {
    const m = new Map<string, number>();
    for (const f of findings) m.set(key(f), (m.get(key(f)) ?? 0) + 1);
    return m;
  };
  const bySeverity = count((f) => f.severity);
  const severities = [...SEVERITIES]
    .reverse()
    .filter((s) => bySeverity.get(s))
    .map((s) => `${bySeverity.get(s)} ${s}`);
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([k, n]) => `${safeText(k)} ${n}`)
      .join(", ");
  return (
    `By severity: ${severities.join(", ")}\n` +
    `By check: ${list(count((f) => f.check))}\n` +
    `By account: ${list(count((f) => f.accountAlias ?? f.account))}\n`
  );
}
