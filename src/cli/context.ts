import { randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { Option } from "commander";
import { configPath, type LoadedConfig, loadConfig } from "../config/load.js";
import { UserError } from "../errors.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";

/** Options every command shares. */
export interface GlobalOptions {
  config?: string;
  store?: string;
  now?: string;
  showKeyIds?: boolean;
  debug?: boolean;
}

export const formatOption = (choices: string[], def = "table") =>
  new Option("--format <format>", "output format").choices(choices).default(def);

/** A repeatable option: `--account a --account b`. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** A repeatable option that also takes comma-separated values: `--status open,resolved`. */
export const commaList = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

/** --now: the clock for the whole run (checks, grace periods, re-notify windows). */
export function parseNow(value: string | undefined): Date {
  if (!value) return new Date();
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UserError(`--now: not an ISO date-time: ${value}`);
  return d;
}

export interface RunContext {
  loaded: LoadedConfig;
  now: Date;
  runId: string;
  actor: string;
  showKeyIds: boolean;
  /** A SQLite file path or a postgres:// URL. */
  storeLocation: string;
  openStore(): Promise<Store>;
}

/** Who is acting, for the audit log: IAMWARDEN_ACTOR, else the local user. */
export function actor(): string {
  if (process.env.IAMWARDEN_ACTOR) return process.env.IAMWARDEN_ACTOR;
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

/** Loads config and settles the clock; the store opens only when a command needs it. */
export function context(opts: GlobalOptions): RunContext {
  const loaded = loadConfig(opts.config);
  const now = parseNow(opts.now);
  const storeUrl = opts.store ?? process.env.IAMWARDEN_STORE ?? loaded.config.store;
  const location = /^postgres(ql)?:\/\//.test(storeUrl)
    ? storeUrl
    : opts.store
      ? resolve(storeUrl)
      : configPath(loaded, storeUrl);
  return {
    loaded,
    now,
    runId: `${now.toISOString().replace(/[-:.]/g, "").slice(0, 15)}-${randomUUID().slice(0, 8)}`,
    actor: actor(),
    showKeyIds: Boolean(opts.showKeyIds),
    storeLocation: location,
    openStore: () => openStore(location),
  };
}
