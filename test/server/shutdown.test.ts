import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { type FakeWebhook, startFakeWebhook } from "../support/fake-apis/webhook.js";
import { type SqsEmulator, startSqsEmulator } from "../support/sqs-emulator/index.js";
import { envelope } from "./events-fixture.js";
import { startServe, TOKEN, waitUntil } from "./harness.js";

// SIGTERM while SQS batches are being stored: the service exits 0, every message it deleted has
// its events in the store, the rest come back; after a restart every event is a finding and
// each finding was notified exactly once.

const USERS = Array.from({ length: 60 }, (_, i) => `user${String(i).padStart(3, "0")}`);
let sqs: SqsEmulator;
let hook: FakeWebhook;
let dir: string;
let cfg: string;

beforeAll(async () => {
  sqs = await startSqsEmulator();
  sqs.createQueue("events");
  hook = await startFakeWebhook({ secret: "s3cret-for-the-hook" });
  dir = mkdtempSync(join(tmpdir(), "iamwarden-serve-sigterm-"));
  cfg = join(dir, "iamwarden.yaml");
  writeFileSync(
    cfg,
    stringify({
      store: "./iamwarden.db",
      checks: { "iam-change": { adminUsers: ["alice.admin"] } },
      notify: { webhook: { url: hook.hookUrl, secret: "s3cret-for-the-hook" } },
      serve: {
        listen: "127.0.0.1:0",
        token: TOKEN,
        intake: {
          sqs: { queueUrl: sqs.queue("events").url, batchSize: 3, visibilityTimeout: 10, waitTimeSeconds: 1 },
        },
      },
    }),
  );
  for (const [i, u] of USERS.entries()) sqs.send("events", JSON.stringify(envelope(u, `ev-term-${i}`)));
});

afterAll(async () => {
  expect(sqs?.violations).toEqual([]);
  expect(hook?.violations).toEqual([]);
  await sqs?.close();
  await hook?.close();
});

const storedOwners = async () => {
  const store = openSqliteStore(join(dir, "iamwarden.db"));
  try {
    return new Set((await store.listFindings({ check: ["iam-change"] })).map((f) => f.owner));
  } finally {
    await store.close();
  }
};

it("loses no event and duplicates no notification when stopped in the middle of a batch", async () => {
  const first = await startServe(["--config", cfg]);
  const deleted = () => sqs.calls.filter((c) => c.op === "DeleteMessageBatch").length;
  await waitUntil(() => deleted() >= 2, "the first batches to be stored", 60_000);
  expect(await first.stop("SIGTERM")).toBe(0);

  // Every message that left the queue had its event stored.
  const remaining = new Set(
    sqs.remaining("events").map((m) => JSON.parse(m.body).detail.userIdentity.userName),
  );
  const owners = await storedOwners();
  for (const u of USERS) expect(owners.has(u) || remaining.has(u), u).toBe(true);
  expect(remaining.size).toBeGreaterThan(0);

  // Messages in hand at the stop are visible again (at once, or when their timeout lapses).
  const second = await startServe(["--config", cfg]);
  try {
    await waitUntil(() => sqs.remaining("events").length === 0, "the queue to drain", 60_000);
    await waitUntil(
      async () => (await storedOwners()).size === USERS.length && hook.received.length >= USERS.length,
      "every notification",
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    expect(await second.stop("SIGINT")).toBe(0);
  }
  expect([...(await storedOwners())].sort()).toEqual(USERS);
  const opened = hook.received
    .filter((b) => b.event === "opened")
    .map((b) => (b.finding as { id: string }).id);
  expect(opened).toHaveLength(USERS.length);
  expect(new Set(opened).size).toBe(USERS.length);
  expect(hook.stats.duplicates).toBe(0);
}, 180_000);
