import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { LoadedConfig } from "../config/load.js";
import { UserError } from "../errors.js";
import type { IamEvent } from "../model/event.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import type { Clock } from "./clock.js";
import type { Cluster } from "./cluster.js";
import type { ServerContext } from "./context.js";
import type { EventsOutcome, JobContext, ServeDeps } from "./deps.js";
import { buildServer, isLoopback, parseListen } from "./http.js";
import { type CertFetcher, fetchCert, snsVerifier } from "./intake/sns.js";
import type { SqsIntake } from "./intake/sqs.js";
import { type Intake, serviceMetrics } from "./metrics.js";
import { runDeps } from "./run-deps.js";
import {
  cronOf,
  JOB_NAMES,
  type JobName,
  type JobSpec,
  type Scheduler,
  startScheduler,
} from "./scheduler.js";

// The service: one store, the HTTP server, the scheduler, the SQS intake and, with PostgreSQL,
// the job and account-scan queues shared with other replicas. stop() takes no new work, finishes
// or releases what is in hand, and closes the store.

export interface ServiceOptions {
  loaded: LoadedConfig;
  /** A SQLite file path or a postgres:// URL. */
  storeLocation: string;
  clock: Clock;
  log: Logger;
  actor: string;
  showKeyIds?: boolean;
  deps?: ServeDeps;
  /** Fetches SNS signing certificates and SubscribeURLs (tests serve their own). */
  fetchText?: CertFetcher;
}

export interface Service {
  url: string;
  stop(): Promise<void>;
}

const isPostgres = (location: string) => /^postgres(ql)?:\/\//.test(location);

export const runIdFor = (now: Date, tag: string) =>
  `${now.toISOString().replace(/[-:.]/g, "").slice(0, 15)}-serve-${tag}-${randomUUID().slice(0, 8)}`;

/** Runs this service recorded for a job carry `-serve-<job>-` in their id. */
async function lastRunOf(store: Store, job: JobName): Promise<Date | undefined> {
  const tag = `-serve-${job}-`;
  const run = (await store.listRuns(2000)).find((r) => r.id.includes(tag));
  return run ? new Date(run.startedAt) : undefined;
}

function jobSpecs(loaded: LoadedConfig): JobSpec[] {
  const schedule = loaded.config.serve.schedule;
  const specs: JobSpec[] = [];
  for (const name of JOB_NAMES) {
    const s = schedule[name];
    if (!s) continue;
    specs.push(typeof s === "string" ? { name, cron: s } : { name, cron: s.cron, zone: s.zone });
  }
  return specs;
}

/** Whether any notification channel is configured: without one there is nothing to deliver. */
function hasChannels(config: LoadedConfig["config"]): boolean {
  return Object.entries(config.notify).some(
    ([k, v]) =>
      k !== "templates" && v && typeof v === "object" && (v as { enabled?: boolean }).enabled !== false,
  );
}

/** Records a run around `work` (start, then its summary or its error). */
async function recorded<T extends object>(
  ctx: JobContext,
  command: string,
  work: () => Promise<T>,
  summary: (r: T) => Record<string, unknown>,
): Promise<T> {
  await ctx.store.startRun({ id: ctx.runId, command, actor: ctx.actor, startedAt: ctx.now.toISOString() });
  try {
    const r = await work();
    await ctx.store.finishRun(ctx.runId, new Date().toISOString(), summary(r));
    return r;
  } catch (e) {
    await ctx.store.finishRun(ctx.runId, new Date().toISOString(), { error: (e as Error).message });
    throw e;
  }
}

