import type { Migration } from "./migration.js";

// Key ids seen per account, so that a credential-report scan only asks IAM for ids of keys it has
// not seen before. A cache of observations: losing it costs calls, never correctness.
const sql = `CREATE TABLE known_keys (
  account TEXT NOT NULL,
  key_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  user_arn TEXT NOT NULL,
  user_created TEXT NOT NULL,
  created TEXT NOT NULL,
  status TEXT NOT NULL,
  used INTEGER NOT NULL,
  listed_at TEXT NOT NULL,
  PRIMARY KEY (account, key_id)
);`;

export const knownKeys: Migration = { id: 3, name: "known-keys", sqlite: sql, postgres: sql };
