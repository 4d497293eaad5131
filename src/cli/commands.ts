import type { Command } from "commander";

/** Every command lives in its own file and registers itself here, one line each. */
export function registerCommands(_program: Command): void {}
