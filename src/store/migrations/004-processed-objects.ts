import type { Migration } from "./migration.js";

// Incremental replays: the archive objects a replay has read, per source (an S3 bucket), with the
// ETag they had, so that a scheduled replay reads only objects that are new or changed.
const sql = `CREATE TABLE processed_objects (
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  etag TEXT NOT NULL,
  processed_at TEXT NOT NULL,
  PRIMARY KEY (source, key)
);`;

export const processedObjects: Migration = { id: 4, name: "processed-objects", sqlite: sql, postgres: sql };
