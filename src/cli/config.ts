import type { Command } from "commander";
import { loadConfig } from "../config/load.js";
import type { GlobalOptions } from "./context.js";
import type { Cli } from "./io.js";

export function register(program: Command, cli: Cli): void {
  program
    .command("config")
    .description("work with the config file")
    .command("validate [file]")
    .description("check a config file; prints the first problem with its line, or 'ok'")
    .option("--print", "print the config with every default filled in (secrets shown as ***)")
    .action((file: string | undefined, opts: { print?: boolean }, cmd: Command) => {
      const path = file ?? cmd.optsWithGlobals<GlobalOptions>().config;
      const { config } = loadConfig(path, cli.env);
      if (opts.print) {
        const masked = JSON.stringify(
          config,
          (k, v) => (/token|secret|routingKey|password/i.test(k) && v ? "***" : v),
          2,
        );
        cli.stdout.write(`${masked}\n`);
      } else {
        cli.stdout.write(`${path ?? "(no file: defaults)"}: ok\n`);
      }
    });
}
