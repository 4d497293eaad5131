import { type Allowlist, mergeAllowlists } from "./allowlist.js";

// The allowlists a run judges with, once loaded: plain data the checks read, apart from how they
// are configured and read from files (config.ts).

/** The configured lists and which accounts they cover (`accounts[id]`, else `default`). */
export interface AllowlistSet {
  lists: Map<string, Allowlist>;
  defaultNames: string[];
  accounts: Record<string, string[]>;
}

/** Names of the lists that apply to an account. */
export function listNamesFor(set: AllowlistSet, account: string): string[] {
  return set.accounts[account] ?? set.defaultNames;
}

/** The lists that apply to an account, merged into one for lookups; cached per account. */
export function accountAllowlists(
  set: AllowlistSet,
): (account: string) => { merged: Allowlist; names: string[] } {
  const cache = new Map<string, { merged: Allowlist; names: string[] }>();
  return (account) => {
    let hit = cache.get(account);
    if (!hit) {
      const names = listNamesFor(set, account);
      const lists = names.map((n) => set.lists.get(n)).filter((l): l is Allowlist => Boolean(l));
      hit = { merged: mergeAllowlists(names.join("+"), lists), names };
      cache.set(account, hit);
    }
    return hit;
  };
}
