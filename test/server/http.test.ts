import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { envelope } from "./events-fixture.js";
import { type ServeProcess, startServe, TOKEN } from "./harness.js";
import { type SnsFixture, startSnsFixture, TOPIC } from "./sns-fixture.js";

// The HTTP side of `serve` as a client sees it: token, intake (plain, EventBridge, SNS), the JSON
// API and /metrics, against a real child process and its SQLite store.

const FIXTURES = resolve(import.meta.dirname, "../fixtures");
const TRAIL = join(
  FIXTURES,
  "cloudtrail/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/16/123456789012_CloudTrail_us-east-1_20240316T1005Z_Q8bLm3ZxT5e2cR7d.json",
);
const dir = mkdtempSync(join(tmpdir(), "iamwarden-serve-http-"));
const db = join(dir, "iamwarden.db");
let sns: SnsFixture;
let serve: ServeProcess;

beforeAll(async () => {
  sns = await startSnsFixture();
  const cfg = join(dir, "iamwarden.yaml");
  writeFileSync(
    cfg,
    stringify({
      store: "./iamwarden.db",
      checks: { "iam-change": { adminUsers: ["alice.admin"] } },
      serve: {
        listen: "127.0.0.1:0",
        token: TOKEN,
        bodyLimit: 64 * 1024,
        intake: { http: true, sns: { topicArns: [TOPIC], certUrlPattern: sns.certUrlPattern } },
      },
    }),
  );
  serve = await startServe(["--config", cfg]);
});

afterAll(async () => {
  const code = await serve?.stop();
  expect(code).toBe(0);
  await sns?.close();
});

