import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { exceptionsFor, matchException } from "../../src/engine/exceptions.js";
import type { Candidate } from "../../src/model/finding.js";

const A = "123456789012";
const NOW = new Date("2026-06-01T00:00:00Z");

const candidate = (user: string): Candidate => ({
  check: "key-inactive",
  account: A,
  resource: "AKIAEXAMPLEEXAMPLE01",
  owner: user,
  severity: "medium",
  title: "t",
  details: { username: user, keyId: "AKIAEXAMPLEEXAMPLE01" },
});

describe("exceptions", () => {
  it("match a user name as IAM does: case-insensitively", () => {
    const config = configSchema.parse({ exceptions: { [A]: [{ user: "break-glass", reason: "sealed" }] } });
    const ctx = { entries: exceptionsFor(config.exceptions, A), exemptTags: [] };
    for (const seen of ["break-glass", "Break-Glass", "BREAK-GLASS"])
      expect(matchException(candidate(seen), ctx, NOW)).toBe("exception for user break-glass: sealed");
    expect(matchException(candidate("break-glass2"), ctx, NOW)).toBeUndefined();
  });
});
