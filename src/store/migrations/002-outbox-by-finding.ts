import type { Migration } from "./migration.js";

// Delivery keeps items of one finding and channel in order, so it asks for them by finding.
const sql = "CREATE INDEX outbox_finding ON outbox (finding_id, channel);";

export const outboxByFinding: Migration = { id: 2, name: "outbox-by-finding", sqlite: sql, postgres: sql };
