import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const EXAMPLES = resolve(import.meta.dirname, "../../examples");
const FIX = resolve(import.meta.dirname, "../fixtures");
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "iamwarden-exit-"));
  writeFileSync(join(dir, "office.lst"), "198.51.100.0/24\n");
  writeFileSync(
    join(dir, "iamwarden.yaml"),
    "checks:\n  source-ip:\n    allowlists: { office: office.lst }\n    default: [office]\n",
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("exit codes", () => {
  it("allowlist check: 0 when a list holds the address, 1 when none does", async () => {
    const cfg = ["--config", join(dir, "iamwarden.yaml")];
    expect((await runCli(["allowlist", "check", "198.51.100.9", ...cfg])).code).toBe(0);
    const none = await runCli(["allowlist", "check", "203.0.113.1", ...cfg]);
    expect(none.stdout).toContain("203.0.113.1 is in no allowlist of any account.");
    expect(none.code).toBe(1);
    const json = await runCli(["allowlist", "check", "203.0.113.1", ...cfg, "--format", "json"]);
    expect(JSON.parse(json.stdout).lists[0].contains).toBe(false);
    expect(json.code).toBe(1);
  });

  it("events replay: 2 when no input could be read at all, 3 when some could", async () => {
    const store = ["--store", join(dir, "events.db")];
    const missing = await runCli(["events", "replay", ...store, join(dir, "nope"), join(dir, "nope2.json")]);
    expect(missing.stderr).toContain(`iamwarden: ${join(dir, "nope")}: cannot read (ENOENT)`);
    expect(missing.code).toBe(2);
    const some = await runCli([
      "events",
      "replay",
      ...store,
      join(dir, "nope"),
      join(FIX, "cloudtrail/AWSLogs"),
    ]);
    expect(some.code).toBe(3);
  });

  it("commands that read or change a store refuse one that does not exist, and create nothing", async () => {
    const missing = join(dir, "tyypo.db");
    for (const args of [
      ["findings", "list"],
      ["outbox", "list"],
      ["outbox", "flush"],
      ["findings", "resolve", "x", "--reason", "r"],
      ["audit"],
    ]) {
      const r = await runCli([...args, "--store", missing]);
      expect(r.stderr).toBe(`iamwarden: ${missing}: no store there (check --store or the config's store:)\n`);
      expect(r.code).toBe(2);
    }
    expect(existsSync(missing)).toBe(false);
  });

  it("scan --help says what --fail-on does and which severities it takes", async () => {
    const r = await runCli(["scan", "--help"]);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, " ");
    expect(help).toContain("--fail-on <severity> exit 1 when an open finding is at or above this severity");
    expect(help).toContain('(choices: "low", "medium", "high", "critical")');
  });
});

describe("a reader that stops early", () => {
  it("ends quietly on EPIPE: no stack trace, no error line", async () => {
    const main = resolve(import.meta.dirname, "../../src/cli/main.ts");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        main,
        "scan",
        "--config",
        join(EXAMPLES, "iamwarden.yaml"),
        "--credential-report",
        join(EXAMPLES, "credential-report.csv"),
        "--store",
        join(dir, "epipe.db"),
        "--now",
        "2026-11-23T09:00:00Z",
        "--commit",
        "--format",
        "csv",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    );
    // Close the reading end before the command writes: every write then fails with EPIPE.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});
