#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { EXIT, UserError } from "../errors.js";
import { VERSION } from "../version.js";
import { registerCommands } from "./commands.js";
import { type Cli, type CliIo, processIo } from "./io.js";

/**
 * Runs one command line (argv as process.argv: node, script, args…) against the given streams
 * and returns its exit code. The installed binary calls it with the process's own; tests call it
 * in process.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const cli: Cli = { ...io, exitCode: EXIT.ok };
  const program = new Command()
    .name("iamwarden")
    .description("Keeps cloud identities clean and answers when they are misused.")
    .version(VERSION)
    .option("-c, --config <file>", "config file (YAML or JSON)")
    .option("--store <location>", "SQLite file or postgres:// URL (overrides the config)")
    .option(
      "--now <iso-time>",
      "the clock for the whole run, e.g. 2026-12-01T09:00:00Z; alone a what-if (nothing written or sent)",
    )
    .option("--commit", "with --now: run for real at that clock (write the store, notify, change accounts)")
    .option("--show-key-ids", "print access key ids in full (masked by default)")
    .option("--debug", "print stack traces")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  await registerCommands(program, cli, argv);

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; a usage error has already been printed by commander.
      return e.exitCode === 0 ? EXIT.ok : EXIT.error;
    }
    if (e instanceof UserError) {
      // A config may have several problems: each its own line, each prefixed.
      for (const line of e.message.split("\n")) io.stderr.write(`iamwarden: ${line}\n`);
      return EXIT.error;
    }
    const err = e as Error;
    io.stderr.write(`iamwarden: ${err.message ?? String(e)}\n`);
    if (program.opts().debug && err.stack) io.stderr.write(`${err.stack}\n`);
    return EXIT.error;
  }
  return cli.exitCode;
}

/** True when this file is the program being run (not imported by a test or another module). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntry()) {
  // The lockfile pins SDK releases that support Node 20; their notice about future releases is
  // noise on every run (and in Telegraf's log). Set the variable to "false" to see it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // A reader that stops early (`| head`) closes the pipe: end quietly, as other tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
      process.exit(process.exitCode ?? EXIT.ok);
    });
  }
  process.exitCode = await main(process.argv);
}
