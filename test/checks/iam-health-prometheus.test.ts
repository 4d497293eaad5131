import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Counter } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliverOutbox } from "../../src/actions/notify/deliver.js";
import { type Config, configSchema } from "../../src/config/schema.js";
import { routerFromConfig } from "../../src/engine/routing.js";
import { type HealthReport, runHealth } from "../../src/run/health.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";
import { runCli } from "../support/cli.js";
import { type FakePagerDuty, startFakePagerDuty } from "../support/fake-apis/pagerduty.js";
import { type TestPrometheus, testPrometheus } from "../support/prometheus.js";

// The iam-health check against the real Prometheus (Debian's package, started by the test
// set-up), scraping an exporter whose 5xx counters this test moves.

const PD_DEFAULT = "d".repeat(32);
const PD_IDENTITY = "i".repeat(32);
const PD_ACCESS = "a".repeat(32);

let prom: TestPrometheus | undefined;
let pd: FakePagerDuty;
let store: Store;
let dir: string;
let config: Config;
let counter: Counter<"service" | "method" | "rc">;
let runs = 0;
/** A loopback port nothing listens on. */
let closedPort: number;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function settingsFor(p: TestPrometheus, overrides: Record<string, unknown> = {}) {
  return {
    prometheus: { url: p.url, timeoutMs: 5000, attempts: 1 },
    // The default query, narrowed to this test's exporter and to a window of seconds.
    query: `sum by (service) (increase(api_response_codes{${p.selector}, method=~"(?i).*iam.*", rc=~"5.."}[4s]))`,
    threshold: 0,
    categories: {
      identity: { match: "(?i)identity|token|apikey", pagerduty: { routingKey: PD_IDENTITY } },
      "access-management": { match: "(?i)access|policy|authz", pagerduty: { routingKey: PD_ACCESS } },
    },
    noDataAfter: 2,
    ...overrides,
  };
}

async function evaluate(cfg = config): Promise<HealthReport> {
  const now = new Date();
  const report = await runHealth(cfg.checks["iam-health"]!, {
    store,
    route: routerFromConfig(cfg.notify),
    now,
    runId: `health-${++runs}`,
    actor: "test",
  });
  await deliverOutbox(store, cfg, { now });
  return report;
}

