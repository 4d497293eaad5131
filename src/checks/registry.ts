import type { AnyCheck, EventCheck, MetricCheck, StateCheck } from "./check.js";
import { consoleWithoutMfa } from "./console-without-mfa.js";
import { iamChange } from "./iam-change.js";
import { iamHealth } from "./iam-health.js";
import { keyAge } from "./key-age.js";
import { keyInactive } from "./key-inactive.js";
import { passwordUnused } from "./password-unused.js";
import { rootAccessKey } from "./root-access-key.js";
import { sourceIp } from "./source-ip.js";
import { userUnused } from "./user-unused.js";

// Every check, one line each, in the order the engine runs them. Config keys under `checks:`,
// the engine's loops and the outputs' columns come from this list.
// biome-ignore format: one line per check, so that adding one is a one-line change
export const CHECKS = [
  keyInactive,
  keyAge,
  rootAccessKey,
  iamChange,
  sourceIp,
  passwordUnused,
  consoleWithoutMfa,
  userUnused,
  iamHealth,
] as const;

export type CheckName = (typeof CHECKS)[number]["name"];

const ALL: readonly AnyCheck[] = CHECKS;
const BY_NAME = new Map(ALL.map((c) => [c.name, c]));

export const checkNamed = (name: string): AnyCheck | undefined => BY_NAME.get(name);
export const stateChecks = (): StateCheck[] => ALL.filter((c): c is StateCheck => c.kind === "state");
export const eventChecks = (): EventCheck[] => ALL.filter((c): c is EventCheck => c.kind === "event");
export const metricChecks = (): MetricCheck[] => ALL.filter((c): c is MetricCheck => c.kind === "metric");
