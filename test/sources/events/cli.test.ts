import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../support/cli.js";

const FIX = resolve(import.meta.dirname, "../../fixtures");
const EXAMPLES = resolve(import.meta.dirname, "../../../examples/allowlists");
let dir: string;

const CONFIG = `
checks:
  iam-change: { adminUsers: [alice.admin] }
  source-ip:
    allowlists: { office: allowlists/office.lst, ci: allowlists/ci.lst }
    default: [office, ci]
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-events-cli-"));
  mkdirSync(join(dir, "allowlists"));
  copyFileSync(join(EXAMPLES, "office.lst"), join(dir, "allowlists/office.lst"));
  copyFileSync(join(EXAMPLES, "ci.lst"), join(dir, "allowlists/ci.lst"));
  // No admin group: no AWS access is needed offline.
  writeFileSync(join(dir, "iamwarden.yaml"), CONFIG);
});

const args = (db: string) => [
  "--config",
  join(dir, "iamwarden.yaml"),
  "--store",
  join(dir, db),
  "--now",
  "2024-03-20T00:00:00Z",
  "--commit",
];

describe("iamwarden events replay", () => {
  it("reconciles findings, names each damaged file, and exits 3 because some input was bad", async () => {
    const r = await runCli([
      "events",
      "replay",
      ...args("a.db"),
      join(FIX, "cloudtrail"),
      join(FIX, "eventbridge"),
      join(FIX, "ibm"),
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/critical\s+│ iam-change\s+│ 123456789012\s+│ mallory/);
    expect(r.stdout).toContain("source-ip");
    // Key ids are masked unless asked for.
    expect(r.stdout).not.toContain("AKIACIDEPLOYKEY00001");
    expect(r.stderr).toContain("truncated.json.gz: truncated gzip archive (unexpected end of file)");
    expect(r.stderr).toContain("syntax-error.json:3: invalid JSON");
    expect(r.stderr).toContain(
      "malformed-records.json (record 2): a CloudTrail record is a JSON object, not string",
    );
    expect(r.stderr).toContain("events.jsonl:5: invalid JSON");
    expect(r.stderr).toMatch(
      /30 events from 9 files \(\d+ judged\), checks: iam-change, source-ip; 10 opened/,
    );
  });

  it("prints one JSON document, and a replay of the same input changes nothing", async () => {
    const first = await runCli([
      "events",
      "replay",
      ...args("b.db"),
      join(FIX, "cloudtrail/AWSLogs"),
      "--format",
      "json",
    ]);
    expect(first.code).toBe(0);
    const doc = JSON.parse(first.stdout);
    expect(doc).toMatchObject({ events: 17, files: 2, checks: ["iam-change", "source-ip"], problems: [] });
    const ci = doc.findings.find(
      (f: { owner: string; check: string }) => f.owner === "ci-deploy" && f.check === "source-ip",
    );
    expect(ci.details.keyId).toBe("AKIA…0001");
    expect(ci.details.advice).toContain("add 203.0.113.200/32 to allowlist office");
    const again = await runCli([
      "events",
      "replay",
      ...args("b.db"),
      join(FIX, "cloudtrail/AWSLogs"),
      "--format",
      "json",
    ]);
    expect(JSON.parse(again.stdout)).toMatchObject({
      events: 17,
      findings: [],
      summary: { opened: 0, refreshed: 0 },
    });
    const shown = await runCli([
      "findings",
      "list",
      ...args("b.db"),
      "--check",
      "iam-change",
      "--format",
      "json",
    ]);
    const [mallory] = JSON.parse(shown.stdout);
    expect(mallory.details.eventCount).toBe(4);
  });

  it("reads stdin and honours --since/--until", async () => {
    const input = readFileSync(join(FIX, "eventbridge/events.jsonl"), "utf8");
    const r = await runCli(
      ["events", "replay", ...args("c.db"), "-", "--since", "2024-03-17T08:04:00Z", "--format", "json"],
      { input },
    );
    const doc = JSON.parse(r.stdout);
    expect(doc.events).toBe(1);
    expect(doc.findings.map((f: { owner: string }) => f.owner)).toEqual(["carol"]);
    expect(r.code).toBe(3); // the two bad lines
  });

  it("refuses bad flags and bad allowlists before touching the store", async () => {
    const bad = await runCli(["events", "replay", ...args("d.db"), FIX, "--since", "last week"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("iamwarden: --since: not an ISO date-time: last week\n");
    const broken = join(dir, "broken");
    mkdirSync(join(broken, "allowlists"), { recursive: true });
    writeFileSync(join(broken, "allowlists/office.lst"), "198.51.100.0/24\n198.51.100.300\n");
    writeFileSync(
      join(broken, "iamwarden.yaml"),
      "checks:\n  source-ip:\n    allowlists: { office: allowlists/office.lst }\n    default: [office]\n",
    );
    const r = await runCli([
      "events",
      "replay",
      "--config",
      join(broken, "iamwarden.yaml"),
      "--store",
      join(broken, "e.db"),
      join(FIX, "cloudtrail/AWSLogs"),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `iamwarden: ${join(broken, "allowlists/office.lst")}:2: not an IPv4/IPv6 address, CIDR or range: 198.51.100.300\n`,
    );
    expect(existsSync(join(broken, "e.db"))).toBe(false);
  });
});