describe("serve over HTTP", () => {
  it("refuses requests without the token (401), leaves /metrics and /healthz open by config", async () => {
    for (const [path, method] of [
      ["/v1/findings", "GET"],
      ["/v1/runs", "GET"],
      ["/v1/events", "POST"],
    ] as const) {
      const r = await serve.api(path, { method, token: null, body: method === "POST" ? "{}" : undefined });
      expect(r.status, path).toBe(401);
      expect(await r.json()).toEqual({ error: "missing or wrong token" });
    }
    expect((await serve.api("/v1/findings", { token: "wrong-token-0123456789" })).status).toBe(401);
    expect((await serve.api("/healthz", { token: null })).status).toBe(200);
    expect((await serve.api("/metrics", { token: null })).status).toBe(200);
    const ready = await serve.api("/readyz", { token: null });
    expect(await ready.json()).toEqual({ status: "ready" });
    // The API key header and Basic auth carry the same token (EventBridge, SNS subscriptions).
    expect((await serve.api("/v1/runs", { token: null, headers: { "x-api-key": TOKEN } })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`sns:${TOKEN}`).toString("base64")}`;
    expect((await serve.api("/v1/runs", { token: null, headers: { authorization: basic } })).status).toBe(
      200,
    );
  });

  it("answers 400 with one line for a malformed body, and stores nothing of it", async () => {
    const good = JSON.stringify(envelope("eve", "ev-bad-1"));
    const r = await serve.api("/v1/events", { method: "POST", body: `${good}\n{"detail-type": 1\n` });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: string };
    expect(body.error).toMatch(/^body:2: invalid JSON/);
    expect(body.error).not.toContain("\n");
    const list = await (await serve.api("/v1/findings")).json();
    expect(list.findings.filter((f: { owner?: string }) => f.owner === "eve")).toEqual([]);
    const big = await serve.api("/v1/events", { method: "POST", body: "x".repeat(70 * 1024) });
    expect(big.status).toBe(413);
  });

  it("turns a CloudTrail file and EventBridge JSON lines into findings", async () => {
    const trail = await serve.api("/v1/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: readFileSync(TRAIL),
    });
    expect(trail.status).toBe(200);
    expect(await trail.json()).toMatchObject({ events: 2, opened: 1 });
    const lines = [
      envelope("bob", "ev-1"),
      envelope("carol", "ev-2"),
      { "detail-type": "EC2 Instance State-change Notification", detail: {} },
    ]
      .map((e) => JSON.stringify(e))
      .join("\n");
    const r = await serve.api("/v1/events", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: lines,
    });
    expect(await r.json()).toMatchObject({ events: 2, ignored: 1, opened: 2 });
    const list = await (await serve.api("/v1/findings?check=iam-change&status=open")).json();
    expect(list.findings.map((f: { owner: string }) => f.owner).sort()).toEqual(["bob", "carol", "mallory"]);
  });

  it("verifies SNS signatures (versions 1 and 2), confirms subscriptions, refuses bad ones", async () => {
    const confirm = sns.message("SubscriptionConfirmation", "You have chosen to subscribe…");
    const c = await serve.api("/v1/events", {
      method: "POST",
      headers: {
        "content-type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "SubscriptionConfirmation",
      },
      body: JSON.stringify(confirm),
    });
    expect(c.status).toBe(200);
    expect(sns.confirmations).toHaveLength(1);

    for (const version of ["1", "2"] as const) {
      const m = sns.message("Notification", JSON.stringify(envelope(`dave${version}`, `ev-sns-${version}`)), {
        version,
      });
      const ok = await serve.api("/v1/events", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: JSON.stringify(m),
      });
      expect(ok.status, `version ${version}`).toBe(200);
      expect(await ok.json()).toMatchObject({ events: 1, opened: 1 });
    }

    const tampered = sns.message("Notification", JSON.stringify(envelope("mallet", "ev-sns-3")));
    tampered.Message = JSON.stringify(envelope("mallet", "ev-sns-4"));
    const bad = await serve.api("/v1/events", { method: "POST", body: JSON.stringify(tampered) });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toEqual({ error: "the SNS signature does not verify" });

    const elsewhere = sns.message("Notification", JSON.stringify(envelope("mallet", "ev-sns-5")));
    elsewhere.SigningCertURL = "https://attacker.example.com/SimpleNotificationService-1.pem";
    const far = await serve.api("/v1/events", { method: "POST", body: JSON.stringify(elsewhere) });
    expect(far.status).toBe(403);
    expect(await far.json()).toEqual({ error: "SigningCertURL is not an SNS certificate URL" });

    const other = sns.message("Notification", JSON.stringify(envelope("mallet", "ev-sns-6")), {
      topic: "arn:aws:sns:us-east-1:999999999999:someone-elses",
    });
    expect((await serve.api("/v1/events", { method: "POST", body: JSON.stringify(other) })).status).toBe(403);
    const list = await (await serve.api("/v1/findings?check=iam-change")).json();
    expect(list.findings.some((f: { owner: string }) => f.owner === "mallet")).toBe(false);
  });

  it("serves findings with history, resolves one, and pages", async () => {
    const page1 = await (await serve.api("/v1/findings?limit=2")).json();
    expect(page1).toMatchObject({ offset: 0, limit: 2, next: 2 });
    const page2 = await (await serve.api(`/v1/findings?limit=2&offset=${page1.next}`)).json();
    const all = await (await serve.api("/v1/findings?limit=1000")).json();
    expect([...page1.findings, ...page2.findings].map((f: { id: string }) => f.id)).toEqual(
      all.findings.slice(0, 4).map((f: { id: string }) => f.id),
    );
    const bob = all.findings.find((f: { owner: string }) => f.owner === "bob");
    const one = await (await serve.api(`/v1/findings/${bob.id}`)).json();
    expect(one.finding.id).toBe(bob.id);
    expect(one.history.map((h: { to: string }) => h.to)).toEqual(["open"]);
    const resolved = await serve.api(`/v1/findings/${encodeURIComponent(bob.id)}/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "rotated by the owner" }),
    });
    expect(resolved.status).toBe(200);
    expect((await resolved.json()).finding.status).toBe("resolved");
    const again = await serve.api(`/v1/findings/${bob.id}/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "twice" }),
    });
    expect(again.status).toBe(409);
    const noReason = await serve.api(`/v1/findings/${bob.id}/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(noReason.status).toBe(400);
    expect((await serve.api("/v1/findings/iam-change/000000000000/nope")).status).toBe(404);
    const openapi = await (await serve.api("/openapi.json", { token: null })).json();
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        "/v1/findings",
        "/v1/findings/{id}",
        "/v1/findings/{id}/resolve",
        "/v1/audit",
        "/v1/outbox",
        "/v1/runs",
        "/v1/events",
      ]),
    );
  });

  it("reports on /metrics exactly the findings in the store", async () => {
    const text = await (await serve.api("/metrics", { token: null })).text();
    const fromMetrics = new Map<string, number>();
    for (const m of text.matchAll(
      /^iamwarden_findings\{check="([^"]+)",severity="([^"]+)",account="(\d+)",status="([^"]+)"\} (\d+)$/gm,
    ))
      fromMetrics.set(`${m[1]} ${m[2]} ${m[3]} ${m[4]}`, Number(m[5]));
    const store = openSqliteStore(db);
    const fromStore = new Map<string, number>();
    try {
      for (const f of await store.listFindings()) {
        const k = `${f.check} ${f.severity} ${f.account} ${f.status}`;
        fromStore.set(k, (fromStore.get(k) ?? 0) + 1);
      }
    } finally {
      await store.close();
    }
    expect(fromStore.size).toBeGreaterThan(1);
    expect(fromMetrics).toEqual(fromStore);
    expect(text).toMatch(/^iamwarden_intake_events_judged_total\{intake="sns"\} 2$/m);
    expect(text).toMatch(/^iamwarden_intake_rejected_total\{intake="sns",reason="signature"\} 2$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    // No key ids or request-supplied text in labels.
    expect(text).not.toMatch(/AKIA|ASIA|mallory/);
  });
});
