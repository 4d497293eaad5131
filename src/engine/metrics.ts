import { metricChecks } from "../checks/registry.js";
import type { Candidate } from "../model/finding.js";
import type { MetricSample } from "../model/observations.js";
import type { ChecksSettings } from "./scan.js";

/**
 * The metric checks enabled in config, applied to one evaluation's samples. Pure. Reconciled like
 * a complete state read (kind "metric"): a finding a later evaluation no longer yields resolves.
 */
export function runMetricChecks(samples: MetricSample[], checks: ChecksSettings, now: Date) {
  const ran: string[] = [];
  const candidates: Candidate[] = [];
  for (const check of metricChecks()) {
    const settings = checks[check.name];
    if (!settings?.enabled) continue;
    ran.push(check.name);
    candidates.push(...check.judge(samples, settings, now));
  }
  return { ran, candidates };
}
