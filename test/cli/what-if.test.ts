import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { runCli } from "../support/cli.js";
import { startFakeSlack } from "../support/fake-apis/slack.js";

// --now alone asks "what would happen then": nothing written, nothing sent, and it says so.

const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const NOW = "2026-11-23T09:00:00Z";
const LATER = "2027-06-01T09:00:00Z";
let dir: string;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
const cfg = () => ["--config", join(dir, "iamwarden.yaml")];
const report = () => ["--credential-report", join(EXAMPLES, "credential-report.csv")];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-what-if-"));
  slack = await startFakeSlack({ token: "xoxb-1", channels: ["#iam-alerts"] });
  const example = readFileSync(join(EXAMPLES, "iamwarden.yaml"), "utf8");
  writeFileSync(
    join(dir, "iamwarden.yaml"),
    `${example}\nnotify:\n  slack: { token: xoxb-1, channel: "#iam-alerts", apiUrl: "${slack.apiUrl}", dmOwners: false }\n`,
  );
  copyFileSync(join(EXAMPLES, "credential-report.csv"), join(dir, "report.csv"));
});
afterAll(async () => {
  await slack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("--now without --commit", () => {
  it("scans without creating the store or notifying, and says so", async () => {
    const r = await runCli(["scan", ...cfg(), ...report(), "--now", NOW]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Scanned 1 account: 17 open findings, 17 new");
    expect(r.stderr).toMatch(
      /What-if at 2026-11-23T09:00:00.000Z: nothing was written or sent \(\d+ notifications would have been sent\); --commit runs for real at this clock\./,
    );
    expect(existsSync(join(dir, "iamwarden.db"))).toBe(false);
    expect(slack.posts).toHaveLength(0);
    const json = JSON.parse(
      (await runCli(["scan", ...cfg(), ...report(), "--now", NOW, "--format", "json"])).stdout,
    );
    expect(json).toMatchObject({ whatIf: true, now: "2026-11-23T09:00:00.000Z" });
    expect(json.wouldNotify).toBeGreaterThan(0);
    expect(json.delivery).toBeUndefined();
  });

  it("with --commit writes and notifies; a later what-if leaves store and outbox as they were", async () => {
    const real = await runCli(["scan", ...cfg(), ...report(), "--now", NOW, "--commit", "--no-notify"]);
    expect(real.code).toBe(0);
    expect(real.stderr).not.toContain("What-if");
    const db = join(dir, "iamwarden.db");
    const before = readFileSync(db);
    const store = openSqliteStore(db);
    const pending = await store.listOutbox({ status: ["pending"] });
    await store.close();
    expect(pending.length).toBeGreaterThan(0);

    // Six months on, every key is older: the what-if sees more, and keeps it to itself.
    const later = await runCli(["scan", ...cfg(), ...report(), "--now", LATER, "--format", "json"]);
    expect(JSON.parse(later.stdout)).toMatchObject({ whatIf: true });
    const flush = await runCli(["outbox", "flush", ...cfg(), "--now", LATER]);
    expect(flush.code).toBe(0);
    expect(flush.stdout).toBe(`${pending.length} would be sent.\n`);
    expect(flush.stderr).toContain("would send #");
    expect(flush.stderr).toContain("What-if at 2027-06-01T09:00:00.000Z");
    const resolve = await runCli([
      "findings",
      "resolve",
      ...cfg(),
      pending[0]!.findingId,
      "--reason",
      "x",
      "--now",
      LATER,
    ]);
    expect(resolve.code).toBe(0);
    expect(slack.posts).toHaveLength(0);
    expect(readFileSync(db).equals(before)).toBe(true);

    const check = openSqliteStore(db);
    try {
      expect((await check.listOutbox({ status: ["pending"] })).length).toBe(pending.length);
      expect((await check.getFinding(pending[0]!.findingId))?.status).toBe("open");
      expect((await check.listRuns()).length).toBe(1);
    } finally {
      await check.close();
    }

    const sent = await runCli(["outbox", "flush", ...cfg(), "--now", NOW, "--commit", "--format", "json"]);
    expect(JSON.parse(sent.stdout)).toMatchObject({ delivered: pending.length, failed: 0 });
    expect(slack.posts).toHaveLength(pending.length);
  });

  it("refuses a what-if on a PostgreSQL store, naming --commit", async () => {
    const r = await runCli([
      "scan",
      ...cfg(),
      ...report(),
      "--now",
      NOW,
      "--store",
      "postgres://u@127.0.0.1:1/x",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "iamwarden: --now without --commit is a what-if, which runs on a private copy of a SQLite store; with PostgreSQL pass --commit to run for real at that clock\n",
    );
  });
});
