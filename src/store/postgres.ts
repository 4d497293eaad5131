import { UserError } from "../errors.js";
import type { Store } from "./store.js";

// Placeholder until the PostgreSQL store lands; being written now.
export async function openPostgresStore(_url: string): Promise<Store> {
  throw new UserError("the PostgreSQL store is not available in this build");
}
