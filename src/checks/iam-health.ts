import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import { SEVERITIES } from "../model/finding.js";
import { type MetricSample, prometheusSettings } from "../sources/prometheus.js";

// iam-health, a metric check: the IAM services' 5xx responses, as a Prometheus instant query,
// judged against a threshold. A service above it opens (or keeps open) one finding for the team
// its category names; a later evaluation under it resolves the finding. An empty result is "no
// data", never "healthy": after `noDataAfter` empty evaluations in a row it is a finding of its own,
// because a renamed metric must not switch paging off without a word.

/**
 * `increase()`, not `delta()`: the series are counters. delta() is for gauges; on a counter it
 * reads a process restart (the counter falling to 0) as a large negative change that hides the
 * errors of that window, while increase() adjusts for counter resets.
 */
export const DEFAULT_IAM_HEALTH_QUERY =
  'sum by (service) (increase(api_response_codes{method=~"(?i).*iam.*", rc=~"5.."}[10m]))';

export const NO_DATA = "no-data";
/** Services that match no category are still failures: they page the default routing key. */
export const OTHER = "other";

/** A regex from config; a leading `(?i)` (PromQL/RE2 style) makes it case-insensitive. */
export function categoryRegex(match: string): RegExp {
  return match.startsWith("(?i)") ? new RegExp(match.slice(4), "i") : new RegExp(match);
}

const regexText = z.string().refine(
  (v) => {
    try {
      categoryRegex(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid regular expression" },
);

const severity = z.enum(SEVERITIES);

export const iamHealthSettings = z
  .object({
    enabled: z.boolean().default(true),
    prometheus: prometheusSettings,
    query: z.string().min(1).default(DEFAULT_IAM_HEALTH_QUERY),
    /** A value above this is a failure (the default 0: any 5xx in the window). */
    threshold: z.number().default(0),
    /** The label that names the service in the query's result. */
    label: z.string().default("service"),
    categories: z
      .record(
        z
          .string()
          .refine((k) => k !== NO_DATA && k !== OTHER, { message: `${NO_DATA} and ${OTHER} are reserved` }),
        z
          .object({
            match: regexText,
            severity: severity.default("critical"),
            pagerduty: z
              .object({ routingKey: z.string().min(1) })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .default({}),
    /** Empty evaluations in a row before the no-data finding opens. */
    noDataAfter: z.number().int().min(1).default(3),
    noDataSeverity: severity.default("high"),
    /** What the findings name as their account: the metrics are about services, not an account. */
    scope: z.string().min(1).default("iam-services"),
  })
  .strict();
export type IamHealthSettings = z.infer<typeof iamHealthSettings>;

export interface HealthHistory {
  /** Empty evaluations in a row just before this one (failed evaluations neither count nor break it). */
  emptyStreak: number;
}

export interface HealthJudgement {
  candidates: Candidate[];
  /** The query answered with no series at all. */
  empty: boolean;
  /** Empty evaluations in a row, this one included. */
  emptyStreak: number;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** The category a service belongs to: the first whose regex matches, else `other`. */
export function categoryOf(service: string, s: IamHealthSettings): string {
  for (const [name, c] of Object.entries(s.categories)) if (categoryRegex(c.match).test(service)) return name;
  return OTHER;
}

/** Pure: samples of one evaluation (and how many empty ones came before) → candidates. */
export function judgeIamHealth(
  samples: MetricSample[],
  s: IamHealthSettings,
  now: Date,
  history: HealthHistory,
): HealthJudgement {
  const base = { query: s.query, threshold: s.threshold, evaluatedAt: now.toISOString() };
  if (!samples.length) {
    const streak = history.emptyStreak + 1;
    const candidates: Candidate[] =
      streak >= s.noDataAfter
        ? [
            {
              check: "iam-health",
              account: s.scope,
              resource: NO_DATA,
              severity: s.noDataSeverity,
              title: `No data for the IAM health query in ${streak} evaluations in a row (metric renamed or gone?)`,
              details: { ...base, category: NO_DATA, emptyEvaluations: streak },
            },
          ]
        : [];
    return { candidates, empty: true, emptyStreak: streak };
  }
  const failing = new Map<string, { service: string; value: number }[]>();
  for (const x of samples) {
    // NaN (no rate in the window) is not above anything.
    if (!(x.value > s.threshold)) continue;
    const service = x.labels[s.label] ?? JSON.stringify(x.labels);
    const category = categoryOf(service, s);
    failing.set(category, [...(failing.get(category) ?? []), { service, value: x.value }]);
  }
  const candidates = [...failing].map(([category, services]): Candidate => {
    services.sort((a, b) => b.value - a.value);
    const list = services.map((x) => `${x.service} ${fmt(x.value)}`).join(", ");
    return {
      check: "iam-health",
      account: s.scope,
      resource: category,
      severity: s.categories[category]?.severity ?? "critical",
      title: `IAM service errors (${category}): ${list}`,
      details: { ...base, category, services },
    };
  });
  return { candidates, empty: false, emptyStreak: 0 };
}

/**
 * The PagerDuty routing key of a finding's category, if its category names one; the channel
 * falls back to its own keys otherwise (no-data and `other` use the default key).
 */
export function iamHealthRoutingKey(
  s: IamHealthSettings | undefined,
  finding: { check: string; resource: string },
): string | undefined {
  if (!s || finding.check !== "iam-health") return undefined;
  return s.categories[finding.resource]?.pagerduty?.routingKey;
}

export const iamHealth = {
  name: "iam-health",
  kind: "metric" as const,
  settings: iamHealthSettings,
  judge: judgeIamHealth,
};
