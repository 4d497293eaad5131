// A key id an account was seen to hold, kept so that a credential report row (which carries no
// key ids) can be given its id without asking IAM again. Timestamps are ISO-8601 UTC strings.

export interface KnownKey {
  account: string;
  keyId: string;
  user: string;
  userArn: string;
  /** When the user was created: a user deleted and recreated under the same name differs here. */
  userCreated: string;
  /** The key's creation time, to the second as IAM gives it. */
  created: string;
  status: "Active" | "Inactive";
  /** The key has been seen used at least once (a used key never reads "never used" again). */
  used: boolean;
  /** When ListAccessKeys last showed this key (this machine's clock). */
  listedAt: string;
}

/** What a scan changes in an account's known keys. */
export interface KnownKeysChange {
  upsert: KnownKey[];
  /** Key ids no longer held. */
  remove: string[];
}
