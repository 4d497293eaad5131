import type { AccessKey } from "../../src/model/observations.js";

export const ACCOUNT = { id: "111122223333", alias: "test" };

/** An access key with sensible defaults; dates as ISO strings for readability. */
export function key(
  over: Partial<Omit<AccessKey, "createDate" | "lastUsed">> & { created: string; used?: string },
): AccessKey {
  const { created, used, ...rest } = over;
  return {
    account: ACCOUNT,
    user: "alice",
    keyId: "AKIAIOSFODNN7EXAMPLE",
    status: "Active",
    createDate: new Date(created),
    lastUsed: used ? new Date(used) : undefined,
    ...rest,
  };
}
