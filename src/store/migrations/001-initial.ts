import type { Migration } from "./migration.js";

// Timestamps are ISO-8601 UTC strings (fixed width, so they sort as text). JSON columns hold
// check-specific details and external ids.
const tables = (json: string, serial: string) => `
CREATE TABLE findings (
  id TEXT PRIMARY KEY,
  check_name TEXT NOT NULL,
  account TEXT NOT NULL,
  account_alias TEXT,
  resource TEXT NOT NULL,
  owner TEXT,
  severity TEXT NOT NULL,
  status TEXT NOT NULL,
  title TEXT NOT NULL,
  details ${json} NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  resolved_at TEXT,
  status_changed_at TEXT NOT NULL,
  status_reason TEXT,
  first_reported_at TEXT,
  tickets ${json} NOT NULL
);
CREATE INDEX findings_account_check ON findings (account, check_name);
CREATE INDEX findings_status ON findings (status);

CREATE TABLE finding_events (
  id ${serial},
  finding_id TEXT NOT NULL REFERENCES findings (id),
  at TEXT NOT NULL,
  from_status TEXT,
  to_status TEXT NOT NULL,
  cause TEXT NOT NULL,
  run_id TEXT
);
CREATE INDEX finding_events_finding ON finding_events (finding_id);

CREATE TABLE outbox (
  id ${serial},
  dedup_key TEXT NOT NULL UNIQUE,
  finding_id TEXT NOT NULL REFERENCES findings (id),
  event TEXT NOT NULL,
  channel TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL,
  delivered_at TEXT,
  payload ${json} NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE audit_log (
  id ${serial},
  run_id TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  finding_id TEXT,
  action TEXT NOT NULL,
  account TEXT NOT NULL,
  target TEXT NOT NULL,
  before_state ${json} NOT NULL,
  intent ${json} NOT NULL,
  result TEXT NOT NULL,
  outcome ${json},
  finished_at TEXT
);
CREATE INDEX audit_log_run ON audit_log (run_id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  command TEXT NOT NULL,
  actor TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary ${json}
);
`;

export const initial: Migration = {
  id: 1,
  name: "initial",
  sqlite: `${tables("TEXT", "INTEGER PRIMARY KEY")}
-- The audit log is append-only: no deletes, and an entry is finished once.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_finish_once BEFORE UPDATE ON audit_log WHEN OLD.result <> 'pending'
BEGIN SELECT RAISE(ABORT, 'this audit entry is already finished'); END;
`,
  postgres: `${tables("JSONB", "BIGSERIAL PRIMARY KEY")}
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'the audit log is append-only'; END IF;
  IF OLD.result <> 'pending' THEN RAISE EXCEPTION 'this audit entry is already finished'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
`,
};
