import type { AccountTarget } from "../cloud/target.js";
import type { AccessKey, AccountSnapshot } from "../model/observations.js";

/** What the scan needs from a source of account inventories. */
export interface AccountReader {
  read(target: AccountTarget): Promise<AccountSnapshot>;
  /** Tags of one IAM user (fetched only for users that have a candidate finding). */
  userTags?(target: AccountTarget, user: string): Promise<Record<string, string>>;
  /**
   * Fills in key ids for report-derived keys that have candidates (ListAccessKeys per user,
   * matched by creation date). Returns the keys with keyId or matchNote set.
   */
  resolveKeyIds?(target: AccountTarget, keys: AccessKey[]): Promise<void>;
}
