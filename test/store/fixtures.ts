import type { Finding } from "../../src/model/finding.js";

// Plain data for store tests; no test-runner imports, so child processes can use it too.

export const T0 = "2026-01-01T00:00:00.000Z";

export function finding(id: string, p: Partial<Finding> = {}): Finding {
  return {
    id,
    check: "key-inactive",
    account: "111111111111",
    resource: `AKIA${id.replace(/\W/g, "").toUpperCase().padEnd(16, "X").slice(0, 16)}`,
    owner: "alice",
    severity: "medium",
    status: "open",
    title: `finding ${id}`,
    details: { username: "alice", age_days: 120 },
    firstSeen: T0,
    lastSeen: T0,
    statusChangedAt: T0,
    tickets: {},
    ...p,
  };
}
