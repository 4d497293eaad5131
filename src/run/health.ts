import { type IamHealthSettings, iamHealth, NO_DATA, noDataCandidate } from "../checks/iam-health.js";
import { emptySummary, type PlanSummary, planReconcile } from "../engine/reconcile.js";
import type { Router } from "../engine/routing.js";
import type { Finding } from "../model/finding.js";
import type { MetricSample } from "../model/observations.js";
import { instantQuery, PrometheusError } from "../sources/prometheus.js";
import type { Store } from "../store/store.js";

// One evaluation of the iam-health metric check: query, judge, reconcile. A Prometheus error is a
// failed run that changes no finding (never a resolve); an empty answer touches only the no-data
// finding, so the category findings neither resolve nor refresh while the metric is missing.

export const HEALTH_COMMAND = "health";
/** How far back the store's run history is read to count empty evaluations in a row. */
const HISTORY_RUNS = 500;

export interface HealthDeps {
  store: Store;
  route: Router;
  now: Date;
  runId: string;
  actor: string;
  /** The source; tests may pass another. */
  query?: (s: IamHealthSettings) => Promise<MetricSample[]>;
}

export type HealthStatus = "healthy" | "failing" | "no-data" | "error";

export interface HealthReport {
  runId: string;
  status: HealthStatus;
  error?: string | undefined;
  /** Series the query returned. */
  series: number;
  emptyStreak: number;
  summary: PlanSummary;
  /** Open iam-health findings after this evaluation. */
  open: Finding[];
}

/**
 * Empty evaluations in a row before this run, from the summaries earlier health runs left in
 * the store: a failed evaluation neither counts nor breaks the streak.
 */
async function emptyStreak(store: Store, runId: string): Promise<number> {
  let n = 0;
  for (const r of await store.listRuns(HISTORY_RUNS)) {
    if (r.command !== HEALTH_COMMAND || r.id === runId || !r.summary) continue;
    const result = r.summary.result;
    if (result === "error") continue;
    if (result !== "no-data") break;
    n++;
  }
  return n;
}

export async function runHealth(settings: IamHealthSettings, deps: HealthDeps): Promise<HealthReport> {
  const { store } = deps;
  await store.startRun({
    id: deps.runId,
    command: HEALTH_COMMAND,
    actor: deps.actor,
    startedAt: deps.now.toISOString(),
  });
  const report: HealthReport = {
    runId: deps.runId,
    status: "error",
    series: 0,
    emptyStreak: 0,
    summary: emptySummary(),
    open: [],
  };
  try {
    const prometheus = settings.prometheus;
    if (!prometheus) throw new Error("checks.iam-health.prometheus is not configured");
    const query =
      deps.query ?? (async (s: IamHealthSettings) => (await instantQuery(prometheus, s.query)).samples);
    let samples: MetricSample[];
    try {
      samples = await query(settings);
    } catch (e) {
      if (!(e instanceof PrometheusError)) throw e;
      report.error = e.message;
      return report;
    }
    const empty = samples.length === 0;
    const streak = empty ? (await emptyStreak(store, deps.runId)) + 1 : 0;
    const judged = {
      empty,
      emptyStreak: streak,
      candidates: empty
        ? noDataCandidate(settings, streak, deps.now)
        : iamHealth.judge(samples, settings, deps.now),
    };
    report.series = samples.length;
    report.emptyStreak = judged.emptyStreak;
    const scope = { account: settings.scope, checks: ["iam-health"] };
    const result = await store.reconcile(scope, (existing) =>
      planReconcile(judged.empty ? existing.filter((f) => f.resource === NO_DATA) : existing, {
        ...scope,
        // A metric check resolves like a state check: an evaluation that answered is complete,
        // and what it no longer sees above the threshold is back to normal.
        kind: "state",
        complete: true,
        candidates: judged.candidates,
        suppress: () => undefined,
        route: deps.route,
        renotifyHours: 24,
        now: deps.now,
        runId: deps.runId,
      }),
    );
    report.summary = (result as { summary?: PlanSummary }).summary ?? emptySummary();
    report.open = await store.listFindings({
      check: ["iam-health"],
      account: [settings.scope],
      status: ["open"],
    });
    report.status = judged.empty
      ? "no-data"
      : report.open.some((f) => f.resource !== NO_DATA)
        ? "failing"
        : "healthy";
    return report;
  } finally {
    await store.finishRun(deps.runId, new Date().toISOString(), {
      result: report.status === "error" ? "error" : report.series ? "data" : "no-data",
      status: report.status,
      ...(report.error ? { error: report.error } : {}),
      series: report.series,
      emptyStreak: report.emptyStreak,
      ...report.summary,
    });
  }
}
