import Table from "cli-table3";
import type { Command } from "commander";
import { rollbackEntries } from "../actions/remediate/rollback.js";
import { accountClients } from "../cloud/aws/account-clients.js";
import { routerFromConfig } from "../engine/routing.js";
import { EXIT, UserError } from "../errors.js";
import type { AuditEntry } from "../model/audit.js";
import { maskKeyIdsIn } from "../util/mask.js";
import { context, formatOption, type GlobalOptions } from "./context.js";

export function register(program: Command): void {
  program
    .command("rollback [finding]")
    .description("undo what remediation did, from the audit log: for one finding, or for a whole run (--run)")
    .option("--run <id>", "every change of this run")
    .addOption(formatOption(["table", "json"]))
    .action(async (findingArg: string | undefined, opts: { run?: string; format: string }, cmd: Command) => {
      if (Boolean(findingArg) === Boolean(opts.run))
        throw new UserError("rollback: name a finding id or pass --run <run-id> (one of the two)");
      const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
      const config = ctx.loaded.config;
      const store = await ctx.openStore();
      try {
        let entries: AuditEntry[];
        if (opts.run) {
          entries = await store.listAudit({ runId: opts.run });
          if (!entries.length) throw new UserError(`the audit log has no changes for run ${opts.run}`);
        } else {
          const f = await store.getFinding(findingArg!);
          if (!f) throw new UserError(`no finding matches ${findingArg}`);
          entries = await store.listAudit({ findingId: f.id });
          if (!entries.length) throw new UserError(`the audit log has no changes for finding ${f.id}`);
        }
        const report = await rollbackEntries(
          {
            store,
            route: routerFromConfig(config.notify),
            now: ctx.now,
            runId: ctx.runId,
            actor: ctx.actor,
            clientsFor: accountClients(config),
          },
          entries,
        );
        const mask = (s: string) => (ctx.showKeyIds ? s : maskKeyIdsIn(s));
        if (opts.format === "json") process.stdout.write(mask(`${JSON.stringify(report, null, 2)}\n`));
        else {
          const out: string[] = [];
          if (report.results.length) {
            const t = new Table({
              head: ["entry", "action", "target", "result", "detail"],
              style: { head: [], border: [] },
            });
            for (const r of report.results)
              t.push([r.entryId, r.action, mask(r.target), r.status, mask(r.message)]);
            out.push(t.toString());
          } else out.push("Nothing left to undo: every change was rolled back already.");
          for (const id of report.reopened) out.push(`Finding ${id} is open again.`);
          for (const k of report.kept) out.push(`Finding ${k.findingId} stays as it is: ${mask(k.reason)}`);
          out.push(`Run ${report.runId}.`);
          process.stdout.write(`${out.join("\n")}\n`);
        }
        if (report.results.some((r) => r.status === "failed" || r.status === "impossible"))
          process.exitCode = EXIT.partial;
      } finally {
        await store.close();
      }
    });
}
