// Plain records that sources yield and checks judge. No behaviour here.

export interface AccountRef {
  id: string;
  alias?: string | undefined;
}

export type KeyStatus = "Active" | "Inactive";

/** One IAM access key as observed, from the API or a credential report row. */
export interface AccessKey {
  account: AccountRef;
  user: string;
  userArn?: string | undefined;
  /** Unknown when read from a credential report that could not be matched to ListAccessKeys. */
  keyId?: string | undefined;
  /** Credential report column (1 or 2); present for report-derived keys. */
  slot?: 1 | 2 | undefined;
  status: KeyStatus;
  createDate: Date;
  lastUsed?: Date | undefined;
  lastUsedService?: string | undefined;
  lastUsedRegion?: string | undefined;
  /** Why keyId is missing, when it is. */
  matchNote?: string | undefined;
}

export interface IamUser {
  account: AccountRef;
  name: string;
  arn?: string | undefined;
  tags?: Record<string, string> | undefined;
  createDate?: Date | undefined;
  /**
   * Console sign-in: whether the user has a password, when it was last used and changed, and
   * whether an MFA device is active. Undefined where the source cannot know (the api read).
   */
  passwordEnabled?: boolean | undefined;
  passwordLastUsed?: Date | undefined;
  passwordLastChanged?: Date | undefined;
  mfaActive?: boolean | undefined;
  /** IAM's unique id (AIDA…). */
  id?: string | undefined;
  /** Groups the user belongs to. */
  groups?: string[] | undefined;
  /** Managed policy ARNs attached to the user itself. */
  attachedPolicies?: string[] | undefined;
  /** Managed policy ARNs attached to the user's groups (admin rights often come this way). */
  groupPolicies?: string[] | undefined;
  /** Names of the user's inline policies. */
  inlinePolicies?: string[] | undefined;
}

/** An IAM group as GetAccountAuthorizationDetails describes it. */
export interface IamGroup {
  name: string;
  arn?: string | undefined;
  attachedPolicies: string[];
  inlinePolicies: string[];
}

export interface RootKey {
  slot: 1 | 2;
  active: boolean;
  lastRotated?: Date | undefined;
  lastUsed?: Date | undefined;
}

/**
 * Everything one read of one account saw. `complete` is false when part of the read failed:
 * state findings are only resolved by a complete snapshot.
 */
export interface AccountSnapshot {
  account: AccountRef;
  source: "api" | "credential-report";
  users: IamUser[];
  keys: AccessKey[];
  root?: RootKey[] | undefined;
  /** The account's groups, when the read included them (users' groups and policies are set then). */
  groups?: IamGroup[] | undefined;
  complete: boolean;
  warnings: string[];
}

/** One value of a metric at a time, as a metrics source (Prometheus) yields it. */
export interface MetricSample {
  metric: string;
  labels: Record<string, string>;
  value: number;
  time: Date;
  /** The account it is about, when the labels name one. */
  account?: string | undefined;
}
