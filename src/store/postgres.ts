import pg from "pg";
import { UserError } from "../errors.js";
import type { Finding, FindingEvent } from "../model/finding.js";
import type { NewOutboxItem } from "../model/outbox.js";
import { postgresKnownKeys } from "./known-keys.js";
import { migrations } from "./migrations/index.js";
import {
  auditFromRow,
  auditToValues,
  eventFromRow,
  findingFromRow,
  outboxFromRow,
  runFromRow,
} from "./rows.js";
import { type FindingFilter, OUTBOX_LEASE_MS, type ReconcilePlan, type Store } from "./store.js";

// PostgreSQL store for teams: several workers share one database. Same semantics as the SQLite
// store; what differs is how writers are kept apart (advisory locks, row locks, SKIP LOCKED) and
// how large reconciles are written (a few set-based statements instead of a row at a time).

type Row = Record<string, unknown>;
type Client = pg.PoolClient;

// Advisory lock namespaces (first key of the two-int form), so ours never meet other users' locks.
const LOCK_MIGRATE = 0x1a3f_0001;
const LOCK_ACCOUNT = 0x1a3f_0002;

/** Rows per statement when writing a plan: bounds message size, keeps round trips few. */
const BATCH = 5000;

// Timestamps and ids are compared and sorted as bytes, like SQLite does, whatever the database's
// collation: ISO strings sort right in any collation, ids with punctuation do not.
const C = 'COLLATE "C"';

const FINDING_RECORD = `r(id text, check_name text, account text, account_alias text, resource text,
  owner text, severity text, status text, title text, details jsonb, first_seen text, last_seen text,
  resolved_at text, status_changed_at text, status_reason text, first_reported_at text, tickets jsonb)`;
const FINDING_COLS =
  "id, check_name, account, account_alias, resource, owner, severity, status, title, details, first_seen, last_seen, resolved_at, status_changed_at, status_reason, first_reported_at, tickets";

const UPSERT_FINDINGS = `INSERT INTO findings (${FINDING_COLS})
  SELECT ${FINDING_COLS} FROM jsonb_to_recordset($1::jsonb) AS ${FINDING_RECORD}
  ON CONFLICT (id) DO UPDATE SET ${FINDING_COLS.split(", ")
    .slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(", ")}`;

const INSERT_EVENTS = `INSERT INTO finding_events (finding_id, at, from_status, to_status, cause, run_id)
  SELECT e->>'findingId', e->>'at', e->>'from', e->>'to', e->>'cause', e->>'runId'
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n`;

const INSERT_OUTBOX = `INSERT INTO outbox
  (dedup_key, finding_id, event, channel, status, attempts, next_attempt_at, created_at, payload)
  SELECT o->>'dedupKey', o->>'findingId', o->>'event', o->>'channel', 'pending', 0,
    o->>'at', o->>'at',
    COALESCE(o->'payload', '{}'::jsonb)
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(o, n) ORDER BY n
  ON CONFLICT (dedup_key) DO NOTHING`;

/** A finding as a record for jsonb_to_recordset (JSON columns stay objects). */
function findingRecord(f: Finding): Row {
  return {
    id: f.id,
    check_name: f.check,
    account: f.account,
    account_alias: f.accountAlias ?? null,
    resource: f.resource,
    owner: f.owner ?? null,
    severity: f.severity,
    status: f.status,
    title: f.title,
    details: f.details,
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
    resolved_at: f.resolvedAt ?? null,
    status_changed_at: f.statusChangedAt,
    status_reason: f.statusReason ?? null,
    first_reported_at: f.firstReportedAt ?? null,
    tickets: f.tickets,
  };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Writes a plan inside the caller's transaction: findings first (events and outbox refer to them). */
async function writePlan(c: Client, plan: ReconcilePlan): Promise<void> {
  // One statement cannot upsert a row twice; the last version wins, as it does in SQLite.
  const upserts = [...new Map(plan.upserts.map((f) => [f.id, f])).values()];
  for (const part of chunks(upserts, BATCH))
    await c.query(UPSERT_FINDINGS, [JSON.stringify(part.map(findingRecord))]);
  for (const part of chunks<FindingEvent>(plan.events, BATCH))
    await c.query(INSERT_EVENTS, [JSON.stringify(part)]);
  for (const part of chunks<NewOutboxItem>(plan.outbox, BATCH))
    await c.query(INSERT_OUTBOX, [JSON.stringify(part)]);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "the PostgreSQL URL";
  }
}

async function inTransaction<T>(pool: pg.Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (e) {
    await c.query("ROLLBACK").catch((err: Error) => {
      broken = err; // the connection is unusable: drop it rather than return it to the pool
    });
    throw e;
  } finally {
    c.release(broken);
  }
}

