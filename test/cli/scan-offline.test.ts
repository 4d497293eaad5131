import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const NOW = "2026-11-23T09:00:00Z";
let dir: string;
let db: string;
const base = () => ["--config", join(dir, "iamwarden.yaml"), "--store", db, "--now", NOW, "--commit"];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-cli-"));
  db = join(dir, "findings.db");
  copyFileSync(join(EXAMPLES, "iamwarden.yaml"), join(dir, "iamwarden.yaml"));
  copyFileSync(join(EXAMPLES, "credential-report.csv"), join(dir, "report.csv"));
});

describe("iamwarden scan --credential-report (offline)", () => {
  it("prints the findings table and exits 0", async () => {
    const r = await runCli(["scan", ...base(), "--credential-report", join(dir, "report.csv")]);
    expect(r.stderr).toContain(
      "Scanned 1 account: 17 open findings, 17 new, 0 resolved, 3 newly suppressed.",
    );
    expect(r.stdout).toContain("root-access-key");
    expect(r.stdout).toMatch(/high\s+│ key-age\s+│ svc-ci/);
    expect(r.code).toBe(0);
  });

  it("never duplicates on a re-scan, and JSON output is one document", async () => {
    const r = await runCli([
      "scan",
      ...base(),
      "--credential-report",
      join(dir, "report.csv"),
      "--format",
      "json",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.findings).toHaveLength(17);
    expect(doc.accounts[0]).toMatchObject({ id: "111122223333", alias: "example-prod", ok: true });
    expect(doc.accounts[0].summary).toMatchObject({ opened: 0, refreshed: 17 });
    const all = await runCli(["findings", "list", ...base(), "--status", "all", "--format", "json"]);
    expect(JSON.parse(all.stdout)).toHaveLength(20); // 17 open (16 key findings, user-unused of svc-legacy-etl) + 3 suppressed
    // Without --status, a listing shows what needs attention: the open ones.
    const list = await runCli(["findings", "list", ...base(), "--format", "json"]);
    expect(JSON.parse(list.stdout)).toHaveLength(17);
  });

  it("filters findings and shows one by a unique id prefix with its history", async () => {
    const sup = await runCli(["findings", "list", ...base(), "--status", "suppressed", "--format", "json"]);
    const suppressed = JSON.parse(sup.stdout) as { owner: string; statusReason: string }[];
    expect(suppressed.map((f) => f.owner).sort()).toEqual(["break-glass", "break-glass", "vendor-acme"]);
    const root = await runCli([
      "findings",
      "list",
      ...base(),
      "--check",
      "root-access-key",
      "--format",
      "json",
    ]);
    const [f] = JSON.parse(root.stdout) as { id: string }[];
    const show = await runCli(["findings", "show", ...base(), f!.id.slice(0, 24)]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("critical");
    expect(show.stdout).toMatch(/- → open\s+first seen/);
  });

  it("exits 1 with --fail-on when an open finding is at or above it", async () => {
    const r = await runCli([
      "scan",
      ...base(),
      "--credential-report",
      join(dir, "report.csv"),
      "--fail-on",
      "critical",
    ]);
    expect(r.code).toBe(1);
  });

  it("writes Influx lines for every key and nothing else on stdout", async () => {
    const r = await runCli([
      "scan",
      ...base(),
      "--credential-report",
      join(dir, "report.csv"),
      "--format",
      "influx",
    ]);
    const lines = r.stdout.trim().split("\n");
    expect(
      lines.every((l) =>
        /^iam,name=[^ ]+,key=[^ ]+,status=(ok|expiring|expired|inactive),accountAlias=example-prod age=\d+,idle=\d+$/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(lines.some((l) => l.startsWith("iam,name=deploy+bot@example.com,"))).toBe(true);
    expect(lines.filter((l) => l.includes("status=inactive"))).toHaveLength(2);
  });

  it("rejects a truncated report with file:line, exits 2, and leaves the store as it was", async () => {
    const before = readFileSync(db);
    const mtime = statSync(db).mtimeMs;
    const text = readFileSync(join(dir, "report.csv"), "utf8");
    const broken = join(dir, "broken.csv");
    writeFileSync(broken, text.slice(0, text.length - 200));
    const r = await runCli(["scan", ...base(), "--credential-report", broken]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^iamwarden: .*broken\.csv:\d+: /);
    expect(statSync(db).mtimeMs).toBe(mtime);
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it("rejects an unknown account, an unknown flag and a bad config in one line with exit 2", async () => {
    const acct = await runCli([
      "scan",
      ...base(),
      "--credential-report",
      join(dir, "report.csv"),
      "-a",
      "999999999999",
    ]);
    expect(acct.code).toBe(2);
    expect(acct.stderr).toContain("unknown account 999999999999");
    const flag = await runCli(["scan", "--frobnicate"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--frobnicate'");
    const badCfg = join(dir, "bad.yaml");
    writeFileSync(badCfg, "checks:\n  key-age:\n    expireDays: -3\n");
    const cfg = await runCli(["scan", "--config", badCfg, "--store", join(dir, "never.db")]);
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toMatch(/bad\.yaml:3: checks\.key-age\.expireDays: /);
    expect(() => statSync(join(dir, "never.db"))).toThrow();
  });

  it("resolves a finding by hand with its reason in the history, once", async () => {
    const list = await runCli([
      "findings",
      "list",
      ...base(),
      "--check",
      "root-access-key",
      "--format",
      "json",
    ]);
    const [f] = JSON.parse(list.stdout) as { id: string }[];
    const r = await runCli(["findings", "resolve", ...base(), f!.id, "--reason", "key deleted by hand"]);
    expect(r).toMatchObject({ code: 0, stdout: `Resolved ${f!.id}.\n` });
    const show = await runCli(["findings", "show", ...base(), f!.id, "--format", "json"]);
    const doc = JSON.parse(show.stdout) as {
      finding: { status: string; resolvedAt: string };
      history: { cause: string }[];
    };
    expect(doc.finding).toMatchObject({ status: "resolved", resolvedAt: "2026-11-23T09:00:00.000Z" });
    expect(doc.history.at(-1)?.cause).toMatch(/^resolved by .+: key deleted by hand$/);
    const again = await runCli(["findings", "resolve", ...base(), f!.id, "--reason", "twice"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("is already resolved");
  });

  it("validates a config file", async () => {
    const ok = await runCli(["config", "validate", join(dir, "iamwarden.yaml")]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toContain(": ok");
  });
});
