import { existsSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { importHammer, readHammerFiles, renderHammerYaml } from "../config/hammer-import.js";
import { UserError } from "../errors.js";
import type { GlobalOptions } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  const imp = program.command("import").description("convert another tool's configuration");

  imp
    .command("hammer")
    .description(
      "write an iamwarden config from Dow Jones Hammer's config.json (given with --config), whitelist.json and ticket_owners.json",
    )
    .option("--whitelist <file>", "Hammer's whitelist.json")
    .option("--owners <file>", "Hammer's ticket_owners.json")
    .option("--out <file>", "write here instead of stdout")
    .option("--force", "overwrite --out if it exists")
    .action((opts: { whitelist?: string; owners?: string; out?: string; force?: boolean }, cmd: Command) => {
      // --config is the program's global option; here it names Hammer's config.json.
      const { config } = cmd.optsWithGlobals<GlobalOptions>();
      if (!config) throw new UserError("import hammer: --config <Hammer config.json> is required");
      const files = readHammerFiles({ config, whitelist: opts.whitelist, owners: opts.owners });
      const result = importHammer(files);
      const sources = [files.config, files.whitelist, files.owners].flatMap((f) => (f ? [f.path] : []));
      const yaml = renderHammerYaml(result, sources);
      for (const s of result.skipped) cli.stderr.write(`skipped ${s}\n`);
      for (const w of result.warnings) cli.stderr.write(`note: ${w}\n`);
      if (!opts.out) {
        cli.stdout.write(yaml);
        return;
      }
      if (existsSync(opts.out) && !opts.force)
        throw new UserError(`${opts.out}: already exists (pass --force to overwrite)`);
      writeFileSync(opts.out, yaml);
      cli.stderr.write(`wrote ${opts.out}\n`);
    });
}
