import type { Command } from "commander";
import { EXIT } from "../errors.js";
import { runQuarantine } from "../run/quarantine.js";
import { formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  program
    .command("quarantine <user>")
    .description("attach a deny policy to an IAM user (shows the plan; --apply makes the change)")
    .requiredOption("--account <id>", "the account of the user (must be in remediation.accounts)")
    .option("--finding <id>", "the finding this answers: marked remediated, or raised if blocked")
    .option("--apply", "make the change")
    .addOption(formatOption(["table", "json"]))
    .action(
      async (
        user: string,
        opts: { account: string; finding?: string; apply?: boolean; format: string },
        cmd: Command,
      ) => {
        const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
        const apply = Boolean(opts.apply);
        const r = await withRun(cli, s, "write", (ctx) =>
          runQuarantine(ctx, { account: opts.account, user, finding: opts.finding, apply }),
        );
        if (opts.format === "json") {
          const { now: _now, whatIf, findingId: _f, ...rest } = r;
          const doc = { ...(whatIf ? { whatIf } : {}), ...rest };
          cli.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        } else {
          const lines = [`${r.status}: ${r.message}`];
          if (r.status === "planned") {
            lines.push(...r.planned.changes.map((c) => `  - ${c}`));
            lines.push("Plan only: run with --apply to make this change.");
          }
          if (apply && !r.whatIf) lines.push(`Run ${r.runId}.`);
          cli.stdout.write(`${lines.join("\n")}\n`);
          if (apply && r.whatIf) cli.stderr.write(whatIfLine(s.now));
        }
        if (r.status === "blocked" || r.status === "failed") cli.exitCode = EXIT.error;
      },
    );
}
