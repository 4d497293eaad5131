import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { createState, type IamEmulator, seedUsers, startIamEmulator } from "../support/iam-emulator/index.js";
import { startServe, TOKEN } from "./harness.js";

// A scheduled scan runs at its minute: the service is started with its clock a few seconds before
// noon (--now), so noon comes without waiting for the real one. Restarted hours later, the scan
// it missed runs once at start.

const ACCOUNT = "123456789012";
const NOW = new Date("2026-12-01T11:59:56Z");
let iam: IamEmulator;
let dir: string;
let cfg: string;

beforeAll(async () => {
  const state = createState({ homeAccount: ACCOUNT });
  seedUsers(state, ACCOUNT, { users: 12, seed: 7, problemShare: 0.5, now: NOW });
  iam = await startIamEmulator({ state });
  dir = mkdtempSync(join(tmpdir(), "iamwarden-serve-schedule-"));
  cfg = join(dir, "iamwarden.yaml");
  writeFileSync(
    cfg,
    stringify({
      store: "./iamwarden.db",
      aws: { endpoint: iam.url, region: "us-east-1", mode: "api" },
      accounts: [{ id: ACCOUNT, alias: "prod" }],
      serve: { listen: "127.0.0.1:0", token: TOKEN, schedule: { scan: "0 * * * *" } },
    }),
  );
});

afterAll(() => iam?.close());

const scanRuns = async () => {
  const store = openSqliteStore(join(dir, "iamwarden.db"));
  try {
    return (await store.listRuns(100)).filter((r) => r.command === "serve scan");
  } finally {
    await store.close();
  }
};

it("runs the scheduled scan at its minute, and a missed one once at the next start", async () => {
  const serve = await startServe(["--config", cfg, "--now", NOW.toISOString(), "--commit"]);
  try {
    // Before noon on the service's clock nothing has run.
    expect(serve.logs.some((l) => l.msg === "job started")).toBe(false);
    const started = await serve.waitFor((l) => l.msg === "job started" && l.job === "scan", 30_000);
    expect(started.scheduledFor).toBe("2026-12-01T12:00:00.000Z");
    await serve.waitFor((l) => l.msg === "job finished" && l.job === "scan", 60_000);
    const list = await (await serve.api("/v1/findings?status=open")).json();
    expect(list.total).toBeGreaterThan(0);
    const metrics = await (await serve.api("/metrics", { token: null })).text();
    expect(metrics).toMatch(new RegExp(`^iamwarden_account_scan_failing\\{account="${ACCOUNT}"\\} 0$`, "m"));
    expect(metrics).toMatch(
      new RegExp(`^iamwarden_access_key_age_days_count\\{account="${ACCOUNT}"\\} [1-9]`, "m"),
    );
    expect(metrics).toMatch(/^iamwarden_job_runs_total\{job="scan",result="ok"\} 1$/m);
  } finally {
    expect(await serve.stop()).toBe(0);
  }
  const first = await scanRuns();
  expect(first).toHaveLength(1);
  expect(
    first[0]!.startedAt >= "2026-12-01T12:00:00.000Z" && first[0]!.startedAt < "2026-12-01T12:00:30.000Z",
  ).toBe(true);
  expect(first[0]!.summary).toMatchObject({ accounts: [{ id: ACCOUNT, ok: true }] });

  // Down from 12:00 to 15:30: the 13:00, 14:00 and 15:00 scans were missed; one runs at start.
  const later = await startServe(["--config", cfg, "--now", "2026-12-01T15:30:00Z", "--commit"]);
  try {
    const missed = await later.waitFor((l) => l.msg === "job started" && l.job === "scan", 30_000);
    expect(missed.scheduledFor).toBe("2026-12-01T15:00:00.000Z");
    await later.waitFor((l) => l.msg === "job finished" && l.job === "scan", 60_000);
  } finally {
    expect(await later.stop()).toBe(0);
  }
  const runs = await scanRuns();
  expect(runs).toHaveLength(2);
  expect(runs[0]!.startedAt >= "2026-12-01T15:30:00.000Z").toBe(true);
}, 180_000);
