import Table from "cli-table3";
import type { Command } from "commander";
import { UserError } from "../errors.js";
import { FINDING_STATUSES, type FindingStatus, SEVERITIES, type Severity } from "../model/finding.js";
import { findingTotals } from "../outputs/findings-table.js";
import { FINDING_FORMAT_NAMES, renderFindings } from "../outputs/formats.js";
import { presentFinding } from "../outputs/present.js";
import { parseTime } from "../run/event-sources.js";
import { queryFindings, resolveFinding } from "../run/findings.js";
import { safeLines, safeText } from "../util/terminal.js";
import { VERSION } from "../version.js";
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
    .description("list findings from the store: open ones unless --status says otherwise")
    .option(
      "--status <status>",
      "open (default), resolved, suppressed, remediated, or all (repeatable or comma-separated)",
      commaList,
    )
    .option("--check <check>", "check name (repeatable)", commaList)
    .option("--account <id>", "account id or alias (repeatable)", commaList)
    .option("--severity <severity>", "severity (repeatable)", commaList)
    .option("--user <name>", "IAM user or principal, any case (repeatable)", commaList)
    .option("--since <iso>", "only findings seen at or after this time")
    .option("--limit <n>", "at most this many", (v) => Number.parseInt(v, 10))
    .addOption(formatOption(FINDING_FORMAT_NAMES))
    .action(async (opts, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const all = (opts.status as string[] | undefined)?.includes("all");
      const status = all
        ? undefined
        : (oneOf<FindingStatus>("--status", opts.status, FINDING_STATUSES) ?? ["open"]);
      const severity = oneOf<Severity>("--severity", opts.severity, SEVERITIES);
      const since = parseTime("--since", opts.since);
      await withRun(cli, s, "read", async (ctx) => {
        const rows = await queryFindings(ctx, {
          status,
          severity,
          check: opts.check,
          account: opts.account,
          user: opts.user,
          since,
          limit: opts.limit,
        });
        const shown = rows.map((f) => presentFinding(f, s.showKeyIds));
        cli.stdout.write(
          renderFindings(opts.format, shown, {
            now: s.now,
            version: VERSION,
            region: s.loaded.config.aws.region,
            width: cli.stdout.isTTY ? cli.stdout.columns : undefined,
            account: true,
          }),
        );
        if (opts.format === "table" && shown.length > 10) cli.stderr.write(findingTotals(shown));
        if (opts.format === "table" && !opts.status && !shown.length)
          cli.stderr.write("No open findings (--status all lists every finding).\n");
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
          ...Object.entries(shown.details).filter(([k]) => k !== "events" && k !== "eventCount"),
          ["tickets", Object.keys(shown.tickets).length ? JSON.stringify(shown.tickets) : undefined],
        ];
        for (const [k, v] of rows) {
          if (v === undefined || v === null) continue;
          t.push({ [k]: safeText(typeof v === "object" ? JSON.stringify(v) : String(v)) });
        }
        cli.stdout.write(`${t.toString()}\n`);
        const events = Array.isArray(shown.details.events)
          ? (shown.details.events as Record<string, unknown>[])
          : [];
        if (events.length) {
          const count = Number(shown.details.eventCount ?? events.length);
          cli.stdout.write(
            `\nCalls (${events.length === count ? count : `last ${events.length} of ${count}`}):\n`,
          );
          for (const e of events) {
            const target =
              e.target && typeof e.target === "object"
                ? Object.entries(e.target as Record<string, unknown>)
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join(" ")
                : "";
            const line = [
              String(e.time ?? ""),
              e.action ?? e.eventName,
              target,
              e.sourceIp ? `from ${String(e.sourceIp)}` : "",
              e.outcome,
              e.errorCode,
            ]
              .filter(Boolean)
              .join("  ");
            cli.stdout.write(`  ${safeText(line)}\n`);
          }
        }
        cli.stdout.write("\nHistory:\n");
        for (const e of history)
          cli.stdout.write(safeLines(`  ${e.at}  ${e.from ?? "-"} → ${e.to}  ${e.cause}\n`));
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
      const f = await withRun(cli, s, "change", (ctx) => resolveFinding(ctx, id, opts.reason));
      cli.stdout.write(`Resolved ${f.id}.\n`);
      if (s.whatIf) cli.stderr.write(whatIfLine(s.now));
    });

  findings
    .command("unhold <id>")
    .description("lift the hold a rollback put on a finding: open again, its grace period starting now")
    .action(async (id: string, _opts, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const f = await withRun(cli, s, "write", async (ctx) => {
        const found = await ctx.store.getFinding(id);
        if (!found) throw new UserError(`no finding matches ${id}`);
        const { liftHold } = await import("../actions/remediate/finding-changes.js");
        const { store, route, now, runId, actor } = ctx;
        return liftHold({ store, route, now, runId, actor }, found.id);
      });
      cli.stdout.write(`Hold lifted: ${f.id} is open again.\n`);
      if (s.whatIf) cli.stderr.write(whatIfLine(s.now));
    });
}
