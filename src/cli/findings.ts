import Table from "cli-table3";
import type { Command } from "commander";
import { UserError } from "../errors.js";
import { FINDING_STATUSES, type FindingStatus, SEVERITIES, type Severity } from "../model/finding.js";
import { findingsCsv } from "../outputs/findings-csv.js";
import { findingsTable } from "../outputs/findings-table.js";
import { presentFinding } from "../outputs/present.js";
import { resolveFinding } from "../run/findings.js";
import { commaList, formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";

/** Accepts `--status open --status resolved` and `--status open,resolved`. */

function oneOf<T extends string>(
  flag: string,
  values: string[] | undefined,
  allowed: readonly T[],
): T[] | undefined {
  for (const v of values ?? []) {
    if (!allowed.includes(v as T)) throw new UserError(`${flag}: ${v} is not one of ${allowed.join(", ")}`);
  }
  return values as T[] | undefined;
}

export function register(program: Command, cli: Cli): void {
  const findings = program.command("findings").description("list, show and resolve findings");

  findings
    .command("list")
    .description("list findings from the store")
    .option(
      "--status <status>",
      "open, resolved, suppressed, remediated (repeatable or comma-separated)",
      commaList,
    )
    .option("--check <check>", "check name (repeatable)", commaList)
    .option("--account <id>", "account id (repeatable)", commaList)
    .option("--severity <severity>", "severity (repeatable)", commaList)
    .option("--limit <n>", "at most this many", (v) => Number.parseInt(v, 10))
    .addOption(formatOption(["table", "json", "csv"]))
    .action(async (opts, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const status = oneOf<FindingStatus>("--status", opts.status, FINDING_STATUSES);
      const severity = oneOf<Severity>("--severity", opts.severity, SEVERITIES);
      await withRun(cli, s, "read", async ({ store }) => {
        const rows = await store.listFindings({
          status,
          severity,
          check: opts.check,
          account: opts.account,
          limit: opts.limit,
        });
        const shown = rows.map((f) => presentFinding(f, s.showKeyIds));
        if (opts.format === "json") cli.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        else if (opts.format === "csv") cli.stdout.write(findingsCsv(shown));
        else cli.stdout.write(findingsTable(shown));
      });
    });

  findings
    .command("show <id>")
    .description("one finding with its details and history (an id or a unique prefix of one)")
    .addOption(formatOption(["table", "json"]))
    .action(async (id: string, opts, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      await withRun(cli, s, "read", async ({ store }) => {
        const f = await store.getFinding(id);
        if (!f) throw new UserError(`no finding matches ${id}`);
        const history = await store.findingEvents(f.id);
        const outbox = await store.listOutbox({ findingId: f.id });
        const shown = presentFinding(f, s.showKeyIds);
        if (opts.format === "json") {
          cli.stdout.write(`${JSON.stringify({ finding: shown, history, outbox }, null, 2)}\n`);
          return;
        }
        const t = new Table({ style: { head: [], border: [] } });
        const rows: [string, unknown][] = [
          ["id", shown.id],
          ["check", shown.check],
          ["account", shown.accountAlias ? `${shown.accountAlias} (${shown.account})` : shown.account],
          ["resource", shown.resource],
          ["owner", shown.owner],
          ["severity", shown.severity],
          ["status", `${shown.status}${shown.statusReason ? ` (${shown.statusReason})` : ""}`],
          ["title", shown.title],
          ["first seen", shown.firstSeen],
          ["last seen", shown.lastSeen],
          ["resolved at", shown.resolvedAt],
          ...Object.entries(shown.details).filter(([k]) => k !== "events"),
          ["tickets", Object.keys(shown.tickets).length ? JSON.stringify(shown.tickets) : undefined],
        ];
        for (const [k, v] of rows) {
          if (v === undefined || v === null) continue;
          t.push({ [k]: typeof v === "object" ? JSON.stringify(v) : String(v) });
        }
        cli.stdout.write(`${t.toString()}\n\nHistory:\n`);
        for (const e of history) cli.stdout.write(`  ${e.at}  ${e.from ?? "-"} → ${e.to}  ${e.cause}\n`);
        if (outbox.length) {
          cli.stdout.write("\nNotifications:\n");
          for (const o of outbox) {
            cli.stdout.write(
              `  ${o.createdAt}  ${o.event} via ${o.channel}: ${o.status}${o.lastError ? ` (${o.lastError})` : ""}\n`,
            );
          }
        }
      });
    });

  findings
    .command("resolve <id>")
    .description("resolve a finding by hand (event findings stay open until a person resolves them)")
    .requiredOption("--reason <text>", "why it is resolved; kept in its history")
    .action(async (id: string, opts: { reason: string }, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const f = await withRun(cli, s, "write", (ctx) => resolveFinding(ctx, id, opts.reason));
      cli.stdout.write(`Resolved ${f.id}.\n`);
      if (s.whatIf) cli.stderr.write(whatIfLine(s.now));
    });
}
