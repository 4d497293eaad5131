import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

// The generated script is sourced by a real bash and asked for completions as bash would.
describe("completion", () => {
  it("completes subcommands and option values from the registered commands", async () => {
    const r = await runCli(["completion", "bash"]);
    expect(r.code).toBe(0);
    const file = join(tmpdir(), `iw-completion-${process.pid}.sh`);
    writeFileSync(file, r.stdout);
    const ask = (...words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _iamwarden; echo "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8" },
      ).stdout.trim();
    expect(ask("iamwarden", "findings", "li")).toBe("list");
    expect(ask("iamwarden", "scan", "--format", "")).toBe("table json csv markdown sarif asff ocsf influx");
    expect(ask("iamwarden", "doc")).toBe("doctor");
    expect(ask("iamwarden", "scan", "--fail")).toBe("--fail-on");
  });

  it("refuses a shell it does not know", async () => {
    const r = await runCli(["completion", "fish"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("iamwarden: completion: bash or zsh, not fish\n");
  });
});
