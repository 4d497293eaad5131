import type { AccountTarget } from "../cloud/target.js";
import type { AccountSnapshot } from "../model/observations.js";
import type { KnownKeysStore } from "../store/known-keys.js";

/** What a read may use besides the account itself. */
export interface ReadContext {
  /** Key ids seen before, so that a credential-report read asks IAM only for keys it has not seen. */
  knownKeys?: KnownKeysStore | undefined;
}

/**
 * What the scan needs from a source of account inventories: complete snapshots, every key with
 * its id where it can be known for sure, every user with its tags.
 */
export interface AccountReader {
  read(target: AccountTarget, ctx?: ReadContext): Promise<AccountSnapshot>;
}
