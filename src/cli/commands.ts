import type { Command } from "commander";
import { register as allowlist } from "./allowlist.js";
import { register as audit } from "./audit.js";
import { register as events } from "./events.js";
import { register as importCmd } from "./import.js";
import { register as outbox } from "./outbox.js";
import { register as quarantine } from "./quarantine.js";
import { register as remediate } from "./remediate.js";
import { register as rollback } from "./rollback.js";

/** Every command lives in its own file and registers itself here, one line each. */
export function registerCommands(program: Command): void {
  importCmd(program);
  outbox(program);
  events(program);
  allowlist(program);
  remediate(program);
  rollback(program);
  audit(program);
  quarantine(program);
}
