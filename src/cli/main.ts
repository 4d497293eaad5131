#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { EXIT, UserError } from "../errors.js";
import { registerCommands } from "./commands.js";

// The lockfile pins SDK releases that support Node 20; their notice about future releases is
// noise on every run (and in Telegraf's log). Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const program = new Command()
  .name("iamwarden")
  .description("Keeps cloud identities clean and answers when they are misused.")
  .version("0.1.0")
  .option("-c, --config <file>", "config file (YAML or JSON)")
  .option("--store <location>", "SQLite file or postgres:// URL (overrides the config)")
  .option("--now <iso-time>", "the clock for the whole run, e.g. 2026-12-01T09:00:00Z")
  .option("--show-key-ids", "print access key ids in full (masked by default)")
  .option("--debug", "print stack traces")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

await registerCommands(program, process.argv);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version exit 0; a usage error has already been printed by commander.
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.error;
  } else if (e instanceof UserError) {
    // A config may have several problems: each its own line, each prefixed.
    for (const line of e.message.split("\n")) process.stderr.write(`iamwarden: ${line}\n`);
    process.exitCode = EXIT.error;
  } else {
    const err = e as Error;
    process.stderr.write(`iamwarden: ${err.message ?? String(e)}\n`);
    if (program.opts().debug && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = EXIT.error;
  }
}
