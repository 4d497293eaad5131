// In-memory AWS accounts for the IAM emulator. Plain data plus a few helpers that keep ids and
// ARNs consistent; operations (read-ops.ts, write-ops.ts) read and change it directly.

export type EmuKeyStatus = "Active" | "Inactive";

export interface EmuKeyLastUsed {
  /** Absent when the key was never used (GetAccessKeyLastUsed then omits LastUsedDate). */
  date?: Date | undefined;
  service: string;
  region: string;
}

export interface EmuAccessKey {
  id: string;
  userName: string;
  status: EmuKeyStatus;
  createDate: Date;
  lastUsed?: EmuKeyLastUsed | undefined;
}

export interface EmuTag {
  Key: string;
  Value: string;
}

export interface EmuUser {
  name: string;
  id: string;
  arn: string;
  path: string;
  createDate: Date;
  passwordEnabled: boolean;
  passwordLastUsed?: Date | undefined;
  passwordLastChanged?: Date | undefined;
  mfaActive: boolean;
  tags: EmuTag[];
  groups: string[];
  /** Managed policy ARNs. */
  attachedPolicies: string[];
  /** Inline policies: name → JSON document. */
  inlinePolicies: Record<string, string>;
  keys: EmuAccessKey[];
}

export interface EmuGroup {
  name: string;
  id: string;
  arn: string;
  path: string;
  createDate: Date;
  attachedPolicies: string[];
  inlinePolicies: Record<string, string>;
}

export interface EmuPolicy {
  name: string;
  id: string;
  arn: string;
  path: string;
  createDate: Date;
  document: string;
}

export interface EmuRole {
  name: string;
  arn: string;
  /** AssumeRole must present this ExternalId when set. */
  externalId?: string | undefined;
}

export interface EmuRootKey {
  active: boolean;
  createDate: Date;
  lastUsed?: EmuKeyLastUsed | undefined;
}

/** Credential report lifecycle: generation takes `reportDelayMs`; a report lives 4 hours. */
export interface EmuReport {
  startedAt: number;
  readyAt: number;
  /** Frozen at generation start, as AWS freezes the report contents. */
  csv: string;
}

export type EmuAccountStatus = "ACTIVE" | "SUSPENDED" | "PENDING_CLOSURE";
export type EmuAccountState = "ACTIVE" | "SUSPENDED" | "PENDING_CLOSURE" | "CLOSED" | "PENDING_ACTIVATION";

export interface EmuAccount {
  id: string;
  name: string;
  email: string;
  /** Organizations' legacy Status field. */
  status: EmuAccountStatus;
  /** Organizations' newer State field; omitted from responses when undefined. */
  state?: EmuAccountState | undefined;
  createDate: Date;
  users: Map<string, EmuUser>;
  groups: Map<string, EmuGroup>;
  policies: Map<string, EmuPolicy>;
  roles: Map<string, EmuRole>;
  rootKeys: EmuRootKey[];
  rootMfa: boolean;
  report?: EmuReport | undefined;
  /** GenerateCredentialReport answers LimitExceeded this many more times. */
  reportLimitExceeded: number;
}

/** Who signed a request: a static key (the home account) or an AssumeRole session. */
export interface EmuPrincipal {
  account: string;
  arn: string;
  userId: string;
  sessionToken?: string | undefined;
}

export interface EmuState {
  partition: string;
  /** The account of static (non-session) credentials. */
  homeAccount: string;
  accounts: Map<string, EmuAccount>;
  /** Access key id → principal, for keys registered explicitly and AssumeRole sessions. */
  principals: Map<string, EmuPrincipal>;
  /** Organizations: the management account, when the home account runs an organization. */
  organization?: { managementAccount: string } | undefined;
  /** Counter behind generated ids, so that they are deterministic. */
  seq: number;
}

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** A deterministic IAM-style id: prefix + base32 of a counter, padded to `len`. */
export function nextId(state: EmuState, prefix: string, len = 20): string {
  let n = ++state.seq;
  let body = "";
  while (n > 0) {
    body = ID_CHARS[n % 32] + body;
    n = Math.floor(n / 32);
  }
  return prefix + body.padStart(len - prefix.length, "A");
}

/** IAM timestamps have second precision. */
export const toSecond = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

export function createState(opts: { homeAccount?: string; partition?: string } = {}): EmuState {
  const state: EmuState = {
    partition: opts.partition ?? "aws",
    homeAccount: opts.homeAccount ?? "111111111111",
    accounts: new Map(),
    principals: new Map(),
    seq: 0,
  };
  addAccount(state, { id: state.homeAccount, name: "home" });
  return state;
}

export function addAccount(
  state: EmuState,
  a: { id: string; name?: string; email?: string; status?: EmuAccountStatus; state?: EmuAccountState },
): EmuAccount {
  const existing = state.accounts.get(a.id);
  if (existing) return existing;
  const account: EmuAccount = {
    id: a.id,
    name: a.name ?? `account-${a.id}`,
    email: a.email ?? `aws+${a.id}@example.com`,
    status: a.status ?? "ACTIVE",
    state: a.state,
    createDate: new Date("2018-01-01T00:00:00Z"),
    users: new Map(),
    groups: new Map(),
    policies: new Map(),
    roles: new Map(),
    rootKeys: [],
    rootMfa: true,
    reportLimitExceeded: 0,
  };
  state.accounts.set(a.id, account);
  return account;
}

export function account(state: EmuState, id: string): EmuAccount {
  const a = state.accounts.get(id);
  if (!a) throw new Error(`emulator: no account ${id}`);
  return a;
}

