import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { storeContract } from "./contract.js";

const dir = mkdtempSync(join(tmpdir(), "iamwarden-store-"));
let n = 0;
let path = join(dir, "0.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storeContract(
  "sqlite",
  async () => openSqliteStore(path),
  async () => {
    // A new file per test: the audit log's triggers forbid emptying it, by design.
    path = join(dir, `${++n}.db`);
  },
  {
    async exec(sql) {
      const db = new Database(path);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
  },
);
