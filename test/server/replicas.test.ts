import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { openPostgresStore } from "../../src/store/postgres.js";
import {
  addAccount,
  addRole,
  createState,
  type IamEmulator,
  seedUsers,
  startIamEmulator,
} from "../support/iam-emulator/index.js";
import { type TestDatabase, testDatabase } from "../support/postgres.js";
import { type ServeProcess, startServe, TOKEN } from "./harness.js";

// Two replicas of `serve` on one PostgreSQL store, both scheduled to scan and deliver at noon:
// each job runs once across them, and the accounts' scans are shared out, each scanned once.

const ACCOUNTS = ["222222222222", "333333333333", "444444444444"];
const NOW = "2026-12-01T11:59:55Z";
let db: TestDatabase | undefined;
let iam: IamEmulator;
let cfg: string;

beforeAll(async () => {
  db = await testDatabase("serve_replicas");
  const state = createState();
  for (const id of ACCOUNTS) {
    addAccount(state, { id });
    seedUsers(state, id, { users: 8, seed: Number(id.slice(0, 2)), problemShare: 0.5, prefix: `u${id[0]}-` });
    addRole(state, id, { name: "iamwarden-audit" });
  }
  iam = await startIamEmulator({ state });
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-serve-replicas-"));
  cfg = join(dir, "iamwarden.yaml");
  writeFileSync(
    cfg,
    stringify({
      store: db?.url ?? "postgres://unused@127.0.0.1/none",
      aws: { endpoint: iam.url, region: "us-east-1", mode: "api" },
      accounts: [{ ids: ACCOUNTS, roleName: "iamwarden-audit" }],
      serve: {
        listen: "127.0.0.1:0",
        token: TOKEN,
        schedule: { scan: "0 12 * * *", deliver: "0 12 * * *" },
        scanConcurrency: 2,
      },
    }),
  );
});

afterAll(async () => {
  await iam?.close();
  await db?.drop();
});

it.skipIf(!process.env.IAMWARDEN_TEST_PG && !process.env.CI)(
  "runs each scheduled job once across two replicas and scans each account once",
  async () => {
    if (!db) return;
    const replicas: ServeProcess[] = await Promise.all([
      startServe(["--config", cfg, "--now", NOW, "--commit"]),
      startServe(["--config", cfg, "--now", NOW, "--commit"]),
    ]);
    try {
      const scanned = () =>
        replicas.flatMap((r) => r.logs.filter((l) => l.msg === "job finished" && l.job === "scan"));
      const deadline = Date.now() + 90_000;
      const store = await openPostgresStore(db.url);
      try {
        const accountRuns = async () =>
          (await store.listRuns(200)).filter((r) => r.id.includes("-serve-account-") && r.finishedAt);
        while (
          Date.now() < deadline &&
          (scanned().length < 1 || (await accountRuns()).length < ACCOUNTS.length)
        )
          await new Promise((r) => setTimeout(r, 250));
        // Time for a second replica to (wrongly) run anything twice.
        await new Promise((r) => setTimeout(r, 3000));
        const runs = await store.listRuns(200);
        expect(runs.filter((r) => r.command === "serve scan" && r.id.includes("-serve-scan-"))).toHaveLength(
          1,
        );
        expect(runs.filter((r) => r.command === "serve deliver")).toHaveLength(1);
        const perAccount = (await accountRuns()).map(
          (r) => (r.summary?.accounts as { id: string }[] | undefined)?.[0]?.id,
        );
        expect(perAccount.sort()).toEqual([...ACCOUNTS].sort());
        const findings = await store.listFindings({ status: ["open"] });
        expect(new Set(findings.map((f) => f.account))).toEqual(new Set(ACCOUNTS));
      } finally {
        await store.close();
      }
      // Both replicas took part in the schedule: each submitted the occurrences.
      expect(scanned()).toHaveLength(1);
    } catch (e) {
      for (const r of replicas) console.log(r.stderr().slice(-6000));
      throw e;
    } finally {
      const codes = await Promise.all(replicas.map((r) => r.stop()));
      expect(codes).toEqual([0, 0]);
    }
  },
  180_000,
);
