import { UserError } from "../errors.js";
import { openSqliteStore } from "./sqlite.js";
import type { Store } from "./store.js";

export interface OpenOptions {
  /**
   * Create a store that does not exist yet (default true). Read-only commands pass false, so a
   * mistyped path is refused instead of becoming an empty store. Missing folders are never made.
   */
  create?: boolean;
  /** The run's clock, for what opening records (migrations). */
  now?: Date;
}

/** A file path opens SQLite; a postgres:// URL opens PostgreSQL. */
export async function openStore(location: string, opts: OpenOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const { openPostgresStore } = await import("./postgres.js").catch(() => {
      throw new UserError("the PostgreSQL store is not available in this build");
    });
    return openPostgresStore(location, { ...(opts.now ? { now: opts.now } : {}) });
  }
  try {
    return openSqliteStore(location, opts);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${location}: cannot open the store (${(e as Error).message})`);
  }
}
