import { DAY_MS } from "../../../src/util/time.js";
import {
  addAccessKey,
  addGroup,
  addUser,
  addUserToGroup,
  type EmuKeyLastUsed,
  type EmuState,
} from "./state.js";

// Synthetic IAM users with a realistic key mix, the same for the same seed: about 10% of users
// have no key, 60% one, 30% two (≈1.2 keys per user); most keys are healthy (younger than 160
// days and used lately), some are Inactive, and `problemShare` of the users hold an Active key
// that is old, unused for months or never used.

export interface SeedOptions {
  users: number;
  seed?: number;
  /** Key dates are relative to this instant. */
  now?: Date;
  /** Share of users holding at least one Active key that a default scan flags. */
  problemShare?: number;
  /** Prefix of user names, so that several accounts can be seeded distinctly. */
  prefix?: string;
}

export interface SeedSummary {
  users: number;
  keys: number;
  activeKeys: number;
  /** Users with an Active key that key-inactive (90 d) or key-age (165 d warn) flags. */
  problemUsers: number;
  /** Users holding at least one key, and at least one Active key. */
  usersWithKeys?: number;
  usersWithActiveKeys?: number;
}

/** mulberry32: small, fast and deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FIRST = ["ana", "ben", "chloe", "dev", "emma", "farid", "greta", "hugo", "ines", "jon", "kai", "lea"];
const LAST = ["meyer", "ng", "okafor", "patel", "quinn", "rossi", "sato", "tanaka", "ueda", "vogel"];
const SERVICES = ["s3", "ec2", "sts", "iam", "lambda", "dynamodb", "sqs", "logs"];
const REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"];
const GROUPS = ["developers", "readonly", "ci", "admins"];

export function seedUsers(state: EmuState, accountId: string, opts: SeedOptions): SeedSummary {
  const rand = prng(opts.seed ?? 42);
  const now = opts.now ?? new Date();
  const problemShare = opts.problemShare ?? 0.1;
  const prefix = opts.prefix ?? "";
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const daysAgo = (d: number) => new Date(now.getTime() - d * DAY_MS);
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const used = (d: Date | undefined): EmuKeyLastUsed =>
    d ? { date: d, service: pick(SERVICES), region: pick(REGIONS) } : { service: "N/A", region: "N/A" };

  const acct = state.accounts.get(accountId);
  if (!acct) throw new Error(`emulator: no account ${accountId}`);
  for (const g of GROUPS) if (!acct.groups.has(g)) addGroup(state, accountId, { name: g });

  const summary: SeedSummary = {
    users: 0,
    keys: 0,
    activeKeys: 0,
    problemUsers: 0,
    usersWithKeys: 0,
    usersWithActiveKeys: 0,
  };
  for (let i = 0; i < opts.users; i++) {
    const service = rand() < 0.35;
    const n = String(i).padStart(5, "0");
    // A few names use the characters IAM allows and CSV/line protocols must escape.
    const name =
      i % 97 === 13
        ? `${prefix}ci+deploy,${n}@example.com`
        : service
          ? `${prefix}svc-${pick(SERVICES)}-${n}`
          : `${prefix}${pick(FIRST)}.${pick(LAST)}.${n}`;
    const tags: Record<string, string> = {};
    if (rand() < 0.2) tags.team = pick(["payments", "search", "data", "platform"]);
    if (!service && rand() < 0.5) tags.email = `${name.replace(/[^a-z.]/g, "")}@example.com`;
    if (rand() < 0.01) tags["iamwarden:exempt"] = "true";
    addUser(state, accountId, {
      name,
      path: service ? "/service/" : "/",
      createDate: daysAgo(between(30, 2000)),
      tags,
      passwordEnabled: !service,
      passwordLastUsed: !service && rand() < 0.8 ? daysAgo(between(0, 60)) : undefined,
      mfaActive: !service && rand() < 0.7,
    });
    if (!service && rand() < 0.5) addUserToGroup(state, accountId, name, pick(GROUPS));
    summary.users++;

    const r = rand();
    const keyCount = r < 0.1 ? 0 : r < 0.7 ? 1 : 2;
    const problem = keyCount > 0 && rand() < problemShare / 0.9;
    let active = false;
    for (let k = 0; k < keyCount; k++) {
      let status: "Active" | "Inactive" = "Active";
      let created: Date;
      let lastUsed: EmuKeyLastUsed | undefined;
      if (problem && k === 0) {
        const kind = rand();
        if (kind < 0.5) {
          // Old but in use: key-age.
          created = daysAgo(between(200, 1500));
          lastUsed = used(daysAgo(between(0, 30)));
        } else if (kind < 0.8) {
          // Unused for months: key-inactive (and usually key-age).
          const age = between(130, 1500);
          created = daysAgo(age);
          lastUsed = used(daysAgo(between(95, Math.min(age, 900))));
        } else {
          // Created and never used.
          created = daysAgo(between(95, 700));
          lastUsed = used(undefined);
        }
      } else if (rand() < 0.15) {
        // Deactivated keys of any age: never flagged.
        status = "Inactive";
        created = daysAgo(between(1, 1000));
        lastUsed = used(rand() < 0.7 ? daysAgo(between(90, 400)) : undefined);
      } else {
        const age = between(1, 160);
        created = daysAgo(age);
        lastUsed = used(age < 30 && rand() < 0.3 ? undefined : daysAgo(between(0, Math.min(age, 60))));
      }
      addAccessKey(state, accountId, name, { status, createDate: created, lastUsed });
      summary.keys++;
      if (status === "Active") {
        summary.activeKeys++;
        active = true;
      }
    }
    if (problem) summary.problemUsers++;
    if (keyCount > 0) summary.usersWithKeys = (summary.usersWithKeys ?? 0) + 1;
    if (active) summary.usersWithActiveKeys = (summary.usersWithActiveKeys ?? 0) + 1;
  }
  return summary;
}
