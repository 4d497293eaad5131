import type { Command } from "commander";
import { promptConfirm } from "../actions/remediate/confirm.js";
import { EXIT, UserError } from "../errors.js";
import { runQuarantine } from "../run/quarantine.js";
import { formatOption, type GlobalOptions, settings, whatIfLine, withRun } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  program
    .command("quarantine <user>")
    .description("attach a deny policy to an IAM user (shows the plan; --apply makes the change)")
    .requiredOption("--account <id>", "the account of the user (must be in remediation.accounts)")
    .option("--finding <id>", "the finding this answers: marked remediated, or raised if blocked")
    .option("--apply", "make the change, after showing the plan and asking")
    .option("--yes", "with --apply: do not ask (scripts)")
    .addOption(formatOption(["table", "json"]))
    .action(
      async (
        user: string,
        opts: { account: string; finding?: string; apply?: boolean; yes?: boolean; format: string },
        cmd: Command,
      ) => {
        if (opts.yes && !opts.apply) throw new UserError("--yes only makes sense with --apply");
        const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
        const apply = Boolean(opts.apply);
        // Like remediate --apply: the plan, then a question; a pipe cannot answer it safely.
        const ask = apply && !opts.yes && !s.whatIf;
        if (ask && !cli.stdin.isTTY)
          throw new UserError(
            "--apply asks before the change, but stdin is not a terminal; pass --yes to apply without asking",
          );
        const r = await withRun(cli, s, "write", async (ctx) => {
          const base = { account: opts.account, user, finding: opts.finding };
          if (!ask) return runQuarantine(ctx, { ...base, apply });
          const plan = await runQuarantine(ctx, { ...base, apply: false });
          if (!plan.planned.changes.length) return runQuarantine(ctx, { ...base, apply: true });
          for (const c of plan.planned.changes) cli.stderr.write(`  - ${c}\n`);
          const confirm = promptConfirm(cli.stdin, cli.stderr);
          try {
            const answer = await confirm(`quarantine ${user} in ${opts.account}?`);
            if (answer !== "yes" && answer !== "all")
              return { ...plan, status: "declined" as const, message: `nothing changed for ${user}` };
          } finally {
            confirm.close();
          }
          return runQuarantine(ctx, { ...base, apply: true });
        });
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
