import Table from "cli-table3";
import type { Command } from "commander";
import { promptConfirm } from "../actions/remediate/confirm.js";
import type { ItemResult } from "../actions/remediate/run.js";
import { KEY_CHECKS } from "../engine/remediation.js";
import { EXIT, UserError } from "../errors.js";
import { type RemediationReport, runRemediation } from "../run/remediation.js";
import { maskKeyId, maskKeyIdsIn } from "../util/mask.js";
import { commaList, formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";

interface RemediateOptions {
  check?: string[];
  account?: string[];
  apply?: boolean;
  yes?: boolean;
  format: "table" | "json";
}

/** The report as one JSON document; key ids masked unless asked for. */
function reportJson(r: RemediationReport, show: boolean): string {
  const item = (x: ItemResult) => ({
    finding: x.item.finding.id,
    check: x.item.finding.check,
    account: x.item.finding.account,
    action: x.item.action,
    user: x.item.user,
    keyId: x.item.keyId,
    status: x.status,
    message: x.message,
    changes: x.planned?.changes ?? [],
    auditIds: x.applied?.auditIds ?? [],
    verified: x.applied?.verified,
  });
  const doc = {
    ...(r.whatIf ? { whatIf: true } : {}),
    runId: r.runId,
    applied: r.applied,
    items: r.items.map(item),
    blocked: r.blocked.map((b) => ({
      account: b.account,
      reason: b.reason,
      findings: b.items.map((i) => i.finding.id),
    })),
    notDue: r.notDue.map((n) => ({
      finding: n.finding.id,
      check: n.finding.check,
      account: n.finding.account,
      reason: n.reason,
    })),
    accountErrors: r.accountErrors,
    ...(r.stopped ? { stopped: r.stopped } : {}),
  };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  return show ? text : maskKeyIdsIn(text);
}

function reportTable(r: RemediationReport, show: boolean): string {
  const out: string[] = [];
  if (r.items.length) {
    const t = new Table({
      head: ["status", "account", "action", "user", "access key", "finding", "detail"],
      style: { head: [], border: [] },
    });
    for (const x of r.items)
      t.push([
        x.status,
        x.item.finding.account,
        x.item.action,
        x.item.user,
        show ? x.item.keyId : maskKeyId(x.item.keyId),
        x.item.finding.id,
        show ? x.message : maskKeyIdsIn(x.message),
      ]);
    out.push(t.toString());
  } else out.push("Nothing to remediate.");
  for (const b of r.blocked)
    out.push(
      `Blast-radius limit: nothing remediated in ${b.account}: ${b.reason} (${b.items.length} findings).`,
    );
  for (const e of r.accountErrors) out.push(`Account ${e.account}: ${e.error}; nothing remediated there.`);
  if (r.notDue.length) out.push(`${r.notDue.length} findings not due yet (--format json lists why).`);
  if (!r.applied && r.items.some((x) => x.status === "planned"))
    out.push("Plan only: run with --apply to make these changes.");
  if (r.stopped) out.push("Stopped: the remaining changes were not made.");
  out.push(`Run ${r.runId}.`);
  return `${out.join("\n")}\n`;
}

export function register(program: Command, cli: Cli): void {
  program
    .command("remediate")
    .description("show which findings are due for remediation; with --apply, deactivate their keys")
    .option("--check <check>", "key-inactive, key-age (repeatable)", commaList)
    .option("--account <id>", "account id (repeatable)", commaList)
    .option("--apply", "make the changes, asking before each (y / n / all / quit)")
    .option("--yes", "with --apply: do not ask")
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: RemediateOptions, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      if (opts.yes && !opts.apply) throw new UserError("--yes only makes sense with --apply");
      for (const c of opts.check ?? [])
        if (!(KEY_CHECKS as readonly string[]).includes(c))
          throw new UserError(`--check: remediation acts on ${KEY_CHECKS.join(", ")}, not ${c}`);
      const apply = Boolean(opts.apply) && !s.whatIf;
      // Refuse before anything is read: a piped stdin cannot answer questions safely.
      if (apply && !opts.yes && !cli.stdin.isTTY)
        throw new UserError(
          "--apply asks before each change, but stdin is not a terminal; pass --yes to apply without asking",
        );
      const confirm = apply && !opts.yes ? promptConfirm(cli.stdin, cli.stderr) : undefined;
      try {
        const report = await withRun(cli, s, "change", (ctx) =>
          runRemediation(ctx, {
            checks: opts.check,
            accounts: opts.account,
            apply: Boolean(opts.apply),
            confirm,
          }),
        );
        cli.stdout.write(
          opts.format === "json" ? reportJson(report, s.showKeyIds) : reportTable(report, s.showKeyIds),
        );
        if (report.applyRefused && opts.format !== "json")
          cli.stderr.write(whatIfLine(s.now, ": planned only, no account was changed"));
        const troubled = report.items.some((x) => x.status === "failed" || x.status === "error");
        if (troubled || report.accountErrors.length) cli.exitCode = EXIT.partial;
      } finally {
        confirm?.close();
      }
    });
}
