import type { AccountTarget } from "../cloud/target.js";
import type { LoadedConfig } from "../config/load.js";
import type { IamEvent, InputProblem } from "../model/event.js";
import type { Finding } from "../model/finding.js";
import type { Store } from "../store/store.js";

// What the service asks of the application layer: the same runs the CLI makes, behind one small
// interface, so that the server stays transport (HTTP, SQS, cron) and the runs stay testable
// without it.

/** Structured log lines (pino's shape) for what a run did. */
export interface RunLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** One run's surroundings: config, store, clock, ids. */
export interface JobContext {
  loaded: LoadedConfig;
  store: Store;
  now: Date;
  runId: string;
  actor: string;
  log: RunLog;
}

export interface AccountScanOutcome {
  id: string;
  ok: boolean;
  error?: string | undefined;
  durationMs: number;
  /** Age in days of every access key read, for the age histogram. */
  keyAgesDays: number[];
  opened: number;
  resolved: number;
}

export interface ScanOutcome {
  accounts: AccountScanOutcome[];
}

export interface EventsOutcome {
  events: number;
  opened: number;
  refreshed: number;
  suppressed: number;
  findings: Finding[];
  /** Quarantine (or refusal) per finding, as the hook reported it. */
  remediation: { findingId: string; outcome: string }[];
}

export interface DeliveryOutcome {
  delivered: number;
  failed: number;
  pending: number;
}

export interface RemediationOutcome {
  /** Items by status: applied, failed, blocked, noop… */
  counts: Record<string, number>;
  accountErrors: number;
}

/** A request or message body read into events; problems name a line or record. */
export interface ParsedDocument {
  events: IamEvent[];
  problems: InputProblem[];
  /** Values that were valid but carry nothing to judge (another EventBridge detail type). */
  ignored: number;
}

export interface ServeDeps {
  /** The configured accounts (role targets), resolved afresh. */
  targets(ctx: JobContext, only?: string[]): Promise<AccountTarget[]>;
  /** Scans these accounts and reconciles their findings (no delivery), recording its run. */
  scan(ctx: JobContext, targets: AccountTarget[]): Promise<ScanOutcome>;
  /** Judges events and reconciles their findings, quarantining where configured (no delivery). */
  events(ctx: JobContext, batches: AsyncIterable<IamEvent[]>): Promise<EventsOutcome>;
  /** CloudTrail LookupEvents of the configured accounts since then, recording its run. */
  lookup(ctx: JobContext, since: Date): Promise<EventsOutcome>;
  /** Delivers due notifications (the caller records a run when it wants one). */
  deliver(ctx: JobContext): Promise<DeliveryOutcome>;
  /** Applies what the remediation config allows, recording its run. */
  remediate(ctx: JobContext): Promise<RemediationOutcome>;
  /** JSON, JSON lines, a CloudTrail file or an EventBridge/IBM event, named for messages. */
  parse(text: string, name: string): ParsedDocument;
}
