import Table from "cli-table3";
import type { Command } from "commander";
import { EXIT } from "../errors.js";
import { collect, formatOption, type GlobalOptions, settings } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  program
    .command("doctor")
    .description("check the config, AWS access and permissions per account, and every notification channel")
    .option("-a, --account <id>", "check only this account (repeatable)", collect)
    .addOption(formatOption(["table", "json"]))
    .action(async (opts: { account?: string[]; format: string }, cmd: Command) => {
      const ctx = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      const [{ runDoctor }, { awsClientFactory }] = await Promise.all([
        import("../run/doctor.js"),
        import("../cloud/aws/clients.js"),
      ]);
      const report = await runDoctor({
        loaded: ctx.loaded,
        factory: awsClientFactory(ctx.loaded.config.aws),
        only: opts.account,
      });
      if (opts.format === "json") {
        cli.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const t = new Table({
          head: ["area", "check", "", "detail", "fix"],
          style: { head: [], border: [] },
        });
        for (const r of report.rows) t.push([r.area, r.check, r.verdict, r.detail, r.fix ?? ""]);
        cli.stdout.write(`${t.toString()}\n`);
        cli.stderr.write(report.failed ? `${report.failed} problem(s) found.\n` : "All checks passed.\n");
      }
      cli.exitCode = report.failed ? EXIT.findings : EXIT.ok;
    });
}
