import type { AccessKey, AccountSnapshot, IamUser } from "../../src/model/observations.js";
import { ACCOUNT } from "../support/keys.js";

/** A complete credential-report snapshot of the test account holding these keys and users. */
export function snapshot(
  keys: AccessKey[],
  users: IamUser[] = [],
  over: Partial<AccountSnapshot> = {},
): AccountSnapshot {
  return {
    account: ACCOUNT,
    source: "credential-report",
    users,
    keys,
    complete: true,
    warnings: [],
    ...over,
  };
}
