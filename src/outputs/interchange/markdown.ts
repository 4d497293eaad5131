import { type Finding, SEVERITIES, severityRank } from "../../model/finding.js";

// A Markdown report for tickets and chat: totals, then one table per severity, most severe first.

/** Text safe inside a Markdown table cell: no pipes, no line breaks, no markup or HTML. */
export function mdCell(s: string): string {
  return s
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .replace(/([\\`*_{}[\]()<>#+!|~])/g, "\\$1")
    .trim();
}

export function markdownReport(findings: Finding[], opts: { now: Date; title?: string }): string {
  const out: string[] = [
    `# ${mdCell(opts.title ?? "iamwarden findings")}`,
    "",
    `As of ${opts.now.toISOString()}.`,
    "",
  ];
  if (!findings.length) return `${[...out, "No findings."].join("\n")}\n`;
  const count = (pred: (f: Finding) => boolean) => findings.filter(pred).length;
  out.push(
    "| severity | findings |",
    "|---|---:|",
    ...[...SEVERITIES].reverse().map((s) => `| ${s} | ${count((f) => f.severity === s)} |`),
    "",
  );
  const sorted = [...findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  for (const s of [...SEVERITIES].reverse()) {
    const rows = sorted.filter((f) => f.severity === s);
    if (!rows.length) continue;
    out.push(
      `## ${s[0]!.toUpperCase()}${s.slice(1)} (${rows.length})`,
      "",
      "| check | account | owner | finding | status | id |",
      "|---|---|---|---|---|---|",
    );
    for (const f of rows)
      out.push(
        `| ${mdCell(f.check)} | ${mdCell(f.accountAlias ?? f.account)} | ${mdCell(f.owner ?? "")} | ${mdCell(f.title)} | ${f.status} | \`${f.id}\` |`,
      );
    out.push("");
  }
  return `${out.join("\n")}`;
}
