import type { Command } from "commander";
import { loadConfig } from "../config/load.js";
import { redactConfig } from "../config/redact.js";
import { maskKeyIdsIn } from "../util/mask.js";
import type { GlobalOptions } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  const config = program.command("config").description("work with the config file");
  config
    .command("schema")
    .description("print the config file's JSON Schema (for editors: yaml-language-server, VS Code)")
    .action(async () => {
      const { configJsonSchema } = await import("../config/json-schema.js");
      cli.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  config
    .command("validate [file]")
    .description(
      "check a config file (default: ./iamwarden.yaml, then IAMWARDEN_CONFIG); prints every problem with its line, or the path and 'ok'",
    )
    .option("--print", "print the config with every default filled in (secrets shown as ***)")
    .action((file: string | undefined, opts: { print?: boolean }, cmd: Command) => {
      const path = file ?? cmd.optsWithGlobals<GlobalOptions>().config;
      const loaded = loadConfig(path, cli.env);
      const { config } = loaded;
      if (opts.print) {
        cli.stdout.write(`${maskKeyIdsIn(JSON.stringify(redactConfig(config), null, 2))}
`);
      } else {
        const from = {
          flag: "",
          cwd: " (found in the working directory)",
          env: " (from IAMWARDEN_CONFIG)",
          defaults: "",
        };
        for (const d of loaded.deferred)
          cli.stderr.write(`iamwarden: warning: ${d.problem} (commands that use ${d.section} will fail)\n`);
        cli.stdout.write(`${loaded.path ?? "(no config file: defaults)"}${from[loaded.source]}: ok\n`);
      }
    });
}
