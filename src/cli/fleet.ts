import type { Command } from "commander";
import { UserError } from "../errors.js";
import { collect, context, type GlobalOptions, type RunContext } from "./context.js";

// A fleet's scans shared by workers on many machines, through pg-boss queues in the team's
// PostgreSQL store: `enqueue` queues one job per account, each `worker` scans what it takes.

function postgresUrl(ctx: RunContext): string {
  if (!/^postgres(ql)?:\/\//.test(ctx.storeLocation))
    throw new UserError("the scan queue needs the PostgreSQL store (store: postgres://… or --store)");
  return ctx.storeLocation;
}

export function register(program: Command): void {
  program
    .command("enqueue")
    .description("queue one scan job per account for the workers (PostgreSQL store)")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .action(async (opts: { account?: string[] }, cmd: Command) => {
      const ctx = context(cmd.optsWithGlobals<GlobalOptions>());
      const url = postgresUrl(ctx);
      const { awsClientFactory } = await import("../cloud/aws/clients.js");
      const { resolveTargets } = await import("../cloud/aws/targets.js");
      const { enqueueAccountScans } = await import("../store/queue.js");
      const config = ctx.loaded.config;
      const targets = await resolveTargets(config, awsClientFactory(config.aws), { only: opts.account });
      const r = await enqueueAccountScans(url, targets);
      process.stdout.write(
        `Queued ${r.queued.length} account scan${r.queued.length === 1 ? "" : "s"}` +
          `${r.alreadyQueued.length ? `; ${r.alreadyQueued.length} already waiting` : ""}.\n`,
      );
    });

  program
    .command("worker")
    .description("scan the accounts queued by `enqueue` until stopped (PostgreSQL store)")
    .option("--concurrency <n>", "accounts this worker scans at once", (v) => Number.parseInt(v, 10), 2)
    .option("--no-notify", "queue notifications but do not deliver them")
    .action(async (opts: { concurrency: number; notify: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const ctx = context(globals);
      const url = postgresUrl(ctx);
      if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
        throw new UserError("--concurrency must be a whole number of at least 1");
      const [{ awsClientFactory }, { awsAccountReader }, { workAccountScans }, { scanAccounts }, routing] =
        await Promise.all([
          import("../cloud/aws/clients.js"),
          import("../sources/aws/reader.js"),
          import("../store/queue.js"),
          import("../engine/scan.js"),
          import("../engine/routing.js"),
        ]);
      const config = ctx.loaded.config;
      const factory = awsClientFactory(config.aws);
      const reader = awsAccountReader(config, factory);
      const route = routing.routerFromConfig(config.notify);
      const store = await ctx.openStore();
      const workers = await workAccountScans(
        url,
        async (target) => {
          // Each job is its own run, on the clock of the moment it runs.
          const run = context(globals);
          const now = globals.now ? run.now : new Date();
          await store.startRun({
            id: run.runId,
            command: "worker",
            actor: run.actor,
            startedAt: now.toISOString(),
          });
          const [result] = await scanAccounts([target], reader, config, {
            store,
            route,
            now,
            runId: run.runId,
          });
          let delivery: Record<string, number> | undefined;
          if (opts.notify) {
            const { deliverOutbox } = await import("../actions/notify/deliver.js");
            delivery = await deliverOutbox(store, config, { now, baseDir: ctx.loaded.baseDir });
          }
          await store.finishRun(run.runId, new Date().toISOString(), { accounts: [result], delivery });
          if (!result?.ok) throw new Error(`account ${target.id}: ${result?.error ?? "scan failed"}`);
          process.stderr.write(
            `iamwarden: scanned ${target.id}: ${result.summary.opened} new, ${result.summary.resolved} resolved\n`,
          );
        },
        { concurrency: opts.concurrency },
      );
      process.stderr.write(`iamwarden: worker started (${opts.concurrency} at once); Ctrl-C stops it\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await workers.stop(60_000);
      await store.close();
    });
}
