import { userInfo } from "node:os";
import { resolve } from "node:path";
import { Option } from "commander";
import { configPath, type LoadedConfig, loadConfig, requireSections } from "../config/load.js";
import { UserError } from "../errors.js";
import { createRunContext, type RunContext, type RunLog } from "../run/context.js";
import { isPostgresUrl, openRunStore } from "../run/store.js";
import type { Cli } from "./io.js";

/** Options every command shares. */
export interface GlobalOptions {
  config?: string;
  store?: string;
  now?: string;
  commit?: boolean;
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

/** What the global options settle before a command runs. */
export interface CliSettings {
  loaded: LoadedConfig;
  now: Date;
  /** --now without --commit: the run works on a throwaway copy and sends nothing. */
  whatIf: boolean;
  actor: string;
  showKeyIds: boolean;
  /** A SQLite file path or a postgres:// URL. */
  storeLocation: string;
}

/** Who is acting, for the audit log: IAMWARDEN_ACTOR, else the local user. */
export function actor(env: Cli["env"]): string {
  if (env.IAMWARDEN_ACTOR) return env.IAMWARDEN_ACTOR;
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

/** Loads config and settles the clock; the store opens only when a command needs it. */
export function settings(cli: Cli, opts: GlobalOptions): CliSettings {
  const loaded = loadConfig(opts.config, cli.env);
  const now = parseNow(opts.now);
  const storeUrl = opts.store ?? cli.env.IAMWARDEN_STORE ?? loaded.config.store;
  const storeLocation = isPostgresUrl(storeUrl)
    ? storeUrl
    : opts.store
      ? resolve(storeUrl)
      : configPath(loaded, storeUrl);
  return {
    loaded,
    now,
    whatIf: Boolean(opts.now) && !opts.commit,
    actor: actor(cli.env),
    showKeyIds: Boolean(opts.showKeyIds),
    storeLocation,
  };
}

/** Run notes and warnings as one stderr line each. */
export const stderrLog = (cli: Cli): RunLog => ({
  note: (m) => cli.stderr.write(`iamwarden: ${m}\n`),
  warn: (m) => cli.stderr.write(`iamwarden: warning: ${m}\n`),
});

/**
 * How a command uses the store: `read` only reads, `change` changes what it already holds (both
 * refuse a store that does not exist), `write` may create it (scans, event runs).
 */
export type StoreUse = "read" | "change" | "write";

/**
 * Opens the store and runs `fn` with a run context, closing the store after. A command that
 * writes runs on a throwaway copy in a what-if; one that only reads uses the store as it is.
 */
export async function withRun<T>(
  cli: Cli,
  s: CliSettings,
  use: StoreUse,
  fn: (ctx: RunContext) => Promise<T>,
): Promise<T> {
  // A section left out for an unset ${VAR} fails only commands that may use it: anything that
  // writes (it may notify or change accounts); a read needs the store alone.
  requireSections(s.loaded, use === "read" ? ["store"] : [""]);
  const whatIf = use !== "read" && s.whatIf;
  const store = await openRunStore(s.storeLocation, { whatIf, create: use === "write", now: s.now });
  let failed = true; // a store this command created and then failed in is removed again
  try {
    const out = await fn(
      createRunContext({ loaded: s.loaded, store, now: s.now, actor: s.actor, whatIf, log: stderrLog(cli) }),
    );
    failed = false;
    return out;
  } finally {
    await store.close({ discardIfCreated: failed });
  }
}

/** The line a what-if ends with, so no one mistakes it for a real run. */
export function whatIfLine(now: Date, more = ""): string {
  return (
    `What-if at ${now.toISOString()}: nothing was written or sent${more}; ` +
    "--commit runs for real at this clock.\n"
  );
}
