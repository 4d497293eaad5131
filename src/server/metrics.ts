import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RunRecord, Store } from "../store/store.js";

// Prometheus exposition. Findings, outbox, runs and remediation are read from the store at scrape
// time, so every replica reports the same truth; intake and job counters are this process's own.
// Labels hold only bounded values: check, severity, status, account id (from config), channel,
// intake, reason, job, action, result. Never a key id, a user name or anything a request sent.

export const INTAKES = ["http", "sqs", "sns", "lookup"] as const;
export type Intake = (typeof INTAKES)[number];
export const REJECT_REASONS = [
  "unauthorized",
  "malformed",
  "signature",
  "topic",
  "poison",
  "failed",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface ServiceMetrics {
  registry: Registry;
  eventsReceived(intake: Intake, n: number): void;
  eventsJudged(intake: Intake, n: number): void;
  rejected(intake: Intake, reason: RejectReason, n?: number): void;
  job(job: string, result: "ok" | "failed" | "skipped", at: Date): void;
  /** Ages (days) of every key one scan of an account read: its histogram is replaced. */
  keyAges(account: string, ages: number[]): void;
}

const RUNS_READ = 500;

/** The last scan outcome and last success per account, from the newest runs. */
export function accountScanState(runs: RunRecord[]) {
  const latest = new Map<string, boolean>();
  const success = new Map<string, { at: number; seconds: number }>();
  for (const r of runs) {
    const accounts = (r.summary?.accounts ?? []) as { id?: string; ok?: boolean; durationMs?: number }[];
    if (!Array.isArray(accounts)) continue;
    const end = Date.parse(r.finishedAt ?? r.startedAt);
    const runSeconds = r.finishedAt ? (end - Date.parse(r.startedAt)) / 1000 : 0;
    for (const a of accounts) {
      if (typeof a?.id !== "string") continue;
      if (!latest.has(a.id)) latest.set(a.id, a.ok === true);
      if (a.ok === true && !success.has(a.id))
        success.set(a.id, {
          at: end / 1000,
          seconds: typeof a.durationMs === "number" ? a.durationMs / 1000 : runSeconds,
        });
    }
  }
  return { latest, success };
}

export function serviceMetrics(store: Store): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: "iamwarden_findings",
    help: "Findings in the store by check, severity, account and status.",
    labelNames: ["check", "severity", "account", "status"],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, { labels: Record<string, string>; n: number }>();
      for (const f of await store.listFindings()) {
        const labels = { check: f.check, severity: f.severity, account: f.account, status: f.status };
        const k = `${f.check}\0${f.severity}\0${f.account}\0${f.status}`;
        const c = counts.get(k);
        if (c) c.n++;
        else counts.set(k, { labels, n: 1 });
      }
      for (const { labels, n } of counts.values()) this.set(labels, n);
    },
  });

  // One read of the runs serves the three per-account gauges of a scrape.
  let runsRead: Promise<RunRecord[]> | undefined;
  const runs = () => {
    runsRead ??= store.listRuns(RUNS_READ).finally(() => {
      setImmediate(() => {
        runsRead = undefined;
      });
    });
    return runsRead;
  };
  new Gauge({
    name: "iamwarden_account_last_scan_success_timestamp_seconds",
    help: "When the last successful scan of the account finished (Unix time).",
    labelNames: ["account"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [account, s] of accountScanState(await runs()).success) this.set({ account }, s.at);
    },
  });
  new Gauge({
    name: "iamwarden_account_last_scan_duration_seconds",
    help: "How long the last successful scan of the account took.",
    labelNames: ["account"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [account, s] of accountScanState(await runs()).success) this.set({ account }, s.seconds);
    },
  });
  new Gauge({
    name: "iamwarden_account_scan_failing",
    help: "1 when the last scan of the account failed, else 0.",
    labelNames: ["account"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [account, ok] of accountScanState(await runs()).latest) this.set({ account }, ok ? 0 : 1);
    },
  });
  new Gauge({
    name: "iamwarden_accounts_failing",
    help: "Accounts whose last scan failed.",
    registers: [registry],
    async collect() {
      this.set([...accountScanState(await runs()).latest.values()].filter((ok) => !ok).length);
    },
  });

  new Gauge({
    name: "iamwarden_outbox_items",
    help: "Notifications in the outbox by channel and status (pending is the backlog).",
    labelNames: ["channel", "status"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const o of await store.listOutbox({ status: ["pending", "failed"] }))
        this.inc({ channel: o.channel, status: o.status });
    },
  });
  new Gauge({
    name: "iamwarden_outbox_retrying_items",
    help: "Pending notifications that failed at least once, by channel.",
    labelNames: ["channel"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const o of await store.listOutbox({ status: ["pending"] }))
        if (o.attempts > 0) this.inc({ channel: o.channel });
    },
  });

  new Gauge({
    name: "iamwarden_remediation_actions",
    help: "Changes made (or attempted) in accounts, from the audit log, by action and result.",
    labelNames: ["action", "result"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const a of await store.listAudit()) this.inc({ action: a.action, result: a.result });
    },
  });

  const received = new Counter({
    name: "iamwarden_intake_events_received_total",
    help: "Events read from an intake (before the checks).",
    labelNames: ["intake"],
    registers: [registry],
  });
  const judged = new Counter({
    name: "iamwarden_intake_events_judged_total",
    help: "Events judged by the event checks and stored.",
    labelNames: ["intake"],
    registers: [registry],
  });
  const rejectedC = new Counter({
    name: "iamwarden_intake_rejected_total",
    help: "Requests or messages refused by an intake, by reason.",
    labelNames: ["intake", "reason"],
    registers: [registry],
  });
  const jobRuns = new Counter({
    name: "iamwarden_job_runs_total",
    help: "Scheduled job runs in this process by job and result.",
    labelNames: ["job", "result"],
    registers: [registry],
  });
  const jobLast = new Gauge({
    name: "iamwarden_job_last_success_timestamp_seconds",
    help: "When a scheduled job last finished well in this process (Unix time, service clock).",
    labelNames: ["job"],
    registers: [registry],
  });
  const ages = new Histogram({
    name: "iamwarden_access_key_age_days",
    help: "Age of the access keys read by the last scan of each account in this process.",
    labelNames: ["account"],
    buckets: [7, 30, 60, 90, 180, 365, 730],
    registers: [registry],
  });
  for (const intake of INTAKES) {
    received.inc({ intake }, 0);
    judged.inc({ intake }, 0);
  }

  return {
    registry,
    eventsReceived: (intake, n) => received.inc({ intake }, n),
    eventsJudged: (intake, n) => judged.inc({ intake }, n),
    rejected: (intake, reason, n = 1) => rejectedC.inc({ intake, reason }, n),
    job(job, result, at) {
      jobRuns.inc({ job, result });
      if (result === "ok") jobLast.set({ job }, at.getTime() / 1000);
    },
    keyAges(account, list) {
      ages.remove({ account });
      for (const a of list) ages.observe({ account }, a);
    },
  };
}
