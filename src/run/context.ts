import { randomUUID } from "node:crypto";
import type { AccountClients } from "../cloud/aws/account-clients.js";
import type { AwsClientFactory } from "../cloud/aws/clients.js";
import type { LoadedConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { type Router, routerFromConfig } from "../engine/routing.js";
import type { Store } from "../store/store.js";

/** Where a run says what it is doing: the CLI writes it to stderr, a service to its logger. */
export interface RunLog {
  /** Something the user should know about the run (an outcome, a step). */
  note(message: string): void;
  /** Something that may make the result incomplete or surprising. */
  warn(message: string): void;
}

export const silentLog: RunLog = { note: () => {}, warn: () => {} };

/**
 * Everything a run function needs, built once per run (or per job in a service). Nothing here
 * reads the process: the caller passes the config, the open store, the clock and who acts.
 */
export interface RunContext {
  loaded: LoadedConfig;
  config: Config;
  store: Store;
  /** The run's clock: checks, grace periods, re-notify windows, retries. */
  now: Date;
  runId: string;
  /** Who acts, for the audit log and run records. */
  actor: string;
  /**
   * A what-if: the store is a throwaway copy, nothing is delivered and no account is changed
   * (remediation plans instead of applying). Reports carry the flag so outputs can say so.
   */
  whatIf: boolean;
  log: RunLog;
  route: Router;
  /** AWS clients, built on first use so that local work never loads the SDK. */
  aws(region?: string): Promise<AwsClientFactory>;
  /** IAM clients of one configured account (remediation); throws for an unknown account. */
  clientsFor(account: string): Promise<AccountClients>;
}

export interface RunContextOptions {
  loaded: LoadedConfig;
  store: Store;
  now?: Date | undefined;
  actor: string;
  whatIf?: boolean | undefined;
  log?: RunLog | undefined;
  runId?: string | undefined;
  /** Replaces the AWS client factory (tests, a service sharing one). */
  aws?: ((region?: string) => Promise<AwsClientFactory>) | undefined;
}

/** A run id that sorts by time and reads at a glance: 20261123T090000-1a2b3c4d. */
export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:.]/g, "").slice(0, 15)}-${randomUUID().slice(0, 8)}`;
}

/** AWS client factories per region, built on first use (the SDK loads only when needed). */
export function lazyAwsClients(config: Config): (region?: string) => Promise<AwsClientFactory> {
  const byRegion = new Map<string, Promise<AwsClientFactory>>();
  return (region = config.aws.region) => {
    let f = byRegion.get(region);
    if (!f) {
      f = import("../cloud/aws/clients.js").then((m) => m.awsClientFactory({ ...config.aws, region }));
      byRegion.set(region, f);
    }
    return f;
  };
}

/** Builds a run context from a loaded config and an open store. */
export function createRunContext(opts: RunContextOptions): RunContext {
  const now = opts.now ?? new Date();
  const config = opts.loaded.config;
  const aws = opts.aws ?? lazyAwsClients(config);
  let clients: Promise<(account: string) => Promise<AccountClients>> | undefined;
  return {
    loaded: opts.loaded,
    config,
    store: opts.store,
    now,
    runId: opts.runId ?? newRunId(now),
    actor: opts.actor,
    whatIf: Boolean(opts.whatIf),
    log: opts.log ?? silentLog,
    route: routerFromConfig(config.notify),
    aws,
    clientsFor: async (account) => {
      clients ??= Promise.all([import("../cloud/aws/account-clients.js"), aws()]).then(([m, factory]) =>
        m.accountClients(config, factory),
      );
      return (await clients)(account);
    },
  };
}

/** The same context for the next run (a worker's next job): a new run id, at `now`. */
export function nextRun(ctx: RunContext, now: Date = new Date()): RunContext {
  return { ...ctx, now, runId: newRunId(now) };
}
