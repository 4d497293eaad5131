import Table from "cli-table3";
import type { Command } from "commander";
import { UserError } from "../errors.js";
import type { AuditEntry } from "../model/audit.js";
import { maskKeyIdsIn } from "../util/mask.js";
import { formatOption, type GlobalOptions, settings, withRun } from "./context.js";
import type { Cli } from "./io.js";

/** The change an entry describes, in one line: its API call and what it targets. */
function summary(e: AuditEntry): string {
  const { api, rollbackOf, ...rest } = e.intent as { api?: string; rollbackOf?: number } & Record<
    string,
    unknown
  >;
  const params = Object.entries(rest)
    .filter(([k]) => k !== "PolicyDocument")
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  const outcome = e.outcome
    ? Object.entries(e.outcome)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.length : String(v)}`)
        .join(" ")
    : "";
  return [api, params, rollbackOf ? `(undoes #${rollbackOf})` : "", outcome ? `→ ${outcome}` : ""]
    .filter(Boolean)
    .join(" ");
}

export function register(program: Command, cli: Cli): void {
  program
    .command("audit")
    .description("list the audit log: every change iamwarden made (or meant to make) in an account")
    .option("--since <iso>", "entries at or after this time")
    .option("--run <id>", "entries of one run")
    .option("--finding <id>", "entries about one finding")
    .addOption(formatOption(["table", "json"]))
    .action(
      async (opts: { since?: string; run?: string; finding?: string; format: string }, cmd: Command) => {
        const ctx = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
        let since: string | undefined;
        if (opts.since) {
          const d = new Date(opts.since);
          if (Number.isNaN(d.getTime())) throw new UserError(`--since: not an ISO date-time: ${opts.since}`);
          since = d.toISOString();
        }
        await withRun(cli, ctx, "read", async ({ store }) => {
          const entries = await store.listAudit({ since, runId: opts.run, findingId: opts.finding });
          const mask = (s: string) => (ctx.showKeyIds ? s : maskKeyIdsIn(s));
          if (opts.format === "json") {
            cli.stdout.write(mask(`${JSON.stringify(entries, null, 2)}\n`));
            return;
          }
          if (!entries.length) {
            cli.stdout.write("The audit log has no entries for this selection.\n");
            return;
          }
          const t = new Table({
            head: ["#", "at", "run", "actor", "account", "action", "target", "result", "change"],
            style: { head: [], border: [] },
            colWidths: [null, null, null, null, null, null, null, null, 60] as unknown as number[],
            wordWrap: true,
          });
          for (const e of entries)
            t.push([
              e.id,
              e.at,
              e.runId,
              e.actor,
              e.account,
              e.action,
              mask(e.target),
              e.result,
              mask(summary(e)),
            ]);
          cli.stdout.write(`${t.toString()}\n`);
        });
      },
    );
}
