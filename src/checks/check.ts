import { z } from "zod";
import type { AllowlistSet } from "../allowlist/set.js";
import type { EventHeader, IamEvent } from "../model/event.js";
import type { Candidate, Finding } from "../model/finding.js";
import type { AccessKey, AccountSnapshot, IamUser, MetricSample } from "../model/observations.js";

// What a check is: a plain object declaring everything about itself (settings, permissions, what
// it reads, how its findings read), listed once in registry.ts. The engine, the config schema and
// the outputs loop over the registry; nothing else names a check.

/**
 * What a check reads. `logins` is the console side of users (password, last sign-in, MFA) and
 * the last use of every key, active or not: the credential report knows it, the api read does
 * not. `admins` are the administrators of an account, loaded by the engine per account.
 */
export type Observation = "keys" | "users" | "root" | "logins" | "events" | "admins" | "samples";

/** Whether a snapshot holds what a state check reads; a check that cannot know does not run. */
export function snapshotKnows(s: AccountSnapshot, o: Observation): boolean {
  switch (o) {
    case "keys":
    case "users":
      return true;
    case "root":
      return s.root !== undefined;
    case "logins":
      return s.users.every((u) => u.passwordEnabled !== undefined && u.mfaActive !== undefined);
    default:
      return false;
  }
}

/** Every check's settings under `checks.<name>`: `enabled` and its own fields, all defaulted. */
export type SettingsSchema = z.ZodType<{ enabled: boolean }>;
/** What a judge is given: the settings without `enabled` (which the engine reads). */
export type SettingsOf<S extends SettingsSchema> = Omit<z.output<S>, "enabled">;
export type Details = Record<string, unknown>;

/** The cells a findings table or CSV shows that depend on the check; each check fills its own. */
export interface Columns<D> {
  /** The resource, short: a key label, a user, a principal. Default: the resource. */
  resource?(d: D, f: Finding): string;
  /** How old or idle: `120d idle`, `200d old`, `3 events`. */
  age?(d: D, f: Finding): string;
  /** A state word (`expired`, `no-mfa`). */
  state?(d: D): string;
  createDate?(d: D): string;
  lastUsed?(d: D): string;
}

interface CheckBase<N extends string, S extends SettingsSchema, D extends Details> {
  name: N;
  /** What it finds, one line (docs, `config validate`). */
  description: string;
  /** Its settings; config keys under `checks:` come from here. */
  settings: S;
  /** The shape of its findings' details; `detailsOf` reads stored findings through it. */
  details: z.ZodType<D>;
  /** IAM (or other) actions it needs, beyond reading what it reads. */
  permissions: readonly string[];
  reads: readonly Observation[];
  /** What its findings are about: a key finding from a report needs the key id looked up. */
  subject: "access-key" | "user" | "account" | "principal" | "metric";
  /** One line about a finding: messages, dashboards. */
  summary(d: D, f: Finding): string;
  columns: Columns<D>;
}

/** Judges an inventory; its findings resolve when a complete read no longer yields them. */
export interface StateCheck<
  N extends string = string,
  S extends SettingsSchema = SettingsSchema,
  D extends Details = Details,
> extends CheckBase<N, S, D> {
  kind: "state";
  judge(snapshot: AccountSnapshot, settings: SettingsOf<S>, now: Date): Candidate<D>[];
}

/** What event checks may use beyond their settings, built once per run by the engine. */
export interface EventEnv {
  allowlists?: AllowlistSet | undefined;
  /** Administrators of an account as loaded for it (checks reading `admins`), else undefined. */
  adminsOf(account: string): ReadonlySet<string> | undefined;
  /** remediation.quarantine.policyName: removing it is always an IAM change worth a finding. */
  quarantinePolicyName: string;
}

/**
 * A header as pre-filters see it. `account` and `accessKeyId` sharpen them where the reader knows
 * them cheaply; without them a pre-filter lets through what it cannot rule out.
 */
export type PrefilterHeader = EventHeader & {
  account?: string | undefined;
  accessKeyId?: string | undefined;
};

/** Judges occurrences; a finding gathers them and stays open until resolved by hand or expiry. */
export interface EventCheck<
  N extends string = string,
  S extends SettingsSchema = SettingsSchema,
  D extends Details = Details,
  C = unknown,
