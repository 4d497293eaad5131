import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite.js";

// better-sqlite3 is synchronous, so two stores in one process never interleave: only separate
// processes can show whether the file's locking keeps reconciles apart.

const dir = mkdtempSync(join(tmpdir(), "iamwarden-sqlite-procs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const worker = fileURLToPath(new URL("./sqlite-worker.ts", import.meta.url));

function run(path: string, who: string, rounds: number, startAt: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", worker, path, who, String(rounds), String(startAt)],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${who} exited ${code}: ${err}`))));
  });
}

it("processes opening a new file at once migrate it once and lose no reconcile", async () => {
  const path = join(dir, "shared.db");
  const rounds = 200;
  const startAt = Date.now() + 3000;
  await Promise.all(["a", "b", "c", "d"].map((who) => run(path, who, rounds, startAt)));
  const store = openSqliteStore(path);
  try {
    expect((await store.getFinding("counter"))?.details.n).toBe(rounds * 4);
    expect(await store.findingEvents("counter")).toHaveLength(1);
  } finally {
    await store.close();
  }
}, 60_000);
