import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";

export const isPostgresUrl = (location: string) => /^postgres(ql)?:\/\//.test(location);

/**
 * A what-if store: a private copy of the SQLite store (taken with SQLite's online backup, so a
 * store another process is writing copies consistently), deleted on close. The run reads and
 * writes the copy as it would the real one; the real one is never opened for writing.
 * PostgreSQL is refused: a copy of a team database is not something to take behind its back.
 */
export async function openWhatIfStore(location: string): Promise<Store> {
  if (isPostgresUrl(location))
    throw new UserError(
      "--now without --commit is a what-if, which runs on a private copy of a SQLite store; " +
        "with PostgreSQL pass --commit to run for real at that clock",
    );
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-what-if-"));
  const copy = join(dir, "what-if.db");
  try {
    if (existsSync(location)) {
      const { default: Database } = await import("better-sqlite3");
      const source = new Database(location, { readonly: true, fileMustExist: true });
      try {
        await source.backup(copy);
      } finally {
        source.close();
      }
    }
    const store = await openStore(copy);
    return {
      ...store,
      async close() {
        try {
          await store.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    if (e instanceof UserError) throw e;
    throw new UserError(`${location}: cannot copy the store for a what-if (${(e as Error).message})`);
  }
}

export interface RunStoreOptions {
  /** Work on a throwaway copy (a what-if). */
  whatIf?: boolean | undefined;
  /**
   * Create a SQLite store that does not exist yet (default true). Commands that read or change
   * what a store already holds pass false: a mistyped path is refused, not made an empty store.
   */
  create?: boolean | undefined;
  /** The run's clock, for what the store records of its own creation (migrations). */
  now?: Date | undefined;
}

/** The store of a run: the real one, or a throwaway copy for a what-if. */
export function openRunStore(location: string, opts: RunStoreOptions = {}): Promise<Store> {
  if (opts.create === false && !isPostgresUrl(location) && !existsSync(location))
    return Promise.reject(
      new UserError(`${location}: no store there (check --store or the config's store:)`),
    );
  if (opts.whatIf) return openWhatIfStore(location);
  return openStore(location, {
    ...(opts.create !== undefined ? { create: opts.create } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
}