/**
 * Applies pending migrations, each in its own transaction under one advisory lock, so that
 * several workers starting at once apply each migration exactly once.
 */
async function migrate(pool: pg.Pool, now: string | undefined): Promise<void> {
  for (const m of migrations) {
    await inTransaction(pool, async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1, 0)", [LOCK_MIGRATE]);
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
      );
      const done = await c.query("SELECT 1 FROM schema_migrations WHERE id = $1", [m.id]);
      if (done.rowCount) return;
      await c.query(m.postgres);
      // The caller's clock, else the database's own: the store never reads one.
      await c.query(
        `INSERT INTO schema_migrations (id, name, applied_at)
         VALUES ($1, $2, COALESCE($3, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))`,
        [m.id, m.name, now ?? null],
      );
    });
  }
}

function findingWhere(filter: FindingFilter): { sql: string; args: unknown[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  const anyOf = (col: string, values?: string[]) => {
    if (!values?.length) return;
    args.push(values);
    parts.push(`${col} = ANY($${args.length}::text[])`);
  };
  anyOf("status", filter.status);
  anyOf("check_name", filter.check);
  anyOf("account", filter.account);
  anyOf("severity", filter.severity);
  if (filter.id) {
    args.push(filter.id);
    parts.push(`starts_with(id, $${args.length})`);
  }
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", args };
}

/** Connects to PostgreSQL (a pool) and brings the schema up to date. */
export async function openPostgresStore(url: string, opts: { now?: Date } = {}): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // An idle client whose server went away emits here; the pool discards it and the next query
  // gets a fresh connection. Without a listener the process would crash.
  pool.on("error", () => {});
  try {
    // Failing to connect (address, password, database name) is the user's to fix…
    await pool.query("SELECT 1").catch((e: Error) => {
      throw new UserError(`${redactUrl(url)}: cannot open the store (${e.message})`);
    });
    // …a failing migration is a bug, and keeps its stack.
    await migrate(pool, opts.now?.toISOString());
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }

  const q = async (sql: string, args: unknown[] = []): Promise<Row[]> =>
    (await pool.query(sql, args)).rows as Row[];

  const store: Store = {
    kind: "postgres",
    ...postgresKnownKeys(pool),

    async reconcile(scope, plan) {
      return inTransaction(pool, async (c) => {
        // Rows that do not exist yet cannot be row-locked: the account lock keeps two workers
        // from both creating (and both notifying about) the same new finding.
        await c.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_ACCOUNT, scope.account]);
        const existing = scope.checks.length
          ? (
              await c.query(
                "SELECT * FROM findings WHERE account = $1 AND check_name = ANY($2::text[]) FOR UPDATE",
                [scope.account, scope.checks],
              )
            ).rows.map(findingFromRow)
          : [];
        const result = plan(existing);
        await writePlan(c, result);
        return result;
      });
    },

    async applyChange(findingId, change) {
      return inTransaction(pool, async (c) => {
        const { rows } = await c.query("SELECT * FROM findings WHERE id = $1 FOR UPDATE", [findingId]);
        if (!rows[0]) throw new UserError(`no finding ${findingId}`);
        const out = change(findingFromRow(rows[0]));
        await writePlan(c, {
          upserts: [out.finding],
          events: out.event ? [out.event] : [],
          outbox: out.outbox ?? [],
        });
        return out.finding;
      });
    },

    async getFinding(idOrPrefix) {
      if (!idOrPrefix) return undefined;
      const exact = await q("SELECT * FROM findings WHERE id = $1", [idOrPrefix]);
      if (exact[0]) return findingFromRow(exact[0]);
      const rows = await q("SELECT * FROM findings WHERE starts_with(id, $1) LIMIT 2", [idOrPrefix]);
      return rows.length === 1 && rows[0] ? findingFromRow(rows[0]) : undefined;
    },

    async listFindings(filter = {}) {
      const { sql, args } = findingWhere(filter);
      const limit = filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : "";
      const rows = await q(
        `SELECT * FROM findings ${sql} ORDER BY account ${C}, check_name ${C}, id ${C} ${limit}`,
        args,
      );
      return rows.map(findingFromRow);
    },

    async findingEvents(findingId) {
      return (await q("SELECT * FROM finding_events WHERE finding_id = $1 ORDER BY id", [findingId])).map(
        eventFromRow,
      );
    },

    async mergeTickets(findingId, patch) {
      // One statement: concurrent merges of different keys never overwrite each other.
      await q("UPDATE findings SET tickets = tickets || $2::jsonb WHERE id = $1", [
        findingId,
        JSON.stringify(patch),
      ]);
    },

    async dueOutbox(now, limit, dueBy = now) {
      const lease = new Date(Date.parse(now) + OUTBOX_LEASE_MS).toISOString();
      const rows = await q(
        `WITH due AS (
           SELECT id FROM outbox
           WHERE status = 'pending' AND next_attempt_at ${C} <= $1
           ORDER BY id LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         UPDATE outbox o SET next_attempt_at = $3 FROM due WHERE o.id = due.id RETURNING o.*`,
        [dueBy, Math.max(0, Math.floor(limit)), lease],
      );
      return rows.map(outboxFromRow).sort((a, b) => a.id - b.id);
    },

    async listOutbox(filter = {}) {
      const parts: string[] = [];
      const args: unknown[] = [];
      if (filter.status?.length) {
        args.push(filter.status);
        parts.push(`status = ANY($${args.length}::text[])`);
      }
      if (filter.findingId) {
        args.push(filter.findingId);
        parts.push(`finding_id = $${args.length}`);
      }
      const where = parts.length ? `WHERE ${parts.join(" AND ")}` : "";
      return (await q(`SELECT * FROM outbox ${where} ORDER BY id`, args)).map(outboxFromRow);
    },

    async markDelivered(id, at) {
      await q(
        "UPDATE outbox SET status = 'delivered', delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1",
        [id, at],
      );
    },

    async markFailed(id, error, nextAttemptAt, permanent) {
      await q(
        "UPDATE outbox SET status = $2, last_error = $3, next_attempt_at = $4, attempts = attempts + 1 WHERE id = $1",
        [id, permanent ? "failed" : "pending", error, nextAttemptAt],
      );
    },

    async appendAudit(e) {
      const rows = await q(
        `INSERT INTO audit_log (run_id, at, actor, finding_id, action, account, target, before_state, intent, result)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, 'pending') RETURNING id`,
        auditToValues(e),
      );
      return Number(rows[0]?.id);
    },

    async finishAudit(id, result, outcome, at) {
      // The table's trigger refuses a second finish.
      await q("UPDATE audit_log SET result = $2, outcome = $3::jsonb, finished_at = $4 WHERE id = $1", [
        id,
        result,
        JSON.stringify(outcome),
        at,
      ]);
    },

    async listAudit(filter = {}) {
      const parts: string[] = [];
      const args: unknown[] = [];
      const conds: [string, string | undefined][] = [
        [`at ${C} >= $`, filter.since],
        ["run_id = $", filter.runId],
        ["finding_id = $", filter.findingId],
        ["account = $", filter.account],
      ];
      for (const [cond, value] of conds) {
        if (value === undefined) continue;
        args.push(value);
        parts.push(`${cond}${args.length}`);
      }
      const where = parts.length ? `WHERE ${parts.join(" AND ")}` : "";
      return (await q(`SELECT * FROM audit_log ${where} ORDER BY id`, args)).map(auditFromRow);
    },

    async startRun(run) {
      await q("INSERT INTO runs (id, command, actor, started_at) VALUES ($1, $2, $3, $4)", [
        run.id,
        run.command,
        run.actor,
        run.startedAt,
      ]);
    },

    async finishRun(id, finishedAt, summary) {
      await q("UPDATE runs SET finished_at = $2, summary = $3::jsonb WHERE id = $1", [
        id,
        finishedAt,
        JSON.stringify(summary),
      ]);
    },

    async processedObjects(source, keys) {
      const rows = await q("SELECT key, etag FROM processed_objects WHERE source = $1 AND key = ANY($2)", [
        source,
        keys,
      ]);
      return new Map(rows.map((r) => [r.key as string, r.etag as string]));
    },

    async markProcessed(source, objects, at) {
      for (let i = 0; i < objects.length; i += 1000) {
        const slice = objects.slice(i, i + 1000);
        await q(
          `INSERT INTO processed_objects (source, key, etag, processed_at)
           SELECT $1, k, e, $4 FROM unnest($2::text[], $3::text[]) AS t(k, e)
           ON CONFLICT (source, key) DO UPDATE SET etag = excluded.etag, processed_at = excluded.processed_at`,
          [source, slice.map((o) => o.key), slice.map((o) => o.etag), at],
        );
      }
    },

    async listRuns(limit = 50) {
      return (
        await q(`SELECT * FROM runs ORDER BY started_at ${C} DESC LIMIT $1`, [Math.max(0, Math.floor(limit))])
      ).map(runFromRow);
    },

    async close() {
      await pool.end();
    },
  };
  return store;
}
