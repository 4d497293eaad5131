import { checkNamed } from "../checks/registry.js";
import type { Finding } from "../model/finding.js";
import { findingsCsv } from "./findings-csv.js";
import { findingsTable } from "./findings-table.js";
import { asffFindings } from "./interchange/asff.js";
import { markdownReport } from "./interchange/markdown.js";
import { ocsfFindings } from "./interchange/ocsf.js";
import { sarifReport } from "./interchange/sarif.js";

// Every way a list of findings can be printed, one entry each: `findings list` and `scan` take
// their --format choices from here. Findings arrive presented (key ids masked unless asked).

export interface RenderContext {
  now: Date;
  version: string;
  /** AWS region for ASFF's product ARN. */
  region: string;
  /** Terminal width for tables, when printing to a terminal. */
  width?: number | undefined;
  /** Tables show the account column even for one account. */
  account?: boolean | undefined;
}

export interface FindingFormat {
  name: string;
  render(findings: Finding[], ctx: RenderContext): string;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export const FINDING_FORMATS = [
  { name: "table", render: (f, c) => findingsTable(f, { width: c.width, account: c.account }) },
  { name: "json", render: (f) => json(f) },
  { name: "csv", render: (f) => findingsCsv(f) },
  { name: "markdown", render: (f, c) => markdownReport(f, { now: c.now }) },
  { name: "sarif", render: (f, c) => json(sarifReport(f, { version: c.version, describe })) },
  { name: "asff", render: (f, c) => json(asffFindings(f, { region: c.region, now: c.now, describe })) },
  { name: "ocsf", render: (f, c) => json(ocsfFindings(f, { version: c.version, now: c.now })) },
] as const satisfies readonly FindingFormat[];

export type FindingFormatName = (typeof FINDING_FORMATS)[number]["name"];
export const FINDING_FORMAT_NAMES: string[] = FINDING_FORMATS.map((f) => f.name);

/** A check's one-line description, from the registry. */
const describe = (check: string) => checkNamed(check)?.description;

export function renderFindings(format: string, findings: Finding[], ctx: RenderContext): string {
  const f = FINDING_FORMATS.find((x) => x.name === format);
  if (!f) throw new Error(`unknown format ${format}`);
  return f.render(findings, ctx);
}
