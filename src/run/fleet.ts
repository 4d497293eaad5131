import { UserError } from "../errors.js";
import { nextRun, type RunContext } from "./context.js";
import { runScan, type ScanReport } from "./scan.js";
import { isPostgresUrl } from "./store.js";

// A fleet's scans shared by workers on many machines, through pg-boss queues in the team's
// PostgreSQL store: `enqueue` queues one job per account, each worker scans what it takes.

/** The store location as the queue's database; the queue lives only in PostgreSQL. */
export function queueUrl(storeLocation: string): string {
  if (!isPostgresUrl(storeLocation))
    throw new UserError("the scan queue needs the PostgreSQL store (store: postgres://… or --store)");
  return storeLocation;
}

/** Queues one scan job per configured account (or only these). */
export async function runEnqueue(
  ctx: Pick<RunContext, "config" | "aws">,
  storeLocation: string,
  accounts?: string[],
): Promise<{ queued: string[]; alreadyQueued: string[] }> {
  const url = queueUrl(storeLocation);
  const { resolveTargets } = await import("../cloud/aws/targets.js");
  const { enqueueAccountScans } = await import("../store/queue.js");
  const targets = await resolveTargets(ctx.config, await ctx.aws(), { only: accounts });
  return enqueueAccountScans(url, targets);
}

export interface WorkerOptions {
  concurrency: number;
  notify: boolean;
  /** A fixed clock for every job (--now); otherwise each job runs at the moment it starts. */
  fixedNow?: Date | undefined;
  onScanned?: ((r: ScanReport) => void) | undefined;
}

/**
 * Scans queued accounts until stopped. Each job is its own run (run id, clock) on the context's
 * config and store, loaded once. A job whose account failed throws, so the queue retries it.
 */
export async function startScanWorkers(
  ctx: RunContext,
  storeLocation: string,
  opts: WorkerOptions,
): Promise<{ stop(timeoutMs: number): Promise<void> }> {
  const url = queueUrl(storeLocation);
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
    throw new UserError("--concurrency must be a whole number of at least 1");
  const { workAccountScans } = await import("../store/queue.js");
  return workAccountScans(
    url,
    async (target) => {
      const run = nextRun(ctx, opts.fixedNow ?? new Date());
      const report = await runScan(
        run,
        { kind: "targets", targets: [target] },
        { notify: opts.notify, command: "worker" },
      );
      const result = report.accounts[0];
      if (!result?.ok) throw new Error(`account ${target.id}: ${result?.error ?? "scan failed"}`);
      opts.onScanned?.(report);
    },
    { concurrency: opts.concurrency },
  );
}
