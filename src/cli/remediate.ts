import Table from "cli-table3";
import type { Command } from "commander";
import { promptConfirm } from "../actions/remediate/confirm.js";
import { scheduledChecks } from "../actions/remediate/registry.js";
import type { ItemResult } from "../actions/remediate/run.js";
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
    ...(x.item.also?.length ? { alsoFindings: x.item.also.map((f) => f.id) } : {}),
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
      ...(n.kind ? { kind: n.kind } : {}),
    })),
    accountErrors: r.accountErrors,
    ...(r.stopped ? { stopped: r.stopped } : {}),
    ...(r.recovered?.length ? { recovered: r.recovered } : {}),
  };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  return show ? text : maskKeyIdsIn(text);
}

/** Why findings were left alone, grouped: switched off and out of scope said plainly, not "not due". */
function notDueLines(r: RemediationReport): string[] {
  const out: string[] = [];
  const disabled = new Map<string, number>();
  const outside = new Set<string>();
  let outsideCount = 0;
  let waiting = 0;
  let other = 0;
  for (const n of r.notDue) {
    if (n.kind === "not-enabled") disabled.set(n.finding.check, (disabled.get(n.finding.check) ?? 0) + 1);
    else if (n.kind === "not-in-accounts") {
      outside.add(n.finding.account);
      outsideCount++;
    } else if (n.kind === "waiting") waiting++;
    else other++;
  }
  for (const [check, count] of [...disabled].sort(([a], [b]) => a.localeCompare(b)))
    out.push(
      `${count} ${check} findings: remediation of ${check} is not enabled (remediation.${check}.enabled).`,
    );
  if (outsideCount)
    out.push(
      `${outsideCount} findings in accounts outside remediation.accounts (${[...outside].sort().join(", ")}): never changed.`,
    );
  if (waiting) out.push(`${waiting} findings not due yet (--format json lists why).`);
  if (other) out.push(`${other} findings not acted on (--format json lists why).`);
  return out;
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
  for (const x of r.recovered ?? [])
    out.push(
      `Audit entry ${x.entryId} (${x.action}, ${x.account}): ${show ? x.message : maskKeyIdsIn(x.message)}.`,
    );
  for (const b of r.blocked) {
    const keys = new Set(b.items.map((i) => i.keyId)).size;
    out.push(
      `Blast-radius limit: nothing remediated in ${b.account}: ${b.reason} (${keys} keys). Review them (iamwarden findings list --account ${b.account}), then remediate in smaller batches (--check, --account) or raise remediation.maxShare / remediation.maxPerRun.`,
    );
  }
  for (const e of r.accountErrors) out.push(`Account ${e.account}: ${e.error}; nothing remediated there.`);
  out.push(...notDueLines(r));
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
        if (!scheduledChecks().includes(c))
          throw new UserError(`--check: remediation acts on ${scheduledChecks().join(", ")}, not ${c}`);
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
        // A blocked account is work not done: a scheduled job must not read success.
        if (troubled || report.accountErrors.length || report.blocked.length) cli.exitCode = EXIT.partial;
      } finally {
        confirm?.close();
      }
    });
}