export async function startService(o: ServiceOptions): Promise<Service> {
  const config = o.loaded.config;
  const serve = config.serve;
  const specs = jobSpecs(o.loaded);
  for (const s of specs) cronOf(s);
  const { host, port } = parseListen(serve.listen);
  if (!serve.token && !isLoopback(host))
    throw new UserError(
      `serve.token is required to listen on ${host} (the API and event intake would be open to anyone)`,
    );
  const deps = o.deps ?? runDeps();
  const pg = isPostgres(o.storeLocation);
  const store = await openStore(o.storeLocation);
  const metrics = serviceMetrics(store);
  const log = o.log;
  let stopping = false;

  const jobContext = (runId: string): JobContext => ({
    loaded: o.loaded,
    store,
    now: o.clock.now(),
    runId,
    actor: o.actor,
    log,
  });

  // Notifications go out right after the findings that call for them, not at the next
  // scheduled delivery; one delivery at a time, and one more if asked while it ran.
  let delivering: Promise<void> | undefined;
  let again = false;
  const channels = hasChannels(config);
  const deliverSoon = (): Promise<void> => {
    if (!channels || (stopping && !delivering)) return Promise.resolve();
    if (delivering) {
      again = true;
      return delivering;
    }
    delivering = (async () => {
      do {
        again = false;
        try {
          const r = await deps.deliver(jobContext(runIdFor(o.clock.now(), "notify")));
          if (r.delivered || r.failed) log.info(r, "notifications delivered");
        } catch (e) {
          log.error({ err: (e as Error).message }, "delivery failed");
        }
      } while (again && !stopping);
    })().finally(() => {
      delivering = undefined;
    });
    return delivering;
  };

  // Events from every intake go into one long-lived intake run.
  const intakeRun = runIdFor(o.clock.now(), "intake");
  await store.startRun({
    id: intakeRun,
    command: "serve intake",
    actor: o.actor,
    startedAt: o.clock.now().toISOString(),
  });
  const intakeTotals = { events: 0, opened: 0 };
  const ingest = async (intake: Intake, events: IamEvent[]): Promise<EventsOutcome> => {
    const ctx = jobContext(intakeRun);
    const out = await deps.events(
      ctx,
      (async function* () {
        yield events;
      })(),
    );
    metrics.eventsJudged(intake, out.events);
    intakeTotals.events += out.events;
    intakeTotals.opened += out.opened;
    if (out.opened || out.remediation.length) void deliverSoon();
    return out;
  };

  let cluster: Cluster | undefined;
  let accountWorkers: { stop(timeoutMs?: number): Promise<void> } | undefined;

  const runJob = async (job: JobName, scheduledFor: Date): Promise<void> => {
    const ctx = jobContext(runIdFor(o.clock.now(), job));
    const at = { job, scheduledFor: scheduledFor.toISOString(), runId: ctx.runId };
    log.info(at, "job started");
    try {
      if (job === "scan") {
        const targets = await deps.targets(ctx);
        if (pg) {
          const { enqueueAccountScans } = await import("../store/queue.js");
          const r = await recorded(
            ctx,
            "serve scan",
            () => enqueueAccountScans(o.storeLocation, targets),
            (q) => q,
          );
          log.info(
            { ...at, queued: r.queued.length, alreadyQueued: r.alreadyQueued.length },
            "account scans queued",
          );
        } else {
          const r = await deps.scan(ctx, targets);
          for (const a of r.accounts) {
            if (a.ok) metrics.keyAges(a.id, a.keyAgesDays);
            else log.warn({ account: a.id, error: a.error }, "account scan failed");
          }
          await deliverSoon();
        }
      } else if (job === "remediate") {
        const r = await deps.remediate(ctx);
        log.info({ ...at, ...r.counts, accountErrors: r.accountErrors }, "remediation run");
        await deliverSoon();
      } else if (job === "deliver") {
        await recorded(
          ctx,
          "serve deliver",
          () => deps.deliver(ctx),
          (r) => ({ delivery: r }),
        );
      } else {
        const last = await lastRunOf(store, "events");
        const since = last && last < ctx.now ? last : new Date(ctx.now.getTime() - 3_600_000);
        const r = await deps.lookup(ctx, since);
        metrics.eventsReceived("lookup", r.events);
        metrics.eventsJudged("lookup", r.events);
        if (r.opened) await deliverSoon();
      }
      metrics.job(job, "ok", o.clock.now());
      log.info(at, "job finished");
    } catch (e) {
      metrics.job(job, "failed", o.clock.now());
      throw e;
    }
  };

  let scheduler: Scheduler | undefined;
  let sqs: SqsIntake | undefined;
  const fetchText = o.fetchText ?? fetchCert;
  const ctx: ServerContext = {
    loaded: o.loaded,
    store,
    clock: o.clock,
    deps,
    metrics,
    log,
    actor: o.actor,
    showKeyIds: Boolean(o.showKeyIds),
    async ready() {
      if (stopping) return "stopping";
      if (specs.length && !scheduler?.running) return "the scheduler is not running";
      if (sqs && !sqs.polling) return "the SQS intake is not polling";
      try {
        await Promise.race([
          store.listRuns(1),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error("no answer within 2 s")), 2000).unref(),
          ),
        ]);
      } catch (e) {
        return `the store is not reachable (${(e as Error).message})`;
      }
      return undefined;
    },
    ingest,
    sns: snsVerifier({ certUrlPattern: serve.intake.sns.certUrlPattern, fetch: fetchText }),
    confirmSubscription: async (url) => {
      await fetchText(url);
    },
  };

  const app = buildServer(ctx);
  try {
    if (pg && specs.length) {
      const { startCluster } = await import("./cluster.js");
      cluster = await startCluster(
        o.storeLocation,
        specs.map((s) => s.name),
        runJob,
        (e) => log.warn({ err: e.message }, "job queue"),
      );
      if (specs.some((s) => s.name === "scan")) {
        const { retryDeadlock, workAccountScans } = await import("../store/queue.js");
        accountWorkers = await retryDeadlock(() =>
          workAccountScans(
            o.storeLocation,
            async (target) => {
              const c = jobContext(runIdFor(o.clock.now(), "account"));
              const r = await deps.scan(c, [target]);
              const a = r.accounts[0];
              if (a?.ok) metrics.keyAges(a.id, a.keyAgesDays);
              await deliverSoon();
              // A failed scan fails the job: pg-boss retries it with backoff.
              if (!a?.ok) throw new Error(`account ${target.id}: ${a?.error ?? "scan failed"}`);
            },
            {
              concurrency: serve.scanConcurrency,
              onError: (e) => log.warn({ err: e.message }, "scan queue"),
            },
          ),
        );
      }
    }
    o.clock.start?.();
    scheduler = await startScheduler({
      jobs: specs,
      clock: o.clock,
      lastRun: (job) => lastRunOf(store, job),
      trigger: async (job, scheduledFor, reason) => {
        if (cluster) {
          const mine = await cluster.submit(job, scheduledFor);
          log.debug({ job, scheduledFor: scheduledFor.toISOString(), reason, queued: mine }, "job submitted");
        } else await runJob(job, scheduledFor);
      },
      log,
    });
    if (serve.intake.sqs) {
      const [{ SQSClient }, { startSqsIntake }] = await Promise.all([
        import("@aws-sdk/client-sqs"),
        import("./intake/sqs.js"),
      ]);
      sqs = startSqsIntake({
        settings: serve.intake.sqs,
        client: new SQSClient({
          region: config.aws.region,
          // With aws.endpoint (an emulator), SQS is reached where its queue URL says: one
          // endpoint setting cannot name both IAM's and SQS's emulators. AWS resolves its own.
          ...(config.aws.endpoint ? { endpoint: new URL(serve.intake.sqs.queueUrl).origin } : {}),
          maxAttempts: config.aws.maxAttempts,
        }),
        parse: deps.parse,
        store: async (events) => {
          await ingest("sqs", events);
        },
        metrics,
        log,
        stopWaitMs: serve.shutdownSeconds * 1000,
      });
    }
    await app.listen({ host, port });
  } catch (e) {
    await scheduler?.stop();
    await sqs?.stop();
    await cluster?.stop(1000);
    await accountWorkers?.stop(1000);
    await app.close();
    await store.close();
    throw e;
  }
  const addr = app.server.address();
  const url =
    typeof addr === "object" && addr
      ? `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`
      : `http://${host}:${port}`;
  log.info({ url, jobs: specs.map((s) => s.name), sqs: Boolean(sqs), store: store.kind }, "serving");
  // Notifications left over from before a restart go out now (this also loads the channels).
  void deliverSoon();

  return {
    url,
    async stop() {
      stopping = true;
      log.info({}, "stopping: no new work; finishing what is in hand");
      const budget = serve.shutdownSeconds * 1000;
      await Promise.all([app.close(), sqs?.stop(), scheduler?.stop()]);
      await Promise.all([cluster?.stop(budget), accountWorkers?.stop(budget)]);
      await delivering;
      await store.finishRun(intakeRun, new Date().toISOString(), intakeTotals);
      await store.close();
      log.info({}, "stopped");
    },
  };
}
