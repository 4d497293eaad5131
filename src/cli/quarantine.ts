import type { Command } from "commander";
import { runQuarantine } from "../actions/remediate/quarantine-run.js";
import { accountClients } from "../cloud/aws/account-clients.js";
import { routerFromConfig } from "../engine/routing.js";
import { EXIT, UserError } from "../errors.js";
import { context, formatOption, type GlobalOptions } from "./context.js";

export function register(program: Command): void {
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
        const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
        const config = ctx.loaded.config;
        if (!config.remediation.accounts.includes(opts.account))
          throw new UserError(
            `account ${opts.account} is not in remediation.accounts: iamwarden changes nothing there`,
          );
        const store = await ctx.openStore();
        try {
          let findingId: string | undefined;
          if (opts.finding) {
            const f = await store.getFinding(opts.finding);
            if (!f) throw new UserError(`no finding matches ${opts.finding}`);
            findingId = f.id;
          }
          const apply = Boolean(opts.apply);
          if (apply)
            await store.startRun({
              id: ctx.runId,
              command: "quarantine",
              actor: ctx.actor,
              startedAt: ctx.now.toISOString(),
            });
          const out = await runQuarantine(
            {
              store,
              config,
              route: routerFromConfig(config.notify),
              now: ctx.now,
              runId: ctx.runId,
              actor: ctx.actor,
              clients: await accountClients(config)(opts.account),
            },
            { account: opts.account, user, findingId, apply },
          );
          const status =
            out.applied?.status ?? (out.planned.noop ? "noop" : out.planned.blocked ? "blocked" : "planned");
          const message =
            out.applied?.message ??
            out.planned.noop ??
            out.planned.blocked ??
            `quarantine ${user} in ${opts.account}: ${out.planned.changes.length} changes`;
          if (apply)
            await store.finishRun(ctx.runId, new Date().toISOString(), {
              [status]: 1,
              user,
              account: opts.account,
            });
          if (opts.format === "json") {
            const doc = { runId: ctx.runId, account: opts.account, user, status, message, ...out };
            process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
          } else {
            const lines = [`${status}: ${message}`];
            if (status === "planned") {
              lines.push(...out.planned.changes.map((c) => `  - ${c}`));
              lines.push("Plan only: run with --apply to make this change.");
            }
            if (apply) lines.push(`Run ${ctx.runId}.`);
            process.stdout.write(`${lines.join("\n")}\n`);
          }
          if (status === "blocked" || status === "failed") process.exitCode = EXIT.error;
        } finally {
          await store.close();
        }
      },
    );
}