/** Evaluates every half second until `done` holds (Prometheus sees a change within seconds). */
async function evaluateUntil(done: (r: HealthReport) => boolean, what: string): Promise<HealthReport> {
  for (let i = 0; i < 60; i++) {
    const r = await evaluate();
    if (done(r)) return r;
    await sleep(500);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

beforeAll(async () => {
  prom = await testPrometheus("iam_health");
  if (!prom) return;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  dir = mkdtempSync(join(tmpdir(), "iamwarden-health-"));
  pd = await startFakePagerDuty({ routingKeys: [PD_DEFAULT, PD_IDENTITY, PD_ACCESS] });
  config = configSchema.parse({
    checks: { "iam-health": settingsFor(prom) },
    notify: { pagerduty: { routingKey: PD_DEFAULT, url: pd.enqueueUrl } },
  });
  store = await openStore(join(dir, "iamwarden.db"));
  counter = new Counter({
    name: "api_response_codes",
    help: "API responses by service, method and status code",
    labelNames: ["service", "method", "rc"],
    registers: [prom.registry],
  });
  // Every series exists from the start at 0: increase() needs two samples to see a change.
  counter.labels("iam-identity", "IAM.TokenCreate", "500").inc(0);
  counter.labels("iam-access-groups", "iam.policy.get", "503").inc(0);
  counter.labels("iam-identity", "IAM.TokenCreate", "200").inc(0);
  counter.labels("billing", "billing.get", "500").inc(0);
  await prom.scraped(3);
}, 60_000);

afterAll(async () => {
  await store?.close();
  await pd?.close();
  await prom?.close();
});

describe("iam-health against a real Prometheus", () => {
  it("is healthy while no IAM service answers 5xx (other services and 2xx do not count)", async (t) => {
    if (!prom) return t.skip();
    counter.labels("billing", "billing.get", "500").inc(40);
    counter.labels("iam-identity", "IAM.TokenCreate", "200").inc(40);
    await sleep(1500);
    const r = await evaluate();
    expect(r.status).toBe("healthy");
    expect(r.series).toBe(2);
    expect(r.open).toEqual([]);
  }, 60_000);

  it("opens a finding for the failing service's category and pages that team's routing key", async (t) => {
    if (!prom) return t.skip();
    counter.labels("iam-identity", "IAM.TokenCreate", "500").inc(7);
    const r = await evaluateUntil((x) => x.status === "failing", "the identity errors to show");
    expect(r.open.map((f) => f.resource)).toEqual(["identity"]);
    const f = r.open[0]!;
    expect(f.check).toBe("iam-health");
    expect(f.severity).toBe("critical");
    expect(f.title).toMatch(/^IAM service errors \(identity\): iam-identity \d/);
    expect(pd.violations).toEqual([]);
    const triggers = pd.events.filter((e) => e.event_action === "trigger");
    expect(triggers).toHaveLength(1);
    expect(triggers[0]).toMatchObject({ routing_key: PD_IDENTITY, dedup_key: f.id });
    expect(pd.alerts.get(f.id)).toBe("triggered");
  }, 60_000);

  it("a Prometheus error is a failed run that resolves nothing", async (t) => {
    if (!prom) return t.skip();
    const broken = configSchema.parse({
      checks: { "iam-health": settingsFor(prom, { query: "sum by (service) (" }) },
      notify: config.notify,
    });
    const r = await evaluate(broken);
    expect(r.status).toBe("error");
    expect(r.error).toMatch(/^prometheus: bad_data: /);
    const open = await store.listFindings({ check: ["iam-health"], status: ["open"] });
    expect(open.map((f) => f.resource)).toEqual(["identity"]);
    const unreachable = configSchema.parse({
      checks: {
        "iam-health": settingsFor(prom, {
          prometheus: { url: `http://127.0.0.1:${closedPort}`, attempts: 2 },
        }),
      },
      notify: config.notify,
    });
    const r2 = await evaluate(unreachable);
    expect(r2.status).toBe("error");
    expect(r2.error).toMatch(/^prometheus: ECONNREFUSED \(after 2 tries\)/);
    expect((await store.listFindings({ check: ["iam-health"], status: ["open"] })).length).toBe(1);
  }, 60_000);

  it("resolves the finding, and the PagerDuty incident, when the errors stop", async (t) => {
    if (!prom) return t.skip();
    const id = (await store.listFindings({ check: ["iam-health"], status: ["open"] }))[0]!.id;
    const r = await evaluateUntil((x) => x.status === "healthy", "the window to pass");
    expect(r.summary.resolved).toBe(1);
    expect((await store.getFinding(id))!.status).toBe("resolved");
    const resolves = pd.events.filter((e) => e.event_action === "resolve");
    expect(resolves).toEqual([{ routing_key: PD_IDENTITY, event_action: "resolve", dedup_key: id }]);
    expect(pd.alerts.get(id)).toBe("resolved");
  }, 60_000);

  it("pages the access-management team for its services", async (t) => {
    if (!prom) return t.skip();
    counter.labels("iam-access-groups", "iam.policy.get", "503").inc(3);
    const r = await evaluateUntil((x) => x.status === "failing", "the access errors to show");
    expect(r.open.map((f) => f.resource)).toEqual(["access-management"]);
    expect(pd.events.at(-1)).toMatchObject({ routing_key: PD_ACCESS, event_action: "trigger" });
    await evaluateUntil((x) => x.status === "healthy", "the window to pass");
    expect(pd.events.at(-1)).toMatchObject({ routing_key: PD_ACCESS, event_action: "resolve" });
  }, 90_000);

  it("reports no data, after noDataAfter empty evaluations, when the metric disappears", async (t) => {
    if (!prom) return t.skip();
    prom.registry.removeSingleMetric("api_response_codes");
    const first = await evaluateUntil((x) => x.status === "no-data", "the series to go");
    // The first empty evaluation only counts; the second opens the no-data finding.
    expect(first.emptyStreak).toBe(1);
    expect(first.open).toEqual([]);
    const second = await evaluate();
    expect(second.status).toBe("no-data");
    expect(second.emptyStreak).toBe(2);
    expect(second.open.map((f) => f.resource)).toEqual(["no-data"]);
    expect(second.open[0]!.title).toMatch(/^No data for the IAM health query in 2 evaluations/);
    expect(pd.events.at(-1)).toMatchObject({
      routing_key: PD_DEFAULT,
      event_action: "trigger",
      dedup_key: second.open[0]!.id,
    });
  }, 60_000);

  it("iamwarden health: one evaluation, exit 1 with an open finding, 2 when Prometheus fails", async (t) => {
    if (!prom) return t.skip();
    const file = join(dir, "iamwarden.yaml");
    const write = (url: string) =>
      writeFileSync(
        file,
        JSON.stringify({
          store: "./iamwarden.db",
          checks: { "iam-health": settingsFor(prom!, { prometheus: { url, attempts: 1 } }) },
          notify: { pagerduty: { routingKey: PD_DEFAULT, url: pd.enqueueUrl } },
        }),
      );
    write(prom.url);
    const r = await runCli(["health", "--config", file, "--format", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.status).toBe("no-data");
    expect(doc.emptyStreak).toBe(3);
    expect(doc.open.map((f: { resource: string }) => f.resource)).toEqual(["no-data"]);
    write(`http://127.0.0.1:${closedPort}`);
    const down = await runCli(["health", "--config", file]);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/^IAM health: evaluation failed, nothing changed: prometheus: ECONNREFUSED/);
  }, 60_000);
});
