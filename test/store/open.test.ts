import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "iamwarden-open-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `s${++n}.db`);

describe("opening a store", () => {
  it("refuses a store that does not exist when asked not to create one, and creates nothing", async () => {
    const path = fresh();
    await expect(openStore(path, { create: false })).rejects.toThrow(/no store there/);
    expect(existsSync(path)).toBe(false);
  });

  it("never creates missing folders", async () => {
    const path = join(dir, "missing", "deeper", "x.db");
    await expect(openStore(path)).rejects.toThrow(/folder .*missing.* does not exist/);
    expect(existsSync(join(dir, "missing"))).toBe(false);
  });

  it("creates the file and its WAL companions readable by the owner only", async () => {
    const path = fresh();
    const store = await openStore(path);
    await store.startRun({ id: "r", command: "scan", actor: "t", startedAt: "2026-01-01T00:00:00.000Z" });
    for (const p of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(p).mode & 0o777).toBe(0o600);
    await store.close();
  });

  it("removes a store it just created when the command failed, and only then", async () => {
    const path = fresh();
    await (await openStore(path)).close({ discardIfCreated: true });
    expect(readdirSync(dir).filter((f) => f.startsWith(path.split("/").pop()!))).toEqual([]);
    await (await openStore(path)).close();
    await (await openStore(path)).close({ discardIfCreated: true }); // existed before: kept
    expect(existsSync(path)).toBe(true);
  });

  it("records migrations on the caller's clock", async () => {
    const path = fresh();
    await (await openStore(path, { now: new Date("2030-05-05T05:05:05Z") })).close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare("SELECT applied_at FROM schema_migrations").all() as { applied_at: string }[];
    db.close();
    expect(new Set(rows.map((r) => r.applied_at))).toEqual(new Set(["2030-05-05T05:05:05.000Z"]));
  });

  it("retries an open that finds the file locked by another process", async () => {
    const path = fresh();
    // Another process holds an exclusive lock for a moment, longer than one busy wait.
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D = require("better-sqlite3"); const db = new D(${JSON.stringify(path)});
         db.exec("BEGIN EXCLUSIVE; CREATE TABLE x (a)"); console.log("locked");
         setTimeout(() => { db.exec("COMMIT"); db.close(); }, 700);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((ready) => holder.stdout.once("data", () => ready()));
    const store = openSqliteStore(path, { busyTimeoutMs: 20 });
    expect(await store.listFindings()).toEqual([]);
    await store.close();
    await new Promise((done) => holder.once("exit", done));
  });
});

describe("commands and a mistyped store", () => {
  const config = join(dir, "c.yaml");
  writeFileSync(
    config,
    "aws: { maxAttempts: 1, endpoint: 'http://127.0.0.1:9' }\naccounts: [{ id: '111122223333' }]\n",
  );
  const env = { AWS_ACCESS_KEY_ID: "AKIDFAKE", AWS_SECRET_ACCESS_KEY: "x", AWS_REGION: "us-east-1" };

  it("read-only commands refuse a store that does not exist instead of creating it", async () => {
    const typo = join(dir, "tyypo.db");
    for (const args of [["findings", "list"], ["outbox", "list"], ["audit"]]) {
      const r = await runCli([...args, "--config", config, "--store", typo], { env });
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toContain("no store there");
      expect(r.stdout).not.toContain("No findings");
    }
    expect(existsSync(typo)).toBe(false);
  }, 60_000);

  it("scan makes no folder, and a failed first scan leaves no store behind", async () => {
    const r = await runCli(["scan", "--config", config, "--store", "/nonexistent/dir/x.db"], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("does not exist");
    expect(existsSync("/nonexistent")).toBe(false);

    const path = join(dir, "first.db");
    const failed = await runCli(["scan", "--config", config, "--store", path], { env });
    expect(failed.code).not.toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}-wal`)).toBe(false);
  }, 60_000);
});
