import type { Command } from "commander";
import { register as allowlist } from "./allowlist.js";
import { register as events } from "./events.js";
import { register as importCmd } from "./import.js";
import { register as outbox } from "./outbox.js";

/** Every command lives in its own file and registers itself here, one line each. */
export function registerCommands(program: Command): void {
  importCmd(program);
  outbox(program);
  events(program);
  allowlist(program);
}
