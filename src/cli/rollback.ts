import Table from "cli-table3";
import type { Command } from "commander";
import { promptConfirm } from "../actions/remediate/confirm.js";
import { EXIT, UserError } from "../errors.js";
import { runRollback } from "../run/rollback.js";
import { maskKeyIdsIn } from "../util/mask.js";
import { formatOption, type GlobalOptions, settings, withRun } from "./context.js";
import type { Cli } from "./io.js";

interface RollbackFlags {
  run?: string;
  yes?: boolean;
  until?: string;
  format: string;
}

export function register(program: Command, cli: Cli): void {
  program
    .command("rollback [finding]")
    .description(
      "undo what remediation did, from the audit log, for one finding or a whole run (--run): shows the plan, asks before each undo, and puts the findings on hold",
    )
    .option("--run <id>", "every change of this run")
    .option("--yes", "do not ask (scripts)")
    .option("--until <time>", "keep the findings on hold until then (default: until `findings unhold`)")
    .addOption(formatOption(["table", "json"]))
    .action(async (findingArg: string | undefined, opts: RollbackFlags, cmd: Command) => {
      if (Boolean(findingArg) === Boolean(opts.run))
        throw new UserError("rollback: name a finding id or pass --run <run-id> (one of the two)");
      const holdUntil = opts.until ? new Date(opts.until) : undefined;
      if (holdUntil && Number.isNaN(holdUntil.getTime()))
        throw new UserError(`--until: not an ISO date-time: ${opts.until}`);
      // Like remediate --apply: refused before anything is read, a pipe cannot answer safely.
      if (!opts.yes && !cli.stdin.isTTY)
        throw new UserError(
          "rollback asks before each undo, but stdin is not a terminal; pass --yes to roll back without asking",
        );
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const mask = (text: string) => (s.showKeyIds ? text : maskKeyIdsIn(text));
      const confirm = opts.yes ? undefined : promptConfirm(cli.stdin, cli.stderr);
      try {
        const report = await withRun(cli, s, "change", (ctx) =>
          runRollback(ctx, opts.run ? { run: opts.run } : { finding: findingArg! }, {
            confirm,
            holdUntil,
            // The plan goes with the questions (stderr), before the first one.
            onPlan: confirm
              ? (steps) => {
                  cli.stderr.write("Rollback plan:\n");
                  for (const x of steps)
                    cli.stderr.write(`  entry ${x.entryId} (${x.account}): ${mask(x.description)}\n`);
                }
              : undefined,
          }),
        );
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
          for (const id of report.held)
            out.push(
              `Finding ${id} is on hold${holdUntil ? ` until ${holdUntil.toISOString()}` : ""}: no remediation redoes it until \`iamwarden findings unhold ${id}\`.`,
            );
          for (const k of report.kept) out.push(`Finding ${k.findingId} stays as it is: ${mask(k.reason)}`);
          if (report.stopped) out.push("Stopped: the remaining undos were not made.");
          out.push(`Run ${report.runId}.`);
          cli.stdout.write(`${out.join("\n")}\n`);
        }
        if (report.results.some((r) => r.status === "failed" || r.status === "impossible"))
          cli.exitCode = EXIT.partial;
      } finally {
        confirm?.close();
      }
    });
}
