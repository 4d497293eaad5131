import type { Command } from "commander";
import { describeProblem } from "../model/event.js";
import { createRunContext, lazyAwsClients } from "../run/context.js";
import { queueUrl, runEnqueue, startScanWorkers } from "../run/fleet.js";
import { openRunStore } from "../run/store.js";
import { collect, type GlobalOptions, settings, stderrLog } from "./context.js";
import type { Cli } from "./io.js";

// A fleet's scans shared by workers on many machines, through pg-boss queues in the team's
// PostgreSQL store: `enqueue` queues one job per account, each `worker` scans what it takes.

export function register(program: Command, cli: Cli): void {
  program
    .command("enqueue")
    .description("queue one scan job per account for the workers (PostgreSQL store)")
    .option("-a, --account <id>", "only this account (repeatable)", collect)
    .action(async (opts: { account?: string[] }, cmd: Command) => {
      const s = settings(cli, cmd.optsWithGlobals<GlobalOptions>());
      queueUrl(s.storeLocation);
      const aws = lazyAwsClients(s.loaded.config);
      const r = await runEnqueue({ config: s.loaded.config, aws }, s.storeLocation, opts.account);
      cli.stdout.write(
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
      const s = settings(cli, globals);
      queueUrl(s.storeLocation);
      // Config is loaded once; each job is its own run on the clock of the moment it runs.
      const store = await openRunStore(s.storeLocation, { whatIf: s.whatIf });
      const ctx = createRunContext({
        loaded: s.loaded,
        store,
        now: s.now,
        actor: s.actor,
        whatIf: s.whatIf,
        log: stderrLog(cli),
      });
      try {
        const workers = await startScanWorkers(ctx, s.storeLocation, {
          concurrency: opts.concurrency,
          notify: opts.notify,
          fixedNow: globals.now ? s.now : undefined,
          onScanned: (r) => {
            const a = r.accounts[0];
            if (a)
              cli.stderr.write(
                `iamwarden: scanned ${a.account.id}: ${a.summary.opened} new, ${a.summary.resolved} resolved\n`,
              );
          },
        });
        // The same worker replays the jobs of `events replay s3://… --distributed`.
        const { startReplayWorkers } = await import("../run/replay-distributed.js");
        const replays = await startReplayWorkers(ctx, s.storeLocation, {
          notify: opts.notify,
          fixedNow: globals.now ? s.now : undefined,
          onReplayed: (job, out) =>
            cli.stderr.write(`iamwarden: replayed s3://${job.bucket}/${job.prefix}: ${out.files} files\n`),
          onProblem: (p) => cli.stderr.write(`iamwarden: ${describeProblem(p)}\n`),
        });
        cli.stderr.write(`iamwarden: worker started (${opts.concurrency} at once); Ctrl-C stops it\n`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
        await Promise.all([workers.stop(60_000), replays.stop(60_000)]);
      } finally {
        await store.close();
      }
    });
}