> extends CheckBase<N, S, D> {
  kind: "event";
  /** What judging needs for one run; undefined when the check cannot run (source-ip without lists). */
  prepare(settings: SettingsOf<S>, env: EventEnv): C | undefined;
  /** Cheap: false means judge would turn the event down. */
  prefilter?(h: PrefilterHeader, ctx: C): boolean;
  judge(e: IamEvent, ctx: C): Candidate<D> | undefined;
  /**
   * The fields that merging two findings' details changes over those of the later one, such as
   * addresses gathered or a reason kept. `earlier` holds older events than `later` (time, then
   * event id), whatever order they were read in. `keepAdvice`: the earlier one was more severe,
   * keep its advice.
   */
  merge(earlier: D, later: D, keepAdvice: boolean): Partial<D>;
}

/** Judges metric samples; a finding resolves when a later evaluation no longer yields it. */
export interface MetricCheck<
  N extends string = string,
  S extends SettingsSchema = SettingsSchema,
  D extends Details = Details,
> extends CheckBase<N, S, D> {
  kind: "metric";
  judge(samples: MetricSample[], settings: SettingsOf<S>, now: Date): Candidate<D>[];
}

export type AnyCheck = StateCheck | EventCheck | MetricCheck;

/** A check's settings schema: `enabled` plus its own fields, every one defaulted. */
export function settingsSchema<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject({ enabled: z.boolean().default(true), ...shape });
}

/**
 * The resource a key finding is about. A key read from a credential report that could not be
 * matched to its id is named by user and creation time, which is what the report knows of it.
 */
export function keyResource(key: AccessKey): string {
  return key.keyId ?? `${key.user}#key${key.slot ?? "?"}@${key.createDate.toISOString()}`;
}

/** Details every key finding carries. */
export const keyDetailsSchema = z.looseObject({
  username: z.string(),
  userArn: z.string().optional(),
  keyId: z.string().optional(),
  keySlot: z.union([z.literal(1), z.literal(2)]).optional(),
  createDate: z.string(),
  lastUsed: z.string().nullable(),
  lastUsedService: z.string().nullable(),
  lastUsedRegion: z.string().nullable(),
  unmatched: z.string().optional(),
});

export function keyDetails(key: AccessKey): z.output<typeof keyDetailsSchema> {
  return {
    username: key.user,
    userArn: key.userArn,
    keyId: key.keyId,
    keySlot: key.slot,
    createDate: key.createDate.toISOString(),
    lastUsed: key.lastUsed?.toISOString() ?? null,
    lastUsedService: key.lastUsedService ?? null,
    lastUsedRegion: key.lastUsedRegion ?? null,
    ...(key.matchNote ? { unmatched: key.matchNote } : {}),
  };
}

/** The key a finding is about, short: the (masked) key id, or slot and creation day when unmatched. */
export function keyLabel(_d: unknown, f: Finding): string {
  const m = /#key(\d|\?)@(\d{4}-\d{2}-\d{2})/.exec(f.resource);
  if (m) return `key${m[1]} of ${m[2]}`;
  return f.resource;
}

/** Columns key checks share. */
export const keyColumns = {
  resource: keyLabel,
  createDate: (d: { createDate: string }) => d.createDate,
  lastUsed: (d: { lastUsed: string | null }) => d.lastUsed ?? "",
};

/** Event findings: how many occurrences they gathered. */
export const eventCountColumn = (_d: unknown, f: Finding): string =>
  typeof f.details.eventCount === "number" ? `${f.details.eventCount} events` : "";

/** The resource a user finding is about: the user's ARN (its name when the ARN is unknown). */
export const userResource = (u: IamUser): string => u.arn ?? `user/${u.name}`;

/** Details every user finding carries. */
export const userDetailsSchema = z.looseObject({
  username: z.string(),
  userArn: z.string().optional(),
  userCreated: z.string().nullable(),
});

export function userDetails(u: IamUser): z.output<typeof userDetailsSchema> {
  return { username: u.name, userArn: u.arn, userCreated: u.createDate?.toISOString() ?? null };
}

/** A finding's details read through its check's schema; undefined for another check or a bad shape. */
export function detailsFor<D extends Details>(
  check: { name: string; details: z.ZodType<D> },
  f: Pick<Finding, "check" | "details">,
): D | undefined {
  if (f.check !== check.name) return undefined;
  const r = check.details.safeParse(f.details);
  return r.success ? r.data : undefined;
}
