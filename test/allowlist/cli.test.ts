import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

let dir: string;
const cfg = () => ["--config", join(dir, "iamwarden.yaml")];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-allow-cli-"));
  writeFileSync(join(dir, "office.lst"), "# HQ\n198.51.100.0/24  # HQ wifi\n2001:db8:1234::/48\n");
  writeFileSync(join(dir, "ci.lst"), "10.1.0.0 - 10.1.255.255\n198.51.100.7 # build box\n");
  writeFileSync(join(dir, "bad.lst"), "10.0.0.0/8\n10.0.0.1/24\nnot-an-ip\n");
  writeFileSync(
    join(dir, "iamwarden.yaml"),
    [
      "checks:",
      "  source-ip:",
      "    allowlists: { office: office.lst, ci: ci.lst }",
      "    default: [office]",
      '    accounts: { "123456789012": [office, ci], "210987654321": [ci] }',
    ].join("\n"),
  );
});

describe("iamwarden allowlist check", () => {
  it("says which lists of which accounts contain an address (JSON)", async () => {
    const r = await runCli(["allowlist", "check", "198.51.100.7", ...cfg(), "--format", "json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.accounts).toEqual({ "123456789012": ["office", "ci"], "210987654321": ["ci"] });
    expect(doc.defaultLists).toEqual(["office"]);
    const office = doc.lists.find((l: { name: string }) => l.name === "office");
    expect(office).toMatchObject({
      contains: true,
      default: true,
      accounts: ["123456789012"],
      entries: [{ line: 2, text: "198.51.100.0/24", comment: "HQ wifi" }],
    });
  });

  it("prints a table and a summary, for IPv6 and for an address in no list", async () => {
    const v6 = await runCli(["allowlist", "check", "2001:db8:1234::5", ...cfg()]);
    expect(v6.code).toBe(0);
    expect(v6.stdout).toContain("office.lst:3: 2001:db8:1234::/48");
    expect(v6.stdout).toContain("account 123456789012: office");
    expect(v6.stdout).toContain("other accounts (default): office");
    const none = await runCli(["allowlist", "check", "203.0.113.1", ...cfg()]);
    expect(none.stdout).toContain("203.0.113.1 is in no allowlist of any account.");
    const bad = await runCli(["allowlist", "check", "not-an-ip", ...cfg()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("iamwarden: not an IPv4 or IPv6 address: not-an-ip\n");
  });
});

describe("iamwarden allowlist validate", () => {
  it("accepts the configured lists", async () => {
    const r = await runCli(["allowlist", "validate", ...cfg()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${join(dir, "office.lst")}: 2 entries, ok`);
  });

  it("rejects bad lines with file:line and a non-zero exit", async () => {
    const bad = join(dir, "bad.lst");
    const r = await runCli(["allowlist", "validate", bad, join(dir, "ci.lst")]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      `${bad}:2: host bits set in 10.0.0.1/24 (the network is 10.0.0.0/24)`,
      `${bad}:3: not an IPv4/IPv6 address, CIDR or range: not-an-ip`,
    ]);
    expect(r.stdout).toContain(`${bad}: 1 entries, 2 bad lines`);
    const json = await runCli(["allowlist", "validate", bad, "--format", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, errors: [{ line: 2 }, { line: 3 }] });
  });
});

describe("iamwarden allowlist validate: open lists", () => {
  it("warns on 0.0.0.0/0 and ::/0 (valid lines, but no control)", async () => {
    const open = join(dir, "open.lst");
    writeFileSync(open, "198.51.100.0/24\n0.0.0.0/0\n::/0 # anything\n");
    const r = await runCli(["allowlist", "validate", open]);
    expect(r.code).toBe(0);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      `warning: ${open}:2: 0.0.0.0/0 allows every IPv4 address, which turns the allowlist off`,
      `warning: ${open}:3: ::/0 allows every IPv6 address, which turns the allowlist off`,
    ]);
    const json = await runCli(["allowlist", "validate", open, "--format", "json"]);
    expect(JSON.parse(json.stdout).warnings).toHaveLength(2);
  });
});
