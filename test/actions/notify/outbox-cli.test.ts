import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { planReconcile } from "../../../src/engine/reconcile.js";
import { routerFromConfig } from "../../../src/engine/routing.js";
import { EXIT } from "../../../src/errors.js";
import type { Candidate } from "../../../src/model/finding.js";
import { openSqliteStore } from "../../../src/store/sqlite.js";
import { runCli } from "../../support/cli.js";
import { startFakeSlack } from "../../support/fake-apis/slack.js";

let dir: string;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let exitCode: number;

const cand: Candidate = {
  check: "key-inactive",
  account: "111122223333",
  resource: "AKIAIOSFODNN7EXAMPLE",
  owner: "alice",
  severity: "medium",
  title: "Access key of alice unused for 120 days",
  details: { username: "alice", keyId: "AKIAIOSFODNN7EXAMPLE" },
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-outbox-"));
  slack = await startFakeSlack({ token: "xoxb-1", channels: ["#iam-alerts"] });
  writeFileSync(
    join(dir, "iamwarden.yaml"),
    `store: ./state.db\nnotify:\n  slack: { token: xoxb-1, channel: "#iam-alerts", apiUrl: "${slack.apiUrl}", dmOwners: false }\n`,
  );
});
afterEach(async () => {
  await slack.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The command in process; a one-line error (exit 2) is thrown so tests can expect it. */
async function cli(...args: string[]) {
  const r = await runCli(["--config", join(dir, "iamwarden.yaml"), ...args]);
  exitCode = r.code;
  if (r.code === 2) throw new Error(r.stderr);
  return r.stdout;
}

async function queue(now: string) {
  const store = openSqliteStore(join(dir, "state.db"));
  const route = routerFromConfig({
    slack: { enabled: true, token: "x", dmOwners: false, renotifyHours: 24 },
    templates: {},
  });
  await store.reconcile({ account: cand.account, checks: [cand.check] }, (existing) =>
    planReconcile(existing, {
      account: cand.account,
      checks: [cand.check],
      kind: "state",
      complete: true,
      candidates: [cand],
      suppress: () => undefined,
      route,
      renotifyHours: 24,
      now: new Date(now),
      runId: "r1",
    }),
  );
  await store.close();
}

describe("iamwarden outbox", () => {
  it("lists what waits, flushes it at --now, and shows failures with their error", async () => {
    await queue("2026-03-01T00:00:00Z");
    const listed = JSON.parse(await cli("outbox", "list", "--format", "json"));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ channel: "slack", event: "opened", status: "pending" });

    // Slack is down: the item stays pending with its error; the exit code says so.
    slack.inject(() => true, { status: 503, headers: { "retry-after": "30" }, body: "" });
    const failed = JSON.parse(
      await cli("--now", "2026-03-01T00:05:00Z", "--commit", "outbox", "flush", "--format", "json"),
    );
    expect(failed).toMatchObject({ delivered: 0, failed: 0, pending: 1 });
    expect(failed.items[0]).toMatchObject({ result: "retry", nextAttemptAt: "2026-03-01T00:05:30.000Z" });
    expect(exitCode).toBe(EXIT.partial);
    const table = await cli("outbox", "list");
    expect(table).toContain("slack chat.postMessage: HTTP 503");
    expect(table).toContain("2026-03-01T00:05:30.000Z");

    const ok = JSON.parse(
      await cli("--now", "2026-03-01T00:06:00Z", "--commit", "outbox", "flush", "--format", "json"),
    );
    expect(ok).toMatchObject({ delivered: 1, failed: 0, pending: 0 });
    expect(slack.posts).toHaveLength(1);
    expect(JSON.stringify(slack.posts)).not.toContain("AKIAIOSFODNN7EXAMPLE");
    expect(await cli("outbox", "list")).toBe("Nothing in the outbox.\n");
    expect(JSON.parse(await cli("outbox", "list", "--status", "delivered", "--format", "json"))).toHaveLength(
      1,
    );
  });

  it("requeues permanently failed items with --retry-failed once the cause is fixed", async () => {
    await queue("2026-03-01T00:00:00Z");
    slack.inject(() => true, { status: 200, body: { ok: false, error: "not_in_channel" } });
    const first = JSON.parse(
      await cli("--now", "2026-03-01T00:01:00Z", "--commit", "outbox", "flush", "--format", "json"),
    );
    expect(first).toMatchObject({ failed: 1 });
    expect(first.items[0].error).toBe("slack chat.postMessage: not_in_channel");
    // A plain flush leaves failed items alone.
    expect(
      JSON.parse(
        await cli("--now", "2026-03-01T00:02:00Z", "--commit", "outbox", "flush", "--format", "json"),
      ),
    ).toMatchObject({
      delivered: 0,
    });
    const again = JSON.parse(
      await cli(
        "--now",
        "2026-03-01T00:03:00Z",
        "--commit",
        "outbox",
        "flush",
        "--retry-failed",
        "--format",
        "json",
      ),
    );
    expect(again).toMatchObject({ requeued: 1, delivered: 1, failed: 0 });
    expect(slack.violations).toEqual([]);
  });

  it("says per channel what is pending but not yet due, and --all sends it now", async () => {
    await queue("2026-03-01T00:00:00Z");
    slack.inject(() => true, { status: 503, headers: { "retry-after": "600" }, body: "" });
    await cli("--now", "2026-03-01T00:01:00Z", "--commit", "outbox", "flush");
    const waiting = JSON.parse(
      await cli("--now", "2026-03-01T00:02:00Z", "--commit", "outbox", "flush", "--format", "json"),
    );
    expect(waiting).toMatchObject({
      delivered: 0,
      pending: 0,
      notYetDue: 1,
      channels: { slack: { delivered: 0, failed: 0, pending: 0, notYetDue: 1 } },
    });
    const text = await cli("--now", "2026-03-01T00:02:00Z", "--commit", "outbox", "flush");
    expect(text).toContain("1 not yet due (--all sends them now)");
    expect(text).toContain("Notifications: slack 0 delivered, 0 failed, 0 pending, 1 not yet due.");
    expect(slack.posts).toHaveLength(0);
    const all = JSON.parse(
      await cli("--now", "2026-03-01T00:03:00Z", "--commit", "outbox", "flush", "--all", "--format", "json"),
    );
    expect(all).toMatchObject({ delivered: 1, notYetDue: 0, channels: { slack: { delivered: 1 } } });
    expect(slack.posts).toHaveLength(1);
  });

  it("rejects a bad --status", async () => {
    await expect(cli("outbox", "list", "--status", "stuck")).rejects.toThrow("--status: stuck is not one of");
  });
});
