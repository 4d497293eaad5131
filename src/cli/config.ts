import type { Command } from "commander";
import { loadConfig } from "../config/load.js";
import type { GlobalOptions } from "./context.js";

export function register(program: Command): void {
  const config = program.command("config").description("work with the config file");
  config
    .command("schema")
    .description("print the config file's JSON Schema (for editors: yaml-language-server, VS Code)")
    .action(async () => {
      const { configJsonSchema } = await import("../config/json-schema.js");
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  config
    .command("validate [file]")
    .description(
      "check a config file (default: ./iamwarden.yaml, then IAMWARDEN_CONFIG); prints every problem with its line, or the path and 'ok'",
    )
    .option("--print", "print the config with every default filled in (secrets shown as ***)")
    .action((file: string | undefined, opts: { print?: boolean }, cmd: Command) => {
      const path = file ?? cmd.optsWithGlobals<GlobalOptions>().config;
      const loaded = loadConfig(path);
      const { config } = loaded;
      if (opts.print) {
        const masked = JSON.stringify(
          config,
          (k, v) => (/token|secret|routingKey|password/i.test(k) && v ? "***" : v),
          2,
        );
        process.stdout.write(`${masked}\n`);
      } else {
        const from = {
          flag: "",
          cwd: " (found in the working directory)",
          env: " (from IAMWARDEN_CONFIG)",
          defaults: "",
        };
        for (const d of loaded.deferred)
          process.stderr.write(
            `iamwarden: warning: ${d.problem} (commands that use ${d.section} will fail)\n`,
          );
        process.stdout.write(`${loaded.path ?? "(no config file: defaults)"}${from[loaded.source]}: ok\n`);
      }
    });
}
