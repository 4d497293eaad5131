import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.js";
import { reconcileSnapshot } from "../../src/engine/scan.js";
import type { Finding } from "../../src/model/finding.js";
import type { AccessKey, AccountSnapshot, IamUser } from "../../src/model/observations.js";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { runCli } from "../support/cli.js";
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

/** A user as the credential report shows one: console password with MFA, created long ago. */
export function user(
  over: Partial<Omit<IamUser, "createDate" | "passwordLastUsed" | "passwordLastChanged">> & {
    created?: string;
    passwordUsed?: string;
    passwordChanged?: string;
  } = {},
): IamUser {
  const { created, passwordUsed, passwordChanged, ...rest } = over;
  const name = rest.name ?? "alice";
  return {
    account: ACCOUNT,
    name,
    arn: `arn:aws:iam::${ACCOUNT.id}:user/${name}`,
    createDate: new Date(created ?? "2020-01-01T00:00:00Z"),
    passwordEnabled: true,
    passwordLastUsed: passwordUsed ? new Date(passwordUsed) : undefined,
    passwordLastChanged: passwordChanged ? new Date(passwordChanged) : undefined,
    mfaActive: true,
    ...rest,
  };
}

/** The same snapshot as the api read gives it: no console sign-in, no root keys. */
export const asApiRead = (s: AccountSnapshot): AccountSnapshot => ({
  ...s,
  source: "api",
  root: undefined,
  users: s.users.map(({ passwordEnabled: _p, passwordLastUsed: _u, mfaActive: _m, ...u }) => u),
});

/** Judges a snapshot with a config (YAML) and reconciles it into a fresh store: the findings kept. */
export async function scanInto(snap: AccountSnapshot, configYaml: string, now: string): Promise<Finding[]> {
  const store = openSqliteStore(":memory:");
  try {
    const config = parseConfig(configYaml, "test.yaml", {});
    await reconcileSnapshot(snap, config, { store, route: () => [], now: new Date(now), runId: "test-run" });
    return await store.listFindings({});
  } finally {
    await store.close();
  }
}

/** `iamwarden scan --credential-report` on a report (CSV lines) as a user runs it: the table it prints. */
export async function cliScan(reportLines: string[], configYaml: string, now: string) {
  const dir = mkdtempSync(join(tmpdir(), "iamwarden-check-"));
  writeFileSync(join(dir, "iamwarden.yaml"), configYaml);
  writeFileSync(join(dir, "report.csv"), `${[REPORT_HEADER, ...reportLines].join("\n")}\n`);
  return runCli([
    "scan",
    "--config",
    join(dir, "iamwarden.yaml"),
    "--store",
    join(dir, "f.db"),
    "--credential-report",
    join(dir, "report.csv"),
    "--now",
    now,
    "--commit",
    "--no-notify",
  ]);
}

export const REPORT_HEADER =
  "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/** One report row of account 111122223333 (the test account), without keys unless given. */
export function reportRow(r: {
  user: string;
  created: string;
  password: boolean;
  passwordUsed?: string;
  passwordChanged?: string;
  mfa: boolean;
  key1?: { created: string; used?: string };
}): string {
  const d = (v: string | undefined) => v ?? "N/A";
  const key = r.key1
    ? ["true", r.key1.created, d(r.key1.used), "us-east-1", "s3"]
    : ["false", "N/A", "N/A", "N/A", "N/A"];
  return [
    r.user,
    `arn:aws:iam::${ACCOUNT.id}:user/${r.user}`,
    r.created,
    String(r.password),
    r.password ? d(r.passwordUsed) : "N/A",
    r.password ? d(r.passwordChanged) : "N/A",
    "N/A",
    String(r.mfa),
    ...key,
    "false",
    "N/A",
    "N/A",
    "N/A",
    "N/A",
    "false",
    "N/A",
    "false",
    "N/A",
  ].join(",");
}
