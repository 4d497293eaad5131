import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { addUser, createState, type IamEmulator, startIamEmulator } from "../support/iam-emulator/index.js";
import { writeOps } from "../support/iam-emulator/write-ops.js";
import { type SqsEmulator, startSqsEmulator } from "../support/sqs-emulator/index.js";
import { envelope } from "./events-fixture.js";
import { type ServeProcess, startServe, TOKEN, waitUntil } from "./harness.js";

// SQS intake as EventBridge feeds it: an IAM change by a non-admin arrives on the queue, becomes
// a finding, and (quarantine on) the user is quarantined in the account; the message is deleted
// only after. Unreadable messages and messages received too often are moved to the DLQ.

const ACCOUNT = "123456789012";
let iam: IamEmulator;
let sqs: SqsEmulator;
let serve: ServeProcess;

beforeAll(async () => {
  const state = createState({ homeAccount: ACCOUNT });
  addUser(state, ACCOUNT, { name: "mallory" });
  iam = await startIamEmulator({ state, operations: writeOps() });
  sqs = await startSqsEmulator({ account: ACCOUNT });
  sqs.createQueue("iamwarden-events");
  sqs.createQueue("iamwarden-events-dlq");
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-serve-sqs-"));
  const cfg = join(dir, "iamwarden.yaml");
  writeFileSync(
    cfg,
    stringify({
      store: "./iamwarden.db",
      aws: { endpoint: iam.url, region: "us-east-1", maxAttempts: 2 },
      accounts: [{ id: ACCOUNT }],
      checks: { "iam-change": { adminUsers: ["alice.admin"], quarantine: true } },
      remediation: { accounts: [ACCOUNT] },
      serve: {
        listen: "127.0.0.1:0",
        token: TOKEN,
        intake: {
          sqs: {
            queueUrl: sqs.queue("iamwarden-events").url,
            deadLetterQueueUrl: sqs.queue("iamwarden-events-dlq").url,
            maxReceives: 3,
            visibilityTimeout: 10,
            waitTimeSeconds: 1,
          },
        },
      },
    }),
  );
  serve = await startServe(["--config", cfg]);
});

afterAll(async () => {
  expect(await serve?.stop()).toBe(0);
  expect(sqs?.violations).toEqual([]);
  await sqs?.close();
  await iam?.close();
});

it("turns an event on the queue into a finding and a quarantine, then deletes the message", async () => {
  sqs.send("iamwarden-events", JSON.stringify(envelope("mallory", "ev-sqs-1", "AttachUserPolicy")));
  await waitUntil(() => sqs.remaining("iamwarden-events").length === 0, "the message to be deleted");
  const list = await (await serve.api("/v1/findings?check=iam-change")).json();
  expect(list.findings).toHaveLength(1);
  expect(list.findings[0]).toMatchObject({ owner: "mallory", status: "remediated" });
  const user = iam.state.accounts.get(ACCOUNT)?.users.get("mallory");
  expect(JSON.stringify(user)).toContain("iamwarden-quarantine");
  const one = await (await serve.api(`/v1/findings/${list.findings[0].id}`)).json();
  expect(one.audit.map((a: { action: string; result: string }) => [a.action, a.result])).toEqual([
    ["create-policy", "applied"],
    ["attach-user-policy", "applied"],
  ]);
  // Deleted after its events were stored, never before.
  const ops = sqs.calls.map((c) => c.op);
  expect(ops).toContain("DeleteMessageBatch");
});

it("moves an unreadable message and one received too often to the dead-letter queue", async () => {
  sqs.send("iamwarden-events", "this is not JSON");
  const poison = sqs.send("iamwarden-events", JSON.stringify(envelope("trent", "ev-sqs-2")));
  // Received three times already by consumers that crashed before storing it.
  poison.receiveCount = 3;
  await waitUntil(() => sqs.remaining("iamwarden-events").length === 0, "both messages to leave the queue");
  const dlq = sqs.remaining("iamwarden-events-dlq");
  expect(dlq.map((m) => m.body).sort()).toEqual([poison.body, "this is not JSON"].sort());
  expect(dlq.map((m) => m.attributes["iamwarden-reason"]?.StringValue).sort()).toEqual([
    expect.stringMatching(/invalid JSON/),
    expect.stringMatching(/received 4 times/),
  ]);
  const list = await (await serve.api("/v1/findings?check=iam-change")).json();
  expect(list.findings.map((f: { owner: string }) => f.owner)).toEqual(["mallory"]);
  const metrics = await (await serve.api("/metrics", { token: null })).text();
  expect(metrics).toMatch(/^iamwarden_intake_rejected_total\{intake="sqs",reason="poison"\} 1$/m);
  expect(metrics).toMatch(/^iamwarden_intake_rejected_total\{intake="sqs",reason="malformed"\} 1$/m);
  expect(metrics).toMatch(/^iamwarden_intake_events_judged_total\{intake="sqs"\} 1$/m);
});
