import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { UserError } from "../errors.js";
import type { Finding } from "../model/finding.js";
import { sqliteKnownKeys } from "./known-keys.js";
import { migrations } from "./migrations/index.js";
import {
  auditFromRow,
  auditToValues,
  eventFromRow,
  FINDING_COLUMNS,
  findingFromRow,
  findingToValues,
  outboxFromRow,
  runFromRow,
} from "./rows.js";
import { type FindingFilter, OUTBOX_LEASE_MS, type ReconcilePlan, type Store } from "./store.js";

type Row = Record<string, unknown>;

const UPSERT_FINDING = `INSERT INTO findings (${FINDING_COLUMNS.join(", ")})
  VALUES (${FINDING_COLUMNS.map(() => "?").join(", ")})
  ON CONFLICT (id) DO UPDATE SET ${FINDING_COLUMNS.slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(", ")}`;

/** Migrations record when they ran: the caller's clock, else the database's own. */
function migrate(db: Database.Database, now: string | undefined): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  const applied = db.prepare("SELECT 1 FROM schema_migrations WHERE id = ?");
  for (const m of migrations) {
    // IMMEDIATE and checked inside: two processes opening a new file apply each migration once.
    db.transaction(() => {
      if (applied.get(m.id)) return;
      db.exec(m.sqlite);
      db.prepare(
        "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, COALESCE(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
      ).run(m.id, m.name, now ?? null);
    }).immediate();
  }
}

