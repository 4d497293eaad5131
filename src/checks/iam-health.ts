import { z } from "zod";
import type { Candidate } from "../model/finding.js";
import { SEVERITIES } from "../model/finding.js";
import type { MetricSample } from "../model/observations.js";
import { prometheusSettings } from "../sources/prometheus.js";
import type { MetricCheck } from "./check.js";

// iam-health, a metric check: the IAM services' 5xx responses, as a Prometheus instant query,
// judged against a threshold. A service above it opens (or keeps open) one finding for the team
// its category names; a later evaluation under it resolves the finding. An empty result is "no
// data", never "healthy": after `noDataAfter` empty evaluations in a row it is a finding of its own
// (run/health.ts counts them), because a renamed metric must not switch paging off without a word.

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

/**
 * Off until a Prometheus is named: every other check runs by default, but this one has nothing
 * to ask without a server.
 */
export const iamHealthSettings = z
  .strictObject({
    enabled: z.boolean().optional(),
    prometheus: prometheusSettings.optional(),
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
        z.strictObject({
          match: regexText,
          severity: severity.default("critical"),
          pagerduty: z.strictObject({ routingKey: z.string().min(1) }).optional(),
        }),
      )
      .default({}),
    /** Empty evaluations in a row before the no-data finding opens. */
    noDataAfter: z.number().int().min(1).default(3),
    noDataSeverity: severity.default("high"),
    /** What the findings name as their account: the metrics are about services, not an account. */
    scope: z.string().min(1).default("iam-services"),
  })
  .transform((s) => ({ ...s, enabled: s.enabled ?? Boolean(s.prometheus) }))
  .refine((s) => !s.enabled || s.prometheus, {
    message: "checks.iam-health.prometheus (url) is required when the check is enabled",
  })
  .prefault({});
export type IamHealthSettings = z.output<typeof iamHealthSettings>;

const details = z.looseObject({
  category: z.string(),
  query: z.string(),
  threshold: z.number(),
  evaluatedAt: z.string(),
  services: z.array(z.object({ service: z.string(), value: z.number() })).default([]),
  emptyEvaluations: z.number().optional(),
});
type Details = z.output<typeof details>;

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** The category a service belongs to: the first whose regex matches, else `other`. */
export function categoryOf(service: string, s: Pick<IamHealthSettings, "categories">): string {
  for (const [name, c] of Object.entries(s.categories)) if (categoryRegex(c.match).test(service)) return name;
  return OTHER;
}

/** The no-data finding, once `streak` empty evaluations in a row reach noDataAfter. */
export function noDataCandidate(
  s: Omit<IamHealthSettings, "enabled">,
  streak: number,
  now: Date,
): Candidate<Details>[] {
  if (streak < s.noDataAfter) return [];
  return [
    {
      check: "iam-health",
      account: s.scope,
      resource: NO_DATA,
      severity: s.noDataSeverity,
      title: `No data for the IAM health query in ${streak} evaluations in a row (metric renamed or gone?)`,
      details: {
        category: NO_DATA,
        query: s.query,
        threshold: s.threshold,
        evaluatedAt: now.toISOString(),
        services: [],
        emptyEvaluations: streak,
      },
    },
  ];
}

/**
 * The PagerDuty routing key of a finding's category, if its category names one; the channel
 * falls back to its own keys otherwise (no-data and `other` use the default key).
 */
export function iamHealthRoutingKey(
  s: Pick<IamHealthSettings, "categories"> | undefined,
  finding: { check: string; resource: string },
): string | undefined {
  if (!s || finding.check !== "iam-health") return undefined;
  return s.categories[finding.resource]?.pagerduty?.routingKey;
}

export const iamHealth: MetricCheck<"iam-health", typeof iamHealthSettings, Details> = {
  name: "iam-health",
  kind: "metric",
  description:
    "IAM services answering 5xx above `threshold` in Prometheus, one finding per category (team); no data after `noDataAfter` empty evaluations",
  settings: iamHealthSettings,
  details,
  permissions: [],
  reads: ["samples"],
  subject: "metric",
  /** Samples of one evaluation → a finding per failing category. Emptiness is the run's to count. */
  judge(samples: MetricSample[], s, now) {
    const failing = new Map<string, { service: string; value: number }[]>();
    for (const x of samples) {
      // NaN (no rate in the window) is not above anything.
      if (!(x.value > s.threshold)) continue;
      const service = x.labels[s.label] ?? JSON.stringify(x.labels);
      const category = categoryOf(service, s);
      failing.set(category, [...(failing.get(category) ?? []), { service, value: x.value }]);
    }
    return [...failing].map(([category, services]): Candidate<Details> => {
      services.sort((a, b) => b.value - a.value);
      const list = services.map((x) => `${x.service} ${fmt(x.value)}`).join(", ");
      return {
        check: "iam-health",
        account: s.scope,
        resource: category,
        severity: s.categories[category]?.severity ?? "critical",
        title: `IAM service errors (${category}): ${list}`,
        details: {
          category,
          services,
          query: s.query,
          threshold: s.threshold,
          evaluatedAt: now.toISOString(),
        },
      };
    });
  },
  summary: (d) =>
    d.category === NO_DATA
      ? `no data for the IAM health query in ${d.emptyEvaluations ?? "?"} evaluations`
      : `IAM service errors (${d.category}): ${d.services.map((x) => `${x.service} ${fmt(x.value)}`).join(", ")}`,
  columns: {
    resource: (d) => d.category,
    age: (d) =>
      d.category === NO_DATA ? `${d.emptyEvaluations ?? "?"} empty` : `${d.services.length} services`,
  },
};
