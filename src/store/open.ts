import { UserError } from "../errors.js";
import { openSqliteStore } from "./sqlite.js";
import type { Store } from "./store.js";

/** A file path opens SQLite; a postgres:// URL opens PostgreSQL. */
export async function openStore(location: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const { openPostgresStore } = await import("./postgres.js").catch(() => {
      throw new UserError("the PostgreSQL store is not available in this build");
    });
    return openPostgresStore(location);
  }
  try {
    return openSqliteStore(location);
  } catch (e) {
    throw new UserError(`${location}: cannot open the store (${(e as Error).message})`);
  }
}