const arn = (state: EmuState, accountId: string, kind: string, path: string, name: string) =>
  `arn:${state.partition}:iam::${accountId}:${kind}${path}${name}`;

export function addUser(
  state: EmuState,
  accountId: string,
  u: {
    name: string;
    path?: string;
    createDate?: Date;
    tags?: EmuTag[] | Record<string, string>;
    passwordEnabled?: boolean;
    passwordLastUsed?: Date;
    mfaActive?: boolean;
  },
): EmuUser {
  const acct = account(state, accountId);
  const path = u.path ?? "/";
  const tags = Array.isArray(u.tags)
    ? u.tags
    : Object.entries(u.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const user: EmuUser = {
    name: u.name,
    id: nextId(state, "AIDA", 21),
    arn: arn(state, accountId, "user", path, u.name),
    path,
    createDate: toSecond(u.createDate ?? new Date("2020-01-01T00:00:00Z")),
    passwordEnabled: u.passwordEnabled ?? false,
    passwordLastUsed: u.passwordLastUsed && toSecond(u.passwordLastUsed),
    passwordLastChanged: u.passwordEnabled
      ? toSecond(u.createDate ?? new Date("2020-01-01T00:00:00Z"))
      : undefined,
    mfaActive: u.mfaActive ?? false,
    tags,
    groups: [],
    attachedPolicies: [],
    inlinePolicies: {},
    keys: [],
  };
  acct.users.set(user.name, user);
  return user;
}

export function deleteUser(state: EmuState, accountId: string, name: string): void {
  account(state, accountId).users.delete(name);
}

export function addAccessKey(
  state: EmuState,
  accountId: string,
  userName: string,
  k: { id?: string; status?: EmuKeyStatus; createDate: Date; lastUsed?: EmuKeyLastUsed },
): EmuAccessKey {
  const user = account(state, accountId).users.get(userName);
  if (!user) throw new Error(`emulator: no user ${userName} in ${accountId}`);
  const key: EmuAccessKey = {
    id: k.id ?? nextId(state, "AKIA", 20),
    userName,
    status: k.status ?? "Active",
    createDate: toSecond(k.createDate),
    lastUsed: k.lastUsed && {
      ...k.lastUsed,
      date: k.lastUsed.date && toSecond(k.lastUsed.date),
    },
  };
  user.keys.push(key);
  ownersOf(account(state, accountId)).set(key.id, userName);
  return key;
}

/** keyId → owner, so that lookups in 10,000-user accounts stay cheap; verified on every use. */
const keyOwners = new WeakMap<EmuAccount, Map<string, string>>();

function ownersOf(acct: EmuAccount): Map<string, string> {
  let owners = keyOwners.get(acct);
  if (!owners) {
    owners = new Map();
    keyOwners.set(acct, owners);
  }
  return owners;
}

/** The access key of an account with this id, if it exists. */
export function findKey(acct: EmuAccount, keyId: string): EmuAccessKey | undefined {
  const owners = ownersOf(acct);
  const owner = owners.get(keyId);
  const hit = owner === undefined ? undefined : acct.users.get(owner)?.keys.find((k) => k.id === keyId);
  if (hit) return hit;
  // Keys added or moved without addAccessKey: a full scan, which also refreshes the index.
  for (const u of acct.users.values()) {
    const k = u.keys.find((x) => x.id === keyId);
    if (k) {
      owners.set(keyId, u.name);
      return k;
    }
  }
  owners.delete(keyId);
  return undefined;
}

export function addGroup(state: EmuState, accountId: string, g: { name: string; path?: string }): EmuGroup {
  const acct = account(state, accountId);
  const path = g.path ?? "/";
  const group: EmuGroup = {
    name: g.name,
    id: nextId(state, "AGPA", 21),
    arn: arn(state, accountId, "group", path, g.name),
    path,
    createDate: new Date("2019-06-01T00:00:00Z"),
    attachedPolicies: [],
    inlinePolicies: {},
  };
  acct.groups.set(group.name, group);
  return group;
}

export function addUserToGroup(
  state: EmuState,
  accountId: string,
  userName: string,
  groupName: string,
): void {
  const acct = account(state, accountId);
  const user = acct.users.get(userName);
  if (!user || !acct.groups.has(groupName))
    throw new Error(`emulator: no user ${userName} or group ${groupName}`);
  if (!user.groups.includes(groupName)) user.groups.push(groupName);
}

export function addPolicy(
  state: EmuState,
  accountId: string,
  p: { name: string; path?: string; document?: string },
): EmuPolicy {
  const acct = account(state, accountId);
  const path = p.path ?? "/";
  const policy: EmuPolicy = {
    name: p.name,
    id: nextId(state, "ANPA", 21),
    arn: arn(state, accountId, "policy", path, p.name),
    path,
    createDate: new Date("2019-06-01T00:00:00Z"),
    document: p.document ?? '{"Version":"2012-10-17","Statement":[]}',
  };
  acct.policies.set(policy.arn, policy);
  return policy;
}

/** A role other principals may assume (the emulator trusts every caller, bar ExternalId). */
export function addRole(
  state: EmuState,
  accountId: string,
  r: { name: string; externalId?: string },
): EmuRole {
  const acct = account(state, accountId);
  const role: EmuRole = {
    name: r.name,
    arn: arn(state, accountId, "role", "/", r.name),
    externalId: r.externalId,
  };
  acct.roles.set(role.name, role);
  return role;
}

export function setOrganization(state: EmuState, managementAccount = state.homeAccount): void {
  state.organization = { managementAccount };
}
