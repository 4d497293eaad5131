import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openPostgresStore } from "../../src/store/postgres.js";
import { runCli } from "../support/cli.js";
import {
  addAccount,
  addRole,
  createState,
  type IamEmulator,
  seedUsers,
  startIamEmulator,
} from "../support/iam-emulator/index.js";
import { type TestDatabase, testDatabase } from "../support/postgres.js";

// The fleet path as a team runs it: `enqueue` queues one job per account in PostgreSQL, a
// `worker` process takes them, scans through the assumed roles and reconciles into the store.

const A = "222222222222";
const B = "333333333333";
let db: TestDatabase | undefined;
let emu: IamEmulator | undefined;
let dir: string;
const env = {
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE01",
  AWS_SECRET_ACCESS_KEY: "secret",
  AWS_REGION: "us-east-1",
};

beforeAll(async () => {
  db = await testDatabase("fleet");
  const state = createState();
  for (const id of [A, B]) {
    addAccount(state, { id });
    seedUsers(state, id, {
      users: 30,
      seed: Number(id.slice(0, 3)),
      problemShare: 0.3,
      prefix: `u${id[0]}-`,
    });
    addRole(state, id, { name: "iamwarden-audit" });
  }
  emu = await startIamEmulator({ state });
  dir = mkdtempSync(join(tmpdir(), "iamwarden-fleet-"));
  writeFileSync(
    join(dir, "iamwarden.yaml"),
    [
      `store: ${db?.url ?? "postgres://unused@127.0.0.1/none"}`,
      `aws: { endpoint: "${emu.url}", mode: api }`,
      "accounts:",
      `  - { ids: ["${A}", "${B}"], roleName: iamwarden-audit }`,
    ].join("\n"),
  );
});

afterAll(async () => {
  await emu?.close();
  await db?.drop();
});

it.skipIf(!process.env.IAMWARDEN_TEST_PG && !process.env.CI)(
  "workers scan every queued account once",
  async () => {
    if (!db) return;
    const config = join(dir, "iamwarden.yaml");
    const q = await runCli(["enqueue", "--config", config], { env });
    expect(q.stderr).toBe("");
    expect(q.stdout).toBe("Queued 2 account scans.\n");
    expect(q.code).toBe(0);

    const main = resolve(import.meta.dirname, "../../src/cli/main.ts");
    const worker = spawn(
      process.execPath,
      ["--import", "tsx", main, "worker", "--config", config, "--no-notify"],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let log = "";
    worker.stderr.on("data", (d) => {
      log += d;
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (log.match(/scanned \d{12}/g) ?? []).length < 2)
      await new Promise((r) => setTimeout(r, 250));
    worker.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => worker.on("close", r));
    expect(log).toContain(`scanned ${A}`);
    expect(log).toContain(`scanned ${B}`);
    expect(code).toBe(0);

    const store = await openPostgresStore(db.url);
    try {
      const findings = await store.listFindings({ status: ["open"] });
      expect(new Set(findings.map((f) => f.account))).toEqual(new Set([A, B]));
      const runs = await store.listRuns();
      expect(runs.filter((r) => r.command === "worker")).toHaveLength(2);
    } finally {
      await store.close();
    }
  },
  90_000,
);
