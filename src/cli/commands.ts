import type { Command } from "commander";
import type { Cli, RegisterAll } from "./io.js";

type CommandModule = { register(program: Command, cli: Cli, registerAll: RegisterAll): void };

/**
 * Every command lives in its own file, named here once. Only the command being run is loaded:
 * the AWS, Slack and Jira clients behind the others would cost a second at every start.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  scan: () => import("./scan.js"),
  findings: () => import("./findings.js"),
  outbox: () => import("./outbox.js"),
  remediate: () => import("./remediate.js"),
  rollback: () => import("./rollback.js"),
  audit: () => import("./audit.js"),
  quarantine: () => import("./quarantine.js"),
  events: () => import("./events.js"),
  allowlist: () => import("./allowlist.js"),
  health: () => import("./health.js"),
  enqueue: () => import("./fleet.js"),
  worker: () => import("./fleet.js"),
  config: () => import("./config.js"),
  import: () => import("./import.js"),
  doctor: () => import("./doctor.js"),
  completion: () => import("./completion.js"),
  serve: () => import("./serve.js"),
};

/** Registers the command named in argv, or all of them (for help and for unknown commands). */
export async function registerCommands(program: Command, cli: Cli, argv: string[] = []): Promise<void> {
  const named = argv.slice(2).find((a) => Object.hasOwn(COMMANDS, a));
  const versionOnly = !named && argv.some((a) => a === "--version" || a === "-V");
  const wanted = named ? [named] : versionOnly ? [] : Object.keys(COMMANDS);
  const modules = await Promise.all(wanted.map((name) => COMMANDS[name]!()));
  // One file may hold several commands (enqueue and worker): register each module once.
  const registerAll: RegisterAll = (p) => registerCommands(p, cli, []);
  for (const m of new Set(modules)) m.register(program, cli, registerAll);
}
