// Child process for sqlite-processes.test.ts: opens the store at argv[2] and bumps a shared
// counter argv[4] times, each bump one reconcile (read, plan, write). All children open the file at
// the same moment, argv[5] (epoch ms), so that they race on creating the schema too.
import { openSqliteStore } from "../../src/store/sqlite.js";
import { finding } from "./fixtures.js";

const [path, who, rounds, startAt] = process.argv.slice(2);
if (!path || !who || !rounds || !startAt)
  throw new Error("usage: sqlite-worker <path> <who> <rounds> <startAt>");
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const store = openSqliteStore(path);
for (let i = 0; i < Number(rounds); i++) {
  await store.reconcile({ account: "111111111111", checks: ["key-inactive"] }, (existing) => {
    const cur = existing.find((f) => f.id === "counter");
    const n = cur ? (cur.details.n as number) + 1 : 1;
    return {
      upserts: [finding("counter", { details: { n } })],
      events: cur
        ? []
        : [{ findingId: "counter", at: new Date().toISOString(), from: null, to: "open", cause: who }],
      outbox: [],
    };
  });
}
await store.close();
