import { describe, expect, it } from "vitest";
import {
  categoryOf,
  DEFAULT_IAM_HEALTH_QUERY,
  iamHealth,
  iamHealthRoutingKey,
  iamHealthSettings,
  noDataCandidate,
} from "../../src/checks/iam-health.js";
import { configSchema } from "../../src/config/schema.js";

const now = new Date("2026-12-01T09:00:00Z");
const settings = iamHealthSettings.parse({
  prometheus: { url: "http://prometheus:9090" },
  categories: {
    identity: { match: "(?i)identity|token|apikey", pagerduty: { routingKey: "k-identity" } },
    "access-management": { match: "(?i)access|policy|authz", severity: "high" },
  },
});
const s = (service: string, value: number) => ({ metric: "q", labels: { service }, value, time: now });

describe("iam-health (pure judgement)", () => {
  it("is off until a Prometheus is named, and on by default once one is", () => {
    expect(configSchema.parse({}).checks["iam-health"].enabled).toBe(false);
    expect(settings.enabled).toBe(true);
    expect(
      configSchema.safeParse({ checks: { "iam-health": { enabled: true } } }).error?.issues[0]?.message,
    ).toMatch(/prometheus \(url\) is required/);
  });

  it("defaults to increase() over 10 minutes on the 5xx of IAM methods, threshold 0, no data after 3", () => {
    expect(settings.query).toBe(DEFAULT_IAM_HEALTH_QUERY);
    expect(settings.query).toContain("increase(");
    expect(settings.query).not.toContain("delta(");
    expect(settings).toMatchObject({ threshold: 0, noDataAfter: 3, label: "service" });
  });

  it("groups failing services by category (first match, (?i) case-insensitive), the rest under other", () => {
    expect(categoryOf("IAM-Identity", settings)).toBe("identity");
    expect(categoryOf("iam-access-groups", settings)).toBe("access-management");
    expect(categoryOf("iam-billing", settings)).toBe("other");
    const candidates = iamHealth.judge(
      [
        s("iam-identity", 4),
        s("iam-token", 0),
        s("iam-apikeys", 2.5),
        s("iam-authz", 1),
        s("x", Number.NaN),
        s("iam-misc", 9),
      ],
      settings,
      now,
    );
    expect(candidates.map((c) => [c.resource, c.severity, c.title])).toEqual([
      ["identity", "critical", "IAM service errors (identity): iam-identity 4, iam-apikeys 2.50"],
      ["access-management", "high", "IAM service errors (access-management): iam-authz 1"],
      ["other", "critical", "IAM service errors (other): iam-misc 9"],
    ]);
    expect(candidates[0]!.details).toMatchObject({ threshold: 0, category: "identity" });
  });

  it("a value at the threshold is healthy; above it is not", () => {
    const t = { ...settings, threshold: 5 };
    expect(iamHealth.judge([s("iam-identity", 5)], t, now)).toEqual([]);
    expect(iamHealth.judge([s("iam-identity", 5.01)], t, now)).toHaveLength(1);
  });

  it("an empty result is no data, a finding only after noDataAfter evaluations in a row", () => {
    expect(iamHealth.judge([], settings, now)).toEqual([]);
    expect(noDataCandidate(settings, 2, now)).toEqual([]);
    expect(noDataCandidate(settings, 3, now).map((c) => [c.resource, c.severity])).toEqual([
      ["no-data", "high"],
    ]);
  });

  it("routes a category's findings to its routing key, others to the channel's own", () => {
    expect(iamHealthRoutingKey(settings, { check: "iam-health", resource: "identity" })).toBe("k-identity");
    expect(
      iamHealthRoutingKey(settings, { check: "iam-health", resource: "access-management" }),
    ).toBeUndefined();
    expect(iamHealthRoutingKey(settings, { check: "key-age", resource: "identity" })).toBeUndefined();
  });

  it("config: rejects a bad regex and the reserved category names", () => {
    const bad = configSchema.safeParse({
      checks: { "iam-health": { prometheus: { url: "http://p" }, categories: { x: { match: "(" } } } },
    });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain("not a valid regular expression");
    const reserved = configSchema.safeParse({
      checks: {
        "iam-health": { prometheus: { url: "http://p" }, categories: { "no-data": { match: "x" } } },
      },
    });
    expect(reserved.success).toBe(false);
  });
});
