import type Database from "better-sqlite3";
import type pg from "pg";
import type { KnownKey, KnownKeysChange } from "../model/known-key.js";

// The known-keys part of the store, one implementation per database, spread into each store.

type Row = Record<string, unknown>;

export interface KnownKeysStore {
  /** Every key id remembered for the account. */
  knownKeys(account: string): Promise<KnownKey[]>;
  /** Upserts and removes in one transaction; rows of other accounts are never touched. */
  saveKnownKeys(account: string, change: KnownKeysChange): Promise<void>;
}

function fromRow(r: Row): KnownKey {
  return {
    account: String(r.account),
    keyId: String(r.key_id),
    user: String(r.user_name),
    userArn: String(r.user_arn),
    userCreated: String(r.user_created),
    created: String(r.created),
    status: r.status === "Active" ? "Active" : "Inactive",
    used: Number(r.used) === 1,
    listedAt: String(r.listed_at),
  };
}

const COLUMNS = "account, key_id, user_name, user_arn, user_created, created, status, used, listed_at";
const UPDATE = "user_name, user_arn, user_created, created, status, used, listed_at"
  .split(", ")
  .map((c) => `${c} = excluded.${c}`)
  .join(", ");

const values = (account: string, k: KnownKey) => [
  account,
  k.keyId,
  k.user,
  k.userArn,
  k.userCreated,
  k.created,
  k.status,
  k.used ? 1 : 0,
  k.listedAt,
];

export function sqliteKnownKeys(db: Database.Database): KnownKeysStore {
  const select = db.prepare("SELECT * FROM known_keys WHERE account = ? ORDER BY key_id");
  const upsert = db.prepare(
    `INSERT INTO known_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (account, key_id) DO UPDATE SET ${UPDATE}`,
  );
  const remove = db.prepare("DELETE FROM known_keys WHERE account = ? AND key_id = ?");
  const save = db.transaction((account: string, change: KnownKeysChange) => {
    for (const id of change.remove) remove.run(account, id);
    for (const k of change.upsert) upsert.run(...values(account, k));
  });
  return {
    async knownKeys(account) {
      return (select.all(account) as Row[]).map(fromRow);
    },
    async saveKnownKeys(account, change) {
      if (change.upsert.length || change.remove.length) save.immediate(account, change);
    },
  };
}

const PG_UPSERT = `INSERT INTO known_keys (${COLUMNS})
  SELECT $1, key_id, user_name, user_arn, user_created, created, status, used, listed_at
  FROM jsonb_to_recordset($2::jsonb) AS r(key_id text, user_name text, user_arn text,
    user_created text, created text, status text, used integer, listed_at text)
  ON CONFLICT (account, key_id) DO UPDATE SET ${UPDATE}`;

/** Rows per statement: bounds message size for accounts with many thousands of keys. */
const BATCH = 5000;

export function postgresKnownKeys(pool: pg.Pool): KnownKeysStore {
  return {
    async knownKeys(account) {
      const r = await pool.query('SELECT * FROM known_keys WHERE account = $1 ORDER BY key_id COLLATE "C"', [
        account,
      ]);
      return (r.rows as Row[]).map(fromRow);
    },
    async saveKnownKeys(account, change) {
      if (!change.upsert.length && !change.remove.length) return;
      const c = await pool.connect();
      let broken: Error | undefined;
      try {
        await c.query("BEGIN");
        if (change.remove.length)
          await c.query("DELETE FROM known_keys WHERE account = $1 AND key_id = ANY($2::text[])", [
            account,
            change.remove,
          ]);
        for (let i = 0; i < change.upsert.length; i += BATCH) {
          const rows = change.upsert.slice(i, i + BATCH).map((k) => {
            const [, key_id, user_name, user_arn, user_created, created, status, used, listed_at] = values(
              account,
              k,
            );
            return { key_id, user_name, user_arn, user_created, created, status, used, listed_at };
          });
          await c.query(PG_UPSERT, [account, JSON.stringify(rows)]);
        }
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch((err: Error) => {
          broken = err;
        });
        throw e;
      } finally {
        c.release(broken);
      }
    },
  };
}
