import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { captured, runCli } from "../support/cli.js";

// What a new user meets in the first hour: listings that show what needs attention, filters by
// alias, user and time, tables that fit the terminal, and names that cannot drive the terminal.

const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const FIXTURES = resolve(import.meta.dirname, "../fixtures");
const NOW = "2026-11-23T09:00:00Z";
let dir: string;
const base = () => [
  "--config",
  join(dir, "iamwarden.yaml"),
  "--store",
  join(dir, "f.db"),
  "--now",
  NOW,
  "--commit",
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-first-hour-"));
  copyFileSync(join(EXAMPLES, "iamwarden.yaml"), join(dir, "iamwarden.yaml"));
  // A crafted report: one user name carries colour and title-setting escapes.
  const report = readFileSync(join(EXAMPLES, "credential-report.csv"), "utf8").replace(
    /\nsvc-ci,/,
    "\nsvc-ci\u001b[31m\u001b]0;owned\u0007,",
  );
  writeFileSync(join(dir, "report.csv"), report);
  const r = await runCli(["scan", ...base(), "--credential-report", join(dir, "report.csv")]);
  expect(r.code).toBe(0);
  expect(r.stdout).not.toContain("\u001b");
  expect(r.stdout).toContain("svc-ci\\x1b[31m\\x1b]0;owned\\x07");
});

async function tty(args: string[], columns: number) {
  const stdout = Object.assign(captured(true), {});
  (stdout.stream as unknown as { columns: number }).columns = columns;
  const stderr = captured();
  const stdin = Object.assign(new PassThrough(), { isTTY: false });
  stdin.end();
  const code = await main(["node", "iamwarden", ...args], {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin,
    env: process.env,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe("findings list", () => {
  it("shows open findings by default, every status with --status all", async () => {
    const open = JSON.parse((await runCli(["findings", "list", ...base(), "--format", "json"])).stdout);
    const all = JSON.parse(
      (await runCli(["findings", "list", ...base(), "--status", "all", "--format", "json"])).stdout,
    );
    expect(open.every((f: { status: string }) => f.status === "open")).toBe(true);
    expect(all.length).toBeGreaterThan(open.length);
  });

  it("takes an alias for --account, any case for --user, and --since", async () => {
    const byAlias = JSON.parse(
      (await runCli(["findings", "list", ...base(), "--account", "example-prod", "--format", "json"])).stdout,
    );
    expect(byAlias.length).toBeGreaterThan(0);
    const bad = await runCli(["findings", "list", ...base(), "--account", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("iamwarden: --account nope: not an account id nor a known alias\n");
    // IAM names are unique case-insensitively: QUINN finds quinn's findings.
    const anyCase = JSON.parse(
      (await runCli(["findings", "list", ...base(), "--user", "QUINN", "--format", "json"])).stdout,
    );
    expect(anyCase.length).toBe(2);
    expect(anyCase.every((f: { owner: string }) => f.owner === "quinn")).toBe(true);
    const later = JSON.parse(
      (await runCli(["findings", "list", ...base(), "--since", "2026-11-24T00:00:00Z", "--format", "json"]))
        .stdout,
    );
    expect(later).toEqual([]);
  });

  it("has an account column, fits the terminal width with …, and ends with totals", async () => {
    const r = await tty(["findings", "list", ...base()], 140);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[1]).toContain("account");
    expect(r.stdout).toMatch(/│ exam\S*… /);
    // The id is never cut: it is what `findings show` takes.
    expect(r.stdout).toMatch(/key-age\/111122223333\/[0-9a-f]{12}/);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(140);
    expect(r.stdout).toContain("…");
    expect(r.stderr).toMatch(/^By severity: .*\nBy check: .*\nBy account: example-prod \d+\n$/);
  });

  it("prints SARIF, ASFF, OCSF and Markdown", async () => {
    for (const format of ["sarif", "asff", "ocsf"]) {
      const r = await runCli(["findings", "list", ...base(), "--format", format]);
      expect(r.code, format).toBe(0);
      expect(() => JSON.parse(r.stdout), format).not.toThrow();
    }
    const md = await runCli(["findings", "list", ...base(), "--format", "markdown"]);
    expect(md.stdout).toMatch(/^# iamwarden findings/);
  });
});

describe("findings show", () => {
  it("lists the calls an event finding gathered", async () => {
    const cfg = join(dir, "events.yaml");
    writeFileSync(cfg, "store: ./ev.db\n");
    const args = ["--config", cfg, "--now", NOW, "--commit"];
    const replay = await runCli([
      "events",
      "replay",
      ...args,
      "--no-notify",
      "--format",
      "json",
      join(FIXTURES, "cloudtrail/AWSLogs"),
    ]);
    const doc = JSON.parse(replay.stdout);
    const f = doc.findings.find(
      (x: { check: string; owner: string }) => x.check === "iam-change" && x.owner === "mallory",
    );
    expect(f).toBeDefined();
    const show = await runCli(["findings", "show", ...args, f.id]);
    expect(show.stdout).toMatch(/Calls \(\d+\):/);
    expect(show.stdout).toMatch(/ {2}2024-03-\d\dT[\d:.]+Z {2}iam:\w+ {2}\w+=/);
  });
});
