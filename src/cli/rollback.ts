import Table from "cli-table3";
import type { Command } from "commander";
import { EXIT, UserError } from "../errors.js";
import { runRollback } from "../run/rollback.js";
import { maskKeyIdsIn } from "../util/mask.js";
import { formatOption, type GlobalOptions, settings, withRun } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  program
    .command("rollback [finding]")
    .description("undo what remediation did, from the audit log: for one finding, or for a whole run (--run)")
    .option("--run <id>", "every change of this run")
    .addOption(formatOption(["table", "json"]))
    .action(async (findingArg: string | undefined, opts: { run?: string; format: string }, cmd: Command) => {
      if (Boolean(findingArg) === Boolean(opts.run))
        throw new UserError("rollback: name a finding id or pass --run <run-id> (one of the two)");
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const report = await withRun(cli, s, "change", (ctx) =>
        runRollback(ctx, opts.run ? { run: opts.run } : { finding: findingArg! }),
      );
      const mask = (text: string) => (s.showKeyIds ? text : maskKeyIdsIn(text));
      if (opts.format === "json") cli.stdout.write(mask(`${JSON.stringify(report, null, 2)}\n`));
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
        cli.stdout.write(`${out.join("\n")}\n`);
      }
      if (report.results.some((r) => r.status === "failed" || r.status === "impossible"))
        cli.exitCode = EXIT.partial;
    });
}