function findingWhere(filter: FindingFilter): { sql: string; args: unknown[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  const inList = (col: string, values?: string[]) => {
    if (!values?.length) return;
    parts.push(`${col} IN (${values.map(() => "?").join(", ")})`);
    args.push(...values);
  };
  inList("status", filter.status);
  inList("check_name", filter.check);
  inList("account", filter.account);
  inList("severity", filter.severity);
  if (filter.id) {
    // Not LIKE: SQLite's LIKE ignores case, and ids are matched exactly as PostgreSQL does.
    parts.push("substr(id, 1, length(?)) = ?");
    args.push(filter.id, filter.id);
  }
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", args };
}

export interface SqliteOptions {
  /** Create the file when missing (default true). Never creates missing folders. */
  create?: boolean;
  /** The caller's clock, for the migrations table; the database's clock when absent. */
  now?: Date;
  /** How long one statement waits for another process's lock (default 30 s). */
  busyTimeoutMs?: number;
}

/** Attempts at opening a file another process is setting up at the same moment. */
const OPEN_ATTEMPTS = 8;
const OPEN_BACKOFF_MS = 50;
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const isBusy = (e: unknown) => /^SQLITE_BUSY/.test(String((e as { code?: unknown }).code ?? ""));

/**
 * The file, made if asked: mode 0600 (it holds full key ids and the audit log; SQLite gives its
 * -wal and -shm files the same mode), in an existing folder only. Returns whether it was made here.
 */
function ensureFile(path: string, create: boolean): boolean {
  if (path === ":memory:" || existsSync(path)) return false;
  if (!create) throw new UserError(`${path}: no store there (check --store or the config's store:)`);
  if (!existsSync(dirname(path))) throw new UserError(`${path}: folder ${dirname(path)} does not exist`);
  try {
    closeSync(openSync(path, "wx", 0o600));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false; // another process won the race
    throw e;
  }
}

/** WAL, pragmas and migrations; retried with backoff while another process holds the lock. */
function setUp(path: string, opts: SqliteOptions): Database.Database {
  for (let attempt = 1; ; attempt++) {
    const db = new Database(path, { fileMustExist: path !== ":memory:" });
    try {
      // busy_timeout first, as switching to WAL needs a lock another process may hold; and long,
      // as a large reconcile holds the write lock for seconds (about 3 s for 100,000 findings).
      db.pragma(`busy_timeout = ${Math.floor(opts.busyTimeoutMs ?? 30_000)}`);
      // Some lock waits skip the busy handler (SQLite avoids a deadlock and answers "locked" at
      // once), notably two processes switching a new file to WAL: those are retried here.
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      migrate(db, opts.now?.toISOString());
      return db;
    } catch (e) {
      db.close();
      if (!isBusy(e) || attempt >= OPEN_ATTEMPTS) throw e;
      sleepSync(OPEN_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}

/** Opens a SQLite store in WAL mode (creating the file unless `create: false`) and migrates it. */
export function openSqliteStore(path: string, opts: SqliteOptions = {}): Store {
  const created = ensureFile(path, opts.create ?? true);
  let db: Database.Database;
  try {
    db = setUp(path, opts);
  } catch (e) {
    if (created) removeFiles(path);
    throw e;
  }

  const upsertFinding = db.prepare(UPSERT_FINDING);
  const insertEvent = db.prepare(
    "INSERT INTO finding_events (finding_id, at, from_status, to_status, cause, run_id) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const insertOutbox = db.prepare(
    `INSERT INTO outbox (dedup_key, finding_id, event, channel, status, attempts, next_attempt_at, created_at, payload)
     VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`,
  );
  const selectScope = (checks: string[]) =>
    db.prepare(
      `SELECT * FROM findings WHERE account = ? AND check_name IN (${checks.map(() => "?").join(", ")})`,
    );
  const selectOne = db.prepare("SELECT * FROM findings WHERE id = ?");
  const selectDue = db.prepare(
    "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
  );
  const leaseOutbox = db.prepare("UPDATE outbox SET next_attempt_at = ? WHERE id = ?");
  // A claim is a lease: other processes see the items again only when it runs out.
  const claimOutbox = db.transaction((dueBy: string, limit: number, lease: string) => {
    const rows = selectDue.all(dueBy, limit) as Row[];
    for (const r of rows) {
      leaseOutbox.run(lease, r.id);
      r.next_attempt_at = lease;
    }
    return rows;
  });

  const writePlan = (plan: ReconcilePlan) => {
    for (const f of plan.upserts) upsertFinding.run(...findingToValues(f));
    for (const e of plan.events) insertEvent.run(e.findingId, e.at, e.from, e.to, e.cause, e.runId ?? null);
    for (const o of plan.outbox)
      insertOutbox.run(
        o.dedupKey,
        o.findingId,
        o.event,
        o.channel,
        o.at,
        o.at,
        JSON.stringify(o.payload ?? {}),
      );
  };

  // IMMEDIATE: take the write lock before reading, so two processes never plan on the same rows.
  const reconcileTx = db.transaction(
    (scope: { account: string; checks: string[] }, plan: (existing: Finding[]) => ReconcilePlan) => {
      const existing = scope.checks.length
        ? (selectScope(scope.checks).all(scope.account, ...scope.checks) as Row[]).map(findingFromRow)
        : [];
      const result = plan(existing);
      writePlan(result);
      return result;
    },
  );

  const store: Store = {
    kind: "sqlite",
    ...sqliteKnownKeys(db),

    async reconcile(scope, plan) {
      return reconcileTx.immediate(scope, plan);
    },

    async applyChange(findingId, change) {
      return db
        .transaction(() => {
          const row = selectOne.get(findingId) as Row | undefined;
          if (!row) throw new UserError(`no finding ${findingId}`);
          const out = change(findingFromRow(row));
          writePlan({
            upserts: [out.finding],
            events: out.event ? [out.event] : [],
            outbox: out.outbox ?? [],
          });
          return out.finding;
        })
        .immediate();
    },

    async getFinding(idOrPrefix) {
      if (!idOrPrefix) return undefined;
      const exact = selectOne.get(idOrPrefix) as Row | undefined;
      if (exact) return findingFromRow(exact);
      const { sql, args } = findingWhere({ id: idOrPrefix });
      const rows = db.prepare(`SELECT * FROM findings ${sql} LIMIT 2`).all(...args) as Row[];
      return rows.length === 1 ? findingFromRow(rows[0]!) : undefined;
    },

    async listFindings(filter = {}) {
      const { sql, args } = findingWhere(filter);
      const limit = filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : "";
      return (
        db
          .prepare(`SELECT * FROM findings ${sql} ORDER BY account, check_name, id ${limit}`)
          .all(...args) as Row[]
      ).map(findingFromRow);
    },

    async findingEvents(findingId) {
      return (
        db.prepare("SELECT * FROM finding_events WHERE finding_id = ? ORDER BY id").all(findingId) as Row[]
      ).map(eventFromRow);
    },

    async mergeTickets(findingId, patch) {
      db.transaction(() => {
        const row = selectOne.get(findingId) as Row | undefined;
        if (!row) return;
        const tickets = { ...findingFromRow(row).tickets, ...patch };
        db.prepare("UPDATE findings SET tickets = ? WHERE id = ?").run(JSON.stringify(tickets), findingId);
      }).immediate();
    },

    async dueOutbox(now, limit, dueBy = now) {
      const lease = new Date(Date.parse(now) + OUTBOX_LEASE_MS).toISOString();
      return claimOutbox.immediate(dueBy, Math.max(0, Math.floor(limit)), lease).map(outboxFromRow);
    },

    async listOutbox(filter = {}) {
      const parts: string[] = [];
      const args: unknown[] = [];
      if (filter.status?.length) {
        parts.push(`status IN (${filter.status.map(() => "?").join(", ")})`);
        args.push(...filter.status);
      }
      if (filter.findingId) {
        parts.push("finding_id = ?");
        args.push(filter.findingId);
      }
      const where = parts.length ? `WHERE ${parts.join(" AND ")}` : "";
      return (db.prepare(`SELECT * FROM outbox ${where} ORDER BY id`).all(...args) as Row[]).map(
        outboxFromRow,
      );
    },

    async markDelivered(id, at) {
      db.prepare(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
      ).run(at, id);
    },

    async markFailed(id, error, nextAttemptAt, permanent) {
      db.prepare(
        "UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ?, attempts = attempts + 1 WHERE id = ?",
      ).run(permanent ? "failed" : "pending", error, nextAttemptAt, id);
    },

    async appendAudit(e) {
      const r = db
        .prepare(
          `INSERT INTO audit_log (run_id, at, actor, finding_id, action, account, target, before_state, intent, result)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
        )
        .run(...auditToValues(e));
      return Number(r.lastInsertRowid);
    },

    async finishAudit(id, result, outcome, at) {
      db.prepare("UPDATE audit_log SET result = ?, outcome = ?, finished_at = ? WHERE id = ?").run(
        result,
        JSON.stringify(outcome),
        at,
        id,
      );
    },

    async listAudit(filter = {}) {
      const parts: string[] = [];
      const args: unknown[] = [];
      const conds: [string, string | undefined][] = [
        ["at >= ?", filter.since],
        ["run_id = ?", filter.runId],
        ["finding_id = ?", filter.findingId],
        ["account = ?", filter.account],
      ];
      for (const [cond, value] of conds) {
        if (value === undefined) continue;
        parts.push(cond);
        args.push(value);
      }
      const where = parts.length ? `WHERE ${parts.join(" AND ")}` : "";
      return (db.prepare(`SELECT * FROM audit_log ${where} ORDER BY id`).all(...args) as Row[]).map(
        auditFromRow,
      );
    },

    async startRun(run) {
      db.prepare("INSERT INTO runs (id, command, actor, started_at) VALUES (?, ?, ?, ?)").run(
        run.id,
        run.command,
        run.actor,
        run.startedAt,
      );
    },

    async finishRun(id, finishedAt, summary) {
      db.prepare("UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?").run(
        finishedAt,
        JSON.stringify(summary),
        id,
      );
    },

    async processedObjects(source, keys) {
      const out = new Map<string, string>();
      // SQLite binds at most 32766 parameters: ask in slices.
      for (let i = 0; i < keys.length; i += 500) {
        const slice = keys.slice(i, i + 500);
        const rows = db
          .prepare(
            `SELECT key, etag FROM processed_objects WHERE source = ? AND key IN (${slice.map(() => "?").join(",")})`,
          )
          .all(source, ...slice) as { key: string; etag: string }[];
        for (const r of rows) out.set(r.key, r.etag);
      }
      return out;
    },

    async markProcessed(source, objects, at) {
      const put = db.prepare(
        "INSERT INTO processed_objects (source, key, etag, processed_at) VALUES (?, ?, ?, ?) ON CONFLICT (source, key) DO UPDATE SET etag = excluded.etag, processed_at = excluded.processed_at",
      );
      db.transaction(() => {
        for (const o of objects) put.run(source, o.key, o.etag, at);
      })();
    },

    async listRuns(limit = 50) {
      return (db.prepare("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?").all(limit) as Row[]).map(
        runFromRow,
      );
    },

    async close(opts = {}) {
      db.close();
      if (opts.discardIfCreated && created) removeFiles(path);
    },
  };
  return store;
}

/** The store file and its WAL companions. */
function removeFiles(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) rmSync(p, { force: true });
}
